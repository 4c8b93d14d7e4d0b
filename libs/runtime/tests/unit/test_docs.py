"""/docs is Swagger UI served by the service itself, with URLs that work behind the gateway."""

from __future__ import annotations

import httpx
import pytest

from cuepoint.runtime.http import ServiceHttp, create_app

pytestmark = pytest.mark.unit


async def _get(path: str, **headers: str) -> httpx.Response:
    app = create_app(ServiceHttp(service="content"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://content") as client:
        return await client.get(path, headers=headers)


async def test_the_docs_page_loads_nothing_from_a_cdn() -> None:
    page = await _get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text and "https://" not in page.text.split("<body>")[0]
    assert "'/openapi.json'" in page.text or '"/openapi.json"' in page.text
    script = await _get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text[:2000]
    assert (await _get("/docs/assets/swagger-ui.css")).status_code == 200


async def test_behind_the_gateway_the_docs_fetch_through_its_prefix() -> None:
    page = await _get("/docs", **{"X-Forwarded-Prefix": "/api/content"})
    assert "/api/content/openapi.json" in page.text
    assert "/api/content/docs/assets/swagger-ui-bundle.js" in page.text
    # The document and the assets are where they always are: the gateway strips the prefix.
    for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"):
        assert (await _get(asset, **{"X-Forwarded-Prefix": "/api/content"})).status_code == 200, asset
    assert (await _get("/openapi.json", **{"X-Forwarded-Prefix": "/api/content"})).status_code == 200
    assert (await _get("/healthz", **{"X-Forwarded-Prefix": "/api/content"})).json()["status"] == "ok"


async def test_a_prefix_that_is_not_the_gateways_is_ignored() -> None:
    page = await _get("/docs", **{"X-Forwarded-Prefix": "/x'><script>alert(1)</script>"})
    assert "<script>alert(1)" not in page.text
    assert "/x'" not in page.text
