"""JSON: byte-for-byte tests of :func:`render_json`."""
from __future__ import annotations

import datetime
import decimal
import json

from lovely.ws.status.render.json import render_json


class BadStr:
    def __str__(self):
        raise RuntimeError("no")


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
