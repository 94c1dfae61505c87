"""The OpenAPI document's rules against the code that applies them: what the pattern promises the
URL parser takes, and "blank" is what build_report strips. (The whole document against the running
server: tests/api/test_schemathesis.py.)"""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import given, settings, strategies as st

from frontdoor.api.openapi_rules import NOT_BLANK, URL_PATTERN
from frontdoor.reports import urls
from frontdoor.reports.build import BLANK_CHARS


@settings(max_examples=300, deadline=None)
@given(st.from_regex(URL_PATTERN, fullmatch=True))
def test_every_address_of_the_documented_form_is_accepted(url):
    assert urls.parse(url).normalized


@pytest.mark.parametrize("url", ["https://a.localhost", "http://x.onion", "ftp://example.com", "https://example",
                                 "https://127.0.0.1/", "https://xn--a.example", "https://a..example"])
def test_addresses_the_parser_refuses_are_not_of_the_documented_form(url):
    with pytest.raises(urls.UrlError):
        urls.parse(url)
    assert re.search(URL_PATTERN, url) is None


def test_blank_is_what_str_strip_removes_and_a_bom():
    spaces = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
    assert BLANK_CHARS == spaces + "\ufeff"
    assert all(re.search(NOT_BLANK, c) is None for c in BLANK_CHARS)
    assert re.search(NOT_BLANK, " \u3000x\t")
