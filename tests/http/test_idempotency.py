"""The Idempotency-Key header on POST /api/v1/reports: its form, a retry, and a key reused for another report."""

from __future__ import annotations

import re

import pytest
from support.api import assert_error

from frontdoor.http import idempotency

REPORT = {"category": "csam", "urls": ["https://example.com/keyed"]}
UUID = "8e03978e-40d5-43e8-bc93-6894a57f9324"


async def post(api, key: str | None, body: dict = REPORT):  # type: ignore[no-untyped-def]
    return await api.post("/api/v1/reports", json=body, headers={"Idempotency-Key": key} if key is not None else {})


async def test_a_retry_gets_the_first_answer_and_another_key_another_report(api) -> None:  # type: ignore[no-untyped-def]
    first = await post(api, f'"{UUID}"')
    assert first.status == 201
    again = await post(api, UUID)  # the bare form names the same key
    assert again.status == 201 and await again.json() == await first.json()
    other = await post(api, f'"{UUID[::-1]}"')
    assert other.status == 201 and (await other.json())["report"] != (await first.json())["report"]
    unkeyed = [await (await post(api, None)).json() for _ in range(2)]  # without a key every POST is a report
    assert unkeyed[0]["report"] != unkeyed[1]["report"]


async def test_a_key_reused_for_a_different_report_is_a_422_that_shows_nothing_of_the_first(api) -> None:  # type: ignore[no-untyped-def]
    first = await (await post(api, UUID)).json()
    reused = await post(api, UUID, {**REPORT, "description": "something else"})
    body = await assert_error(reused, 422, "idempotency_key_reused")
    assert first["receipt"] not in body["message"] and first["report"] not in body["message"]


@pytest.mark.parametrize("key", ["short-key", "x" * 256, '"' + "a" * 20, "spaced key with words", "ключ-" + "k" * 20,
                                 '"' + "b" * 20 + '\\x"'])
async def test_a_bad_key_is_a_400_and_stores_nothing(api, redis, key: str) -> None:  # type: ignore[no-untyped-def]
    resp = await api.post("/api/v1/reports", json=REPORT, headers={"Idempotency-Key": key.encode("utf-8").decode("latin-1")})
    await assert_error(resp, 400, "invalid_idempotency_key")
    assert [k async for k in redis.scan_iter(match="*:report:*")] == []


async def test_two_keys_are_a_400(api) -> None:  # type: ignore[no-untyped-def]
    resp = await api.post("/api/v1/reports", json=REPORT, headers=[("Idempotency-Key", UUID), ("Idempotency-Key", UUID)])
    await assert_error(resp, 400, "invalid_idempotency_key")


@pytest.mark.parametrize("key", [f'"{UUID}"', UUID, '"a \\"quoted\\" key of some length"', "!#$%&'*+-.^_`|~" + "z" * 5])
def test_the_documented_pattern_takes_what_the_server_takes(key: str) -> None:
    assert re.fullmatch(idempotency.PATTERN, key)


async def test_the_openapi_document_names_the_header(api) -> None:  # type: ignore[no-untyped-def]
    spec = await (await api.get("/api/v1/openapi.json")).json()
    params = spec["paths"]["/api/v1/reports"]["post"]["parameters"]
    assert [p["name"] for p in params if p["in"] == "header"] == ["Idempotency-Key"]
    assert "422" in spec["paths"]["/api/v1/reports"]["post"]["responses"]
