"""The one template environment: every HTML page frontdoor renders comes from here.

Autoescaping is on for every template, and each page's folder is one loader among a few, so a page
added by a channel (or, later, the analyst console) cannot come with a different set of filters or
escaping rules. Templates name their folder: `web/report_form.html`.
"""

from __future__ import annotations

import re

import aiohttp_jinja2
import jinja2
from aiohttp import web

# Folder name -> (package, directory) of the templates it holds.
FOLDERS = {"web": ("frontdoor.channels.web", "templates")}


def setup(app: web.Application) -> jinja2.Environment:
    loader = jinja2.PrefixLoader({name: jinja2.PackageLoader(package, path) for name, (package, path) in FOLDERS.items()})
    env = aiohttp_jinja2.setup(app, loader=loader, autoescape=True)
    env.filters["plain"] = plain
    return env


def plain(markdown: str) -> str:
    """A resource body's short Markdown as plain text: link labels kept, emphasis markers dropped."""
    text = re.sub(r"\[([^\]]+)\]\((?:https?://|tel:)[^)]+\)", r"\1", markdown)
    return re.sub(r"(\*\*|__|\*|_)(\S(?:.*?\S)?)\1", r"\2", text)
