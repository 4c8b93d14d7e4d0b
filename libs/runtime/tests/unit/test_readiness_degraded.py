"""/readyz with checks that degrade a service rather than stop it (ServiceHttp.degradations): 200 and "degraded"
with the reason while one says what is wrong; a failing readiness check still answers 503."""

from __future__ import annotations

import httpx

from cuepoint.runtime.http import Readiness, ServiceHttp, create_app


def _app(ready: bool, degradation):
    async def check() -> bool:
        return ready

    async def degrades():
        if isinstance(degradation, Exception):
            raise degradation
        return degradation

    return create_app(ServiceHttp(service="probe", readiness={"database": check},
                                  degradations={"read_replica": degrades} if degradation != "none" else {}))


async def _readyz(app) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.get("/readyz")


async def test_a_degradation_answers_200_degraded_with_its_reason() -> None:
    response = await _readyz(_app(True, "the replica is 12.0 s behind"))
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "service": "probe",
                               "checks": {"database": "ok", "read_replica": "degraded"},
                               "degraded": {"read_replica": "the replica is 12.0 s behind"}}


async def test_no_degradation_is_ready_and_a_failing_check_says_so() -> None:
    response = await _readyz(_app(True, None))
    assert response.status_code == 200 and response.json()["status"] == "ready"
    assert response.json()["checks"] == {"database": "ok", "read_replica": "ok"} and response.json()["degraded"] == {}
    broken = (await _readyz(_app(True, RuntimeError("boom")))).json()
    assert broken["status"] == "degraded" and "RuntimeError" in broken["degraded"]["read_replica"]


async def test_an_unavailable_dependency_is_still_503_and_services_without_degradations_keep_their_answer() -> None:
    down = await _readyz(_app(False, "lagging"))
    assert down.status_code == 503 and down.json()["checks"]["database"] == "unavailable"
    plain = _app(True, "none")
    assert (await _readyz(plain)).json() == {"status": "ready", "service": "probe", "checks": {"database": "ok"}}
    documented = plain.openapi()["paths"]["/readyz"]["get"]["responses"]["200"]["content"]["application/json"]
    assert documented["schema"]["$ref"].endswith("/" + Readiness.__name__)
