"""build_report: the one path from a submission to a stored report."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from frontdoor import ids
from frontdoor.errors import InvalidInput
from frontdoor.keyring import Keyring
import jsonschema

from frontdoor.reports.build import REPORT_SCHEMA, SUBMISSION_SCHEMA, _registry, _verdict, build_report, check, load_schema, validator

KEYRING = Keyring(b"report-test-secret-" + b"z" * 32)


def build(fields: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return build_report(fields, channel="api", keyring=KEYRING, shard_of_url=lambda u: 0, **kwargs)


submissions = st.fixed_dictionaries(
    {"category": st.sampled_from(["csam", "grooming", "sextortion", "self_generated", "trafficking", "other"])},
    optional={
        "urls": st.lists(st.sampled_from(["https://example.com/a", "HTTP://Example.com:80/a?utm_id=1", "https://b.test/x#y",
                                          "http://203.0.113.9/p", "https://xn--bcher-kva.example/"]), max_size=5),
        "where_seen": st.fixed_dictionaries({"type": st.sampled_from(["website", "social_media", "messaging_app", "game", "other"])},
                                            optional={"platform": st.text(max_size=100), "account": st.text(max_size=200)}),
        "description": st.text(max_size=400),
        "reporter_role": st.sampled_from(["child", "parent_carer", "other_adult", "professional", "unknown"]),
        "reporter_country": st.sampled_from(["GB", "NL", "US", "DE", None]),
        "child_in_immediate_danger": st.booleans(),
        "locale": st.sampled_from(["en", "en-GB", "nl", "de-DE"]),
        "attachments_dropped": st.integers(0, 1000),
        "omitted": st.dictionaries(st.sampled_from(["links", "parts", "nested_parts", "text_chars"]), st.integers(1, 10**6)),
    })


SUBMISSION_FIELDS = sorted(load_schema(SUBMISSION_SCHEMA)["properties"])
_leaves = (st.none() | st.booleans() | st.integers(-5, 2000) | st.text(max_size=4)
           | st.sampled_from(["csam", "website", "other_adult", "today", "GB", "gb", "en", "https://example.com/"]))
json_values = st.recursive(_leaves, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.sampled_from(["type", "platform", "account", "x"]), inner, max_size=3),
                           max_leaves=6)
documents = st.dictionaries(st.sampled_from(SUBMISSION_FIELDS + ["extra"]), json_values, max_size=6)


@given(st.one_of(submissions, documents))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_the_inlined_schemas_judge_as_the_files_do(document: dict[str, Any]) -> None:
    """validator() follows every $ref once at load (report._inlined), and check() takes jsonschema-rs's
    verdict (_verdict) before asking jsonschema for an error: the verdict, and the error an API client
    is shown, stay those of the schema files with their $refs."""
    for name in (SUBMISSION_SCHEMA, REPORT_SCHEMA):
        schema = load_schema(name)
        cls = jsonschema.validators.validator_for(schema)
        files = cls(schema, registry=_registry(), format_checker=cls.FORMAT_CHECKER)
        expected = jsonschema.exceptions.best_match(files.iter_errors(document))
        got = jsonschema.exceptions.best_match(validator(name).iter_errors(document))
        assert (expected is None) == (got is None)
        assert _verdict(name).is_valid(document) == (expected is None)  # the fast verdict check() trusts
        if expected is not None and got is not None:
            assert (got.validator, list(got.absolute_path), got.message) == \
                   (expected.validator, list(expected.absolute_path), expected.message)
    assert "$ref" not in repr(validator(SUBMISSION_SCHEMA).schema) and "$ref" not in repr(validator(REPORT_SCHEMA).schema)


@given(submissions)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_every_built_report_conforms_to_the_stored_schema(fields: dict[str, Any]) -> None:
    try:
        report = build(fields)
    except InvalidInput as exc:
        assert exc.code == "nothing_to_report"  # the only refusal these well-formed submissions can get
        return
    check(REPORT_SCHEMA, report)
    assert ids.is_id(report["id"])
    assert len({u["normalized"] for u in report["urls"]}) == len(report["urls"])
    assert report.get("omitted") == (fields.get("omitted") or None)  # what a channel left out stays said


def test_contact_is_encrypted_and_needs_consent() -> None:
    report = build({"category": "other", "description": "placeholder", "contact": "+44 20 7946 0000", "contact_consent": True})
    assert "7946" not in str(report)
    assert KEYRING.decrypt(report["contact"]["ciphertext"]) == "+44 20 7946 0000"
    with pytest.raises(InvalidInput) as info:
        build({"category": "other", "description": "placeholder", "contact": "someone@example.com"})
    assert info.value.code == "contact_without_consent"


def test_hotline_country_is_the_redaction_region_when_the_reporters_is_unknown() -> None:
    text = "call me on 32 12 34 56 please"  # a Danish number: eight digits, too short to look like a phone anywhere
    assert "34 56" in build({"category": "other", "description": text})["description"]
    assert "34 56" not in build({"category": "other", "description": text}, default_region="DK")["description"]


def test_url_errors_name_the_field_and_reason() -> None:
    with pytest.raises(InvalidInput) as info:
        build({"category": "csam", "urls": ["https://example.com/", "www.example.com/page"]})
    assert info.value.code == "url_no_scheme" and info.value.message.startswith("urls/1:")


@pytest.mark.parametrize(("field", "value"), [
    ("received_at", "2026-11-26T10:00:00.000Z"), ("received_at", "yesterday"), ("received_at", "2026-13-40T99:00:00Z"),
    ("attachments_dropped", 1.0), ("attachments_dropped", True), ("attachments_dropped", 2.5),
    ("reporter_country", "gb"), ("locale", "en-GB"), ("locale", "EN"),
])
def test_the_fast_verdict_agrees_on_formats_and_numbers(field: str, value: Any) -> None:
    report = dict(build({"category": "csam", "urls": ["https://example.com/a"]}), **{field: value})
    schema = load_schema(REPORT_SCHEMA)
    cls = jsonschema.validators.validator_for(schema)
    reference = cls(schema, registry=_registry(), format_checker=cls.FORMAT_CHECKER).is_valid(report)
    assert _verdict(REPORT_SCHEMA).is_valid(report) == reference
