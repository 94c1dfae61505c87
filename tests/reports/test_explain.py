"""Refusals in our words (frontdoor/reports/explain.py): each keyword says the field and our limit,
and nothing a sender wrote, a value or a property name, comes back in the message."""

from __future__ import annotations

import pytest

from frontdoor.errors import InvalidInput
from frontdoor.reports.build import ASSESSMENT_SCHEMA, REPORT_SCHEMA, SUBMISSION_SCHEMA, check
from frontdoor.reports.explain import explain, field, number

CANARY = "QzvKpLwXnRtYbHsMfJdGcVaEuTiOyPlKjHgFdSaQwErTyUiOp"  # 49 letters no message of ours holds


def refusal(name: str, document: object) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        check(name, document)
    return info.value


@pytest.mark.parametrize(("n", "said"), [(0, "0"), (35, "35"), (1000, "1,000"), (4000, "4,000"), (65536, "65,536"),
                                         (1.5, "1.5"), (True, "True")])
def test_numbers_carry_a_thousands_separator(n, said):
    assert number(n) == said


@pytest.mark.parametrize(("document", "code", "message"), [
    ({"category": "csam", "description": CANARY * 100}, "invalid_field", "description: at most 4,000 characters"),
    ({"category": "csam", "contact": "ab", "contact_consent": True}, "invalid_field", "contact: at least 3 characters"),
    ({"category": "csam", "urls": [""]}, "invalid_field", "urls/0: at least 1 character"),
    ({"category": "csam", "urls": ["https://example.com/"] * 21}, "invalid_field", "urls: at most 20 items"),
    ({"category": "csam", "attachments_dropped": 1001}, "invalid_field", "attachments_dropped: must be at most 1,000"),
    ({"category": "csam", "attachments_dropped": -1}, "invalid_field", "attachments_dropped: must be at least 0"),
    ({"category": "csam", "description": 12}, "invalid_type", "description: must be a string or null"),
    ({"category": "csam", "child_in_immediate_danger": CANARY}, "invalid_type",
     "child_in_immediate_danger: must be true or false"),
    ({"category": "csam", "attachments_dropped": CANARY}, "invalid_type", "attachments_dropped: must be a whole number"),
    ({"category": CANARY}, "invalid_field",
     "category: must be one of csam, grooming, sextortion, self_generated, trafficking or other"),
    ({"category": "csam", "when_seen": CANARY}, "invalid_field", "when_seen: must be one of today, this_week, earlier or null"),
    ({"category": "csam", "reporter_country": "gb"}, "invalid_field",
     "reporter_country: not in the expected form (ISO 3166-1 alpha-2, e.g. GB or NL)"),
    ({}, "missing_field", "category: is missing"),
    ({"category": "csam", "where_seen": {"platform": CANARY}}, "missing_field", "where_seen/type: is missing"),
    ({"category": "csam", "description": CANARY + "x" * 40}, None, None),  # valid: nothing raised
])
def test_submission_refusals(document, code, message):
    if code is None:
        check(SUBMISSION_SCHEMA, document)
        return
    error = refusal(SUBMISSION_SCHEMA, document)
    assert (error.code, error.message) == (code, message)


def test_a_value_both_too_long_and_in_the_wrong_form_is_told_its_length():
    error = refusal(SUBMISSION_SCHEMA, {"category": "csam", "locale": "x" * 36})
    assert error.message == "locale: at most 35 characters"
    assert refusal(SUBMISSION_SCHEMA, {"category": "csam", "locale": "EN"}).message.startswith(
        "locale: not in the expected form (")


def test_assessment_refusals_name_the_nested_field():
    partner = refusal(ASSESSMENT_SCHEMA, {"classification": "baseline", "actions": [{"type": "forwarded_partner_hotline"}]})
    assert (partner.code, partner.message) == ("missing_field", "actions/0/partner_country: is missing")
    at = refusal(ASSESSMENT_SCHEMA, {"classification": "baseline", "actions": [{"type": "content_removed", "at": CANARY}]})
    assert at.message == "actions/0/at: must be a date-time with a time zone, e.g. 2026-03-02T09:00:00Z"
    ref = refusal(ASSESSMENT_SCHEMA, {"classification": "baseline", "actions": [{"type": "content_removed",
                                                                                  "reference": CANARY * 3}]})
    assert ref.message == "actions/0/reference: at most 100 characters"


@pytest.mark.parametrize("name", [CANARY, "Placeholder Person", "a" * 40, "image"])
def test_an_unknown_field_is_counted_not_named(name):
    error = refusal(SUBMISSION_SCHEMA, {"category": "csam", "description": "placeholder", name: 1})
    assert error.code == "unknown_field"
    assert error.message.startswith("body: has a field it does not take; it takes category, urls, where_seen, ")
    assert name not in error.message
    two = refusal(SUBMISSION_SCHEMA, {"category": "csam", name: 1, CANARY[::-1]: 2})
    assert two.message.startswith("body: has 2 fields it does not take;")


def test_a_misspelt_field_gets_our_name_suggested():
    error = refusal(SUBMISSION_SCHEMA, {"category": "csam", "descriptoin": "x"})
    assert "(did you mean description?)" in error.message and "descriptoin" not in error.message
    nested = refusal(SUBMISSION_SCHEMA, {"category": "csam", "where_seen": {"type": "website", "platfrom": "x"}})
    assert nested.message == "where_seen: has a field it does not take (did you mean platform?); it takes type, platform and account"


def test_the_stored_report_s_string_fields_are_refused_without_their_value():
    """report.v1.json is taken by no route (the intake builds it): held to the same rule through check()."""
    report = {"schema_version": 1, "id": CANARY, "received_at": CANARY, "channel": "api", "category": "csam",
              "urls": [], "where_seen": None, "description": None, "reporter_role": "unknown",
              "reporter_country": None, "child_in_immediate_danger": False, "locale": "en", "contact": None,
              "attachments_dropped": 0}
    good_id = "01ARZ3NDEKTSV4RRFFQ69G5FAV-0"
    check(REPORT_SCHEMA, {**report, "id": good_id, "received_at": "2026-03-02T09:00:00.000Z"})
    for key, document in (("id", {**report, "received_at": "2026-03-02T09:00:00.000Z"}),
                          ("received_at", {**report, "id": good_id})):
        error = refusal(REPORT_SCHEMA, document)
        assert error.message.startswith(f"{key}: ") and CANARY[:20] not in error.message, error.message


@pytest.mark.parametrize(("keyword", "value", "said"), [
    ("anyOf", [{}], "x: matches none of the forms this field takes"),
    ("oneOf", [{}], "x: must match exactly one of the forms this field takes"),
    ("const", 1, "x: must be 1"),
    ("uniqueItems", True, "x: must not list the same item twice"),
    ("exclusiveMinimum", 10_000, "x: must be more than 10,000"),
    ("format", "date", "x: must be a date, e.g. 2026-03-02"),
    ("not", {}, "x: is not accepted here"),
    (None, None, "x: is not accepted here"),
])
def test_the_other_keywords_in_our_words(keyword, value, said):
    assert explain(keyword, value, {}, ["x"], CANARY)[1] == said


def test_a_path_step_that_is_not_one_of_our_names_is_not_shown():
    assert field(["where_seen", "platform"]) == "where_seen/platform" and field([]) == "body"
    assert field(["urls", 3]) == "urls/3"
    assert field(["a b", CANARY + CANARY]) == "(field)/(field)"
