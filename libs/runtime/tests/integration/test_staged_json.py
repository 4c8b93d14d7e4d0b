"""``staged_json`` COPies JSON documents byte for byte: what PostgreSQL reads back is what was sent."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from cuepoint.runtime.bulk import staged_json

pytestmark = pytest.mark.integration

DOCUMENTS = [
    {"path": "C:\\Users\\ana\\notes.txt", "quote": "she said \"hi\"", "escapes": "tab\tnew\nline\rcr\\n literal"},
    {"unicode": "Fotosíntesis — 光合作用 🌱", "nested": {"list": [1, 2.5, None, True], "empty": {}}},
    {"backslash_at_end": "\\", "slash": "a/b", "control": "\u0001\u001f"},
]


async def test_documents_arrive_as_sent_whatever_they_hold(sink_sessions) -> None:
    encoded = [json.dumps(DOCUMENTS[0]).encode(),
               json.dumps(DOCUMENTS[1], ensure_ascii=False).encode(),
               # pretty-printed: raw newlines, tabs and carriage returns between tokens
               json.dumps(DOCUMENTS[2], indent="\t").replace("\n", "\r\n").encode()]
    async with sink_sessions() as session, session.begin():
        async with staged_json(session, encoded) as staged:
            rows = (await session.execute(text(f"SELECT doc FROM {staged}"))).scalars().all()
        assert rows == DOCUMENTS
        # Emptied after use: a second batch in the same transaction sees only its own documents.
        async with staged_json(session, [b'{"second": 1}']) as staged:
            assert (await session.execute(text(f"SELECT doc FROM {staged}"))).scalars().all() == [{"second": 1}]
