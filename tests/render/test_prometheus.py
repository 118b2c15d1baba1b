"""Prometheus text: byte-for-byte tests of :func:`render_prometheus`."""
from __future__ import annotations

import decimal
import enum
import math

import pytest

from lovely.ws.status.render.prometheus import (
    escape_label_value,
    format_number,
    render_prometheus,
    render_prometheus_columns,
)

HEAD = "# HELP svc_status Status 0->OK, 1->YELLOW, 2->RED\n# TYPE svc_status untyped\n"
DURATION_HEAD = (
    "# HELP svc_status_duration_seconds "
    "Seconds the last evaluation of the status handler took\n"
    "# TYPE svc_status_duration_seconds gauge\n"
)


class State(str, enum.Enum):
    OK = "OK"
    YELLOW = "YELLOW"


class BadStr:
    def __str__(self):
        raise RuntimeError("no")


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
    ("\u00e9\ud800", "\u00e9\\\\ud800"),
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


def test_prometheus_str_subclass_state_counts_by_its_text():
    items = [("a", {"state": State.YELLOW}), ("b", {"state": State.OK})]
    assert render_prometheus(items) == HEAD + (
        'svc_status{name="a"} 1\n'
        'svc_status{name="b"} 0\n'
    )


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


def test_prometheus_columns_same_text_as_pairs():
    names = ["a", 'q"', "a_x"]
    statuses = [{"state": "OK", "labels": {"x": 1}}, {"state": "RED"}, {"state": "nope"}]
    seconds = [0.5, None, 2.0]
    assert render_prometheus_columns(names, statuses, seconds) == render_prometheus(
        list(zip(names, statuses)), list(zip(names, seconds))
    )
    assert render_prometheus_columns(names, statuses) == render_prometheus(
        list(zip(names, statuses))
    )
    assert render_prometheus_columns((), (), ()) == HEAD + DURATION_HEAD


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
