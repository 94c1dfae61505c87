"""Helpers shared by the HTTP API tests (tests/test_api.py, tests/test_openapi.py).

Test data uses reserved names only (example.com, *.test, *.invalid, RFC 5737 addresses,
Ofcom's drama range for phone numbers) and neutral placeholder text.
"""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

ANALYST_PREFIX = "/api/v1/analyst"
# A well-formed case id (ULID + "-" + shard) that no case has.
UNKNOWN_CASE_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV-0"


async def assert_error(resp: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """`resp` has `status`, a JSON body of exactly {"error", "message"}, both non-empty strings."""
    text = await resp.text()
    assert resp.status == status, f"expected {status}, got {resp.status}: {text[:500]}"
    assert resp.content_type == "application/json", f"{resp.status} with {resp.content_type}: {text[:500]}"
    body = json.loads(text)
    assert isinstance(body, dict) and set(body) == {"error", "message"}, body
    assert isinstance(body["error"], str) and body["error"], body
    assert isinstance(body["message"], str) and body["message"], body
    if code is not None:
        assert body["error"] == code, body
    return body


async def submit(api: Any, **fields: Any) -> dict[str, Any]:
    """POST a report; asserts 201 and returns the body."""
    resp = await api.post("/api/v1/reports", json=fields)
    text = await resp.text()
    assert resp.status == 201, text
    body = json.loads(text)
    assert isinstance(body["report"], str) and isinstance(body["receipt"], str)
    return body  # type: ignore[no-any-return]


async def receipt_status(api: Any, code: str) -> str:
    resp = await api.get(f"/api/v1/receipts/{code}")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert set(body) == {"status"}, body
    return body["status"]  # type: ignore[no-any-return]


async def ok_json(resp: Any, status: int = 200) -> Any:
    text = await resp.text()
    assert resp.status == status, f"expected {status}, got {resp.status}: {text[:500]}"
    return json.loads(text)


def analyst_routes(app: web.Application) -> list[tuple[str, str, Any]]:
    """(method, path template, handler) of every route under /api/v1/analyst."""
    out = []
    for route in app.router.routes():
        resource = route.resource
        if resource is None:
            continue
        path = resource.canonical
        if path == ANALYST_PREFIX or path.startswith(ANALYST_PREFIX + "/"):
            out.append((route.method, path, route.handler))
    return out


def app_operations(app: web.Application) -> set[tuple[str, str]]:
    """(path template, lower-case method) of every route of the app, HEAD excluded."""
    ops = set()
    for route in app.router.routes():
        if route.resource is None or route.method == "HEAD":
            continue
        ops.add((route.resource.canonical, route.method.lower()))
    return ops


async def dump_redis(redis: aioredis.Redis) -> str:
    """Every key name and every value in the database, as one text to search."""
    parts: list[str] = []
    async for key in redis.scan_iter(match="*", count=1000):
        parts.append(key)
        kind = await redis.type(key)
        if kind == "string":
            parts.append(await redis.get(key) or "")
        elif kind == "hash":
            parts.append(json.dumps(await redis.hgetall(key), ensure_ascii=False))
        elif kind == "list":
            parts.append(json.dumps(await redis.lrange(key, 0, -1), ensure_ascii=False))
        elif kind == "set":
            parts.append(json.dumps(sorted(await redis.smembers(key)), ensure_ascii=False))
        elif kind == "zset":
            parts.append(json.dumps(await redis.zrange(key, 0, -1, withscores=True), ensure_ascii=False))
        elif kind == "stream":
            parts.append(json.dumps(await redis.xrange(key), ensure_ascii=False))
        else:  # pragma: no cover - a new type would need handling here
            raise AssertionError(f"unexpected redis type {kind} for {key}")
    return "\n".join(parts)
