"""A refusal never repeats what was sent: every string field of every schema a route takes gets an
over-long value through real HTTP, and the 4xx names the field and its limit but holds neither the
value nor any 40 characters of it (frontdoor/reports/explain.py).

The schemas are walked, not listed: a string field added to a schema is tested without a change here.
Each value is random letters, a canary no message could contain by chance.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator
from typing import Any

import pytest

from frontdoor.channels.web.chat import MAX_TEXT_CHARS
from frontdoor.reports.build import ASSESSMENT_SCHEMA, SUBMISSION_SCHEMA, validator
from support.api import ANALYST_PREFIX, assert_error, ok_json, submit

NO_LIMIT_CHARS = 60_000  # under FRONTDOOR_MAX_BODY_BYTES (65,536) with the rest of the body
WINDOW = 40


def string_fields(schema: dict[str, Any], path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    """(path, subschema) of every node that takes a string: properties, array items (as index 0) and
    the branches of allOf (an inlined $ref with siblings), at any depth."""
    kinds = schema.get("type")
    if kinds == "string" or (isinstance(kinds, list) and "string" in kinds):
        yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from string_fields(sub, (*path, name))
    if isinstance(schema.get("items"), dict):
        yield from string_fields(schema["items"], (*path, 0))
    for sub in schema.get("allOf", []):
        yield from string_fields(sub, path)


def minimal(schema: dict[str, Any]) -> Any:
    """The smallest valid instance we need around a field: required properties only, enums' first value."""
    for sub in schema.get("allOf", []):
        if "properties" in sub or "type" in sub:
            return minimal(sub)
    if "enum" in schema:
        return next(v for v in schema["enum"] if v is not None)
    kinds = schema.get("type")
    if kinds == "object" or (isinstance(kinds, list) and "object" in kinds):
        return {k: minimal(schema["properties"][k]) for k in schema.get("required", [])}
    if kinds == "array":
        return []
    return "x"


def limit_of(sub: dict[str, Any]) -> int | None:
    limits = [s["maxLength"] for s in (sub, *sub.get("allOf", [])) if "maxLength" in s]
    return min(limits) if limits else None


def canary(length: int, seed: Any) -> str:
    rng = random.Random(f"canary-{seed}")
    return "".join(rng.choice(string.ascii_letters) for _ in range(length))


def with_value(schema: dict[str, Any], base: dict[str, Any], path: tuple[Any, ...], value: str) -> dict[str, Any]:
    """`base` with `value` at `path`; the containers on the way made from the schema's minimal instances."""
    doc = json.loads(json.dumps(base))
    node: Any = doc
    sub = schema
    for step, following in zip(path, path[1:]):
        sub = sub["properties"][step] if isinstance(step, str) else sub["items"]
        sub = next((s for s in sub.get("allOf", []) if "properties" in s or "items" in s), sub)
        if isinstance(step, int):
            while len(node) <= step:
                node.append(minimal(sub))
        elif node.get(step) is None:
            node[step] = minimal(sub) if isinstance(following, str) else []
        node = node[step]
    if isinstance(path[-1], int):
        node.append(value)
    else:
        node[path[-1]] = value
    return doc


def cases(name: str, base: dict[str, Any]) -> list[Any]:
    schema = validator(name).schema
    out = []
    for path, sub in string_fields(schema):
        limit = limit_of(sub)
        value = canary(limit + 5000 if limit is not None else NO_LIMIT_CHARS, (name, path))
        out.append(pytest.param(path, limit, with_value(schema, base, path, value), value,
                                id="/".join(map(str, path))))
    return out


def assert_not_echoed(text: str, value: str) -> None:
    assert value not in text
    leaked = [text[i:i + WINDOW] for i in range(len(text) - WINDOW + 1) if text[i:i + WINDOW] in value]
    assert not leaked, f"the answer quotes what was sent: {leaked[0]!r}"


async def assert_refused_without_echo(resp: Any, path: tuple[Any, ...], limit: int | None, value: str) -> str:
    text = await resp.text()
    assert 400 <= resp.status < 500, (resp.status, text[:300])
    err = await assert_error(resp, resp.status)
    assert_not_echoed(text, value)
    assert "/".join(map(str, path)) in err["message"], err
    if limit is not None:
        assert f"at most {limit:,} characters" in err["message"], err
    return err["message"]  # type: ignore[no-any-return]


SUBMISSION_CASES = cases(SUBMISSION_SCHEMA, {"category": "csam"})
ASSESSMENT_CASES = cases(ASSESSMENT_SCHEMA, {"classification": "baseline"})


def test_the_walk_finds_the_string_fields_we_know_of():
    """The generic walk reaches nested objects and array items (so a missed branch cannot pass silently)."""
    found = {p.id for p in SUBMISSION_CASES} | {p.id for p in ASSESSMENT_CASES}
    assert {"description", "urls/0", "where_seen/platform", "where_seen/account", "contact", "locale",
            "reporter_country", "when_seen", "note", "hosting_country", "actions/0/reference", "actions/0/at",
            "actions/0/partner_country"} <= found, found


@pytest.mark.parametrize(("path", "limit", "body", "value"), SUBMISSION_CASES)
async def test_an_over_long_report_field_is_refused_without_echo(api, path, limit, body, value):
    assert len(json.dumps(body)) < 65_536
    resp = await api.post("/api/v1/reports", json=body)
    await assert_refused_without_echo(resp, path, limit, value)


@pytest.fixture
async def claimed(api, add_analyst):  # type: ignore[no-untyped-def]
    await submit(api, category="csam", urls=["https://example.com/page"])
    headers = await add_analyst("alice")
    case = await ok_json(await api.post(f"{ANALYST_PREFIX}/claim", headers=headers))
    return headers, f"{ANALYST_PREFIX}/cases/{case['id']}"


@pytest.mark.parametrize(("path", "limit", "body", "value"), ASSESSMENT_CASES)
async def test_an_over_long_assessment_field_is_refused_without_echo(api, claimed, path, limit, body, value):
    headers, case = claimed
    await assert_refused_without_echo(await api.post(f"{case}/assessment", headers=headers, json=body),
                                      path, limit, value)
    if path[0] == "actions":  # the same action, later, through the actions route
        await ok_json(await api.post(f"{case}/assessment", headers=headers, json={"classification": "baseline"}))
        later = {"actions": body["actions"]}
        await assert_refused_without_echo(await api.post(f"{case}/actions", headers=headers, json=later),
                                          path, limit, value)
    case_now = await ok_json(await api.get(case, headers=headers))
    assert value not in json.dumps(case_now)  # and nothing of it was kept


@pytest.mark.parametrize("field", ["text", "payload"])
async def test_an_over_long_chat_message_is_refused_without_echo(api, field):
    token = (await ok_json(await api.post("/api/v1/conversations", json={}), 201))["conversation"]
    value = canary(MAX_TEXT_CHARS + 5000, field)
    resp = await api.post(f"/api/v1/conversations/{token}/messages", json={field: value})
    await assert_refused_without_echo(resp, (field,), MAX_TEXT_CHARS, value)


async def test_an_unknown_field_s_name_is_not_repeated_but_ours_are_listed(api):
    name = canary(60, "field-name")
    resp = await api.post("/api/v1/reports", json={"category": "csam", "description": "placeholder", name: 1})
    err = await assert_error(resp, 400, "unknown_field")
    assert_not_echoed(err["message"], name)
    assert "description" in err["message"] and "where_seen" in err["message"], err
    typo = await assert_error(await api.post("/api/v1/reports", json={"category": "csam", "descriptoin": "x"}), 400)
    assert "did you mean description?" in typo["message"], typo
