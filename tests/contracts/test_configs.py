"""Every system configuration key says what a change does to what is stored already."""

import pytest

from cuepoint.contracts.configs import CONFIG_KEYS

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("key", sorted(CONFIG_KEYS))
def test_the_description_says_whether_a_change_applies_to_stored_results(key: str) -> None:
    description = CONFIG_KEYS[key].description
    assert "Applies" in description or "applies" in description, (
        f"{key}: say whether changing it applies to what is stored already (grades, uploads, sessions…)")
