"""mailhtml: HTML mail read as text, links kept, in linear time."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontdoor.channels.email import clean as mailclean, html as mailhtml


@pytest.mark.parametrize(
    ("markup", "text", "hrefs"),
    [
        ('<a href="https://example.com/x">label</a>', "label (https://example.com/x)", ["https://example.com/x"]),
        ('<a href="https://example.com/x">https://example.com/x</a>', "https://example.com/x", ["https://example.com/x"]),
        ('<a href="https://example.com/x"><img src="i.png"></a>', "https://example.com/x", ["https://example.com/x"]),
        ("<a title='a > b' href=\"https://example.com/q\">q</a>", "q (https://example.com/q)", ["https://example.com/q"]),
        ("<a href=https://example.com/u>u</a>", "u (https://example.com/u)", ["https://example.com/u"]),
        ('<A HREF = "https://example.com/a b">c</A>', "c (https://example.com/a%20b)", ["https://example.com/a b"]),
        ('<a data-href="https://example.com/no">x</a>', "x", []),
        ('<a href="mailto:x@example.com">m</a><a href="javascript:x()">j</a>', "mj", []),
        ("<p>one</p><p>two<br>three</p><ul><li>a</li><li>b</li></ul>", "one\n\ntwo\nthree\n\n- a\n- b", []),
        ("a &amp; b &lt;c&gt; &eacute; &#233; &#x20AC; &nbsp;x", "a & b <c> é é € \xa0x", []),
        ("<script>https://s.example.com</script><style>x</style><title>t</title>after", "after", []),
        ("<SCRIPT type=x>a</script >b", "b", []),
        ("before<!-- comment -->after<!-- never closed", "beforeafter", []),
        ("<!DOCTYPE html><?xml x?><![CDATA[y]]>text", "text", []),
        ("1 < 2 and 3 <4", "1 < 2 and 3 <4", []),
        ("text <b unclosed tag", "text", []),
        ('<a href="https://example.com/x>unclosed quote', "", []),
        ("<pre>  keep\n  this</pre>", "keep\nthis", []),
        ("<table><tr><td>a</td><td>b</td></tr><tr><th>c</th></tr></table>", "a b\nc", []),
    ],
)
def test_html_to_text(markup: str, text: str, hrefs: list[str]) -> None:
    got_text, got_hrefs = mailhtml.html_to_text(markup, 10_000)
    assert (mailclean.tidy(got_text), got_hrefs) == (text, hrefs)


@given(st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_random_html(markup: str) -> None:
    text, hrefs = mailhtml.html_to_text(markup, 10_000)
    mailclean.clean(text).encode("utf-8")
    assert all(h.lower().startswith(("http://", "https://")) for h in hrefs)
