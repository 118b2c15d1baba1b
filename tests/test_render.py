"""The renderers are pure functions: byte-for-byte tests."""
from __future__ import annotations

import datetime
import decimal
import json
import math

import pytest

from lovely.ws.status import render
from lovely.ws.status.render import (
    escape_label_value,
    format_number,
    render_csv,
    render_html,
    render_json,
    render_prometheus,
    to_text,
)

HEAD = "# HELP svc_status Status 0->OK, 1->YELLOW, 2->RED\n# TYPE svc_status untyped\n"
DURATION_HEAD = (
    "# HELP svc_status_duration_seconds "
    "Seconds the last evaluation of the status handler took\n"
    "# TYPE svc_status_duration_seconds gauge\n"
)


def test_content_types():
    assert render.CSV_CONTENT_TYPE == "text/csv; charset=UTF-8"
    assert render.JSON_CONTENT_TYPE == "application/json"
    assert render.PROMETHEUS_CONTENT_TYPE == "text/plain; version=0.0.4; charset=UTF-8"
    assert render.HTML_CONTENT_TYPE == "text/html; charset=UTF-8"
    assert render.PROMETHEUS_HELP == "Status 0->OK, 1->YELLOW, 2->RED"


# ---------------------------------------------------------------- to_text


class BadStr:
    def __str__(self):
        raise RuntimeError("no")


def test_to_text():
    assert to_text("x") == "x"
    assert to_text(3) == "3"
    assert to_text(None) == "None"
    assert to_text(BadStr()) == "<unprintable BadStr>"
    assert to_text(10**5000) == "<unprintable int>"


# ---------------------------------------------------------------- CSV


def test_csv_empty():
    assert render_csv([]) == ""


def test_csv_one():
    assert render_csv([("a", {"state": "OK", "detail": "fine"})]) == "a\tOK\tfine"


def test_csv_keeps_the_given_order_and_has_no_final_newline():
    items = [("b", {"state": "RED"}), ("a", {"state": "YELLOW", "detail": "x"})]
    assert render_csv(items) == "b\tRED\t\na\tYELLOW\tx"


def test_csv_missing_state_and_detail_are_empty():
    assert render_csv([("a", {}), ("b", {"detail": "d"})]) == "a\t\t\nb\t\td"


def test_csv_values_are_text():
    items = [(1, {"state": "OK", "detail": 2.5}), ("l", {"state": "OK", "detail": [1]})]
    assert render_csv(items) == "1\tOK\t2.5\nl\tOK\t[1]"


def test_csv_escapes_separators_and_line_breaks():
    detail = "1\r2\x003\u20284\u20295\x856\x7f"
    items = [("a\tb\nc", {"state": "O\tK", "detail": detail})]
    assert render_csv(items) == (
        "a\\tb\\nc\tO\\tK\t1\\r2\\x003\\u20284\\u20295\\x856\\x7f"
    )


def test_csv_keeps_other_unicode():
    items = [("caf\u00e9 \u00a0", {"state": "OK", "detail": "\U0001f600 \u200b"})]
    assert render_csv(items) == "caf\u00e9 \u00a0\tOK\t\U0001f600 \u200b"


def test_csv_does_not_touch_backslashes():
    assert render_csv([("a\\n", {"state": "OK", "detail": "\\t"})]) == "a\\n\tOK\t\\t"


# ---------------------------------------------------------------- JSON


def test_json_plain():
    assert render_json({}) == "{}"
    assert render_json({"a": {"state": "OK", "n": [1, 2.5, None, True]}}) == (
        '{"a":{"state":"OK","n":[1,2.5,null,true]}}'
    )


def test_json_unicode_is_escaped_ascii():
    assert render_json({"\u00e9": {"state": "OK"}}) == '{"\\u00e9":{"state":"OK"}}'


def test_json_converts_what_json_cannot_encode():
    data = {"a": {
        "dt": datetime.datetime(2024, 1, 2, 3, 4, 5),
        "d": datetime.date(2024, 1, 2),
        "t": datetime.time(3, 4, 5),
        "dec": decimal.Decimal("0.10"),
        "s": {1},
        "fs": frozenset(["x"]),
        "e": ValueError("boom"),
        "e0": ValueError(),
        "b": b"\x00ab",
        "o": BadStr(),
    }}
    assert json.loads(render_json(data)) == {"a": {
        "dt": "2024-01-02T03:04:05",
        "d": "2024-01-02",
        "t": "03:04:05",
        "dec": "0.10",
        "s": [1],
        "fs": ["x"],
        "e": "ValueError: boom",
        "e0": "ValueError",
        "b": "\x00ab",
        "o": "<unprintable BadStr>",
    }}


