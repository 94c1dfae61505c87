"""mailtopic: the category search near triggers answers exactly what a search of the whole text does."""

from __future__ import annotations

import re
from re import _parser as sre_parse  # the stdlib's own reading of a pattern: its longest match

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontdoor.channels.email import topic as mailtopic
from frontdoor.channels.email.topic import CATEGORY_PATTERNS, CATEGORY_TRIGGERS, PHRASE_REACH_CHARS

# At least one phrase per alternative of every pattern, as a reporter might type it.
PHRASES = {
    "csam": ["child abuse material", "child sexual abuse", "child porn", "csam", "sexual abuse of minors",
             "indecent images of children", "kindesmissbrauch", "kinderporno", "pédocriminel", "pedopornographie",
             "pornographie infantile", "abus sexuel sur un enfant"],
    "grooming": ["grooming", "cybergrooming", "groomer", "pédopiégeage", "pedopiegeage"],
    "sextortion": ["sextortion", "sexual extortion", "sextorted", "threatened to share", "blackmail", "erpressung",
                   "sextorsion", "chantage", "menacé de diffuser"],
    "self_generated": ["nude selfie", "nudes of myself", "my nudes", "self generated", "self-generated",
                       "naked pics of me", "nacktselfie", "nacktbilder von mir", "selfie nu", "photos de moi nues",
                       "mes nudes"],
    "trafficking": ["trafficked", "children for sale", "menschenhandel", "kinderhandel", "traite des enfants",
                    "trafic d'enfants"],
}
# Near misses: triggers without their phrase, and phrases the look-behinds and boundaries refuse.
NEAR_MISSES = ["dog grooming", "datenmissbrauch", "drug trafficking", "itself", "childhood", "csams", "abusive",
               "threatening", "nudes", "self", "for sale", "traiter", "handeln", "naked", "de moi", "menace",
               "xchild porn", "pet grooming", "my nudesx"]


@pytest.mark.parametrize(("name", "phrase"), [(n, p) for n, ps in PHRASES.items() for p in ps])
def test_every_phrase_names_its_category_and_holds_a_trigger(name: str, phrase: str) -> None:
    assert re.search(CATEGORY_PATTERNS[name], phrase), phrase
    assert any(t in phrase for t in CATEGORY_TRIGGERS[name]), phrase
    assert mailtopic.category(f"Hello, I saw {phrase.upper()} on a page.") == name


@pytest.mark.parametrize("name", CATEGORY_PATTERNS)
def test_the_window_reaches_past_the_longest_phrase(name: str) -> None:
    _, longest = sre_parse.parse(CATEGORY_PATTERNS[name]).getwidth()
    assert longest + 1 <= PHRASE_REACH_CHARS  # + 1: the character a closing \b looks at


def test_ordinary_prose_holds_no_trigger() -> None:
    # A trigger found in everyday words makes every e-mail pay for a pattern search ("self" in "itself").
    text = ("The page itself had no contact details. I found it myself this afternoon and closed it; "
            "the rest of the site was a grid of thumbnails. Kind regards, a member of the public. "
            "Die Seite selbst hatte kein Impressum. La page elle-même n'avait aucun contact.").lower()
    assert [t for ts in CATEGORY_TRIGGERS.values() for t in ts if t in text] == []


def test_one_category_or_other() -> None:
    assert mailtopic.category("Someone is grooming children in this chat") == "grooming"
    assert mailtopic.category("He is threatening to share a nude selfie of me") == "other"  # two: not clear
    assert mailtopic.category("Nothing to see here") == "other"


def _whole_text(text: str) -> str:
    lowered = text.lower().replace("\u2019", "'")
    named = [n for n, p in CATEGORY_PATTERNS.items() if re.search(p, lowered)]
    return named[0] if len(named) == 1 else "other"


pieces = st.sampled_from([p for ps in PHRASES.values() for p in ps] + NEAR_MISSES
                         + ["", " ", "x", "of", "a", "the", "\n", "-", "'", "\u2019", "é", "Ä", "1"])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(pieces, st.text(max_size=8)), max_size=40).map("".join))
def test_same_answer_as_searching_the_whole_text(text: str) -> None:
    assert mailtopic.category(text) == _whole_text(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(pieces, max_size=12), st.integers(0, 120))
def test_same_answer_with_phrases_far_apart_and_at_the_edges(words: list[str], gap: int) -> None:
    text = ("y" * gap).join(words) + " " * (gap % 7)
    assert mailtopic.category(text) == _whole_text(text)
    assert mailtopic.category(text.replace(" ", "")) == _whole_text(text.replace(" ", ""))


def test_a_lone_surrogate_does_not_stop_the_search() -> None:
    assert mailtopic.category("\ud800 someone is grooming children \udfff") == "grooming"


def test_text_dense_with_triggers() -> None:
    assert mailtopic.category("a child, " * 100 + "child porn") == "csam"
    assert mailtopic.category("dog grooming; " * 100) == "other"
    assert mailtopic.category("dog grooming; " * 100 + "grooming") == "grooming"
