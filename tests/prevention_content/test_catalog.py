"""The prevention content: the shipped files pass `content check`, every kind of defect is
reported, selection follows its rule, and safeguarding phrases fire when they should and
stay quiet on ordinary reports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from frontdoor.errors import FrontdoorError
from frontdoor.prevention_content import AUDIENCES, DATA_DIR, LOCALES, TOPICS, ContentError, check_content, load_catalog
from frontdoor.prevention_content.files import parse_yaml

CATALOG = load_catalog()
SHIPPED_COUNTRIES = sorted({c for r in parse_yaml((DATA_DIR / "resources.yaml").read_text())["resources"]
                            for c in r["countries"]})


# --- helpers -----------------------------------------------------------------------------------

def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def edit(directory: Path, name: str, change: Callable[[Any], None]) -> None:
    path = directory / name
    document = parse_yaml(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


def resource(document: dict[str, Any], rid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in document["resources"] if r["id"] == rid)
    return found


def helpline(document: dict[str, Any], country: str) -> dict[str, Any]:
    found: dict[str, Any] = next(e for e in document["countries"] if e["country"] == country)
    return found


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    # No FRONTDOOR_* settings and no Redis: `content check` must need neither.
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDOOR_")}
    env["FRONTDOOR_REDIS_URL"] = "redis://127.0.0.1:1/0"  # would fail at once if anything connected
    return subprocess.run([sys.executable, "-m", "frontdoor", "content", "check", *args],
                          capture_output=True, text=True, env=env, timeout=60)


# --- the shipped content -----------------------------------------------------------------------

def test_shipped_content_passes_check() -> None:
    assert check_content() == []


def test_cli_content_check_passes_without_redis() -> None:
    result = run_cli()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "38 resources" in result.stdout and "49 hotlines" in result.stdout and "3 locales" in result.stdout


def test_cli_content_check_lists_problems_and_exits_1(tmp_path: Path) -> None:
    data = data_copy(tmp_path)
    edit(data, "resources.yaml", lambda d: resource(d, "childline-uk").update(phone="0800 11"))
    result = run_cli("--path", str(data))
    assert result.returncode == 1
    assert "resources.yaml: childline-uk: phone '0800 11' is not a valid number for GB" in result.stdout


def test_shipped_data_has_what_the_issue_asks() -> None:
    resources = parse_yaml((DATA_DIR / "resources.yaml").read_text())["resources"]
    assert 25 <= len(resources) <= 40
    ids = {r["id"] for r in resources}
    assert {"take-it-down", "report-remove", "childline-uk", "nspcc-helpline", "ceop-safety-centre",
            "ncmec-cybertipline", "ncmec-sextortion", "cybertip-ca", "needhelpnow-ca", "kids-help-phone",
            "stop-it-now-us", "stop-it-now-uk", "troubled-desire", "kein-taeter-werden", "nummer-gegen-kummer",
            "child-helpline-116111", "allo-119", "e-enfance-3018", "inhope-hotlines"} <= ids
    assert all(set(LOCALES) <= set(r["text"]) for r in resources)

    entries = parse_yaml((DATA_DIR / "helplines.yaml").read_text())["countries"]
    eu = "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
    others = "GB IE NO IS CH US CA AU NZ BR JP KR ZA".split()
    by_country = {e["country"]: e for e in entries}
    assert set(eu + others + ["default"]) <= set(by_country)
    assert all(by_country[c]["emergency"] == "112" for c in eu)
    assert all(date.fromisoformat(e["last_verified"]) for e in entries)

    hotlines = CATALOG.hotlines()
    assert len(hotlines) == 49 and len({h.country for h in hotlines}) == 43  # the appendix's 49 in 43 countries
    assert all(date.fromisoformat(h.last_verified) for h in hotlines)


def test_schema_enums_are_the_api_constants() -> None:
    schema = json.loads((DATA_DIR.parent / "schemas" / "resources.v1.json").read_text())
    props = schema["$defs"]["resource"]["properties"]
    assert tuple(props["audiences"]["items"]["enum"]) == AUDIENCES
    assert tuple(props["topics"]["items"]["enum"]) == TOPICS


# --- every kind of defect is reported ---------------------------------------------------------

def _set(rid: str, **values: Any) -> Callable[[Any], None]:
    return lambda d: resource(d, rid).update(values)


def _drop_locale(d: Any) -> None:
    del resource(d, "take-it-down")["text"]["fr"]


def _duplicate_id(d: Any) -> None:
    d["resources"][1]["id"] = d["resources"][0]["id"]


def _no_default(d: Any) -> None:
    d["countries"] = [e for e in d["countries"] if e["country"] != "default"]


DEFECTS: list[tuple[str, str, Callable[[Any], None], str]] = [
    ("bad phone for country", "resources.yaml", _set("nummer-gegen-kummer", phone="123"),
     "resources.yaml: nummer-gegen-kummer: phone '123' is not a valid number for DE"),
    ("phone valid elsewhere only", "resources.yaml", _set("childline-uk", phone="1-800-843-5678"),
     "resources.yaml: childline-uk: phone '1-800-843-5678' is not a valid number for GB"),
    ("phone with letters", "resources.yaml", _set("ncmec-cybertipline", phone="1-800-THE-LOST"),
     "ncmec-cybertipline: phone '1-800-THE-LOST' must be digits"),
    ("unquoted phone", "resources.yaml", _set("allo-119", phone=119),
     "resources.yaml: allo-119: phone: 119 is not of type"),
    ("global phone without country", "resources.yaml", _set("take-it-down", phone="116 111"),
     "take-it-down: a global resource with a phone must say which country it is for"),
    ("http url", "resources.yaml", _set("take-it-down", url="http://takeitdown.ncmec.org/"),
     "take-it-down: url 'http://takeitdown.ncmec.org/' must use https"),
    ("url without scheme", "resources.yaml", _set("take-it-down", url="takeitdown.ncmec.org"),
     "take-it-down: url 'takeitdown.ncmec.org' is not a valid web address"),
    ("url not in normal form", "resources.yaml", _set("take-it-down", url="https://TakeItDown.ncmec.org"),
     "take-it-down: url 'https://TakeItDown.ncmec.org' is not in normal form"),
    ("url on an IP address", "resources.yaml", _set("take-it-down", url="https://203.0.113.9/"),
     "take-it-down: url 'https://203.0.113.9/' must name a site"),
    ("missing locale", "resources.yaml", _drop_locale,
     "resources.yaml: take-it-down: no title and body in locale 'fr'"),
    ("unknown audience", "resources.yaml", _set("take-it-down", audiences=["child", "kids"]),
     "resources.yaml: take-it-down: audiences.1: 'kids' is not one of"),
    ("unknown topic", "resources.yaml", _set("take-it-down", topics=["nudes"]),
     "resources.yaml: take-it-down: topics.0: 'nudes' is not one of"),
    ("unknown country", "resources.yaml", _set("childline-uk", countries=["UK"]),
     "resources.yaml: childline-uk: country 'UK' is not a known country code"),
    ("duplicate id", "resources.yaml", _duplicate_id, "id is used by 2 resources"),
    ("invalid emergency number", "helplines.yaml", lambda d: helpline(d, "DE").update(emergency="911"),
     "helplines.yaml: DE: emergency number '911' is not an emergency number in DE"),
    ("helpline number invalid", "helplines.yaml",
     lambda d: helpline(d, "FR")["crisis_line"].update(number="0800 1111"),
     "helplines.yaml: FR: crisis_line: phone '0800 1111' is not a valid number for FR"),
    ("no default entry", "helplines.yaml", _no_default, "helplines.yaml: default: there must be exactly one"),
    ("date not ISO", "helplines.yaml", lambda d: helpline(d, "GB").update(last_verified="26/11/2026"),
     "helplines.yaml: GB: last_verified"),
    ("hotline url", "hotlines.yaml", lambda d: d["hotlines"][0].update(url="www.acma.gov.au"),
     "hotlines.yaml: AU Australian Communications and Media Authority: url 'www.acma.gov.au' is not a valid web address"),
    ("empty safeguarding list", "safeguarding.yaml", lambda d: d["locales"]["de"].update(self_harm=[]),
     "safeguarding.yaml: de: self_harm"),
    ("missing safeguarding locale", "safeguarding.yaml", lambda d: d["locales"].pop("fr"),
     "safeguarding.yaml: fr: no phrase lists for this locale"),
]


@pytest.mark.parametrize("name, file, change, expected", DEFECTS, ids=[d[0] for d in DEFECTS])
def test_each_defect_is_reported(tmp_path: Path, name: str, file: str, change: Callable[[Any], None],
                                 expected: str) -> None:
    data = data_copy(tmp_path)
    assert check_content(data) == []  # the copy is clean, so the problem below comes from the change
    edit(data, file, change)
    problems = check_content(data)
    assert any(expected in p for p in problems), problems


def test_yaml_repeated_key_and_syntax_errors_are_reported(tmp_path: Path) -> None:
    data = data_copy(tmp_path)
    path = data / "hotlines.yaml"
    path.write_text(path.read_text().replace("version: 1\n", "version: 1\nversion: 1\n", 1))
    (data / "safeguarding.yaml").write_text("locales: [unclosed\n")
    problems = check_content(data)
    assert any(p.startswith("hotlines.yaml: line ") and "appears twice" in p for p in problems), problems
    assert any(p.startswith("safeguarding.yaml: line ") and "not valid YAML" in p for p in problems), problems


def test_norway_is_a_country_not_false() -> None:
    assert CATALOG.lines_for("NO").country == "NO"
    assert CATALOG.lines_for("NO").child_helpline == "116 111"


def test_load_names_file_and_item(tmp_path: Path) -> None:
    data = data_copy(tmp_path)
    edit(data, "resources.yaml", _set("kids-help-phone", phone="1-800-668"))
    with pytest.raises(ContentError) as info:
        load_catalog(data)
    assert isinstance(info.value, FrontdoorError)
    assert info.value.message.startswith("resources.yaml: kids-help-phone: phone '1-800-668'")


def test_load_accepts_a_partial_translation_that_check_rejects(tmp_path: Path) -> None:
    data = data_copy(tmp_path)
    edit(data, "resources.yaml", _drop_locale)
    load_catalog(data)
    assert check_content(data) != []


def test_default_catalog_is_cached() -> None:
    assert load_catalog() is load_catalog()


# --- selection ------------------------------------------------------------------------------------

SITUATIONS = [(a, t, c) for a in AUDIENCES for t in (*TOPICS, None) for c in (*SHIPPED_COUNTRIES, "JP", None)]


def test_at_most_three_for_the_audience_and_never_another_countrys() -> None:
    for audience, topic, country in SITUATIONS:
        chosen = CATALOG.select(audience=audience, topic=topic, country=country, locale="en")
        assert len(chosen) <= 3
        assert len({r.id for r in chosen}) == len(chosen)
        for r in chosen:
            assert audience in r.audiences, (audience, topic, country, r.id)
            assert r.countries == () or country in r.countries, (audience, topic, country, r.id)


def test_topic_comes_first() -> None:
    for audience, topic, country in SITUATIONS:
        if topic is None:
            continue
        chosen = CATALOG.select(audience=audience, topic=topic, country=country, locale="en")
        flags = [topic in r.topics for r in chosen]
        assert flags == sorted(flags, reverse=True), (audience, topic, country, [r.id for r in chosen])


def test_country_specific_first_for_that_country() -> None:
    chosen = CATALOG.select(audience="teen", topic="sextortion", country="GB", locale="en")
    assert [r.id for r in chosen] == ["report-remove", "ceop-safety-centre", "childline-uk"]
    chosen = CATALOG.select(audience="teen", topic="sextortion", country="US", locale="en")
    assert [r.countries for r in chosen][:2] == [("US",), ("US",)]
    assert chosen[2].countries == ()  # the rest is filled with global resources on the topic


def test_without_a_country_or_with_an_unserved_one_only_global() -> None:
    for country in (None, "JP", "xx", "", "Germany"):
        chosen = CATALOG.select(audience="child", topic="image_removal", country=country, locale="en")
        assert chosen and all(r.countries == () for r in chosen), country
        assert "take-it-down" in [r.id for r in chosen]


def test_country_code_case_does_not_matter() -> None:
    lower = CATALOG.select(audience="teen", topic="image_removal", country="gb", locale="en")
    assert lower == CATALOG.select(audience="teen", topic="image_removal", country="GB", locale="en")
    assert lower[0].id == "report-remove"


def test_filled_up_only_with_general_resources() -> None:
    chosen = [r.id for r in CATALOG.select(audience="child", topic="emotional_support", country="DE", locale="en")]
    assert "if-a-nude-of-you-was-shared" not in chosen  # on another topic and not general
    assert "staying-safer-online" in chosen  # general, fills the third place


def test_one_service_is_not_offered_twice_under_two_entries() -> None:
    chosen = CATALOG.select(audience="child", topic="emotional_support", country="DE", locale="de")
    assert chosen[0].id == "nummer-gegen-kummer"
    assert [r.phone for r in chosen].count("116111") == 1
    sk = CATALOG.select(audience="child", topic="emotional_support", country="SK", locale="en")
    assert sk[0].id == "child-helpline-116111"


def test_text_is_in_the_locale() -> None:
    for locale, title in (("en", "Take It Down (NCMEC)"), ("de", "Take It Down (NCMEC)")):
        (r,) = [r for r in CATALOG.select(audience="child", topic="image_removal", country=None, locale=locale)
                if r.id == "take-it-down"]
        assert r.locale == locale and r.title == title
    (grooming,) = CATALOG.select(audience="bystander", topic="grooming", country=None, locale="fr", limit=1)
    assert grooming.locale == "fr" and grooming.title.startswith("Les signes")
    (regional,) = CATALOG.select(audience="bystander", topic="grooming", country=None, locale="de-AT", limit=1)
    assert regional.locale == "de"


def test_falls_back_to_english_per_resource(tmp_path: Path) -> None:
    data = data_copy(tmp_path)
    edit(data, "resources.yaml", _drop_locale)
    chosen = load_catalog(data).select(audience="child", topic="image_removal", country=None, locale="fr")
    by_id = {r.id: r for r in chosen}
    assert by_id["take-it-down"].locale == "en"
    assert by_id["take-it-down"].body.startswith("If a nude or sexual photo")
    assert all(r.locale == "fr" for r in chosen if r.id != "take-it-down")
    unknown = CATALOG.select(audience="child", topic="image_removal", country=None, locale="es")
    assert unknown and all(r.locale == "en" for r in unknown)


def test_selection_is_deterministic(tmp_path: Path) -> None:
    again = load_catalog(data_copy(tmp_path))
    for audience, topic, country in SITUATIONS[::7]:
        first = CATALOG.select(audience=audience, topic=topic, country=country, locale="fr")
        assert first == CATALOG.select(audience=audience, topic=topic, country=country, locale="fr")
        assert first == again.select(audience=audience, topic=topic, country=country, locale="fr")


def test_limit_and_phone_forms() -> None:
    assert CATALOG.select(audience="teen", topic=None, country="GB", locale="en", limit=0) == []
    assert len(CATALOG.select(audience="teen", topic=None, country="GB", locale="en", limit=1)) == 1
    (childline,) = [r for r in CATALOG.select(audience="child", topic="emotional_support", country="GB", locale="en")
                    if r.id == "childline-uk"]
    assert (childline.phone, childline.phone_display, childline.phone_uri) == ("08001111", "0800 1111", "tel:+448001111")
    (ngk,) = CATALOG.select(audience="child", topic="emotional_support", country="DE", locale="en", limit=1)
    assert (ngk.phone, ngk.phone_display, ngk.phone_uri) == ("116111", "116 111", "tel:116111")


def test_unknown_audience_or_topic_is_a_bug() -> None:
    with pytest.raises(ValueError):
        CATALOG.select(audience="kid", topic=None, country=None, locale="en")
    with pytest.raises(ValueError):
        CATALOG.select(audience="child", topic="nudes", country=None, locale="en")


@settings(max_examples=300, deadline=None)
@given(
    audience=st.sampled_from(AUDIENCES),
    topic=st.one_of(st.none(), st.sampled_from(TOPICS)),
    country=st.one_of(st.none(), st.sampled_from([*SHIPPED_COUNTRIES, "JP", "XX", "gb", ""]), st.text(max_size=4)),
    locale=st.one_of(st.sampled_from([*LOCALES, "es", "de-CH", "fr_CA", ""]), st.text(max_size=8)),
)
def test_select_never_raises_and_never_returns_more_than_three(audience: str, topic: str | None,
                                                               country: str | None, locale: str) -> None:
    chosen = CATALOG.select(audience=audience, topic=topic, country=country, locale=locale)
    assert len(chosen) <= 3
    assert all(r.locale in LOCALES and r.title and r.body for r in chosen)


# --- lines and hotlines ------------------------------------------------------------------------

def test_lines_for_countries() -> None:
    de = CATALOG.lines_for("DE")
    assert (de.country, de.emergency, de.child_helpline) == ("DE", "112", "116 111")
    assert CATALOG.lines_for("GB").emergency == "999"
    us = CATALOG.lines_for("US")
    assert (us.emergency, us.crisis_line) == ("911", "988")
    assert CATALOG.lines_for("de") == de
    assert CATALOG.emergency_number("AU") == "000"


def test_lines_for_an_unknown_country_are_generic() -> None:
    generic = CATALOG.lines_for(None)
    assert generic.country is None and generic.emergency == "112"
    assert generic.child_helpline is None and generic.crisis_line is None
    assert CATALOG.lines_for("MX") == generic  # not listed: the dialog says "your local emergency number"
    assert CATALOG.lines_for("not a country") == generic
    assert CATALOG.emergency_number(None) == "112"


def test_hotlines() -> None:
    de = CATALOG.hotline_for("DE")
    assert de is not None and de.name == "Internet-Beschwerdestelle.de"  # the first of Germany's three
    gb = CATALOG.hotline_for("gb")
    assert gb is not None and gb.url == "https://www.iwf.org.uk/" and gb.last_verified == "2026-11-26"
    assert CATALOG.hotline_for("ZZ") is None


# --- safeguarding ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, kind", [
    ("He is with her now, please hurry", "danger_now"),
    ("it is HAPPENING RIGHT NOW", "danger_now"),
    ("he’s with her now", "danger_now"),
    ("my sister was kidnapped", "danger_now"),
    ("I want to kill myself", "self_harm"),
    ("i dont want to live anymore", "self_harm"),
    ("I don’t want to live", "self_harm"),
    ("having Suicidal thoughts", "self_harm"),
    ("Er ist JETZT BEI IHR", "danger_now"),
    ("sie wird gerade missbraucht!!", "danger_now"),
    ("Sie ist in akuter Gefahr", "danger_now"),
    ("ich will mich umbringen", "self_harm"),
    ("ich will mich toeten", "self_harm"),
    ("ich will mich toten", "self_harm"),
    ("Ich habe SUIZIDGEDANKEN", "self_harm"),
    ("Ça se passe MAINTENANT", "danger_now"),
    ("ca se passe maintenant", "danger_now"),
    ("il est avec elle en ce moment", "danger_now"),
    ("Elle est en DANGER IMMÉDIAT", "danger_now"),
    ("elle a été kidnappée", "danger_now"),
    ("J’ai envie de mourir", "self_harm"),
    ("je veux me suicider", "self_harm"),
    ("Je vais mettre fin a mes jours", "self_harm"),
])
def test_safeguarding_phrases_fire(text: str, kind: str) -> None:
    assert kind in CATALOG.safeguarding_hits(text)


def test_safeguarding_checks_every_language_whatever_the_locale() -> None:
    assert CATALOG.safeguarding_hits("help, er ist jetzt bei ihr and I want to die") == {"danger_now", "self_harm"}


@pytest.mark.parametrize("text", [
    "I saw a video of child abuse on a website",
    "my son was groomed last year",
    "Someone sent my daughter messages on Instagram last month",
    "The images were removed but they came back",
    "Ich habe auf einer Website ein Video mit Kindesmissbrauch gesehen",
    "Der Täter wurde letztes Jahr eingesperrt",
    "J'ai vu une vidéo d'abus sur un enfant sur un site",
    "La vidéo a été enlevée puis remise en ligne",
    "",
])
def test_safeguarding_stays_quiet_on_ordinary_reports(text: str) -> None:
    assert CATALOG.safeguarding_hits(text) == set()


def test_safeguarding_terms_per_locale() -> None:
    for locale in LOCALES:
        terms = CATALOG.safeguarding_terms(locale)
        assert set(terms) == {"danger_now", "self_harm"} and all(terms.values())
    assert CATALOG.safeguarding_terms("es") == CATALOG.safeguarding_terms("en")
    assert "Suizid*" in CATALOG.safeguarding_terms("de")["self_harm"]
