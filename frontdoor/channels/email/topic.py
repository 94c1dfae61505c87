"""What an e-mail is about: the report category it clearly names, and the language it is written in.

Both are guesses from the reporter's own words (subject and text, links removed), made for
every message on the SMTP server's event loop, so they must stay cheap on ordinary mail
and linear on hostile mail.

Category phrases are regular expressions with no literal prefix, which Python's `re` tries
at every position of the text (~100 µs per category on a 2 KB e-mail). Each phrase contains
one of its category's trigger substrings, so the triggers are looked for first, all of them in
one pass (ahocorasick-rs: an Aho-Corasick automaton; a search per trigger read the text 34
times); only where one occurs is the category's pattern run, and only in a window around the
occurrence as wide as a phrase can be long. The answer is the same as searching the whole
text (tests/channels/email/test_topic.py checks that against the whole-text search).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Final

import ahocorasick_rs

from ...dialog.i18n import LOCALES, choose_locale

__all__ = ["CATEGORY_PATTERNS", "category", "locale"]

# Phrases that clearly name a category, in each shipped language. German stems have no
# leading word boundary because German joins words ("Kindesmissbrauch", "Cybergrooming").
CATEGORY_PATTERNS: Final = {
    "csam": (r"\bchild (?:sexual )?abuse (?:material|images?|videos?|content|imagery)|\bchild sexual abuse"
             r"|\bchild porn|\bcsam\b|\bsexual abuse of (?:a )?(?:child|children|minors?)\b"
             r"|\bindecent (?:images?|photos?|videos?) of (?:a )?(?:child|children)\b"
             r"|(?<!daten)missbrauch|kinderporno"
             r"|p[ée]docriminel|p[ée]dopornograph|pornographie (?:infantile|juv[ée]nile)"
             r"|abus sexuels? (?:sur|d'|de) (?:un |une |des |l')?(?:enfant|mineur)"),
    "grooming": r"(?<!dog )(?<!pet )(?<!hair )grooming|\bgroomer|p[ée]dopi[ée]geage",
    "sextortion": (r"sextortion|\bsexual extortion|\bsextort|\bthreaten(?:ed|ing|s)? to (?:share|post|send|publish|leak)"
                   r"|\bblackmail|erpress|sextorsion|\bchantage|\bmena(?:ce|cé|cée|cent|çait) de (?:publier|diffuser|partager|envoyer)"),
    "self_generated": (r"\bnude selfies?\b|\bnudes? of (?:me|myself)\b|\bmy nudes\b|\bself[- ]generated\b"
                       r"|\bnaked (?:pictures?|photos?|pics?) of (?:me|myself)\b"
                       r"|nacktselfie|nackt(?:bilder|fotos|bild|foto) von mir"
                       r"|\bselfies? nue?s?\b|\bphotos? de moi nue?s?\b|\bmes nudes\b"),
    "trafficking": (r"(?<!drug )(?<!drugs )\btraffick(?:ing|ed|er|ers)\b|\bchild(?:ren)? for sale\b"
                    r"|menschenhandel|kinderhandel"
                    r"|\btraite (?:des |d')(?:[êe]tres humains|enfants)|\btrafic d'(?:enfants|[êe]tres humains)"),
}
# Substrings every phrase of a category contains (the text is lower-cased first). Kept
# specific: "self" would also be found in "itself" and make every such e-mail pay for a search;
# and few: each is a search of the whole text ("indecent ... of children" is found by "child").
CATEGORY_TRIGGERS: Final = {
    "csam": ("child", "csam", "missbrauch", "kinderporno", "docriminel", "pornograph", "abus"),
    "grooming": ("groom", "piégeage", "piegeage"),
    "sextortion": ("extort", "threaten", "blackmail", "erpress", "chantage", "sextorsion", "mena"),
    "self_generated": ("nude", "selfie", "self-gen", "self gen", "naked", "nackt", "de moi"),
    "trafficking": ("traffick", "for sale", "handel", "traite", "trafic"),
}
# How far a phrase can reach from a trigger inside it, either way: at least the longest match
# of any pattern plus the one character a closing \b looks at (tests/channels/email/test_topic.py checks).
PHRASE_REACH_CHARS: Final = 40
_MAX_WINDOWS: Final = 32

_CATEGORY_RES: Final = {name: re.compile(p) for name, p in CATEGORY_PATTERNS.items()}
_TRIGGER_OF: Final = [(name, trigger) for name, triggers in CATEGORY_TRIGGERS.items() for trigger in triggers]
_TRIGGERS: Final = ahocorasick_rs.AhoCorasick([trigger for _, trigger in _TRIGGER_OF])
_SURROGATE_RE: Final = re.compile("[\ud800-\udfff]")


def category(prose: str) -> str:
    """The one category the text clearly names; "other" when none does, or more than one."""
    text = prose.lower().replace("\u2019", "'")
    hits: dict[str, list[tuple[int, int]]] = {}
    for index, start, end in _trigger_matches(text):
        hits.setdefault(_TRIGGER_OF[index][0], []).append((start, end))
    named = [name for name in CATEGORY_PATTERNS if name in hits and _names(name, text, hits[name])]
    return named[0] if len(named) == 1 else "other"


def _trigger_matches(text: str) -> list[tuple[int, int, int]]:
    """(trigger index, start, end) of every occurrence of every trigger, overlaps included."""
    try:
        return _TRIGGERS.find_matches_as_indexes(text, overlapping=True)
    except UnicodeEncodeError:  # a lone surrogate, which no trigger holds; one character for one keeps the indexes
        return _TRIGGERS.find_matches_as_indexes(_SURROGATE_RE.sub("\ufffd", text), overlapping=True)


def _names(name: str, text: str, hits: list[tuple[int, int]]) -> bool:
    """Whether the category's pattern matches anywhere in `text`, searching only near its triggers'
    `hits` (start, end).

    The windows around trigger occurrences are merged, so no character is searched twice; a text
    dense with triggers is searched whole, which then costs less than walking its occurrences.
    """
    pattern = _CATEGORY_RES[name]
    if len(hits) > _MAX_WINDOWS:
        return pattern.search(text) is not None
    windows: list[list[int]] = []
    for hit_start, hit_end in sorted(hits):
        start, end = max(hit_start - PHRASE_REACH_CHARS, 0), hit_end + PHRASE_REACH_CHARS
        if windows and start <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], end)
        else:
            windows.append([start, end])
    # A search sees the text before its window (for \b and look-behinds). It takes the window's end
    # for the end of the text, but every phrase holds a trigger whose window reaches a phrase's
    # length past it, so no phrase is cut short there and a closing \b reads the real next character.
    return any(pattern.search(text, start, end) for start, end in windows)


# Words frequent in one shipped language and rare in the other two.
_STOPWORDS: Final = {
    "en": frozenset("the and is are this that with have has were you your please there what which would could "
                    "about from found been they their because someone saw of to my it i for not but he she him "
                    "we who when where how if or".split()),
    "de": frozenset("der die das und ist nicht ich sie es ein eine einen mit auf für von zu den dem bitte habe "
                    "hat wurde diese dieser dieses seite auch aber wie mein meine mich mir wir uns gefunden über "
                    "oder wenn weil kind kinder hallo danke".split()),
    "fr": frozenset("le la les et est une un des du de je il elle nous vous pas ne que qui dans pour sur avec ce "
                    "cette mon ma mes bonjour merci j'ai c'est trouvé enfant enfants été au aux par sont très "
                    "mais ou où en".split()),
}
_PUNCTUATION: Final = ".,;:!?()[]{}\"'«»“”„‚‹›-–—…*/"
_MAX_GUESS_CHARS: Final = 4 * 1024  # a language shows in its first paragraphs


_TAG_SEPARATOR_RE: Final = re.compile(r"[-_;\s]")


def locale(content_language: str | None, accept_language: str | None, prose: str) -> str:
    """A shipped locale named by the headers, else the language the text is clearly in, else "en"."""
    for hint in (content_language, accept_language):
        named = {_TAG_SEPARATOR_RE.split(part.strip().lower(), maxsplit=1)[0] for part in (hint or "").split(",")}
        if named & set(LOCALES):
            return choose_locale(hint)
    seen: Counter[str] = Counter()
    for token, n in Counter(prose[:_MAX_GUESS_CHARS].lower().replace("\u2019", "'").split()).items():
        seen[token.strip(_PUNCTUATION)] += n
    counts = {lang: sum(n for word, n in seen.items() if word in words) for lang, words in _STOPWORDS.items()}
    ranked = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    return best if top >= 2 and top >= 2 * second else "en"
