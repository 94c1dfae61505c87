from __future__ import annotations

import pickle
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontdoor.reports import urls as urls_module
from frontdoor.reports.urls import finder
from frontdoor.reports.urls import MAX_URL_LENGTH, ReportedUrl, UrlError, defang, find_urls, normalize, parse

ONION = "a" * 40 + "234567" + "b" * 10  # 56 base32 characters


def reason(raw: str) -> str:
    with pytest.raises(UrlError) as info:
        parse(raw)
    return info.value.reason


# --- normalization -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.COM:80/a/./b/../c?utm_source=x&id=5#frag", "http://example.com/a/c?id=5"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com:443/x", "https://example.com/x"),
        ("http://example.com:443/x", "http://example.com:443/x"),
        ("https://example.com:8080/x", "https://example.com:8080/x"),
        ("https://example.com:08080/x", "https://example.com:8080/x"),
        ("https://example.com:/x", "https://example.com/x"),
        ("https://www.example.com./page", "https://www.example.com/page"),
        ("https://example.com/Path/With/CASE", "https://example.com/Path/With/CASE"),
        ("https://example.com/a/b/c/./../../g", "https://example.com/a/g"),
        ("https://example.com/../../a", "https://example.com/a"),
        ("https://example.com/a/%2e%2E/b", "https://example.com/b"),
        ("https://example.com/a/..", "https://example.com/"),
        ("https://example.com/%7euser/%41%2f%3a", "https://example.com/~user/A%2F%3A"),
        ("https://example.com/%e2%82%ac", "https://example.com/%E2%82%AC"),
        ("https://example.com/€", "https://example.com/%E2%82%AC"),
        ("https://example.com/a b", "https://example.com/a%20b"),
        ("https://example.com/100%", "https://example.com/100%25"),
        ("https://example.com/a?q=a b&r=ü", "https://example.com/a?q=a%20b&r=%C3%BC"),
        ("https://example.com/?", "https://example.com/"),
        ("https://example.com/?utm_source=x&utm_medium=y", "https://example.com/"),
        ("https://example.com/?b=2&a=1&UTM_Campaign=z&c=3", "https://example.com/?b=2&a=1&c=3"),
        ("https://example.com/x?%75tm_source=a&id=1", "https://example.com/x?id=1"),
        ("https://example.com/x#section-2", "https://example.com/x"),
        ("https://example.com\\a\\b", "https://example.com/a/b"),
        ("https:example.com/x", "https://example.com/x"),
        ("https:///example.com/x", "https://example.com/x"),
        ("https://example.com/a\n/b", "https://example.com/a/b"),
        ("https://ex%61mple.com/", "https://example.com/"),
        ("https://ＥＸＡＭＰＬＥ．com/", "https://example.com/"),
        ("https://sub_domain.example.com/", "https://sub_domain.example.com/"),
        ("https://a.b.c.example.org/", "https://a.b.c.example.org/"),
        ("https://host.test/", "https://host.test/"),
        ("https://host.invalid/", "https://host.invalid/"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "name",
    ["fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid", "_ga",
     "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "rb_clickid", "s_cid",
     "twclid", "ttclid", "si", "utm_anything", "FBCLID"],
)
def test_tracking_parameters_are_removed(name: str) -> None:
    assert normalize(f"https://example.com/p?id=7&{name}=abc&x") == "https://example.com/p?id=7&x"


def test_similar_parameter_names_are_kept() -> None:
    url = "https://example.com/p?size=1&utm=2&gclid_x=3&sid=4"
    assert normalize(url) == url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  https://example.com/a  ", "https://example.com/a"),
        ("<https://example.com/a>", "https://example.com/a"),
        ('"https://example.com/a"', "https://example.com/a"),
        ("'https://example.com/a'", "https://example.com/a"),
        ("\u201chttps://example.com/a\u201d", "https://example.com/a"),
        ('< "https://example.com/a" >', "https://example.com/a"),
    ],
)
def test_wrapping_is_stripped(raw: str, expected: str) -> None:
    result = parse(raw)
    assert result.original == expected
    assert result.normalized == expected


