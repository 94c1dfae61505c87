"""The report: validated against its JSON Schema at the edge, redacted, then stored.

`build_report` is the single path from what a reporter sent to what the queue keeps,
whatever the channel, so redaction and URL normalization cannot be skipped.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import datetime, timezone
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import jsonschema_rs
from referencing import Registry, Resource

from .. import ids
from . import explain, redaction, urls
from ..errors import InvalidInput
from ..keyring import Keyring

SCHEMA_VERSION = 1
SUBMISSION_SCHEMA = "report-submission.v1.json"
REPORT_SCHEMA = "report.v1.json"
ASSESSMENT_SCHEMA = "assessment.v1.json"
DESCRIPTION_MAX_CHARS = 4000
CHANNELS = ("api", "web", "web_form", "email", "telegram", "whatsapp", "sms", "terminal")
# What str.strip() removes (str.isspace), and a BOM, which is no text either: a description of
# nothing else is blank. Listed so that the OpenAPI document can say the same (api/openapi_rules.py).
BLANK_CHARS = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
               "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff")
CATEGORIES = ("csam", "grooming", "sextortion", "self_generated", "trafficking", "other")


@cache
def load_schema(name: str) -> dict[str, Any]:
    return json.loads(resources.files("frontdoor.reports.schemas").joinpath(name).read_text())


@cache
def _registry() -> Registry:
    names = (SUBMISSION_SCHEMA, REPORT_SCHEMA, ASSESSMENT_SCHEMA)
    return Registry().with_resources(
        (load_schema(n)["$id"], Resource.from_contents(load_schema(n))) for n in names
    )


@cache
def validator(name: str) -> jsonschema.protocols.Validator:
    schema = load_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    return cls(_inlined(schema), registry=_registry(), format_checker=cls.FORMAT_CHECKER)


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with every `$ref` replaced by what it points to, once at load: following a
    reference is about half of jsonschema's time for a submission, paid on every report otherwise.
    Our schemas have no recursive references, so this ends; the files themselves keep their $refs."""
    resolver = _registry().resolver(base_uri=schema["$id"])

    def walk(node: Any, resolver: Any, depth: int) -> Any:
        if depth > 32:
            raise ValueError(f"{schema['$id']}: $refs nest too deep (a recursive schema cannot be inlined)")
        if isinstance(node, dict):
            if "$ref" in node:
                resolved = resolver.lookup(node["$ref"])
                rest = {k: v for k, v in node.items() if k != "$ref"}
                target = walk(resolved.contents, resolved.resolver, depth + 1)
                return {"allOf": [target, walk(rest, resolver, depth)]} if rest else target
            return {k: walk(v, resolver, depth) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(v, resolver, depth) for v in node]
        return node

    inlined: dict[str, Any] = walk(schema, resolver, 0)
    inlined["$schema"] = schema["$schema"]
    return inlined


@cache
def _verdict(name: str) -> jsonschema_rs.Validator:
    """The same schema for jsonschema-rs, which says valid or not in well under a microsecond where
    jsonschema takes tens (tests/reports/test_build.py holds the two to the same verdicts)."""
    return jsonschema_rs.validator_for(_inlined(load_schema(name)), validate_formats=True)


# A value too long for its field usually fails its pattern or enum as well: the length is what to
# fix first, and a pattern's message would send the sender looking for the wrong mistake.
_RELEVANCE = jsonschema.exceptions.by_relevance(strong=frozenset({"maxLength", "maxItems"}))


def check(name: str, document: Any) -> None:
    """Raise InvalidInput with the first problem in words a client developer can act on, and never
    with what was sent (reports/explain.py). Most documents are valid: jsonschema-rs says so;
    jsonschema, the reference, finds the error to explain."""
    if _verdict(name).is_valid(document):
        return
    error = jsonschema.exceptions.best_match(validator(name).iter_errors(document), key=_RELEVANCE)
    if error is None:
        return
    keyword = error.validator if isinstance(error.validator, str) else None
    code, message = explain.explain(keyword, error.validator_value, error.schema if isinstance(error.schema, dict) else {},
                                    list(error.absolute_path), error.instance)
    raise InvalidInput(message, code=code)


def now_iso(now: datetime | None = None) -> str:
    return (now or datetime.now(timezone.utc)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_report(
    fields: Any,
    *,
    channel: str,
    keyring: Keyring,
    shard_of_url: Callable[[str], int],
    default_region: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Turn a submission into a stored report (not yet queued).

    `shard_of_url(normalized_url) -> int` decides where the report lives: the shard of its
    first URL, so a one-URL report is stored and queued in one atomic script.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    check(SUBMISSION_SCHEMA, fields)

    parsed = []
    seen: set[str] = set()
    for i, raw in enumerate(fields.get("urls") or []):
        try:
            url = urls.parse(raw)
        except urls.UrlError as exc:
            raise InvalidInput(f"urls/{i}: {exc.message}", code=f"url_{exc.reason}") from None
        if url.normalized not in seen:  # the same link twice in one report is one link
            seen.add(url.normalized)
            parsed.append({"original": url.original, "normalized": url.normalized})

    where_seen = fields.get("where_seen")
    description = (fields.get("description") or "").strip(BLANK_CHARS) or None
    if not parsed and not description and not (where_seen and (where_seen.get("platform") or where_seen.get("account"))):
        raise InvalidInput(
            "A report needs at least one link, or where it happened (platform or account name), or a description.",
            code="nothing_to_report",
        )

    country = fields.get("reporter_country")
    locale = fields.get("locale") or "en"
    region = redaction.region_for(country, locale) or redaction.region_for(default_region, None)
    if description is not None:
        # Redaction can lengthen text ("12345" becomes "[phone removed]"): cut again after it, so a
        # stored description never exceeds the schema's cap whatever the channel sent.
        description = redaction.redact(description, region=region)[:DESCRIPTION_MAX_CHARS]
    if where_seen is not None:
        where_seen = dict(where_seen)
        for key in ("platform", "account"):
            if where_seen.get(key):
                where_seen[key] = redaction.redact(where_seen[key].strip(), region=region)

    contact = fields.get("contact")
    if contact is not None and fields.get("contact_consent") is not True:
        raise InvalidInput("contact: give contact details only together with contact_consent: true", code="contact_without_consent")

    # No URL: the report is a case of its own, on any shard, so spread those evenly.
    shard = shard_of_url(parsed[0]["normalized"] if parsed else secrets.token_hex(8))
    report_id = ids.new_id(shard)
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "id": report_id,
        "received_at": now_iso(now),
        "channel": channel,
        "category": fields["category"],
        "urls": parsed,
        "where_seen": where_seen,
        "description": description,
        "reporter_role": fields.get("reporter_role", "unknown"),
        "reporter_country": country,
        "child_in_immediate_danger": bool(fields.get("child_in_immediate_danger", False)),
        "when_seen": fields.get("when_seen"),
        "locale": locale,
        "contact": {"ciphertext": keyring.encrypt(contact)} if contact else None,
        "attachments_dropped": int(fields.get("attachments_dropped", 0)),
    }
    if fields.get("omitted"):  # a channel's caps left something out: the analyst sees what, counted
        report["omitted"] = dict(fields["omitted"])
    # Not re-checked against REPORT_SCHEMA here: that costs more than the rest of a submit, and
    # tests/reports/test_build.py proves every report this function builds conforms to it.
    return report
