"""Public routes: submit a report, look up a receipt, health, and the OpenAPI document."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..errors import NotFound
from ..http.errors import json_error, json_reply, read_json
from ..http.idempotency import KeyReused, idempotency_key
from .appkeys import INTAKE, LIMITS, PING, RECEIPTS
from .openapi import document

# A probe wants its answer sooner than the request deadline: a Redis that hangs is "not ready" in 2 s.
READY_TIMEOUT_S = 2.0
NEXT_STEPS = ("Thank you. Your report is anonymous. Keep your receipt code: with it you can check the status "
              "of your report. Please do not send or keep copies of any images.")


async def submit_report(request: web.Request) -> web.Response:
    """With an Idempotency-Key, a retry is answered as the first request was (201, the same report and
    receipt) for as long as the intake remembers dedupe ids, and stores nothing new."""
    await request.app[LIMITS].admit(request, "reports")  # before the body is read: a refusal costs nothing more
    key = idempotency_key(request)
    intake = request.app[INTAKE]
    accepted = await intake.submit(await read_json(request), "api", dedupe_id=intake.dedupe_key("api", key) if key else None)
    if not accepted.same_submission:
        raise KeyReused()
    return json_reply({"report": accepted.report_id, "receipt": accepted.receipt, "status": "received",
                       "message": NEXT_STEPS}, status=201)


async def receipt(request: web.Request) -> web.Response:
    status = await request.app[RECEIPTS].status(request, request.match_info["code"])
    if status is None:
        raise NotFound("We have no report with this receipt code. Check the code and try again.", code="receipt_not_found")
    return json_reply({"status": status})


async def healthz(request: web.Request) -> web.Response:
    return json_reply({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            await request.app[PING]()
    except Exception:  # any failure to reach Redis means not ready; the reason is in the Redis client log
        return json_error(503, "unavailable", "Redis is not reachable.", **{"Retry-After": "30"})
    return json_reply({"status": "ready"})


async def openapi(request: web.Request) -> web.Response:
    return json_reply(document(request.app))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/reports", submit_report)
    app.router.add_get("/api/v1/receipts/{code}", receipt)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/api/v1/openapi.json", openapi)
