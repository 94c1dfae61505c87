"""The dialog's locale files: a prompt key missing in any locale fails here, not in a conversation.

Every locale has exactly English's keys, with the same {placeholders} and a non-empty text;
every key the code asks for exists; the choices of one question read differently in every
language; and `i18n.choose_locale` picks the right language from what channels send.
"""

from __future__ import annotations

import re
import string
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from frontdoor.channels.email.limits import Omitted
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from frontdoor import ids
from frontdoor.reports import urls
from frontdoor.dialog import form, i18n
from frontdoor.dialog.engine import COMMANDS
from frontdoor.queue.triage import RECEIPT_STATUS
from support import REPO

PACKAGE = REPO / "frontdoor"
LOCALE_FILES = sorted(p.name for p in resources.files("frontdoor.dialog.locales").iterdir() if p.name.endswith(".yml"))
OTHERS = [loc for loc in i18n.LOCALES if loc != i18n.DEFAULT]


def raw(locale: str) -> dict[str, Any]:
    text = resources.files("frontdoor.dialog.locales").joinpath(f"{locale}.yml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict), locale
    return data


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def test_every_locale_file_is_a_shipped_locale_and_back() -> None:
    assert LOCALE_FILES == sorted(f"{loc}.yml" for loc in i18n.LOCALES)
    assert i18n.DEFAULT in i18n.LOCALES


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_values_are_non_empty_strings(locale: str) -> None:
    for key, value in raw(locale).items():
        # An unquoted Yes/No/On/Off is a YAML boolean, and a bare number is a number: the catalog
        # would turn them into "True" or "1". Every value must be written as text.
        assert isinstance(key, str), (locale, key)
        assert isinstance(value, str), (locale, key, value)
        assert value.strip(), (locale, key)


@pytest.mark.parametrize("locale", OTHERS)
def test_every_locale_has_exactly_the_english_keys(locale: str) -> None:
    english, other = set(raw(i18n.DEFAULT)), set(raw(locale))
    assert sorted(english - other) == [], f"missing in {locale}.yml"
    assert sorted(other - english) == [], f"in {locale}.yml but not in en.yml"


@pytest.mark.parametrize("locale", OTHERS)
def test_the_same_placeholders_per_key(locale: str) -> None:
    english, other = raw(i18n.DEFAULT), raw(locale)
    different = {k: (sorted(placeholders(v)), sorted(placeholders(other[k])))
                 for k, v in english.items() if k in other and placeholders(v) != placeholders(other[k])}
    assert different == {}


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_every_template_formats(locale: str) -> None:
    """No stray brace: each text formats with its own placeholders filled."""
    for key, value in raw(locale).items():
        names = placeholders(value)
        assert all(re.fullmatch(r"[a-z_]+", n) for n in names), (locale, key, names)
        value.format(**{n: "X" for n in names})  # raises on a stray "{" or "}"


# -- every key the code asks for exists ---------------------------------------------------------------

_LITERAL_KEY = re.compile(r"""(?:\bi18n\.text|\btext|\b_t)\(\s*[\w.\[\]"']+\s*,\s*"([A-Za-z0-9_.]+)\"""")


def keys_used_in_code() -> dict[str, list[str]]:
    """Literal keys passed to i18n.text / Dialog._t anywhere in the package, with where."""
    used: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for match in _LITERAL_KEY.finditer(path.read_text(encoding="utf-8")):
            used.setdefault(match.group(1), []).append(str(path.relative_to(PACKAGE.parent)))
    return used


def keys_built_in_code() -> set[str]:
    """Keys the code builds from data (f-strings): questions, choice labels, summaries, errors, statuses."""
    built = {spec.ask_key for spec in form.SLOTS.values()}
    built |= {f"{spec.label}.{choice}" for spec in form.SLOTS.values() if spec.label for choice in spec.choices}
    built |= {f"summary.{field}" for field in form.CHANGEABLE}
    sources = "".join(p.read_text(encoding="utf-8") for p in Path(urls.__file__).parent.glob("*.py"))
    reasons = set(re.findall(r'UrlError\("([a-z_]+)"', sources))
    assert {"bad_host", "no_scheme", "private_address"} <= reasons, "UrlError reasons not found in reports/urls/"
    built |= {f"url_error.{reason}" for reason in reasons}
    built |= {f"receipt_status.{status}" for status in set(RECEIPT_STATUS.values())}
    built |= {f"receipt.more.{status}" for status in set(RECEIPT_STATUS.values())}  # the receipt page's
    built |= {f"email.omitted.{name}" for name in Omitted().__dataclass_fields__}
    return built


def test_the_scan_finds_the_keys_it_should() -> None:
    used = keys_used_in_code()
    for key in ("greeting", "stopped", "choose_again", "submitted", "summary_intro", "safeguarding.continue"):
        assert key in used, key


def test_every_key_the_code_uses_is_in_english() -> None:
    english = set(raw(i18n.DEFAULT))
    missing = {k: where for k, where in keys_used_in_code().items() if k not in english}
    assert missing == {}
    assert sorted(keys_built_in_code() - english) == []


# -- the receipt code's example ---------------------------------------------------------------------------

CODE_SHAPE = re.compile(r"[0-9A-Z]{5}-[0-9A-Z]{5}")  # anything a reader would take for a receipt code


def test_the_example_receipt_code_has_the_shape_of_real_ones() -> None:
    example = ids.RECEIPT_EXAMPLE
    assert ids.canonical_receipt(example) == example  # the parser takes it as it is written
    for half in example.split("-"):  # real codes mix letters and digits in both halves
        assert any(c.isdigit() for c in half) and any(c.isalpha() for c in half), example
    codes = [ids.new_receipt() for _ in range(200)]  # and the pattern the tests read codes with is theirs
    assert all(CODE_SHAPE.fullmatch(code) and ids.canonical_receipt(code) == code for code in codes)


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_every_locale_shows_the_one_example_receipt_code(locale: str) -> None:
    """The code appears in no locale file (one constant, ids.RECEIPT_EXAMPLE, fills {example}), and
    what a reporter reads names exactly that code."""
    for key in ("ask_receipt_code", "receipt.intro", "receipt.not_found"):
        template = raw(locale)[key]
        assert "example" in placeholders(template) and not CODE_SHAPE.search(template), (locale, key)
    asked = form.ask("receipt_code", {}, locale)[-1].text
    shown = [asked, i18n.text(locale, "receipt.intro", example=ids.RECEIPT_EXAMPLE)]
    for text in shown:
        assert CODE_SHAPE.findall(text) == [ids.RECEIPT_EXAMPLE], (locale, text)
        assert "{" not in text, text
    assert not any(CODE_SHAPE.search(v) for v in raw(locale).values()), locale


# -- choices read differently -----------------------------------------------------------------------------


def _fold(text: str) -> str:
    return text.strip().lower().rstrip(".!")


def choice_groups(locale: str) -> dict[str, list[tuple[str, str]]]:
    """(payload, label) of every set of buttons shown together."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for spec in form.SLOTS.values():
        if not spec.label:
            continue
        group = [(c, i18n.text(locale, f"{spec.label}.{c}")) for c in spec.choices]
        if spec.skippable:
            group.append(("skip", i18n.text(locale, "skip")))
        groups[spec.name] = group
    groups["yes_no"] = [("yes", i18n.text(locale, "answer.yes")), ("no", i18n.text(locale, "answer.no"))]
    groups["after_submit"] = groups["path"] + [("/stop", i18n.text(locale, "done"))]
    groups["languages"] = [(f"lang:{loc}", i18n.text(loc, "language_name")) for loc in i18n.LOCALES]
    return groups


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_choice_labels_are_distinct_within_a_group(locale: str) -> None:
    for name, group in choice_groups(locale).items():
        labels = [_fold(label) for _, label in group]
        assert len(set(labels)) == len(labels), (locale, name, labels)


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_a_typed_label_means_its_own_choice(locale: str) -> None:
    """Typing a label must not be read as another choice's payload or number, nor as a command."""
    commands = {w for words in COMMANDS.values() for w in words}
    for name, group in choice_groups(locale).items():
        payloads = {p for p, _ in group} | {str(i) for i in range(1, len(group) + 1)}
        for payload, label in group:
            folded = _fold(label)
            assert folded not in payloads - {payload}, (locale, name, label)
            assert folded not in commands, (locale, name, label)


# -- choose_locale ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("hint", "expected"), [
    ("de-CH,de;q=0.9,en;q=0.8", "de"),  # a browser's Accept-Language
    ("en-GB,en;q=0.9,fr;q=0.8", "en"),
    ("en;q=0.5, fr;q=0.9, de;q=0.7", "fr"),  # the highest q wins, not the first
    ("es-ES,es;q=0.9,fr;q=0.8,en;q=0.7", "fr"),  # unsupported first: the best supported one
    ("de;q=0, fr", "fr"),  # q=0 means "not this one"
    ("de;q=0", "en"),
    ("fr;q=0.8, de;q=0.8", "fr"),  # a tie: the earlier one
    ("*;q=0.5, de;q=0.4", "de"),
    ("de", "de"),  # Telegram's language_code
    ("fr", "fr"),
    ("fr-FR", "fr"),  # a Content-Language
    ("DE-at", "de"),
    ("de_AT", "de"),
    (" fr-CA ", "fr"),
    ("es", "en"),  # unsupported
    ("pt-BR,pt;q=0.9", "en"),
    ("zh-Hant-TW", "en"),
    ("", "en"),
    (None, "en"),
    (";;;,,,", "en"),  # garbage
    ("q=0.9", "en"),
    ("\x00\xff🙂", "en"),
    ("-de", "en"),
    ("x" * 5000, "en"),
])
def test_choose_locale(hint: str | None, expected: str) -> None:
    assert i18n.choose_locale(hint) == expected


def test_choose_locale_reads_the_q_parameter_in_any_case() -> None:
    # Regression: i18n.choose_locale matches the weight with the case-sensitive regex r"q\s*=\s*([0-9.]+)", so
    # "Q=0.1" is not read and the tag keeps the default weight 1.0. In Accept-Language the "q" is
    # case-insensitive (RFC 9110 section 12.4.2 uses ABNF, whose quoted strings are case-insensitive).
    # Here German, weighted 0.1, wins over French, weighted 0.5.
    assert i18n.choose_locale("de;Q=0.1, fr;q=0.5") == "fr"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet="defrnqDEFRNQ=;,.-_ 0123456789*", max_size=40)))
def test_choose_locale_never_fails(hint: str) -> None:
    assert i18n.choose_locale(hint) in i18n.LOCALES


def test_parse_language_choice_knows_every_language_by_code_and_name() -> None:
    for locale in i18n.LOCALES:
        assert i18n.parse_language_choice(locale) == locale
        assert i18n.parse_language_choice(f"  {locale.upper()} ") == locale
        assert i18n.parse_language_choice(i18n.text(locale, "language_name")) == locale
    assert i18n.parse_language_choice("xx") is None