def test_json_slow_path_keys_nan_cycles():
    cycle = []
    cycle.append(cycle)
    data = {"a": {(1, "x"): 1, None: 2, 3: [float("nan"), float("-inf")], "c": cycle}}
    assert render_json(data) == (
        '{"a":{"(1, \'x\')":1,"None":2,"3":["nan","-inf"],'
        '"c":["<recursion>"]}}'
    )


def test_json_not_a_cycle_twice_is_fine():
    shared = {"x": 1}
    data = {"a": {"one": shared, "two": shared, "nan": float("nan")}}
    assert json.loads(render_json(data)) == {
        "a": {"one": {"x": 1}, "two": {"x": 1}, "nan": "nan"}
    }


def test_json_very_deep():
    deep = []
    for _ in range(5000):
        deep = [deep]
    text = render_json({"a": {"state": "OK", "deep": deep}})
    assert json.loads(text)["a"]["state"] == "OK"
    # Older Pythons' C encoder gives up (RecursionError) and the slow path
    # cuts the nesting; Python 3.13's encodes all of it.
    assert "<too deep>" in text or text.count("[") == 5001


def test_json_huge_int():
    text = render_json({"a": {"n": 10**5000, "m": 7}})
    assert json.loads(text) == {"a": {"n": "<unprintable int>", "m": 7}}


def test_json_non_string_names():
    assert json.loads(render_json({1: {"state": "OK"}, ("t",): {"state": "OK"}})) == {
        "1": {"state": "OK"}, "('t',)": {"state": "OK"}
    }


def test_json_does_not_modify_its_input():
    status = {"state": "OK", "s": {1}, "k": {(1,): 2}, "nan": float("nan")}
    before = repr(status)
    render_json({"a": status})
    assert repr(status) == before


# ---------------------------------------------------------------- Prometheus


@pytest.mark.parametrize("value, text", [
    ("plain", "plain"),
    ('a"b', 'a\\"b'),
    ("a\\b", "a\\\\b"),
    ("a\nb", "a\\nb"),
    ('\\"\n', '\\\\\\"\\n'),
    ("tab\tcr\r", "tab\tcr\r"),
    ("caf\u00e9", "caf\u00e9"),
    ("", ""),
    (42, "42"),
    ("\ud800", "\\\\ud800"),
])
def test_escape_label_value(value, text):
    assert escape_label_value(value) == text


@pytest.mark.parametrize("value, text", [
    (0, "0"),
    (7, "7"),
    (-3, "-3"),
    (True, "1"),
    (False, "0"),
    (0.5, "0.5"),
    (1e21, "1e+21"),
    (float("nan"), "NaN"),
    (float("inf"), "+Inf"),
    (float("-inf"), "-Inf"),
    ("2.5", "2.5"),
    ("nope", "NaN"),
    (None, "NaN"),
    ([1], "NaN"),
    (decimal.Decimal("1.5"), "1.5"),
    (10**30, "1000000000000000000000000000000"),
    pytest.param(10**5000, "+Inf", id="huge"),
    pytest.param(-(10**5000), "-Inf", id="-huge"),
    (BadStr(), "NaN"),
])
def test_format_number(value, text):
    assert format_number(value) == text


def test_prometheus_empty():
    assert render_prometheus([]) == HEAD


def test_prometheus_samples_in_the_given_order():
    items = [
        ("b", {"state": "YELLOW"}), ("a", {"state": "OK"}), ("c", {"state": "RED"})
    ]
    assert render_prometheus(items) == HEAD + (
        'svc_status{name="b"} 1\n'
        'svc_status{name="a"} 0\n'
        'svc_status{name="c"} 2\n'
    )


@pytest.mark.parametrize("state", [None, "GREEN", "ok", ["OK"], {"x": 1}, 0])
def test_prometheus_invalid_state_is_red(state):
    red = HEAD + 'svc_status{name="a"} 2\n'
    assert render_prometheus([("a", {"state": state})]) == red
    assert render_prometheus([("a", {})]) == red


