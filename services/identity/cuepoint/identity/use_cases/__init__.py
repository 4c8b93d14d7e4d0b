"""What a user or an event can make identity do: plain async functions over identity's unit of work
(unit_of_work.py), one module per aggregate or workflow. A use case that hashes a password or sends
an email does that outside any transaction, and takes ``units`` to open one per step."""

from __future__ import annotations

from cuepoint.runtime.clock import utc_now as now  # noqa: F401 - the use cases' clock: `from . import now`
