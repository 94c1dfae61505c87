"""The OpenAPI 3.1 document, built from the route table and the JSON Schemas in the repo.

Paths are described here once; a test checks them against the routes that exist, both ways.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .. import __version__
from ..http import idempotency
from ..reports.build import ASSESSMENT_SCHEMA, REPORT_SCHEMA, SUBMISSION_SCHEMA, load_schema
from . import openapi_rules as rules
from ..queue import listing, stats
from ..storage import keys
from .accounts import NAME_RE, ROLES

ERROR = {"$ref": "#/components/schemas/Error"}
CASE = {"$ref": "#/components/schemas/Case"}
ANALYST_NAME = {"type": "string", "pattern": NAME_RE.pattern}
CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _text(content_type: str, description: str = "The page") -> dict[str, Any]:
    return {"description": description, "content": {content_type: {"schema": {"type": "string"}}}}


RETRY_AFTER = {"Retry-After": {"required": True, "description": "Seconds to wait before trying again",
                                "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
# The guard (http/errors.py) answers 401 with a Bearer challenge, 429 and 503 with when to come back.
_ERROR_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"required": True, "schema": {"type": "string", "pattern": "^Bearer"}}},
    429: RETRY_AFTER, 503: RETRY_AFTER}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "Invalid input", 401: "No or invalid token", 403: "Wrong role", 404: "Unknown id", 409: "Not allowed in the case's state",
            413: "Body too large", 415: "Not JSON", 429: "Too many requests (see Retry-After)",
            503: "Redis unavailable, or the request's deadline passed (see Retry-After)",
            422: "The Idempotency-Key was used for a different request"}
    out = {}
    for c in codes:
        out[str(c)] = _json(ERROR, text[c])
        if c in _ERROR_HEADERS:
            out[str(c)]["headers"] = _ERROR_HEADERS[c]
    return out


def _analyst(summary: str, ok: dict[str, Any], *, body: dict[str, Any] | None = None, params: list[Any] | None = None,
             roles: str = "analyst, supervisor", extra: tuple[int, ...] = ()) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "description": f"Roles: {roles}.", "security": [{"bearer": []}],
                          "responses": {**ok, **_errors(401, 403, 503, *extra)}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        op["responses"].update(_errors(400, 413, 415))
    if params:
        op["parameters"] = params
    return op


_STATUS = f"({'|'.join(listing.STATUSES)})"
_DATE = {"type": "string", "format": "date"}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


LISTING_PARAMS = [
    _query("url", rules.URL, "Every case this URL has had, newest first; not with any other parameter (400)"),
    _query("status", {"type": "string", "pattern": f"^{_STATUS}(,{_STATUS})*$"},
           "One status, or several comma-separated (default: all)"),
    _query("lane", {"enum": list(keys.LANES)}, "The lane the case is in"),
    _query("claimed_by", ANALYST_NAME, "Held by this analyst (only cases in review are held)"),
    _query("since", _DATE, "Created on or after this day (UTC)"),
    _query("until", _DATE, "Created on or before this day (UTC); not before since (else 400)"),
    _query("order", {"enum": list(listing.ORDERS)}, "By creation time; default newest"),
    _query("cursor", {"type": "string"}, "`next` of the previous page, with the same filters (else 400)"),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": listing.MAX_LIMIT},
           f"Cases per page at most (default {listing.DEFAULT_LIMIT}); a page filtered by lane or claimed_by may hold "
           "fewer, follow next until it is null"),
]
ANALYST_ENTRY = {"type": "object", "required": ["name", "role", "created", "last_used"], "additionalProperties": False,
                 "properties": {"name": ANALYST_NAME, "role": {"enum": list(ROLES)},
                                "created": {"type": ["string", "null"], "format": "date-time"},
                                "last_used": {"type": ["string", "null"], "format": "date-time",
                                              "description": "To the minute; null if the token was never used"}}}

# The IETF httpapi draft's header: a retry with the same key is answered as the first request was.
IDEMPOTENCY_KEY = {"name": idempotency.HEADER, "in": "header", "required": False, "schema": {
    "type": "string", "pattern": idempotency.PATTERN}, "description": (
    "Names this request so that a retry (after a 503, a timeout, a lost answer) gets the first answer and "
    "stores nothing new: for 30 days for a report (the same key with a different report is a 422), for a "
    "day for a chat turn. A Structured Field string (\"...\") or the bare value, 16 to 255 printable ASCII "
    "characters: a UUID.")}

PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/reports": {"post": {
        "summary": "Submit a report (anonymous)",
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReportRequest"}}}},
        "responses": {"201": _json({"type": "object", "required": ["report", "receipt"], "properties": {
            "report": {"type": "string"}, "receipt": {"type": "string"}, "status": {"type": "string"}, "message": {"type": "string"}}},
            "Stored and queued (a retry with its Idempotency-Key: the first answer again)"),
            **_errors(400, 409, 413, 415, 422, 429, 503)}}},
    "/api/v1/receipts/{code}": {"get": {
        "summary": "Coarse status of a report, by its receipt code",
        "parameters": [{"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": _json({"type": "object", "properties": {"status": {"enum": ["received", "in_review", "action_taken", "closed"]}}},
                                   "Status"), **_errors(404, 429, 503)}}},
    "/healthz": {"get": {"summary": "The process is up", "responses": {"200": _json({"type": "object"}, "Up")}}},
    "/readyz": {"get": {"summary": "Redis is reachable", "responses": {"200": _json({"type": "object"}, "Ready"), **_errors(503)}}},
    "/api/v1/openapi.json": {"get": {"summary": "This document", "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")}}},
    "/api/v1/conversations": {"post": {
        "summary": "Start a dialog conversation (the chat widget); the token is its only key",
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "properties": {"locale": {"type": "string", "maxLength": 35}}}}}},
        "responses": {"201": _json({"$ref": "#/components/schemas/ConversationStarted"}, "Started"), **_errors(400, 413, 415, 429, 503)}}},
    "/api/v1/conversations/{token}/messages": {"post": {
        "summary": "Send the reporter's text, or the payload of a quick reply, and get the dialog's answer",
        "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}, IDEMPOTENCY_KEY],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
            "properties": {"text": {"type": "string", "maxLength": 10000}, "payload": {"type": "string", "maxLength": 10000}}}}}},
        "responses": {"200": _json({"$ref": "#/components/schemas/ConversationTurn"}, "The dialog's answer"),
                      **_errors(400, 404, 413, 415, 429, 503)}}},
    "/": {"get": {"summary": "A sample hotline page with the chat widget", "responses": {"200": _text("text/html")}}},
    "/widget.js": {"get": {"summary": "The chat widget (embed with one script tag)", "responses": {"200": _text("text/javascript")}}},
    "/widget.css": {"get": {"summary": "The chat widget's styles", "responses": {"200": _text("text/css")}}},
    "/demo.css": {"get": {"summary": "The sample page's styles", "responses": {"200": _text("text/css")}}},
    "/form.css": {"get": {"summary": "The report form's styles", "responses": {"200": _text("text/css")}}},
    "/report": {
        "get": {"summary": "The report form for browsers without JavaScript", "parameters": [
            {"name": "lang", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "en, de or fr; anything else: the browser's language (Accept-Language)"}],
            "responses": {"200": _text("text/html"), **_errors(503)}},
        "post": {"summary": "Submit the report form", "requestBody": {"required": True, "content": {
            "application/x-www-form-urlencoded": {"schema": rules.form_fields()},
            "multipart/form-data": {"schema": rules.form_fields()}}},
            "responses": {"200": _text("text/html", "The receipt page"),
                          "400": {"description": "The form with inline errors (HTML), or a body no browser sends (JSON)",
                                  "content": {"text/html": {"schema": {"type": "string"}}, "application/json": {"schema": ERROR}}},
                          **_errors(413, 415, 429, 503)}}},
    "/receipt": {
        "get": {"summary": "The receipt page for browsers without JavaScript: a form for the receipt code", "parameters": [
            {"name": "lang", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "en, de or fr; anything else: the browser's language (Accept-Language)"}],
            "responses": {"200": _text("text/html")}},
        "post": {"summary": "Look up a receipt code (posted, so it stays out of the URL): the report's status in plain words",
                 "description": "The API's look-up (the same per-client limit and global pace); a code that cannot be "
                                "one is answered as an unknown code.",
                 "requestBody": {"required": True, "content": {  # the page's form; multipart/form-data is read too
                     "application/x-www-form-urlencoded": {"schema": rules.receipt_fields()}}},
                 "responses": {"200": _text("text/html", "The status"),
                               "404": _text("text/html", "No report has this code: the form again, saying so"),
                               "429": {**_text("text/html", "Too many look-ups: a page saying when to try again"),
                                       "headers": RETRY_AFTER},
                               **_errors(400, 413, 415, 503)}}},
    "/api/v1/analyst/claim": {"post": _analyst(
        "Claim the next case (urgent lane first, then oldest) under a lease",
        {"200": _json(CASE, "The case, now yours"), "204": {"description": "The queue is empty"}})},
    "/api/v1/analyst/cases": {"get": _analyst(
        "Every case a URL has had (?url=), or a page of cases by status, lane, holder and creation day",
        {"200": _json({"type": "object", "required": ["cases"], "properties": {
            "cases": {"type": "array", "items": CASE},
            "next": {"type": ["string", "null"], "description": "The cursor of the next page; null on the last (never with url)"}}},
            "Cases")},
        params=LISTING_PARAMS, extra=(400,))},
    "/api/v1/analyst/cases/{case_id}": {"get": _analyst("A case with its reports and audit trail", {"200": _json(CASE, "The case")},
                                                        params=[CASE_ID], extra=(404,))},
    "/api/v1/analyst/cases/{case_id}/assessment": {"post": _analyst(
        "Classify a case you hold, with the actions taken", {"200": _json(CASE, "Assessed")},
        body={"$ref": "#/components/schemas/Assessment"}, params=[CASE_ID], extra=(404, 409))},
    "/api/v1/analyst/cases/{case_id}/actions": {"post": _analyst(
        "Record later actions on an assessed case (content_removed closes it)", {"200": _json(CASE, "Recorded")},
        body={"$ref": "#/components/schemas/ActionsRequest"}, params=[CASE_ID], extra=(404, 409))},
    "/api/v1/analyst/cases/{case_id}/release": {"post": _analyst(
        "Give a claimed case back; it is served next", {"200": _json(CASE, "Released")}, params=[CASE_ID], extra=(404, 409))},
    "/api/v1/analyst/cases/{case_id}/lease": {"post": _analyst(
        "Renew your lease on a case", {"200": _json(CASE, "Renewed")}, params=[CASE_ID], extra=(404, 409))},
    "/api/v1/analyst/cases/{case_id}/reassign": {"post": _analyst(
        "Move a claimed case to another analyst", {"200": _json(CASE, "Reassigned")},
        body={"type": "object", "additionalProperties": False, "required": ["analyst"], "properties": {"analyst": ANALYST_NAME}},
        params=[CASE_ID], roles="supervisor", extra=(404, 409))},
    "/api/v1/analyst/stats": {"get": _analyst(
        "Published statistics for a period", {"200": _json({"type": "object"}, "Statistics")},
        params=[{"name": n, "in": "query", "required": False, "schema": {"type": "string", "format": "date"},
                 "description": f"{what}; until not before since, at most {stats.MAX_DAYS} days in all (else 400)"}
                for n, what in (("since", "First day (default: 29 days before until)"), ("until", "Last day (default: today)"))],
        extra=(400,))},
    "/api/v1/analyst/analysts": {"post": _analyst(
        "Create an analyst; the token is shown once", {"201": _json({"type": "object"}, "Created")},
        body={"type": "object", "additionalProperties": False, "required": ["name"],
              "properties": {"name": ANALYST_NAME, "role": {"enum": list(ROLES)}}},
        roles="supervisor", extra=(409,)),
        "get": _analyst("Who has access: every analyst's name, role, when created and last used (never a token)",
                        {"200": _json({"type": "object", "required": ["analysts"], "properties": {"analysts": {
                            "type": "array", "items": ANALYST_ENTRY}}}, "Analysts, by name")}, roles="supervisor")},
}


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _bundle() -> dict[str, Any]:
    """The repo's JSON Schemas as self-contained components: each file and each of its `$defs`
    becomes a component, and every reference (within a file or across files) points at
    `#/components/schemas/...`, so any OpenAPI tool resolves it without fetching anything."""
    files = {SUBMISSION_SCHEMA: "ReportSubmission", REPORT_SCHEMA: "Report", ASSESSMENT_SCHEMA: "Assessment"}
    components: dict[str, Any] = {}

    def rewrite(node: Any, filename: str) -> Any:
        if isinstance(node, dict):
            out = {k: rewrite(v, filename) for k, v in node.items() if k not in ("$schema", "$id", "$defs")}
            if isinstance(node.get("$ref"), str):
                target_file, _, pointer = node["$ref"].partition("#")
                assert pointer.startswith("/$defs/"), node["$ref"]
                out["$ref"] = f"#/components/schemas/{_camel(pointer[len('/$defs/'):])}"
            return out
        if isinstance(node, list):
            return [rewrite(v, filename) for v in node]
        return node

    for filename, name in files.items():
        schema = load_schema(filename)
        components[name] = rewrite(schema, filename)
        for key, sub in schema.get("$defs", {}).items():
            assert _camel(key) not in components, f"two schemas define {key}"
            components[_camel(key)] = rewrite(sub, filename)
    return components


def document(app: web.Application | None = None) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "frontdoor", "version": __version__,
                 "description": "The public reporting front door of an Internet hotline, and its analysts' triage queue."},
        "paths": PATHS,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "message"],
                          "properties": {"error": {"type": "string"}, "message": {"type": "string"}}},
                **_bundle(),
                "ReportRequest": rules.submission({"$ref": "#/components/schemas/ReportSubmission"}),
                "Message": {"type": "object", "required": ["text", "quick_replies", "expects", "resources"], "properties": {
                    "text": {"type": "string"},
                    "quick_replies": {"type": "array", "items": {"type": "object", "required": ["title", "payload"], "properties": {
                        "title": {"type": "string"}, "payload": {"type": "string"}}}},
                    "expects": {"enum": ["choice", "url", "text", "yes_no", "country", "none"]},
                    "resources": {"type": "array", "items": {"type": "object", "properties": {
                        "title": {"type": "string"}, "body": {"type": "string"}, "url": {"type": ["string", "null"]},
                        "phone_display": {"type": ["string", "null"]}, "phone_uri": {"type": ["string", "null"]}}}}}},
                "ConversationTurn": {"type": "object", "required": ["messages", "state", "receipt", "locale"], "properties": {
                    "messages": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
                    "state": {"enum": ["open", "submitted", "closed"]}, "receipt": {"type": ["string", "null"]},
                    "locale": {"type": "string"}}},
                "ConversationStarted": {"allOf": [{"$ref": "#/components/schemas/ConversationTurn"}, {
                    "type": "object", "required": ["conversation"], "properties": {"conversation": {"type": "string"}}}]},
                "Case": {"type": "object", "required": ["id", "status", "lane", "report_count"],
                         "description": "A normalized URL (or a URL-less report) under triage; `url_defanged` is for display.",
                         "properties": {"reports": {"type": "array", "items": {
                             "type": "object", "required": ["id", "channel", "attachments_dropped"],
                             "description": "A stored report (the Report schema), its contact decrypted for the analyst.",
                             "properties": {"id": {"type": "string"}, "channel": {"type": "string"},
                                            "attachments_dropped": {"type": "integer", "minimum": 0},
                                            "omitted": {"$ref": "#/components/schemas/Omitted"}}}}}},
            },
        },
    }