def test_prometheus_labels():
    items = [
        ("a", {"state": "OK", "labels": {"x": 1, "y": 2.5, "z": "3", "w": None}}),
        ("b", {"state": "RED", "labels": {}}),
    ]
    assert render_prometheus(items) == HEAD + (
        'svc_status{name="a"} 0\n'
        'svc_status{name="a_x"} 1\n'
        'svc_status{name="a_y"} 2.5\n'
        'svc_status{name="a_z"} 3\n'  # a numeric string as it is, as in 1.0
        'svc_status{name="a_w"} NaN\n'
        'svc_status{name="b"} 2\n'
    )


@pytest.mark.parametrize("labels", [[("x", 1)], "x", 3, ("x",), {"x"}])
def test_prometheus_labels_not_a_dict(labels):
    items = [("a", {"state": "OK", "labels": labels})]
    assert render_prometheus(items) == HEAD + 'svc_status{name="a"} 0\n'


def test_prometheus_label_samples_never_repeat_a_name():
    items = [
        ("a", {"state": "OK", "labels": {"b": 1, "c": 2}}),
        ("a_b", {"state": "RED", "labels": {"x": 3}}),
        ("d", {"state": "OK", "labels": {"": 4}}),
        ("d_", {"state": "YELLOW"}),
        ("e", {"state": "OK", "labels": {1: 5, "1": 6}}),
    ]
    assert render_prometheus(items) == HEAD + (
        'svc_status{name="a"} 0\n'
        'svc_status{name="a_c"} 2\n'
        'svc_status{name="a_b"} 2\n'
        'svc_status{name="a_b_x"} 3\n'
        'svc_status{name="d"} 0\n'
        'svc_status{name="d_"} 1\n'
        'svc_status{name="e"} 0\n'
        'svc_status{name="e_1"} 5\n'
    )


def test_prometheus_escapes_names_and_label_names():
    items = [('q"\\\n', {"state": "OK", "labels": {'"': 1}})]
    assert render_prometheus(items) == HEAD + (
        'svc_status{name="q\\"\\\\\\n"} 0\n'
        'svc_status{name="q\\"\\\\\\n_\\""} 1\n'
    )


def test_prometheus_durations():
    items = [("a", {"state": "OK"}), ("b", {"state": "RED"})]
    text = render_prometheus(items, [("a", 0.25), ("b", None), ('"', 1e-06)])
    assert text == HEAD + (
        'svc_status{name="a"} 0\n'
        'svc_status{name="b"} 2\n'
    ) + DURATION_HEAD + (
        'svc_status_duration_seconds{name="a"} 0.250000000\n'
        'svc_status_duration_seconds{name="\\""} 0.000001000\n'
    )


def test_prometheus_durations_empty():
    assert render_prometheus([], []) == HEAD + DURATION_HEAD


def test_prometheus_does_not_modify_labels():
    labels = {"x": 1, "y": "z"}
    status = {"state": "OK", "labels": labels}
    render_prometheus([("a", status), ("a_x", {"state": "OK"})])
    assert status == {"state": "OK", "labels": {"x": 1, "y": "z"}}


def test_prometheus_accepted_by_the_parser():
    parser = pytest.importorskip("prometheus_client.parser")
    items = [
        ('a"\\\nb', {"state": "OK", "labels": {"n": 1.5, "bad": "x"}}),
        ("", {"state": "YELLOW"}),
        ("\u00e9\U0001f600", {"state": "RED"}),
    ]
    text = render_prometheus(items, [(n, 0.5) for n, _ in items])
    families = {f.name: f for f in parser.text_string_to_metric_families(text)}
    samples = [(s.name, s.labels, s.value) for s in families["svc_status"].samples]
    assert samples[:4] == [
        ("svc_status", {"name": 'a"\\\nb'}, 0.0),
        ("svc_status", {"name": 'a"\\\nb_n'}, 1.5),
        ("svc_status", {"name": 'a"\\\nb_bad'}, samples[2][2]),
        ("svc_status", {"name": ""}, 1.0),
    ]
    assert math.isnan(samples[2][2])
    assert samples[4] == ("svc_status", {"name": "\u00e9\U0001f600"}, 2.0)
    assert len(families["svc_status_duration_seconds"].samples) == 3


# ---------------------------------------------------------------- HTML


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
