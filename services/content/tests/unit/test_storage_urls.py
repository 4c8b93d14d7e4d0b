"""The URLs content hands a browser: the emulator's origin replaced by the gateway's /storage."""

from __future__ import annotations

import pytest

from cuepoint.content.settings import ContentSettings
from cuepoint.content.storage import VideoStorage

pytestmark = pytest.mark.unit

SESSION = ("http://127.0.0.1:9023/upload/storage/v1/b/cuepoint-media/o?uploadType=resumable"
           "&name=tenants%2Ft%2Fvideos%2Fv%2Foriginal&upload_id=abc")


def storage(**settings: object) -> VideoStorage:
    return VideoStorage(ContentSettings.model_construct(**{"storage_bucket": "cuepoint-media", **settings}))


def test_the_emulator_origin_becomes_the_public_one() -> None:
    through_gateway = storage(storage_emulator_host="http://127.0.0.1:9023",
                              storage_public_url="http://127.0.0.1:8080/storage/")
    assert through_gateway.public(SESSION) == SESSION.replace("http://127.0.0.1:9023", "http://127.0.0.1:8080/storage")
    signed = "http://127.0.0.1:9023/cuepoint-media/tenants/t/videos/v/original?X-Goog-Signature=ab"
    assert through_gateway.public(signed) == "http://127.0.0.1:8080/storage/cuepoint-media/tenants/t/videos/v/original?X-Goog-Signature=ab"
    elsewhere = "https://storage.googleapis.com/cuepoint-media/x"
    assert through_gateway.public(elsewhere) == elsewhere


@pytest.mark.parametrize("settings", [{"storage_emulator_host": "http://127.0.0.1:9023"},
                                      {"storage_emulator_host": None, "storage_public_url": "http://gw/storage"}])
def test_unset_leaves_urls_as_storage_makes_them(settings: dict) -> None:
    assert storage(**{"storage_public_url": None, **settings}).public(SESSION) == SESSION
