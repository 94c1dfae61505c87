"""The HTTP API end to end: the real app on a real redis-server, through a real HTTP client.

Test data uses reserved names only (example.com, *.test, *.invalid, RFC 5737 addresses,
Ofcom's drama range for phone numbers) and neutral placeholder text.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings as hsettings
from hypothesis import strategies as st

from support.api import ANALYST_PREFIX, UNKNOWN_CASE_ID, analyst_routes, assert_error, dump_redis, ok_json, receipt_status, submit
from frontdoor.api.accounts import ROLES
from frontdoor.app import create_app
from support.servers import free_port
from frontdoor.reports.build import CATEGORIES

JSON = {"Content-Type": "application/json"}
RECEIPT_STATUSES = {"received", "in_review", "action_taken", "closed"}


async def claim(api: Any, headers: dict[str, str]) -> dict[str, Any]:
    return await ok_json(await api.post(f"{ANALYST_PREFIX}/claim", headers=headers))  # type: ignore[no-any-return]


def case_path(case_id: str, what: str = "") -> str:
    return f"{ANALYST_PREFIX}/cases/{case_id}" + (f"/{what}" if what else "")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- public routes --------------------------------------------------------------


async def test_healthz(api):
    resp = await api.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


async def test_readyz_with_redis_up(api):
    resp = await api.get("/readyz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ready"}


async def test_submit_returns_201_with_report_and_receipt(api):
    resp = await api.post("/api/v1/reports", json={"category": "csam", "urls": ["https://example.com/page"]})
    body = await ok_json(resp, 201)
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}-[0-9]+", body["report"])
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", body["receipt"])
    assert body["status"] == "received"


@pytest.mark.parametrize("fields", [
    {"category": "grooming", "description": "A placeholder description of what happened."},
    {"category": "sextortion", "where_seen": {"type": "messaging_app", "platform": "Example Chat"}},
    {"category": "other", "where_seen": {"type": "game", "account": "placeholder_handle"}},
    {"category": "self_generated", "urls": ["http://www.example.test/a", "https://example.invalid/b"],
     "reporter_role": "parent_carer", "reporter_country": "GB", "locale": "en-GB", "child_in_immediate_danger": True,
     "attachments_dropped": 2},
    {"category": "trafficking", "urls": ["https://203.0.113.5/x"], "description": None, "reporter_country": None},
], ids=["description-only", "platform-only", "account-only", "all-fields", "ip-url"])
async def test_submit_accepts_valid_reports(api, fields):
    body = await submit(api, **fields)
    assert await receipt_status(api, body["receipt"]) == "received"


async def test_receipt_is_only_a_coarse_status_and_accepts_any_case_and_dash(api, add_analyst):
    body = await submit(api, category="csam", urls=["https://example.com/receipt-check"])
    code = body["receipt"]
    bare = code.replace("-", "")
    for variant in (code, code.lower(), bare, bare.lower(), f" {code[:3]}-{code[3:5].lower()}{code[6:]} ".strip()):
        resp = await api.get(f"/api/v1/receipts/{variant}")
        got = await ok_json(resp)
        assert got == {"status": "received"}, (variant, got)

    await claim(api, await add_analyst("alice"))
    got = await ok_json(await api.get(f"/api/v1/receipts/{code.lower()}"))
    assert list(got) == ["status"] and got["status"] in RECEIPT_STATUSES
    assert got["status"] == "in_review"


@pytest.mark.parametrize("code", ["ABCDE-FGHJK", "0000000000", "not-a-code", "x", "A" * 300, "ABCDE-FGHJ"])
async def test_unknown_receipt_is_404(api, code):
    await submit(api, category="csam", urls=["https://example.com/a"])
    await assert_error(await api.get(f"/api/v1/receipts/{code}"), 404, "receipt_not_found")


async def test_unknown_path_and_method_are_json_errors(api):
    await assert_error(await api.get("/api/v1/nothing-here"), 404)
    resp = await api.put("/api/v1/reports", json={"category": "csam"})
    await assert_error(resp, 405)
    assert "POST" in resp.headers.get("Allow", "")
    await assert_error(await api.delete(f"{ANALYST_PREFIX}/claim"), 405)


# -- bad input: never a 500 -----------------------------------------------------

GOOD = {"category": "csam", "urls": ["https://example.com/page"]}


_DROP = object()


def _with(**changes: Any) -> dict[str, Any]:
    body = dict(GOOD)
    for key, value in changes.items():
        if value is _DROP:
            body.pop(key, None)
        else:
            body[key] = value
    return body


BAD_REPORTS: list[tuple[str, Any, int, str | None, str | None]] = [
    # (id, JSON body, status, error code, text the message must contain)
    ("array-body", [GOOD], 400, "invalid_type", None),
    ("string-body", "csam", 400, "invalid_type", None),
    ("number-body", 42, 400, "invalid_type", None),
    ("null-body", None, 400, "invalid_type", None),
    ("empty-object", {}, 400, "missing_field", "category"),
    ("urls-not-a-list", _with(urls="https://example.com/page"), 400, "invalid_type", "urls"),
    ("urls-object", _with(urls={"0": "https://example.com/page"}), 400, "invalid_type", "urls"),
    ("urls-item-not-string", _with(urls=[5]), 400, "invalid_type", "urls/0"),
    ("urls-item-empty", _with(urls=[""]), 400, None, "urls/0"),
    ("urls-too-many", _with(urls=[f"https://example.com/{i}" for i in range(21)]), 400, None, "urls"),
    ("url-too-long", _with(urls=["https://example.com/" + "a" * 2048]), 400, None, "urls/0"),
    ("junk-url", _with(urls=["not a url"]), 400, "url_no_scheme", "http://"),
    ("ftp-url", _with(urls=["ftp://example.com/file"]), 400, "url_bad_scheme", "https://"),
    ("javascript-url", _with(urls=["javascript:alert(1)"]), 400, "url_bad_scheme", "http://"),
    ("private-url", _with(urls=["http://192.168.0.1/page"]), 400, "url_private_address", None),
    ("localhost-url", _with(urls=["http://localhost/page"]), 400, "url_private_address", None),
    ("no-host-url", _with(urls=["https://"]), 400, "url_no_host", None),
    ("bad-port-url", _with(urls=["https://example.com:99999/"]), 400, "url_bad_port", None),
    ("category-unknown", _with(category="spam"), 400, "invalid_field", "category"),
    ("category-missing", _with(category=_DROP), 400, "missing_field", "category"),
    ("category-number", _with(category=1), 400, None, "category"),
    ("description-too-long", _with(description="x" * 4001), 400, "invalid_field", "description"),
    ("description-number", _with(description=12), 400, "invalid_type", "description"),
    ("contact-without-consent", _with(contact="someone@example.com"), 400, "contact_without_consent", "contact_consent"),
    ("contact-consent-false", _with(contact="someone@example.com", contact_consent=False), 400,
     "contact_without_consent", None),
    ("contact-too-short", _with(contact="ab", contact_consent=True), 400, "invalid_field", "contact"),
    ("consent-not-bool", _with(contact="someone@example.com", contact_consent="yes"), 400, "invalid_type", None),
    ("country-lower-case", _with(reporter_country="gb"), 400, "invalid_field", "reporter_country"),
    ("country-three-letters", _with(reporter_country="GBR"), 400, "invalid_field", "reporter_country"),
    ("locale-upper-case", _with(locale="EN"), 400, "invalid_field", "locale"),
    ("danger-not-bool", _with(child_in_immediate_danger="yes"), 400, "invalid_type", None),
    ("attachments-negative", _with(attachments_dropped=-1), 400, "invalid_field", None),
    ("attachments-string", _with(attachments_dropped="2"), 400, "invalid_type", None),
    ("role-unknown", _with(reporter_role="police"), 400, "invalid_field", None),
    ("unknown-field", _with(name="Placeholder Person"), 400, "unknown_field", None),
    ("unknown-field-image", _with(image="aGVsbG8="), 400, "unknown_field", None),
    ("where-seen-no-type", _with(where_seen={"platform": "Example Chat"}), 400, "missing_field", None),
    ("where-seen-unknown-field", _with(where_seen={"type": "website", "colour": "blue"}), 400, "unknown_field", None),
    ("where-seen-list", _with(where_seen=["website"]), 400, "invalid_type", None),
    ("empty-report", {"category": "csam"}, 400, "nothing_to_report", None),
    ("empty-report-blank-description", {"category": "csam", "description": "   \n "}, 400, "nothing_to_report", None),
    ("empty-report-empty-urls", {"category": "csam", "urls": [], "where_seen": {"type": "website"}}, 400,
     "nothing_to_report", None),
]


@pytest.mark.parametrize(("body", "status", "code", "says"),
                         [pytest.param(b, s, c, m, id=i) for i, b, s, c, m in BAD_REPORTS])
async def test_bad_reports_are_4xx_json_errors(api, body, status, code, says):
    resp = await api.post("/api/v1/reports", data=json.dumps(body), headers=JSON)
    err = await assert_error(resp, status, code)
    if says is not None:
        assert says in err["message"], err


@pytest.mark.parametrize(("raw", "headers", "status", "code"), [
    pytest.param(b"{", JSON, 400, "malformed_json", id="truncated-json"),
    pytest.param(b"", JSON, 400, "malformed_json", id="empty-body"),
    pytest.param(b"{'category': 'csam'}", JSON, 400, "malformed_json", id="single-quotes"),
    pytest.param(b'{"category": "csam",}', JSON, 400, "malformed_json", id="trailing-comma"),
    pytest.param(b'{"category": "csam"} {}', JSON, 400, "malformed_json", id="two-documents"),
    pytest.param(b'{"category": "\xff\xfe"}', JSON, 400, "malformed_json", id="invalid-utf8"),
    pytest.param(b'{"category": "other", "description": "x", "attachments_dropped": NaN}', JSON, 400, "malformed_json",
                 id="nan-number"),  # not JSON (RFC 8259), though Python's json module reads it
    pytest.param(b'{"category": "other", "description": "x\\ud800"}', JSON, 400, "malformed_json", id="lone-surrogate"),
    pytest.param('{"category": "other", "description": "x"}'.encode("utf-16"), JSON, 400, "malformed_json", id="utf-16"),
    pytest.param(b'{"category": "other", "description": ' + b"[" * 5000 + b"]" * 5000 + b"}", JSON, 400, "malformed_json",
                 id="nested-too-deep"),
    pytest.param(json.dumps(GOOD).encode(), {"Content-Type": "text/plain"}, 415, "unsupported_media_type",
                 id="text-plain"),
    pytest.param(b"category=csam", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type",
                 id="form-encoded"),
    pytest.param(json.dumps(GOOD).encode(), {"Content-Type": "application/xml"}, 415, "unsupported_media_type", id="xml"),
    pytest.param(json.dumps(GOOD).encode(), {}, 415, "unsupported_media_type", id="no-content-type"),
])
async def test_bad_raw_bodies_are_4xx_json_errors(api, raw, headers, status, code):
    resp = await api.post("/api/v1/reports", data=raw, headers=headers)
    await assert_error(resp, status, code)


async def test_json_with_charset_parameter_is_accepted(api):
    resp = await api.post("/api/v1/reports", data=json.dumps(GOOD).encode(),
                          headers={"Content-Type": "application/json; charset=utf-8"})
    await ok_json(resp, 201)


async def test_oversized_body_is_413(api, settings):
    assert settings.max_body_bytes == 64 * 1024
    body = json.dumps({"category": "csam", "description": "x" * (settings.max_body_bytes + 10)})
    resp = await api.post("/api/v1/reports", data=body, headers=JSON)
    err = await assert_error(resp, 413, "too_large")
    assert f"{settings.max_body_bytes:,} bytes (64 KiB)" in err["message"], err


async def test_body_just_under_the_limit_is_not_413(api, settings):
    # The limit is the body size, not the description: a description over 4000 chars is a 400.
    body = json.dumps({"category": "csam", "description": "x" * (settings.max_body_bytes - 100)})
    await assert_error(await api.post("/api/v1/reports", data=body, headers=JSON), 400, "invalid_field")


async def test_deeply_nested_json_is_400_not_500(api):
    # Regression: read_json only catches UnicodeDecodeError/JSONDecodeError; json.loads raises
    # RecursionError for deeply nested arrays (well under the 64 KiB body limit), which
    # reaches the catch-all and becomes a 500.
    resp = await api.post("/api/v1/reports", data="[" * 30_000, headers=JSON)
    await assert_error(resp, 400, "malformed_json")


async def test_integer_with_too_many_digits_is_400_not_500(api):
    # Regression: json.loads raises a plain ValueError ("Exceeds the limit (4300 digits) for
    # integer string conversion") for a 5000-digit integer, which read_json does not catch: 500.
    raw = '{"category": "other", "description": "x", "attachments_dropped": 1' + "0" * 5000 + "}"
    resp = await api.post("/api/v1/reports", data=raw, headers=JSON)
    await assert_error(resp, 400)


@pytest.mark.parametrize("raw", [
    pytest.param('{"category": "other", "description": "x\\ud800y"}', id="description"),
    pytest.param('{"category": "other", "description": "x", "contact": "a\\udfffbc", "contact_consent": true}',
                 id="contact"),
    pytest.param('{"category": "other", "urls": ["https://example.com/\\ud800"]}', id="url"),
])
async def test_lone_surrogate_escape_is_400_not_500(api, raw):
    # Regression: "\ud800" is valid JSON syntax that json.loads turns into a lone surrogate; nothing
    # rejects it, so encoding the report (Redis, Fernet) raises UnicodeEncodeError: a 500.
    resp = await api.post("/api/v1/reports", data=raw, headers=JSON)
    await assert_error(resp, 400)


@pytest.mark.parametrize("raw", [
    pytest.param('{"category": "other", "description": "x\ud800y"}'.encode("utf-8", "surrogatepass"), id="utf-8-bytes"),
    pytest.param('{"category": "other", "description": "x\ud800y"}'.encode("utf-16-le", "surrogatepass"), id="utf-16"),
    pytest.param('{"category": "other", "description": "x\ud800y"}'.encode("utf-32-be", "surrogatepass"), id="utf-32"),
])
async def test_lone_surrogate_bytes_are_400_not_500(api, raw):
    # json.loads reads bytes with "surrogatepass", and UTF-16/32 too: a lone surrogate needs no \u escape.
    resp = await api.post("/api/v1/reports", data=raw, headers=JSON)
    await assert_error(resp, 400)


# Random JSON: the reporting endpoint answers 201 or a JSON 4xx, never a 5xx.
# Text avoids "." so no generated string can name a real host.
_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="."), max_size=40)
_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _text
_json = st.recursive(_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
                     max_leaves=12)
_FIELDS = ["category", "urls", "where_seen", "description", "reporter_role", "reporter_country",
           "child_in_immediate_danger", "locale", "contact", "contact_consent", "attachments_dropped"]
_URLS = st.sampled_from(["https://example.com/a", "http://EXAMPLE.com/a?utm_source=x", "https://sub.example.test/p",
                         "https://example.invalid/%7Euser", "http://203.0.113.9:8080/x", "hxxp://example[.]com/",
                         "https://example.com:0/", "http://[3fff::1]/", "https://xn--nxasmq6b.example/"])
_field_value = st.one_of(
    _json,
    st.sampled_from(list(CATEGORIES)),
    st.lists(_URLS | _text, max_size=3),
    st.fixed_dictionaries({"type": st.sampled_from(["website", "game", "other"])},
                          optional={"platform": _text | st.none(), "account": _text | st.none()}),
    st.sampled_from(["GB", "NL", "gb", "en", "en-GB", "pt-BR"]),
)
_report_like = st.dictionaries(st.sampled_from(_FIELDS), _field_value, max_size=7)
# Mostly valid reports (so storage, redaction and de-duplication run too), with at most one field perturbed.
_GOOD_URLS = st.sampled_from(["https://example.com/a", "http://EXAMPLE.com/a?utm_source=x", "https://sub.example.test/p",
                              "https://example.invalid/%7Euser", "http://203.0.113.9:8080/x", "http://[3fff::1]/"])
_valid_ish = st.fixed_dictionaries(
    {"category": st.sampled_from(list(CATEGORIES)), "urls": st.lists(_GOOD_URLS, min_size=1, max_size=3)},
    optional={
        "description": _text | st.none(),
        "where_seen": st.fixed_dictionaries({"type": st.sampled_from(["website", "social_media", "other"])},
                                            optional={"platform": _text | st.none(), "account": _text | st.none()}),
        "reporter_role": st.sampled_from(["child", "parent_carer", "other_adult", "professional", "unknown"]),
        "reporter_country": st.sampled_from(["GB", "NL", "DE", "US", "ZZ"]) | st.none(),
        "locale": st.sampled_from(["en", "nl-NL", "de", "pt-BR", "zh-Hant-TW"]),
        "child_in_immediate_danger": st.booleans(),
        "contact": st.text(min_size=3, max_size=40, alphabet=st.characters(blacklist_categories=("Cs",),
                                                                              blacklist_characters=".")),
        "contact_consent": st.booleans(),
        "attachments_dropped": st.integers(0, 1000),
    },
)
_bodies = st.one_of(
    _json,
    _report_like,
    st.builds(lambda d, c: {**d, "category": c}, _report_like, st.sampled_from(list(CATEGORIES))),
    _valid_ish,
    _valid_ish,
    st.builds(lambda d, extra: {**d, **extra}, _valid_ish, st.dictionaries(st.sampled_from(_FIELDS), _field_value,
                                                                            max_size=1)),
)


@hsettings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(body=_bodies)
async def test_random_json_is_201_or_a_json_4xx(api, body):
    resp = await api.post("/api/v1/reports", data=json.dumps(body), headers=JSON)
    text = await resp.text()
    event(f"status {resp.status}")
    assert resp.status < 500, f"{resp.status} for {body!r}: {text}"
    if resp.status == 201:
        got = json.loads(text)
        assert {"report", "receipt"} <= set(got)
    else:
        assert 400 <= resp.status < 500, resp.status
        await assert_error(resp, resp.status)


# -- Redis down -----------------------------------------------------------------


async def test_redis_down_app_starts_readyz_503_and_submit_503(aiohttp_client, settings):
    port = free_port()  # bound then closed: nothing listens there
    app = create_app(settings, f"redis://127.0.0.1:{port}/0", housekeeping=False)
    client = await aiohttp_client(app)  # the app must start without Redis

    resp = await client.get("/healthz")
    assert resp.status == 200

    err = await assert_error(await client.get("/readyz"), 503, "unavailable")
    assert "redis" in err["message"].lower()

    resp = await client.post("/api/v1/reports", json={"category": "csam", "urls": ["https://example.com/page"]})
    err = await assert_error(resp, 503, "unavailable")
    assert "try again" in err["message"].lower()
    assert resp.headers.get("Retry-After")

    await assert_error(await client.get("/api/v1/receipts/ABCDE-FGHJK"), 503, "unavailable")
    # An analyst request cannot be authenticated without Redis: 503, not 401 (the token may be fine).
    await assert_error(await client.post(f"{ANALYST_PREFIX}/claim", headers={"Authorization": "Bearer fdt_x"}), 503)
    # Input errors are still reported as such: validation happens before storage.
    await assert_error(await client.post("/api/v1/reports", json={"category": "csam"}), 400, "nothing_to_report")


# -- authentication and roles on every analyst route ---------------------------


def _concrete(path: str) -> str:
    return path.replace("{case_id}", UNKNOWN_CASE_ID)


async def test_every_analyst_route_requires_a_token_and_the_right_role(api, add_analyst):
    routes = analyst_routes(api.app)
    non_head = [(m, p) for m, p, _ in routes if m != "HEAD"]
    assert len(non_head) >= 10, non_head  # the test must not pass by finding nothing

    tokens = {role: await add_analyst(f"role-{role}", role) for role in ROLES}
    for method, path, handler in routes:
        where = f"{method} {path}"
        roles = getattr(handler, "roles", None)
        assert roles, f"{where} has no roles: it is not behind @requires"
        assert set(roles) <= set(ROLES), where
        url = _concrete(path)
        is_head = method == "HEAD"

        async def check(headers: dict[str, str], status: int, code: str | None = None) -> None:
            resp = await api.request(method, url, headers=headers, json={})
            if is_head:  # no body to inspect
                assert resp.status == status, where
            else:
                await assert_error(resp, status, code)

        await check({}, 401, "unauthorized")
        await check({"Authorization": "Bearer fdt_garbage-token-that-was-never-issued"}, 401, "invalid_token")
        await check({"Authorization": "Bearer not-even-our-prefix"}, 401)
        await check({"Authorization": "Bearer "}, 401)
        await check({"Authorization": "Basic dXNlcjpwYXNz"}, 401)
        await check({"Authorization": tokens["analyst"]["Authorization"].replace("Bearer ", "")}, 401)
        for role in ROLES:
            resp = await api.request(method, url, headers=tokens[role], json={})
            if role in roles:
                assert resp.status not in (401, 403), f"{where} refused {role}: {resp.status}"
            else:
                assert resp.status == 403, f"{where} let {role} through: {resp.status}"
                if not is_head:
                    await assert_error(resp, 403, "forbidden")


async def test_supervisor_only_routes_are_the_expected_ones(api):
    supervisor_only = {(m, p) for m, p, h in analyst_routes(api.app) if tuple(h.roles) == ("supervisor",)}
    assert supervisor_only == {("POST", f"{ANALYST_PREFIX}/cases/{{case_id}}/reassign"),
                               ("POST", f"{ANALYST_PREFIX}/analysts"), ("GET", f"{ANALYST_PREFIX}/analysts"),
                               ("HEAD", f"{ANALYST_PREFIX}/analysts")}


async def test_revoked_token_is_401(api, add_analyst):
    from frontdoor.api.appkeys import ACCOUNTS

    headers = await add_analyst("temp")
    assert (await api.post(f"{ANALYST_PREFIX}/claim", headers=headers)).status == 204
    await api.app[ACCOUNTS].revoke("temp")
    await assert_error(await api.post(f"{ANALYST_PREFIX}/claim", headers=headers), 401, "invalid_token")


# -- unknown and malformed ids -------------------------------------------------

BAD_IDS = [
    UNKNOWN_CASE_ID,  # well-formed, no such case
    "01ARZ3NDEKTSV4RRFFQ69G5FAV-7",  # well-formed, a shard that does not exist
    "nope",
    "01ARZ3NDEKTSV4RRFFQ69G5FAV",  # no shard
    "01arz3ndektsv4rrffq69g5fav-0",  # lower case
    "01ARZ3NDEKTSV4RRFFQ69G5FAV-99999",
    "01ARZ3NDEKTSV4RRFFQ69G5FAV--1",
    "x" * 300,
    "%20",
    "case%2Fother",
]


@pytest.mark.parametrize("case_id", BAD_IDS)
async def test_unknown_or_malformed_case_ids_are_404(api, add_analyst, case_id):
    await submit(api, category="csam", urls=["https://example.com/page"])
    h = await add_analyst("alice")
    sup = await add_analyst("sue", "supervisor")
    await assert_error(await api.get(case_path(case_id), headers=h), 404)
    calls = [
        ("assessment", h, {"classification": "not_illegal"}),
        ("actions", h, {"actions": [{"type": "content_removed"}]}),
        ("release", h, None),
        ("lease", h, None),
        ("reassign", sup, {"analyst": "alice"}),
    ]
    for what, headers, body in calls:
        resp = await api.post(case_path(case_id, what), headers=headers, json=body)
        await assert_error(resp, 404)


# -- analyst: bad input --------------------------------------------------------


async def _claimed(api: Any, add_analyst: Any, name: str = "alice") -> tuple[dict[str, str], str]:
    await submit(api, category="csam", urls=["https://example.com/page"])
    h = await add_analyst(name)
    return h, (await claim(api, h))["id"]


BAD_ASSESSMENTS = [
    ("array", [{"classification": "baseline"}], "invalid_type"),
    ("empty", {}, "missing_field"),
    ("unknown-classification", {"classification": "maybe"}, "invalid_field"),
    ("unknown-field", {"classification": "baseline", "colour": "blue"}, "unknown_field"),
    ("country-lower", {"classification": "baseline", "hosting_country": "nl"}, "invalid_field"),
    ("country-number", {"classification": "baseline", "hosting_country": 31}, "invalid_type"),
    ("note-too-long", {"classification": "baseline", "note": "n" * 2001}, "invalid_field"),
    ("actions-not-list", {"classification": "baseline", "actions": "notice_and_takedown_sent"}, "invalid_type"),
    ("action-unknown", {"classification": "baseline", "actions": [{"type": "deleted_it"}]}, "invalid_field"),
    ("action-string", {"classification": "baseline", "actions": ["content_removed"]}, "invalid_type"),
    ("action-unknown-field", {"classification": "baseline", "actions": [{"type": "content_removed", "x": 1}]},
     "unknown_field"),
    ("partner-without-country", {"classification": "baseline", "hosting_country": "NL",
                                 "actions": [{"type": "forwarded_partner_hotline"}]}, "missing_field"),
    ("partner-country-lower", {"classification": "baseline",
                               "actions": [{"type": "forwarded_partner_hotline", "partner_country": "nl"}]},
     "invalid_field"),
    ("too-many-actions", {"classification": "baseline", "actions": [{"type": "notice_and_takedown_sent"}] * 11},
     "invalid_field"),
    ("action-in-future", {"classification": "baseline",
                          "actions": [{"type": "notice_and_takedown_sent", "at": "2999-01-01T00:00:00Z"}]},
     "invalid_field"),
    ("action-before-case", {"classification": "baseline",
                            "actions": [{"type": "notice_and_takedown_sent", "at": "2000-01-01T00:00:00Z"}]},
     "invalid_field"),
]


@pytest.mark.parametrize(("body", "code"), [pytest.param(b, c, id=i) for i, b, c in BAD_ASSESSMENTS])
async def test_bad_assessments_are_400_and_change_nothing(api, add_analyst, body, code):
    h, cid = await _claimed(api, add_analyst)
    resp = await api.post(case_path(cid, "assessment"), headers=h, json=body)
    await assert_error(resp, 400, code)
    case = await ok_json(await api.get(case_path(cid), headers=h))
    assert case["status"] == "in_review" and case["classification"] is None
    assert [e["what"] for e in case["audit"]] == ["opened", "claimed"]


async def test_assessment_body_errors_are_400_and_415(api, add_analyst):
    h, cid = await _claimed(api, add_analyst)
    url = case_path(cid, "assessment")
    await assert_error(await api.post(url, headers={**h, **JSON}, data=b"{"), 400, "malformed_json")
    await assert_error(await api.post(url, headers={**h, "Content-Type": "text/plain"}, data=b"baseline"), 415)
    await assert_error(await api.post(url, headers=h), 415)


async def test_assessment_with_garbage_action_time_is_400_not_500(api, add_analyst):
    # Regression: the schema's "format": "date-time" on an action's `at` is not enforced
    # (jsonschema checks date-time only when rfc3339-validator is installed, and it is not
    # a dependency), so queue._action's datetime.fromisoformat raises ValueError: a 500.
    h, cid = await _claimed(api, add_analyst)
    body = {"classification": "baseline", "actions": [{"type": "notice_and_takedown_sent", "at": "garbage"}]}
    await assert_error(await api.post(case_path(cid, "assessment"), headers=h, json=body), 400)


@pytest.mark.parametrize(("body", "code"), [
    pytest.param({}, "missing_field", id="empty"),
    pytest.param({"actions": [{"type": "content_removed"}], "note": "x"}, "unknown_field", id="extra-field"),
    pytest.param({"actions": []}, "missing_field", id="no-actions"),
    pytest.param({"actions": [{"type": "gone"}]}, "invalid_field", id="unknown-type"),
    pytest.param({"actions": [{"type": "forwarded_partner_hotline"}]}, "missing_field", id="partner-no-country"),
    pytest.param([{"type": "content_removed"}], "invalid_type", id="array-body"),
])
async def test_bad_actions_requests_are_400(api, add_analyst, body, code):
    h, cid = await _claimed(api, add_analyst)
    await ok_json(await api.post(case_path(cid, "assessment"), headers=h, json={"classification": "baseline"}))
    await assert_error(await api.post(case_path(cid, "actions"), headers=h, json=body), 400, code)


@pytest.mark.parametrize("actions", [5, None, True, "content_removed"], ids=["number", "null", "bool", "string"])
async def test_actions_not_a_list_is_400_invalid_type(api, add_analyst, actions):
    # Regression: the actions route passes body["actions"] straight to TriageQueue.record_actions,
    # which calls list(actions) before validating: list(5) / list(None) / list(True) raise
    # TypeError (a 500), and list("content_removed") becomes 15 one-letter "actions" (a 400
    # that says "['c', 'o', 'n', ...] is too long" instead of naming the wrong type).
    h, cid = await _claimed(api, add_analyst)
    await ok_json(await api.post(case_path(cid, "assessment"), headers=h, json={"classification": "baseline"}))
    resp = await api.post(case_path(cid, "actions"), headers=h, json={"actions": actions})
    await assert_error(resp, 400, "invalid_type")


async def test_actions_on_a_case_not_classified_illegal_is_409(api, add_analyst):
    h, cid = await _claimed(api, add_analyst)
    case = await ok_json(await api.post(case_path(cid, "assessment"), headers=h, json={"classification": "not_illegal"}))
    assert case["status"] == "closed"
    resp = await api.post(case_path(cid, "actions"), headers=h, json={"actions": [{"type": "content_removed"}]})
    await assert_error(resp, 409)


@pytest.mark.parametrize("query", [
    "?url=", "?url=not%20a%20url", "?url=ftp://example.com/x", "?url=http://127.0.0.1/",
], ids=["empty", "junk", "ftp", "loopback"])
async def test_find_cases_bad_url_is_400(api, add_analyst, query):
    h = await add_analyst("alice")
    await assert_error(await api.get(f"{ANALYST_PREFIX}/cases{query}", headers=h), 400)


async def test_find_cases_unknown_url_is_empty(api, add_analyst):
    h = await add_analyst("alice")
    got = await ok_json(await api.get(f"{ANALYST_PREFIX}/cases", params={"url": "https://example.com/never"}, headers=h))
    assert got == {"cases": []}


@pytest.mark.parametrize("query", [
    "?since=yesterday", "?until=2024-02-30", "?since=2024-05-02&until=2024-05-01", "?since=2000-01-01&until=2024-01-01",
], ids=["word", "no-such-day", "reversed", "too-long"])
async def test_stats_bad_dates_are_400(api, add_analyst, query):
    h = await add_analyst("alice")
    await assert_error(await api.get(f"{ANALYST_PREFIX}/stats{query}", headers=h), 400, "invalid_field")


@pytest.mark.parametrize("path, code", [
    ("/stats?untill=2024-01-01", "unknown_parameter"), ("/stats?since=2024-01-01&since=2024-01-02", "invalid_field"),
    ("/cases?url=https://example.com/a&page=2", "unknown_parameter"),
    ("/cases?url=https://example.com/a&url=https://example.com/b", "invalid_field"),
])
async def test_analyst_queries_refuse_unknown_and_repeated_parameters(api, add_analyst, path, code):
    h = await add_analyst("alice")
    err = await assert_error(await api.get(f"{ANALYST_PREFIX}{path}", headers=h), 400, code)
    assert path.split("?")[1].split("=")[0] in err["message"]


@pytest.mark.parametrize(("body", "status"), [
    pytest.param({}, 400, id="empty"),
    pytest.param({"analyst": 5}, 400, id="not-a-string"),
    pytest.param({"analyst": "bob", "note": "x"}, 400, id="extra-field"),
    pytest.param(["bob"], 400, id="array"),
    pytest.param({"analyst": "nobody"}, 404, id="no-such-analyst"),  # well-formed, like an unknown case id
])
async def test_bad_reassign_is_4xx(api, add_analyst, body, status):
    h, cid = await _claimed(api, add_analyst)
    await add_analyst("bob")
    sup = await add_analyst("sue", "supervisor")
    await assert_error(await api.post(case_path(cid, "reassign"), headers=sup, json=body), status)
    case = await ok_json(await api.get(case_path(cid), headers=h))
    assert case["claimed_by"] == "alice"


@pytest.mark.parametrize(("body", "status"), [
    pytest.param({}, 400, id="empty"),
    pytest.param({"name": 5}, 400, id="name-number"),
    pytest.param({"name": "Bad Name"}, 400, id="name-invalid"),
    pytest.param({"name": "~released"}, 400, id="name-reserved"),
    pytest.param({"name": "b" * 65}, 400, id="name-too-long"),
    pytest.param({"name": "bob", "role": "admin"}, 400, id="role-unknown"),
    pytest.param({"name": "bob", "role": 1}, 400, id="role-number"),
    pytest.param({"name": "bob", "token": "fdt_mine"}, 400, id="extra-field"),
    pytest.param(["bob"], 400, id="array"),
    pytest.param({"name": "sue"}, 409, id="exists"),
])
async def test_bad_add_analyst_is_4xx(api, add_analyst, body, status):
    sup = await add_analyst("sue", "supervisor")
    await assert_error(await api.post(f"{ANALYST_PREFIX}/analysts", headers=sup, json=body), status)


# -- privacy --------------------------------------------------------------------

CANARY_EMAIL = "canary.reporter.7341@example.com"
CANARY_PHONE = "+44 20 7946 0958"  # Ofcom's drama range: nobody's number
CANARY_CONTACT = "followup.canary.5512@example.com"


def _phone_forms(phone: str) -> list[str]:
    digits = re.sub(r"\D", "", phone)
    return [phone, digits, digits[2:], "7946 0958", "79460958"]


async def test_description_is_stored_redacted_and_contact_encrypted(api, add_analyst, redis):
    description = (f"Placeholder text. Write to {CANARY_EMAIL} or call {CANARY_PHONE}. "
                   "The page was https://example.com/evidence/page on 2024-05-01.")
    body = await submit(api, category="grooming", urls=["https://example.com/evidence/page"], description=description,
                        where_seen={"type": "messaging_app", "account": f"handle {CANARY_EMAIL}"},
                        reporter_country="GB", contact=CANARY_CONTACT, contact_consent=True)
    assert CANARY_EMAIL not in json.dumps(body) and CANARY_CONTACT not in json.dumps(body)

    stored = await dump_redis(redis)
    assert stored, "nothing was stored"
    assert CANARY_EMAIL.lower() not in stored.lower()
    assert "canary.reporter" not in stored
    for form in _phone_forms(CANARY_PHONE):
        assert form not in stored, form
    assert CANARY_CONTACT not in stored and "followup.canary" not in stored
    assert "[email removed]" in stored and "[phone removed]" in stored

    h = await add_analyst("alice")
    case = await ok_json(await api.get(f"{ANALYST_PREFIX}/cases", params={"url": "https://example.com/evidence/page"},
                                       headers=h))
    cid = case["cases"][0]["id"]
    view = await ok_json(await api.get(case_path(cid), headers=h))
    (report,) = view["reports"]
    text = json.dumps(view)
    assert CANARY_EMAIL not in text and "7946" not in text
    assert "[email removed]" in report["description"] and "[phone removed]" in report["description"]
    assert "https://example.com/evidence/page" in report["description"]  # evidence is kept exactly
    assert "2024-05-01" in report["description"]
    assert CANARY_EMAIL not in report["where_seen"]["account"]
    # Contact given with consent is shown, decrypted, to the analyst (and only there).
    assert report["contact"] == CANARY_CONTACT

    claimed = await claim(api, h)
    assert claimed["reports"][0]["contact"] == CANARY_CONTACT
    # The receipt says nothing about the report.
    assert await ok_json(await api.get(f"/api/v1/receipts/{body['receipt']}")) == {"status": "in_review"}


async def test_report_without_contact_shows_none(api, add_analyst):
    await submit(api, category="csam", urls=["https://example.com/page"], contact=None, contact_consent=True)
    case = await claim(api, await add_analyst("alice"))
    assert case["reports"][0]["contact"] is None


# -- the analyst flow -------------------------------------------------------------


async def test_full_analyst_flow(api, add_analyst):
    first = await submit(api, category="csam", urls=["https://EXAMPLE.com/gallery/item?id=7&utm_source=feed"])
    second = await submit(api, category="self_generated", urls=["https://example.com/gallery/item?fbclid=abc&id=7"])
    alice = await add_analyst("alice")
    before = datetime.now(timezone.utc) - timedelta(seconds=5)

    case = await claim(api, alice)
    cid = case["id"]
    assert case["url"] == "https://example.com/gallery/item?id=7"
    assert case["url_defanged"] == "hxxps://example[.]com/gallery/item?id=7"
    assert case["report_count"] == 2
    assert case["reporter_categories"] == ["csam", "self_generated"]
    assert {r["id"] for r in case["reports"]} == {first["report"], second["report"]}
    assert case["status"] == "in_review" and case["claimed_by"] == "alice"
    assert (await api.post(f"{ANALYST_PREFIX}/claim", headers=alice)).status == 204  # one case, now held

    # Renew the lease: it moves forward, the case stays ours.
    renewed = await ok_json(await api.post(case_path(cid, "lease"), headers=alice))
    assert parse_time(renewed["lease_until"]) >= parse_time(case["lease_until"])

    # Forwarding to a partner hotline needs the partner's country.
    bad = {"classification": "baseline", "hosting_country": "NL",
           "actions": [{"type": "notice_and_takedown_sent"}, {"type": "forwarded_partner_hotline"}]}
    await assert_error(await api.post(case_path(cid, "assessment"), headers=alice, json=bad), 400)

    good = {"classification": "baseline", "hosting_country": "NL", "note": "Placeholder note.",
            "actions": [{"type": "notice_and_takedown_sent"},
                        {"type": "forwarded_partner_hotline", "partner_country": "NL", "reference": "REF-1"}]}
    assessed = await ok_json(await api.post(case_path(cid, "assessment"), headers=alice, json=good))
    assert assessed["status"] == "action_taken"
    assert assessed["classification"] == "baseline" and assessed["hosting_country"] == "NL"
    assert assessed["partner_country"] == "NL" and assessed["assessed_by"] == "alice"
    assert assessed["ntd_sent_at"] and assessed["forwarded_partner_at"] and assessed["assessed_at"]
    assert assessed["note"] == "Placeholder note."
    for r in (first, second):
        assert await receipt_status(api, r["receipt"]) == "action_taken"
    # Assessing twice is a conflict.
    await assert_error(await api.post(case_path(cid, "assessment"), headers=alice, json=good), 409)

    closed = await ok_json(await api.post(case_path(cid, "actions"), headers=alice,
                                          json={"actions": [{"type": "content_removed"}]}))
    assert closed["status"] == "closed" and closed["removed_at"] and closed["closed_at"]
    for r in (first, second):
        assert await receipt_status(api, r["receipt"]) == "closed"
    await assert_error(await api.post(case_path(cid, "actions"), headers=alice,
                                      json={"actions": [{"type": "content_removed"}]}), 409)

    # The content came back: a new case, linked to the old one.
    third = await submit(api, category="csam", urls=["https://example.com/gallery/item?id=7#top"])
    assert await receipt_status(api, third["receipt"]) == "received"
    found = await ok_json(await api.get(f"{ANALYST_PREFIX}/cases", headers=alice,
                                        params={"url": "https://Example.com/gallery/item?id=7&utm_medium=x"}))
    ids_ = [c["id"] for c in found["cases"]]
    assert len(ids_) == 2 and ids_[1] == cid and ids_[0] != cid  # newest first
    assert found["cases"][0]["previous_case"] == cid and found["cases"][0]["status"] == "queued"
    assert found["cases"][1]["next_case"] == ids_[0]
    assert found["cases"][0]["report_count"] == 1
    assert parse_time(found["cases"][0]["created_at"]) >= parse_time(found["cases"][1]["created_at"])

    # Statistics for the period.
    today = datetime.now(timezone.utc).date()
    stats = await ok_json(await api.get(f"{ANALYST_PREFIX}/stats", headers=alice, params={
        "since": (today - timedelta(days=1)).isoformat(), "until": (today + timedelta(days=1)).isoformat()}))
    totals = stats["totals"]
    assert totals["reports"] == 3 and totals["cases"] == 2
    assert totals["reports_by_channel"] == {"api": 3}
    assert totals["reports_by_category"] == {"csam": 2, "self_generated": 1}
    assert totals["cases_by_classification"] == {"baseline": 1}
    assert totals["actions"] == {"notice_and_takedown_sent": 1, "forwarded_partner_hotline": 1, "content_removed": 1}
    medians = stats["median_seconds"]
    for name in ("to_first_assessment", "to_forwarding", "to_removal"):
        assert isinstance(medians[name], (int, float)) and 0 <= medians[name] < 60, medians
    ntd = stats["notice_and_takedown"]
    assert ntd["sent"] == 1 and ntd["removed_within_3_days"] == 1 and ntd["removed_within_7_days"] == 1
    assert ntd["share_removed_within_3_days"] == 1.0 and ntd["share_removed_within_7_days"] == 1.0
    assert stats["queue"]["normal"]["in_queue"] == 1 and stats["queue"]["normal"]["claimed"] == 0
    # The default range (the last 30 days) includes today.
    default = await ok_json(await api.get(f"{ANALYST_PREFIX}/stats", headers=alice))
    assert default["totals"]["reports"] == 3 and default["until"] == today.isoformat()

    # The audit trail: who did what, when, in order.
    old = await ok_json(await api.get(case_path(cid), headers=alice))
    trail = old["audit"]
    whats = [e["what"] for e in trail]
    expected = ["claimed", "lease_renewed", "assessed", "notice_and_takedown_sent", "forwarded_partner_hotline",
                "content_removed", "closed"]
    positions = [whats.index(w) for w in expected]
    assert positions == sorted(positions), whats
    assert whats[:2] == ["opened", "report_joined"] and whats[-1] == "content_came_back"
    after = datetime.now(timezone.utc) + timedelta(seconds=5)
    times = [parse_time(e["t"]) for e in trail]
    assert times == sorted(times)
    assert all(before <= t <= after for t in times)
    for entry in trail:
        if entry["what"] in expected:
            assert entry["by"] == "alice", entry
    assessed_entry = trail[whats.index("assessed")]
    assert assessed_entry["classification"] == "baseline" and assessed_entry["hosting_country"] == "NL"
    partner_entry = trail[whats.index("forwarded_partner_hotline")]
    assert partner_entry["partner_country"] == "NL" and partner_entry["reference"] == "REF-1"


async def test_assessing_a_case_you_do_not_hold_is_409(api, add_analyst):
    alice, cid = await _claimed(api, add_analyst)
    bob = await add_analyst("bob")
    body = {"classification": "baseline", "hosting_country": "NL", "actions": [{"type": "notice_and_takedown_sent"}]}
    await assert_error(await api.post(case_path(cid, "assessment"), headers=bob, json=body), 409, "not_claimed")
    await assert_error(await api.post(case_path(cid, "release"), headers=bob), 409, "not_claimed")
    await assert_error(await api.post(case_path(cid, "lease"), headers=bob), 409, "not_claimed")
    case = await ok_json(await api.get(case_path(cid), headers=bob))  # anyone may read it
    assert case["status"] == "in_review" and case["claimed_by"] == "alice" and case["classification"] is None


async def test_assessing_an_unclaimed_case_is_409(api, add_analyst):
    await submit(api, category="csam", urls=["https://example.com/page"])
    h = await add_analyst("alice")
    found = await ok_json(await api.get(f"{ANALYST_PREFIX}/cases", params={"url": "https://example.com/page"}, headers=h))
    cid = found["cases"][0]["id"]
    await assert_error(await api.post(case_path(cid, "assessment"), headers=h, json={"classification": "baseline"}), 409)


async def test_release_then_claim_by_another_gives_the_same_case(api, add_analyst):
    await submit(api, category="csam", urls=["https://example.com/first"])
    await submit(api, category="csam", urls=["https://example.com/second"])
    alice, bob = await add_analyst("alice"), await add_analyst("bob")
    case = await claim(api, alice)
    assert case["url"] == "https://example.com/first"  # oldest first
    released = await ok_json(await api.post(case_path(case["id"], "release"), headers=alice))
    assert released["status"] == "queued" and released["claimed_by"] is None
    again = await claim(api, bob)
    assert again["id"] == case["id"] and again["claimed_by"] == "bob"
    await assert_error(await api.post(case_path(case["id"], "assessment"), headers=alice,
                                      json={"classification": "baseline"}), 409)
    done = await ok_json(await api.post(case_path(case["id"], "assessment"), headers=bob,
                                        json={"classification": "not_illegal"}))
    assert done["status"] == "closed"
    assert [e["what"] for e in done["audit"]][-4:] == ["released", "claimed", "assessed", "closed"]
    assert (await claim(api, alice))["url"] == "https://example.com/second"


async def test_supervisor_reassigns_a_claimed_case(api, add_analyst):
    alice, cid = await _claimed(api, add_analyst)
    bob = await add_analyst("bob")
    sup = await add_analyst("sue", "supervisor")
    moved = await ok_json(await api.post(case_path(cid, "reassign"), headers=sup, json={"analyst": "bob"}))
    assert moved["claimed_by"] == "bob" and moved["status"] == "in_review"
    body = {"classification": "illegal_national", "actions": [{"type": "forwarded_law_enforcement"}]}
    await assert_error(await api.post(case_path(cid, "assessment"), headers=alice, json=body), 409)
    done = await ok_json(await api.post(case_path(cid, "assessment"), headers=bob, json=body))
    assert done["status"] == "action_taken" and done["assessed_by"] == "bob" and done["forwarded_le_at"]
    entry = next(e for e in done["audit"] if e["what"] == "reassigned")
    assert entry["by"] == "sue" and entry["from"] == "alice" and entry["to"] == "bob"


async def test_reassign_of_a_case_nobody_holds_is_409(api, add_analyst):
    await submit(api, category="csam", urls=["https://example.com/page"])
    await add_analyst("bob")
    sup = await add_analyst("sue", "supervisor")
    found = await ok_json(await api.get(f"{ANALYST_PREFIX}/cases", params={"url": "https://example.com/page"},
                                        headers=sup))
    cid = found["cases"][0]["id"]
    await assert_error(await api.post(case_path(cid, "reassign"), headers=sup, json={"analyst": "bob"}), 409)


async def test_supervisor_creates_an_analyst_whose_token_works(api, add_analyst):
    sup = await add_analyst("sue", "supervisor")
    created = await ok_json(await api.post(f"{ANALYST_PREFIX}/analysts", headers=sup, json={"name": "new.analyst"}), 201)
    assert created["name"] == "new.analyst" and created["role"] == "analyst" and created["token"].startswith("fdt_")
    headers = {"Authorization": f"Bearer {created['token']}"}
    assert (await api.post(f"{ANALYST_PREFIX}/claim", headers=headers)).status == 204
    await submit(api, category="csam", urls=["https://example.com/page"])
    case = await claim(api, headers)
    assert case["claimed_by"] == "new.analyst"
    # An analyst (not a supervisor) may not create accounts; the new account keeps its role.
    await assert_error(await api.post(f"{ANALYST_PREFIX}/analysts", headers=headers, json={"name": "other"}), 403)

    made = await ok_json(await api.post(f"{ANALYST_PREFIX}/analysts", headers=sup,
                                        json={"name": "second-sup", "role": "supervisor"}), 201)
    sup2 = {"Authorization": f"Bearer {made['token']}"}
    await ok_json(await api.post(f"{ANALYST_PREFIX}/analysts", headers=sup2, json={"name": "third"}), 201)


async def test_claim_empty_queue_is_204_and_urgent_first(api, add_analyst):
    h = await add_analyst("alice")
    resp = await api.post(f"{ANALYST_PREFIX}/claim", headers=h)
    assert resp.status == 204 and await resp.read() == b""
    await submit(api, category="csam", urls=["https://example.com/normal"])
    await submit(api, category="csam", urls=["https://example.com/urgent"], child_in_immediate_danger=True)
    first = await claim(api, h)
    assert first["url"] == "https://example.com/urgent" and first["lane"] == "urgent"


async def test_stats_default_shape(api, add_analyst):
    h = await add_analyst("alice")
    stats = await ok_json(await api.get(f"{ANALYST_PREFIX}/stats", headers=h))
    since, until = date.fromisoformat(stats["since"]), date.fromisoformat(stats["until"])
    assert (until - since).days == 29
    assert stats["totals"]["reports"] == 0
    assert stats["notice_and_takedown"]["share_removed_within_3_days"] is None
    assert all(v is None for v in stats["median_seconds"].values())


async def test_stats_count_the_outbox_waiting_and_dead_letters(api, add_analyst):
    from frontdoor.api.appkeys import OUTBOX

    h = await add_analyst("alice")
    outbox = api.app[OUTBOX]
    assert (await ok_json(await api.get(f"{ANALYST_PREFIX}/stats", headers=h)))["outbox"] == {"waiting": 0, "dead_letters": 0}
    ids = await outbox.put("email", "stats.canary@example.org", [{"n": 1}, {"n": 2}])
    await outbox.bury("email", ids[0], 5, "relay refused")
    stats = await ok_json(await api.get(f"{ANALYST_PREFIX}/stats", headers=h))
    assert stats["outbox"] == {"waiting": 1, "dead_letters": 1}
    assert "stats.canary" not in json.dumps(stats)