def test_result_fields() -> None:
    result = parse(" HTTPS://WWW.Example.ORG/Page?utm_source=x ")
    assert result == ReportedUrl(
        original="HTTPS://WWW.Example.ORG/Page?utm_source=x",
        normalized="https://www.example.org/Page",
        host="www.example.org",
    )
    assert result.defanged == "hxxps://www[.]example[.]org/Page"


def test_result_is_frozen() -> None:
    result = parse("https://example.com/")
    with pytest.raises(AttributeError):
        result.host = "example.org"  # type: ignore[misc]


# --- hosts ---------------------------------------------------------------------------


def test_idna_host_is_punycode() -> None:
    result = parse("https://bücher.example/")
    assert result.normalized == "https://xn--bcher-kva.example/"
    assert result.host == "xn--bcher-kva.example"
    assert result.original == "https://bücher.example/"


def test_idna_uppercase_and_punycode_input_agree() -> None:
    assert normalize("https://BÜCHER.example/") == normalize("https://xn--bcher-kva.example/")
    assert normalize("https://XN--BCHER-KVA.example/") == "https://xn--bcher-kva.example/"


def test_idna_top_level_domain() -> None:
    assert parse("https://例子.测试/").host == "xn--fsqu00a.xn--0zwm56d"


@pytest.mark.parametrize(
    "raw",
    [
        "https://exa mple.com/",
        "https://example/",
        "https://example.123abc/",
        "https://example.c-m/",
        "https://example..com/",
        "https://.example.com/",
        "https://xn--zz-.example/",
        "https://ex<ample.com/",
        "https://example.com%2fevil.test/",
        "https://" + "a" * 64 + ".example.com/",
        "https://" + ".".join(["a" * 60] * 5) + ".example/",
        "https://\u2603\u200d.example/",
        "https://2001:db8::1/",
        "https://[2001:db8::1/",
        "https://[not-ip]/",
        "https://[3fff::1]x/",
        "https://[fe80::1%25eth0]/",
        "https://1.2.3.4.5/",
        "https://256.1.1.1/",
        "https://08.1.1.1/",
        "https://example.999/",
    ],
)
def test_bad_host(raw: str) -> None:
    assert reason(raw) == "bad_host"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://", "no_host"),
        ("https:///", "no_host"),
        ("https://?q=1", "no_host"),
        ("https://#x", "no_host"),
        ("https://:8080/", "no_host"),
        ("https://user@/x", "no_host"),
        ("https://[]/", "bad_host"),
    ],
)
def test_no_host(raw: str, expected: str) -> None:
    assert reason(raw) == expected


def test_onion_v3_is_accepted() -> None:
    assert parse(f"http://{ONION}.onion/").host == f"{ONION}.onion"
    assert parse(f"http://www.{ONION.upper()}.ONION/x").host == f"www.{ONION}.onion"


@pytest.mark.parametrize(
    "label", ["a" * 20, "a" * 16, "a" * 55, "a" * 57, "a" * 55 + "1", "a" * 55 + "8"]
)
def test_bad_onion(label: str) -> None:
    assert reason(f"http://{label}.onion/") == "bad_onion"


@pytest.mark.parametrize(
    "raw",
    [
        "http://192.168.1.10/",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://127.0.0.1:8080/",
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f.0.0.1/",
        "http://0177.0.0.1/",
        "http://0.0.0.0/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://255.255.255.255/",
        "http://localhost/",
        "http://LOCALHOST:3000/",
        "http://localhost./",
        "http://app.localhost/",
        "http://[::1]/",
        "http://[::]/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[fec0::1]/",
        "http://[ff02::1]/",
        "http://[::ffff:192.168.1.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[64:ff9b::10.0.0.1]/",
        "http://[2001:db8::1]/",
    ],
)
def test_private_addresses_are_rejected(raw: str) -> None:
    assert reason(raw) == "private_address"


