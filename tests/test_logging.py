"""What the service writes to its logs: never a client address, user agent, report text or receipt."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.test_utils import TestServer

from frontdoor.app import AccessLogger, create_app

CANARY_TEXT = "placeholder-canary-text-5150"


async def test_access_log_has_no_address_agent_or_path_parameters(aiohttp_client, settings, redis, redis_url, caplog):
    app = create_app(settings, redis_url, housekeeping=False)
    server = TestServer(app)
    await server.start_server(access_log_class=AccessLogger)  # as `frontdoor serve` runs it
    client = await aiohttp_client(server)
    caplog.set_level(logging.INFO)
    r = await client.post("/api/v1/reports", json={"category": "other", "description": CANARY_TEXT},
                          headers={"User-Agent": "CanaryAgent/9.9", "X-Forwarded-For": "198.51.100.77"})
    receipt = (await r.json())["receipt"]
    await client.get(f"/api/v1/receipts/{receipt}")
    access = [rec.getMessage() for rec in caplog.records if rec.name == "aiohttp.access"]
    assert any("POST /api/v1/reports 201" in line for line in access)
    assert any("GET /api/v1/receipts/{code} 200" in line for line in access)
    everything = "\n".join(rec.getMessage() for rec in caplog.records)
    for secret in ("127.0.0.1", "CanaryAgent", "198.51.100.77", receipt, CANARY_TEXT):
        assert secret not in everything, secret


async def test_an_unexpected_error_is_a_json_500_that_logs_no_request_text(aiohttp_client, settings, redis_url, caplog):
    app = create_app(settings, redis_url, housekeeping=False)

    async def broken(request: web.Request) -> web.Response:
        body = await request.text()
        raise ValueError(f"could not handle {body}")

    app.router.add_post("/broken", broken)
    client = await aiohttp_client(app)
    r = await client.post("/broken", data=CANARY_TEXT)
    assert r.status == 500
    assert (await r.json())["error"] == "internal"
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    assert "unhandled ValueError on POST /broken" in logged
    assert CANARY_TEXT not in logged and CANARY_TEXT not in await r.text()
