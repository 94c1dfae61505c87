"""Analyst routes: claim, read, assess, act on, release, find and list cases; statistics; accounts.

Case views carry the URL defanged beside the plain one and nothing here ever fetches it.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any

from aiohttp import web

from ..errors import InvalidInput, NotFound
from ..http.errors import json_reply, read_json, read_object
from ..queue import stats
from ..queue.listing import DEFAULT_LIMIT, CaseFilter
from .accounts import NAME_RE
from .appkeys import ACCOUNTS, KEYRING, OUTBOX, QUEUE
from .auth import current, requires

BOTH = ("analyst", "supervisor")


async def _case(request: web.Request, case_id: str) -> dict[str, Any]:
    case = await request.app[QUEUE].get(case_id)
    for report in case.get("reports", []):
        if report.get("contact"):
            # The reporter consented to follow-up; analysts see the contact, nobody else does.
            report["contact"] = request.app[KEYRING].decrypt(report["contact"]["ciphertext"])
    return case


@requires(*BOTH)
async def claim(request: web.Request) -> web.StreamResponse:
    case_id = await request.app[QUEUE].claim(current(request).name)
    if case_id is None:
        return web.Response(status=204)
    return json_reply(await _case(request, case_id))


@requires(*BOTH)
async def get_case(request: web.Request) -> web.Response:
    return json_reply(await _case(request, request.match_info["case_id"]))


@requires(*BOTH)
async def assessment(request: web.Request) -> web.Response:
    body = read_object(await read_json(request))
    case_id = request.match_info["case_id"]
    await request.app[QUEUE].assess_document(case_id, current(request).name, body)
    return json_reply(await _case(request, case_id))


@requires(*BOTH)
async def actions(request: web.Request) -> web.Response:
    body = read_object(await read_json(request))
    if set(body) != {"actions"}:
        raise InvalidInput("Send {\"actions\": [...]} and nothing else.", code="unknown_field" if body else "missing_field")
    if not isinstance(body["actions"], list):
        raise InvalidInput("actions: must be a list of actions", code="invalid_type")
    case_id = request.match_info["case_id"]
    await request.app[QUEUE].record_actions(case_id, current(request).name, body["actions"])
    return json_reply(await _case(request, case_id))


@requires(*BOTH)
async def release(request: web.Request) -> web.Response:
    case_id = request.match_info["case_id"]
    await request.app[QUEUE].release(case_id, current(request).name)
    return json_reply(await _case(request, case_id))


@requires(*BOTH)
async def renew(request: web.Request) -> web.Response:
    case_id = request.match_info["case_id"]
    await request.app[QUEUE].renew(case_id, current(request).name)
    return json_reply(await _case(request, case_id))


@requires("supervisor")
async def reassign(request: web.Request) -> web.Response:
    body = read_object(await read_json(request))
    target = body.get("analyst")
    if not isinstance(target, str) or set(body) != {"analyst"}:
        raise InvalidInput("Send {\"analyst\": \"<name>\"}.", code="invalid_field")
    if await request.app[ACCOUNTS].get(target) is None:  # well-formed, but names nobody: like an unknown case
        raise NotFound(f"analyst: no analyst named {target!r}", code="analyst_not_found")
    case_id = request.match_info["case_id"]
    await request.app[QUEUE].reassign(case_id, current(request).name, target)
    return json_reply(await _case(request, case_id))


def _query(request: web.Request, *names: str) -> dict[str, str]:
    """The query's parameters, each at most once and none but `names`: a misspelt `untill` is a 400
    that names it, not a silent default period."""
    unknown = sorted(set(request.query) - set(names))
    if unknown:
        raise InvalidInput(f"{unknown[0]}: not a parameter here (these are: {', '.join(names)})", code="unknown_parameter")
    repeated = next((n for n in names if len(request.query.getall(n, ())) > 1), None)
    if repeated is not None:
        raise InvalidInput(f"{repeated}: give it once", code="invalid_field")
    return {n: request.query[n] for n in names if n in request.query}


LISTING = ("status", "lane", "claimed_by", "since", "until", "order", "cursor", "limit")


@requires(*BOTH)
async def find(request: web.Request) -> web.Response:
    """`?url=`: every case that URL has had. Otherwise a page of the listing, which the other
    parameters filter; the two do not mix (a URL has a handful of cases, listed whole)."""
    query = _query(request, "url", *LISTING)
    if "url" not in query:
        return await _listing(request, query)
    mixed = next((n for n in LISTING if n in query), None)
    if mixed is not None:
        raise InvalidInput(f"{mixed}: not with url (a URL's cases come whole, newest first)", code="invalid_field")
    if not query["url"]:
        raise InvalidInput("Give the URL to look for as ?url=...", code="missing_field")
    cases = await request.app[QUEUE].find_by_url(query["url"])
    return json_reply({"cases": cases})


async def _listing(request: web.Request, query: dict[str, str]) -> web.Response:
    statuses = tuple(query["status"].split(",")) if "status" in query else None
    claimed_by = query.get("claimed_by")
    if claimed_by is not None and not NAME_RE.fullmatch(claimed_by):
        raise InvalidInput("claimed_by: an analyst's name", code="invalid_field")
    raw_limit = query.get("limit", str(DEFAULT_LIMIT))
    if not re.fullmatch(r"[0-9]{1,6}", raw_limit):  # the range is the listing's to check
        raise InvalidInput("limit: a whole number", code="invalid_field")
    filters = CaseFilter(**({"statuses": statuses} if statuses else {}), lane=query.get("lane"), claimed_by=claimed_by,
                         since=_day(query, "since"), until=_day(query, "until"), order=query.get("order", "newest"))
    page = await request.app[QUEUE].listing.page(filters, cursor=query.get("cursor"), limit=int(raw_limit))
    return json_reply({"cases": page.cases, "next": page.next})


def _day(query: dict[str, str], name: str) -> date | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):  # fromisoformat also takes 20261201, 2026-W48-1
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name}: give a date as YYYY-MM-DD", code="invalid_field") from None


@requires(*BOTH)
async def get_stats(request: web.Request) -> web.Response:
    since_default, until_default = stats.default_range(datetime.now(timezone.utc).date())
    query = _query(request, "since", "until")
    since, until = _day(query, "since") or since_default, _day(query, "until") or until_default
    try:
        figures = await stats.collect(request.app[QUEUE], since, until)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="invalid_field") from None
    figures["outbox"] = await request.app[OUTBOX].counts()  # replies waiting, and dead letters to look at
    return json_reply(figures)


@requires("supervisor")
async def add_analyst(request: web.Request) -> web.Response:
    body = read_object(await read_json(request))
    if set(body) - {"name", "role"} or not isinstance(body.get("name"), str):
        raise InvalidInput("Send {\"name\": \"...\", \"role\": \"analyst\" | \"supervisor\"}.", code="invalid_field")
    role = body.get("role", "analyst")
    token = await request.app[ACCOUNTS].add(body["name"], str(role))
    return json_reply({"name": body["name"], "role": role, "token": token}, status=201)


@requires("supervisor")
async def list_analysts(request: web.Request) -> web.Response:
    return json_reply({"analysts": await request.app[ACCOUNTS].listing()})


def add_routes(app: web.Application) -> None:
    base = "/api/v1/analyst"
    app.router.add_post(f"{base}/claim", claim)
    app.router.add_get(f"{base}/cases", find)
    app.router.add_get(f"{base}/cases/{{case_id}}", get_case)
    app.router.add_post(f"{base}/cases/{{case_id}}/assessment", assessment)
    app.router.add_post(f"{base}/cases/{{case_id}}/actions", actions)
    app.router.add_post(f"{base}/cases/{{case_id}}/release", release)
    app.router.add_post(f"{base}/cases/{{case_id}}/lease", renew)
    app.router.add_post(f"{base}/cases/{{case_id}}/reassign", reassign)
    app.router.add_get(f"{base}/stats", get_stats)
    app.router.add_post(f"{base}/analysts", add_analyst)
    app.router.add_get(f"{base}/analysts", list_analysts)