@pytest.mark.parametrize(
    ("raw", "host"),
    [
        # Documentation ranges are allowed on purpose (see _ALLOWED_NETWORKS).
        ("http://203.0.113.5/", "203.0.113.5"),
        ("http://192.0.2.1/", "192.0.2.1"),
        ("http://198.51.100.7:8080/", "198.51.100.7"),
        ("http://3405803781/", "203.0.113.5"),
        ("http://0xcb.0.0x71.5/", "203.0.113.5"),
        ("http://[3fff:0:0::1]/", "[3fff::1]"),
        ("http://[3FFF::ABCD]:8443/", "[3fff::abcd]"),
    ],
)
def test_public_ip_literals_are_normalized(raw: str, host: str) -> None:
    assert parse(raw).host == host


def test_ip_normalized_form() -> None:
    assert normalize("http://[3FFF:0000::0001]:80/x") == "http://[3fff::1]/x"


# --- schemes, ports, lengths ---------------------------------------------------------


@pytest.mark.parametrize("raw", ["www.example.com/page", "example.com", "example.com:8080/x", "//example.com/x", "localhost:3000"])
def test_no_scheme(raw: str) -> None:
    with pytest.raises(UrlError) as info:
        parse(raw)
    assert info.value.reason == "no_scheme"
    assert "https://" in info.value.message
    assert "example.com" in info.value.message


@pytest.mark.parametrize(
    "raw",
    ["ftp://example.com/", "javascript:alert(1)", "data:text/plain,hello", "file:///etc/hosts", "mailto:someone@example.com",
     "ws://example.com/", "JAVASCRIPT:void(0)"],
)
def test_bad_scheme(raw: str) -> None:
    assert reason(raw) == "bad_scheme"


@pytest.mark.parametrize("raw", ["http://example.com:0/", "http://example.com:65536/", "http://example.com:80a/", "http://example.com:-1/", "http://example.com:８０/"])
def test_bad_port(raw: str) -> None:
    assert reason(raw) == "bad_port"


def test_highest_port_is_accepted() -> None:
    assert normalize("http://example.com:65535") == "http://example.com:65535/"


@pytest.mark.parametrize("raw", ["", "   ", "\t\n", "<>", '""', "< >"])
def test_empty(raw: str) -> None:
    assert reason(raw) == "empty"


def test_too_long() -> None:
    base = "https://example.com/"
    assert len(normalize(base + "a" * (MAX_URL_LENGTH - len(base)))) == MAX_URL_LENGTH
    assert reason(base + "a" * (MAX_URL_LENGTH - len(base) + 1)) == "too_long"


def test_too_long_after_percent_encoding() -> None:
    # 700 characters in, over 2048 once each becomes %E2%82%AC; must not be accepted only
    # to fail when the normalized form is parsed again.
    assert reason("https://example.com/" + "€" * 700) == "too_long"


def test_url_error_is_a_value_error_with_a_readable_message() -> None:
    with pytest.raises(ValueError) as info:
        parse("http://192.168.1.10/")
    err = info.value
    assert isinstance(err, UrlError)
    assert str(err) == err.message
    assert err.message.startswith("That address points inside a private network, so we could not visit it")
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.reason, copy.message) == (err.reason, err.message)


@pytest.mark.parametrize(
    "raw",
    ["https://user:secret@example.com:0/", "http://192.168.1.10/secret", "https://user:secret@[::1]/", "javascript:secret()",
     "https://secret.example/" + "a" * MAX_URL_LENGTH],
)
def test_error_never_echoes_the_url(raw: str) -> None:
    with pytest.raises(UrlError) as info:
        parse(raw)
    assert "secret" not in str(info.value)
    assert "secret" not in repr(info.value.args)


