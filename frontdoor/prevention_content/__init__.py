"""Safety and prevention resources, helplines, safeguarding phrases and the hotline directory.

The content lives in YAML files under `data/` (documented in docs/prevention-content.md)
so that people who know the services, not only programmers, can review and correct it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from .catalog import Catalog
from .checks import all_problems
from .files import DATA_DIR, read
from .model import AUDIENCES, LOCALES, TOPICS, ContentError, CountryLines, Hotline, Resource

__all__ = [
    "AUDIENCES",
    "DATA_DIR",
    "LOCALES",
    "TOPICS",
    "Catalog",
    "ContentError",
    "CountryLines",
    "Hotline",
    "Resource",
    "check_content",
    "load_catalog",
]


def load_catalog(path: Path | None = None) -> Catalog:
    """Validate and load; the shipped files are read once per process.

    A locale may be incomplete here (its text falls back to English); `check_content`
    is the stricter gate that CI runs.
    """
    if path is None:
        return _default_catalog()
    return _load(Path(path))


@cache
def _default_catalog() -> Catalog:
    return _load(DATA_DIR)


def _load(directory: Path) -> Catalog:
    docs = read(directory)
    problems = docs.problems + all_problems(docs.data, locales=())
    if problems:
        more = f" (and {len(problems) - 1} more: run `frontdoor content check`)" if len(problems) > 1 else ""
        raise ContentError(problems[0] + more)
    return Catalog(docs.data)


def check_content(path: Path | None = None) -> list[str]:
    """Every problem in the content, as "file: item: what is wrong"; [] when all is well."""
    docs = read(Path(path) if path is not None else DATA_DIR)
    return docs.problems + all_problems(docs.data, locales=LOCALES)
