from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from frontdoor.reports import redaction
from frontdoor.reports.redaction import EMAIL_MARK, PHONE_MARK, redact, region_for

# --- region_for ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "locale", "expected"),
    [
        ("GB", None, "GB"),
        ("gb", "fr-FR", "GB"),
        (" de ", None, "DE"),
        ("UK", None, "GB"),
        (None, "en-GB", "GB"),
        (None, "en_GB", "GB"),
        (None, "en-gb", "GB"),
        (None, "en_GB.UTF-8", "GB"),
        (None, "zh-Hant-TW", "TW"),
        (None, "fr", None),
        (None, "es-419", None),
        (None, "", None),
        (None, None, None),
        ("XX", "nl-NL", "NL"),
        ("XX", None, None),
        ("", "pt-BR", "BR"),
        ("USA", None, None),
    ],
)
def test_region_for(country: str | None, locale: str | None, expected: str | None) -> None:
    assert region_for(country, locale) == expected


# --- e-mail --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "someone@example.com",
        "first.last+reports@mail.example.org",
        "a_b-c@sub.domain.example.test",
        "UPPER.Case@Example.COM",
        "jäne@exämple.test",
        "x@example",
        "someone [at] example [dot] org",
        "someone(at)example.org",
        "someone {AT} example.org",
    ],
)
def test_email_is_redacted(address: str) -> None:
    assert redact(f"write to {address}, thanks", region=None) == f"write to {EMAIL_MARK}, thanks"


def test_email_at_end_of_sentence_keeps_the_full_stop() -> None:
    assert redact("Mail someone@example.com.", region=None) == f"Mail {EMAIL_MARK}."


def test_several_emails() -> None:
    assert redact("a@example.com;b@example.org", region=None) == f"{EMAIL_MARK};{EMAIL_MARK}"


def test_words_with_at_are_not_emails() -> None:
    text = "I looked at it at home, @someone posted it (at night)"
    assert redact(text, region=None) == text


# --- phones ----------------------------------------------------------------------------


def test_gb_number_with_gb_region() -> None:
    assert redact("call me on 020 7946 0000", region="GB") == f"call me on {PHONE_MARK}"


def test_international_number_without_region() -> None:
    assert redact("my number is +1 202-555-0143 ok", region=None) == f"my number is {PHONE_MARK} ok"


@pytest.mark.parametrize("region", ["GB", "US", None])
def test_international_gb_number_with_any_region(region: str | None) -> None:
    assert redact("ring +44 20 7946 0000 now", region=region) == f"ring {PHONE_MARK} now"


def test_us_local_format_with_us_region() -> None:
    assert redact("call (202) 555-0143", region="US") == f"call {PHONE_MARK}"


def test_short_local_number_is_caught_with_region() -> None:
    out = redact("call 5550143 please", region="GB")
    assert "5550143" not in out and PHONE_MARK in out


@pytest.mark.parametrize("region", ["GB", "US", "DE", "FR", None])
@pytest.mark.parametrize(
    "number",
    ["0201 234 5678 9", "020.7946.0000", "020-7946-0000", "(0201) 2345678", "02012345678", "0201/2345678", "12 34 56 78 90"],
)
def test_fallback_catches_unknown_local_formats(number: str, region: str | None) -> None:
    out = redact(f"number: {number} end", region=region)
    assert out == f"number: {PHONE_MARK} end"


def test_short_digit_runs_are_kept_without_region() -> None:
    text = "I saw 3 images, ref 12345678, at 10:30 on page 2"
    assert redact(text, region=None) == text


@pytest.mark.parametrize(
    "text",
    [
        "seen on 2024-05-12 10:30 and 12.05.2024 10:45",
        "seen on 12/05/2024 at 11:00",
        "the server was 203.0.113.55 and 198.51.100.7",
    ],
)
@pytest.mark.parametrize("region", ["GB", "US", "DE", None])
def test_dates_times_and_ip_addresses_are_kept(text: str, region: str | None) -> None:
    assert redact(text, region=region) == text


def test_date_and_hour_without_minutes_is_not_exempt() -> None:
    out = redact("number 2024-05-12 1234", region=None)
    assert PHONE_MARK in out


def test_unknown_region_behaves_like_none() -> None:
    assert redact("call +1 202 555 0143", region="XX") == f"call {PHONE_MARK}"
    assert redact("call +1 202 555 0143", region="gb") == f"call {PHONE_MARK}"


# --- URLs are untouched ----------------------------------------------------------------


def test_url_with_phone_like_digits_is_kept_while_phone_is_removed() -> None:
    text = "See https://example.com/p/02079460000 and call me on 020 7946 0000."
    assert redact(text, region="GB") == f"See https://example.com/p/02079460000 and call me on {PHONE_MARK}."


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/p/02079460000",
        "https://example.com/u/someone@example.org/",
        "https://user@example.com/x?tel=+442079460000",
        "http://203.0.113.5:8080/0201-234-5678-9",
        "https://example.org/wiki/Item_(12345678901)",
        "https://example.com/mail?to=jane[at]example.org",
    ],
)
@pytest.mark.parametrize("region", ["GB", None])
def test_urls_are_kept_exactly(url: str, region: str | None) -> None:
    text = f"first ({url}), then {url}. Contact: a@example.com +44 20 7946 0000"
    assert redact(text, region=region) == f"first ({url}), then {url}. Contact: {EMAIL_MARK} {PHONE_MARK}"