# --- credentials ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "https://user:pw@example.com/",
        "https://user@example.com/",
        "https://user:p@ss@example.com/",
        "HTTPS://user:pw@Example.com:8443/x?y=1",
        "<https://user:pw@example.com/>",
        "https:user:pw@example.com/",
    ],
)
def test_credentials_are_removed(raw: str) -> None:
    result = parse(raw)
    for text in (result.original, result.normalized, result.host, result.defanged):
        assert "user" not in text
        assert "pw" not in text and "ss@" not in text
        assert "@" not in text


def test_credentials_removed_from_original_keeps_the_rest() -> None:
    assert parse("HTTPS://user:pw@Example.com:8443/x?y=1").original == "HTTPS://Example.com:8443/x?y=1"


def test_at_sign_in_path_is_not_credentials() -> None:
    result = parse("https://example.com/@someone/post")
    assert result.original == "https://example.com/@someone/post"
    assert result.normalized == "https://example.com/@someone/post"


# --- defang ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.example.com/x?y=1", "hxxps://a[.]example[.]com/x?y=1"),
        ("http://example.com/a.b/c.html", "hxxp://example[.]com/a.b/c.html"),
        ("HTTPS://Example.com", "HXXPS://Example[.]com"),
        ("http://203.0.113.5:8080/x.y", "hxxp://203[.]0[.]113[.]5:8080/x.y"),
        ("https://example.com?q=a.b", "hxxps://example[.]com?q=a.b"),
        ("https://example.com#a.b", "hxxps://example[.]com#a.b"),
        ("www.example.com/page.html", "www[.]example[.]com/page.html"),
        ("hxxps://a[.]example[.]com/x", "hxxps://a[.]example[.]com/x"),
    ],
)
def test_defang(url: str, expected: str) -> None:
    assert defang(url) == expected


def test_defang_is_idempotent() -> None:
    once = defang("https://a.b.example.com/x.y")
    assert defang(once) == once


# --- find_urls ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see https://example.com/a.", ["https://example.com/a"]),
        ("(https://example.com/a) and http://example.org/b, ok", ["https://example.com/a", "http://example.org/b"]),
        ("https://example.com/wiki/A_(b)!", ["https://example.com/wiki/A_(b)"]),
        ('"https://example.com/q?x=1&y=2"', ["https://example.com/q?x=1&y=2"]),
        ("'https://example.com/it's'", ["https://example.com/it's"]),
        ("<https://example.com/a>", ["https://example.com/a"]),
        ("[https://example.com/a]", ["https://example.com/a"]),
        ("is it https://example.com/a?", ["https://example.com/a"]),
        ("HTTPS://EXAMPLE.COM/X;", ["HTTPS://EXAMPLE.COM/X"]),
        ("two:https://example.com/1;https://example.com/2", ["https://example.com/1;https://example.com/2"]),
        ("https://bücher.example/seite ok", ["https://bücher.example/seite"]),
        ("https://example.com:8080/x, y", ["https://example.com:8080/x"]),
        ("https://[3fff::1]:8443/a b", ["https://[3fff::1]:8443/a"]),
        ("请访问https://example.com了解更多", ["https://example.com"]),
        ("请访问https://example.com/a。谢谢", ["https://example.com/a"]),
        ("https://example.com,next", ["https://example.com"]),
        ("only http:// here and ftp://example.com", []),
        ("no urls at all, example.com", []),
    ],
)
def test_find_urls(text: str, expected: list[str]) -> None:
    assert find_urls(text) == expected


def test_found_urls_are_substrings_in_order() -> None:
    text = "a https://example.com/1 b http://example.org/2 c https://example.com/1"
    assert find_urls(text) == ["https://example.com/1", "http://example.org/2", "https://example.com/1"]


# --- properties --------------------------------------------------------------------


url_alphabet = st.sampled_from(list("aZ09-._~:/?#[]@!$&'()*+,;=% \t\nü€\u3002<>\"\\"))
urlish = st.builds(
    lambda scheme, host, rest: scheme + host + rest,
    st.sampled_from(["http://", "HTTPS://", "https:", "ftp://", "", "http:///"]),
    st.sampled_from(["example.com", "Example.ORG.", "bücher.example", "[3fff::1]", "203.0.113.5", "user:pw@example.com",
                     "sub.example.test:8080", "127.0.0.1", "localhost", f"{ONION}.onion", "example.com:0", "ex%41mple.com"]),
    st.text(url_alphabet, max_size=40),
)


