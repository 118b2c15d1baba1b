"""HTML: byte-for-byte tests of :func:`render_html`."""
from __future__ import annotations

import enum

import pytest

from lovely.ws.status.render.html import render_html


class State(str, enum.Enum):
    OK = "OK"
    YELLOW = "YELLOW"


class BadStr:
    def __str__(self):
        raise RuntimeError("no")


def test_html_page_byte_for_byte():
    items = [("<a>", {"state": "OK", "detail": 'x & "y"'}), ("b", {"state": "RED"})]
    page = render_html(items, {"<a>": 0.0125, "b": None}, 0)
    assert page == (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>RED - service status</title>\n<style>\n"
        "body { font: 15px/1.4 system-ui, sans-serif; margin: 2em auto; "
        "max-width: 60em;\n"
        "  padding: 0 1em; color: #202124; }\n"
        "h1 { font-size: 1.4em; }\n"
        ".overall { display: inline-block; padding: .2em .8em; border-radius: 1em;\n"
        "  color: #fff; background: #d93025; }\n"
        "table { border-collapse: collapse; width: 100%; margin-top: 1em; }\n"
        "th, td { text-align: left; padding: .4em .6em; "
        "border-bottom: 1px solid #dadce0;\n"
        "  vertical-align: top; }\n"
        "td.detail { white-space: pre-wrap; word-break: break-word; }\n"
        "tr.OK td.state { color: #1e8e3e; } tr.OK { background: #e6f4ea; }\n"
        "tr.YELLOW td.state { color: #f9ab00; } tr.YELLOW { background: #fef7e0; }\n"
        "tr.RED td.state { color: #d93025; } tr.RED { background: #fce8e6; }\n"
        "td.state { font-weight: bold; }\n"
        "footer { margin-top: 1em; color: #5f6368; font-size: .9em; }\n"
        "</style>\n</head>\n<body>\n"
        '<h1>Service status <span class="overall" id="overall" data-state="RED">RED'
        "</span></h1>\n<table>\n"
        "<thead><tr><th>Handler</th><th>State</th><th>Detail</th><th>Seconds</th>"
        "</tr></thead>\n<tbody>\n"
        '<tr class="OK" data-state="OK"><td class="name">&lt;a&gt;</td>'
        '<td class="state">OK</td><td class="detail">x &amp; &quot;y&quot;</td>'
        '<td class="seconds">0.013</td></tr>\n'
        '<tr class="RED" data-state="RED"><td class="name">b</td>'
        '<td class="state">RED</td><td class="detail"></td>'
        '<td class="seconds"></td></tr>\n'
        "</tbody>\n</table>\n"
        '<footer>2 handlers; rendered <time datetime="1970-01-01T00:00:00+00:00">'
        "1970-01-01T00:00:00+00:00</time></footer>\n</body>\n</html>\n"
    )


def test_html_empty_is_ok():
    page = render_html([], None, 0)
    assert 'data-state="OK">OK</span>' in page
    assert "<tbody>\n\n</tbody>" in page
    assert "0 handlers;" in page


def test_html_one_handler_singular():
    page = render_html([("a", {"state": "YELLOW"})], timestamp=0)
    assert "1 handler;" in page
    assert 'data-state="YELLOW">YELLOW</span>' in page
    assert "background: #f9ab00;" in page


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