def test_phone_glued_to_cjk_after_url_is_removed() -> None:
    out = redact("请访问https://example.com了解更多13800138000", region=None)
    assert out == f"请访问https://example.com了解更多{PHONE_MARK}"


def test_mailto_is_not_a_kept_url() -> None:
    assert redact("mailto:someone@example.com", region=None) == f"mailto:{EMAIL_MARK}"


# --- idempotence, examples -------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "https://example.com/a谢someone@example.org",
        "ref 0201 234 5678 9 and 020 7946 0000 12",
        f"{PHONE_MARK} 020 7946 0000 {EMAIL_MARK}",
        "12345 020 7946 0000",
    ],
)
@pytest.mark.parametrize("region", ["GB", "FR", None])
def test_idempotent_examples(text: str, region: str | None) -> None:
    once = redact(text, region=region)
    assert redact(once, region=region) == once
    assert "7946" not in once and "@example" not in once.replace("https://example.com/a", "")


def test_text_without_contact_details_is_unchanged() -> None:
    text = "A page with pictures.\nNo contact details here; see the link above!"
    assert redact(text, region="GB") == text


# --- properties --------------------------------------------------------------------

regions = st.sampled_from(["GB", "US", "DE", "FR", "IN", "BR", None])
mixed_text = st.text(
    st.one_of(
        st.characters(),
        st.sampled_from(list("0123456789 +-.()/@[]:")),
    ),
    max_size=120,
)
texty = st.one_of(
    mixed_text,
    st.lists(
        st.sampled_from(["call", "020", "7946", "0000", "+44", "https://example.com/a", "a@example.org", "[at]", "dot",
                         "(", ")", ".", "-", " ", "2024-05-12", "10:30", "203.0.113.5", "谢", "http://", "@", "x"]),
        max_size=20,
    ).map("".join),
)


@settings(max_examples=300, deadline=None)
@given(texty, regions)
def test_redact_never_raises_and_is_idempotent(text: str, region: str | None) -> None:
    once = redact(text, region=region)
    assert isinstance(once, str)
    assert redact(once, region=region) == once


CANARIES = ["canary.reporter+tag@mail.example.org", "+44 20 7946 0000", "+1 202 555 0143", "+44 (0) 20 7946 0000"]


@settings(max_examples=300, deadline=None)
@given(mixed_text, mixed_text, st.sampled_from(CANARIES), regions)
def test_planted_canary_never_survives(before: str, after: str, canary: str, region: str | None) -> None:
    digits = re.sub(r"\D", "", canary)
    assume(digits[-4:] not in before + after and "example.org" not in before + after)
    out = redact(f"{before} {canary} {after}", region=region)
    assert canary not in out
    assert "canary.reporter" not in out and "mail.example.org" not in out
    assert digits[-4:] not in out  # no tail of the number survives either


def _redact_plain_unguarded(text: str, region: str | None) -> str:
    """redaction._redact_plain without its cheap pre-checks: every matcher runs on every text."""
    text = redaction._EMAIL_RE.sub(EMAIL_MARK, text)
    text = redaction._replace(text, ((m.start(), m.end()) for m in redaction._DIGIT_RUN_RE.finditer(text)))
    for matcher_region in dict.fromkeys((region, None)):
        matches = phonenumbers.PhoneNumberMatcher(text, matcher_region, leniency=phonenumbers.Leniency.POSSIBLE)
        text = redaction._replace(text, ((m.start, m.end) for m in matches))
    return text


# Digits that are not decimal digits (str.isdigit() but not \d), full-width and Arabic-Indic digits,
# and obfuscated "at"s: the edges of the pre-checks.
edge_text = st.lists(st.sampled_from(["¹²³⁴⁵⁶⁷⁸⁹⁰", "①②③④⑤", "０２０ ７９４６ ００００", "٠٢٠٧٩٤٦٠٠٠٠", "+", "(", " ", "jane",
                                      "[at]", "( AT )", "{at}", "at", "example", "[dot]", ".org", "@", "020 7946 0000",
                                      "jane(at)example.org", "x { AT } example [dot] org"]),
                     max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(texty, edge_text), regions)
def test_the_pre_checks_skip_only_text_with_nothing_to_remove(text: str, region: str | None) -> None:
    assert redaction._redact_plain(text, region) == _redact_plain_unguarded(text, region)


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from(["a", " ", "7", "0", "9", "٣", "१", "²", "x", "\n", "é"]), max_size=20))
def test_the_digit_check_finds_what_the_pattern_finds(text: str) -> None:
    # ASCII text is searched for 0-9 directly; other text with \d, which also knows other scripts' digits.
    assert redaction._has_digit(text) == (redaction._DIGIT_RE.search(text) is not None)
