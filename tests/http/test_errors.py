"""Bodies nested too deep for any of our documents: a 400 with its reason on every route that reads
JSON, never the 500 of a RecursionError inside jsonschema's explanation of a refusal."""

from __future__ import annotations

import pytest

from frontdoor.http.errors import MAX_JSON_DEPTH, too_deep
from support.api import ANALYST_PREFIX, UNKNOWN_CASE_ID, assert_error

JSON = {"Content-Type": "application/json"}


def nested(depth: int, leaf: str = '"x"') -> str:
    """`depth` levels of arrays and objects, alternating, around `leaf`."""
    opening = "".join('{"a":' if i % 2 else "[" for i in range(depth))
    closing = "".join("}" if i % 2 else "]" for i in reversed(range(depth)))
    return opening + leaf + closing


@pytest.mark.parametrize("value, depth", [("x", 0), ([], 1), ({"a": [1, {"b": []}]}, 4), ([[[[]]], [], {}], 4)])
def test_depth_is_counted_in_containers(value, depth):
    assert not too_deep(value, depth)
    assert too_deep(value, depth - 1) == (depth > 0)


def test_depth_of_a_very_deep_value_is_found_without_recursion():
    value: list = []
    for _ in range(100_000):  # far past the interpreter's recursion limit
        value = [value]
    assert too_deep(value, MAX_JSON_DEPTH)


async def test_every_route_that_reads_json_refuses_deep_nesting_with_400(api, add_analyst):
    supervisor = {**JSON, **await add_analyst("sup", "supervisor")}
    start = await api.post("/api/v1/conversations", json={})
    token = (await start.json())["conversation"]
    routes = [
        ("/api/v1/reports", JSON),
        ("/api/v1/conversations", JSON),
        (f"/api/v1/conversations/{token}/messages", JSON),
        (f"{ANALYST_PREFIX}/cases/{UNKNOWN_CASE_ID}/assessment", supervisor),
        (f"{ANALYST_PREFIX}/cases/{UNKNOWN_CASE_ID}/actions", supervisor),
        (f"{ANALYST_PREFIX}/cases/{UNKNOWN_CASE_ID}/reassign", supervisor),
        (f"{ANALYST_PREFIX}/analysts", supervisor),
    ]
    for path, headers in routes:
        for depth in (MAX_JSON_DEPTH + 1, 1000):  # 1,000: about where jsonschema's ranking ran out of stack
            body = '{"category": "csam", "description": ' + nested(depth - 1) + "}"
            err = await assert_error(await api.post(path, data=body, headers=headers), 400, "too_deep")
            assert str(MAX_JSON_DEPTH) in err["message"], (path, err)


async def test_nesting_up_to_the_limit_is_judged_by_the_schema(api):
    body = '{"category": "csam", "description": ' + nested(MAX_JSON_DEPTH - 1) + "}"
    await assert_error(await api.post("/api/v1/reports", data=body, headers=JSON), 400, "invalid_type")


# -- 413: one sentence of ours, with the limit ---------------------------------------------------


async def test_a_body_over_the_limit_is_one_sentence_with_the_limit(api, settings):
    body = '{"category": "csam", "description": "' + "x" * settings.max_body_bytes + '"}'
    err = await assert_error(await api.post("/api/v1/reports", data=body, headers=JSON), 413, "too_large")
    assert err["message"] == "The request body is larger than 65,536 bytes (64 KiB), the most this service accepts."


async def test_a_limit_that_is_no_whole_kib_is_said_in_bytes_only(aiohttp_client, settings, redis, redis_url):
    from dataclasses import replace

    from frontdoor.app import create_app

    api = await aiohttp_client(create_app(replace(settings, max_body_bytes=5000), redis_url, housekeeping=False))
    body = '{"category": "csam", "description": "' + "x" * 6000 + '"}'
    err = await assert_error(await api.post("/api/v1/reports", data=body, headers=JSON), 413, "too_large")
    assert err["message"] == "The request body is larger than 5,000 bytes, the most this service accepts."


async def test_a_form_with_too_many_fields_is_a_413_that_says_so(api):
    fields = "&".join(f"f{i}=x" for i in range(1001))  # aiohttp's default: 1,000 fields
    resp = await api.post("/report", data=fields, headers={"Content-Type": "application/x-www-form-urlencoded"})
    err = await assert_error(resp, 413, "too_large")
    assert err["message"] == "The form has more than 1,000 fields, the most this service accepts."
