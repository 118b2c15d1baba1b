"""HTML: byte-for-byte tests of :func:`render_html`."""
from __future__ import annotations

import enum
import re

import pytest

from lovely.ws.status.render.html import PageContext, render_html

#: No host and no reloads: a page that is the same on every machine.
PLAIN = PageContext(host=None, refresh=0)


class State(str, enum.Enum):
    OK = "OK"
    YELLOW = "YELLOW"


class BadStr:
    def __str__(self):
        raise RuntimeError("no")


def split(page):
    """The page before, inside and after its <style>."""
    head, rest = page.split("<style>", 1)
    style, body = rest.split("</style>", 1)
    return head, style, body


def test_html_page_byte_for_byte():
    items = [("<a>", {"state": "OK", "detail": 'x & "y"'}), ("b", {"state": "RED"})]
    head, style, body = split(render_html(items, {"<a>": 0.0125, "b": None}, 0, context=PLAIN))
    assert head == (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>RED - service status</title>\n"
    )
    assert "border-top: .4em solid #c5221f;" in style  # the overall state's colour
    assert body == (
        "\n</head>\n<body>\n<header>\n"
        '<h1>Service status <span class="overall" id="overall" data-state="RED">RED'
        "</span></h1>\n"
        '<p class="summary">1 OK, 1 RED</p>\n'
        "</header>\n<table>\n"
        "<thead><tr><th>Handler</th><th>State</th><th>Detail</th><th>Took</th>"
        "</tr></thead>\n<tbody>\n"
        '<tr class="OK" data-state="OK"><td class="name">&lt;a&gt;</td>'
        '<td class="state">OK</td><td class="detail">x &amp; &quot;y&quot;</td>'
        '<td class="seconds"><data value="0.0125">12 ms</data></td></tr>\n'
        '<tr class="RED" data-state="RED"><td class="name">b</td>'
        '<td class="state">RED</td><td class="detail"></td>'
        '<td class="seconds"></td></tr>\n'
        "</tbody>\n</table>\n"
        '<footer>2 handlers; rendered <time datetime="1970-01-01T00:00:00+00:00">'
        "1970-01-01T00:00:00+00:00</time></footer>\n</body>\n</html>\n"
    )


def test_html_empty_is_ok():
    page = render_html([], None, 0, context=PLAIN)
    assert 'data-state="OK">OK</span>' in page
    assert '<p class="summary">No status handlers are registered.</p>' in page
    assert "<table" not in page
    assert "0 handlers;" in page


def test_html_one_handler_singular():
    page = render_html([("a", {"state": "YELLOW"})], timestamp=0)
    assert "1 handler;" in page
    assert 'data-state="YELLOW">YELLOW</span>' in page
    assert "color: #202124; background: #f9ab00; }" in split(page)[1]


@pytest.mark.parametrize("state", [None, "nope", ["OK"], {"a": 1}])
def test_html_invalid_state_is_red(state):
    page = render_html([("a", {"state": state})], timestamp=0)
    assert '<tr class="RED" data-state="RED">' in page
    assert 'data-state="RED">RED</span>' in page


def test_html_escapes_unprintable_and_quotes():
    page = render_html([("'x'", {"state": "OK", "detail": BadStr()})], timestamp=0)
    assert '<td class="name">&#x27;x&#x27;</td>' in page
    assert '<td class="detail">&lt;unprintable BadStr&gt;</td>' in page


def test_html_str_subclass_state_counts_by_its_text():
    page = render_html([("a", {"state": State.YELLOW}), ("b", {"state": State.OK})],
                       timestamp=0)
    assert '<tr class="YELLOW" data-state="YELLOW">' in page
    assert '<tr class="OK" data-state="OK">' in page
    assert 'data-state="YELLOW">YELLOW</span>' in page


@pytest.mark.parametrize("seconds, shown", [
    (0.0001, "&lt;1 ms"), (0.25, "250 ms"), (0.9996, "1.0 s"), (2.5, "2.5 s"),
    (75, "1 min"), (float("nan"), "&lt;1 ms"),
])
def test_how_long_a_handler_took(seconds, shown):
    page = render_html([("a", {"state": "OK"})], {"a": seconds}, 0)
    assert re.search(r'<td class="seconds"><data value="[^"]+">(.*?)</data></td>',
                     page).group(1) == shown


def test_the_page_reloads_itself_every_whole_second_asked_for():
    def refresh(seconds):
        page = render_html([], None, 0, context=PageContext(refresh=seconds))
        found = re.findall(r'<meta http-equiv="refresh" content="([^"]*)">', page)
        return found, page

    assert refresh(10)[0] == ["10"]
    # a browser reads "0.5" as 0, which would reload without a pause
    assert refresh(0.5)[0] == ["1"]
    assert refresh(2.1)[0] == ["3"]
    assert refresh(0) == ([], render_html([], None, 0, context=PageContext(refresh=0)))
    assert "; reloads every 10 s</footer>" in refresh(10)[1]
    assert "reloads" not in refresh(0)[1]
    # by default as the setting's default
    assert re.search(r'<meta http-equiv="refresh" content="10">',
                     render_html([], None, 0))