@settings(max_examples=400)
@given(st.one_of(st.text(max_size=80), urlish))
def test_parse_raises_only_url_error(raw: str) -> None:
    try:
        result = parse(raw)
    except UrlError as err:
        assert err.reason and err.message
        return
    assert result.normalized.startswith(("http://", "https://"))
    assert len(result.normalized) <= MAX_URL_LENGTH


@settings(max_examples=400)
@given(urlish)
def test_normalize_is_idempotent(raw: str) -> None:
    try:
        once = normalize(raw)
    except UrlError:
        return
    assert normalize(once) == once
    assert parse(once).host == parse(raw).host


@given(st.text(max_size=60))
def test_find_urls_returns_substrings(text: str) -> None:
    pos = 0
    for url in find_urls(text):
        assert url.lower().startswith(("http://", "https://"))
        found = text.find(url, pos)
        assert found >= 0
        pos = found + len(url)


def _plain_scan_url(text: str, start: int) -> int:
    """_scan_url as first written, a character at a time."""
    i, n = start, len(text)
    while i < n and finder._host_char(text[i]):
        i += 1
    authority_end = finder._trim_host(text, start, i)
    if authority_end < i:
        return finder._trim_trailing(text, start, authority_end)
    if i < n and text[i] in "/?#":
        while i < n and text[i] in finder._ASCII_URL_CHARS:
            i += 1
    return finder._trim_trailing(text, start, i)


def _plain_find_urls(text: str) -> list[str]:
    """find_urls as first written: the scheme searched for with the obvious pattern, the URL scanned a
    character at a time."""
    found, pos = [], 0
    while (m := re.compile(r"https?://", re.IGNORECASE).search(text, pos)) is not None:
        end = _plain_scan_url(text, m.end())
        if end > m.end():
            found.append(text[m.start():end])
            pos = end
        else:
            pos = m.end()
    return found


@settings(max_examples=500)
@given(st.lists(st.one_of(st.sampled_from(["http://", "https://", "HTTPS://", "hTtP://", "http", "s", "://", "ſ", "x.example",
                                           "/", " ", "。", "(", ")", ".", "bücher", "电话", "\u0301", "<", "`", "\\", "?",
                                           "#", "@", ":8080", "\x7f", "é"]), urlish), max_size=8).map("".join))
def test_find_urls_finds_what_the_plain_scheme_pattern_finds(text: str) -> None:
    # find_urls looks for "://" first (a literal, searched at C speed) and checks the scheme behind it.
    assert find_urls(text) == _plain_find_urls(text)


def test_parse_remembers_good_links_and_refuses_bad_ones_every_time() -> None:
    first = parse("HTTPS://Example.com:443/cached?utm_source=x")
    assert parse("HTTPS://Example.com:443/cached?utm_source=x") is first  # immutable, so shared
    assert first.normalized == "https://example.com/cached"
    for _ in range(2):
        with pytest.raises(UrlError):
            parse("ftp://example.com/never-cached")


@settings(max_examples=400)
@given(st.text(st.sampled_from(list("aZ09-._~!$&'()*+,;=:@/?%Ab ü\ud800#[]")), max_size=20),
       st.sampled_from([urls_module._PATH_SAFE, urls_module._QUERY_SAFE]))
def test_a_component_with_nothing_to_escape_comes_back_as_it_is(text: str, safe: frozenset[str]) -> None:
    # _normalize_component returns a component that is all safe characters at once; otherwise it walks it.
    walked = urls_module._normalize_component(text + "%", safe)[:-3]  # a stray "%" at the end forces the walk
    assert urls_module._normalize_component(text, safe) == walked
