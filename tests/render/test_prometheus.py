"""Prometheus and OpenMetrics text: byte-for-byte tests of the exposition."""
from __future__ import annotations

import decimal
import enum
import math

import pytest

from lovely.ws.status.render.prometheus import (
    escape_label_value,
    format_number,
    render_exposition,
    render_prometheus,
    render_prometheus_columns,
)

HEAD = "# HELP svc_status Status 0->OK, 1->YELLOW, 2->RED\n# TYPE svc_status untyped\n"
OM_HEAD = "# HELP svc_status Status 0->OK, 1->YELLOW, 2->RED\n# TYPE svc_status unknown\n"
LABEL_HEAD = (
    "# HELP svc_status_label A number from the labels of the status handler's result\n"
    "# TYPE svc_status_label untyped\n"
)
DURATION_HEAD = (
    "# HELP svc_status_duration_seconds "
    "Seconds the last evaluation of the status handler took\n"
    "# TYPE svc_status_duration_seconds gauge\n"
)
CHECKS_HELP = "Evaluations of the status handler by the state they ended in"
PROBE_HEAD = (
    "# HELP svc_status_probe "
    "1 while /probe_status answers OK, 0 while the instance is out of rotation\n"
    "# TYPE svc_status_probe gauge\n"
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


def test_sorted_by_name():
    names = ["b", "a", "c"]
    statuses = [{"state": "YELLOW"}, {"state": "OK"}, {"state": "RED"}]
    assert render_exposition(names, statuses, [0.5, 0.25, None], sort=True) == HEAD + (
        'svc_status{name="a"} 0\n'
        'svc_status{name="b"} 1\n'
        'svc_status{name="c"} 2\n'
    ) + DURATION_HEAD + (
        'svc_status_duration_seconds{name="a"} 0.250000000\n'
        'svc_status_duration_seconds{name="b"} 0.500000000\n'
    )


@pytest.mark.parametrize("state", [None, "GREENISH", ["OK"], {"x": 1}, 0])
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


def test_labels_have_a_family_of_their_own():
    items = [
        ("a", {"state": "OK", "labels": {"x": 1, "y": 2.5, "z": "3", "w": None}}),
        ("b", {"state": "RED", "labels": {}}),
        ("c", {"state": "YELLOW", "labels": {"q": 2}}),
    ]
    assert render_prometheus(items) == HEAD + (
        'svc_status{name="a"} 0\n'
        'svc_status{name="b"} 2\n'
        'svc_status{name="c"} 1\n'
    ) + LABEL_HEAD + (
        'svc_status_label{name="a",label="x"} 1\n'
        'svc_status_label{name="a",label="y"} 2.5\n'
        'svc_status_label{name="a",label="z"} 3\n'  # a numeric string as it is, as in 1.0
        'svc_status_label{name="a",label="w"} NaN\n'
        'svc_status_label{name="c",label="q"} 2\n'
    )


def test_labels_in_1_0_layout():
    items = [
        ("a", {"state": "OK", "labels": {"x": 1, "y": 2.5, "z": "3", "w": None}}),
        ("b", {"state": "RED", "labels": {}}),
    ]
    assert render_prometheus(items, label_family=False) == HEAD + (
        'svc_status{name="a"} 0\n'
        'svc_status{name="a_x"} 1\n'
        'svc_status{name="a_y"} 2.5\n'
        'svc_status{name="a_z"} 3\n'
        'svc_status{name="a_w"} NaN\n'
        'svc_status{name="b"} 2\n'
    )


@pytest.mark.parametrize("labels", [[("x", 1)], "x", 3, ("x",), {"x"}])
@pytest.mark.parametrize("family", [True, False])
def test_prometheus_labels_not_a_dict(labels, family):
    items = [("a", {"state": "OK", "labels": labels})]
    assert render_prometheus(items, label_family=family) == HEAD + 'svc_status{name="a"} 0\n'


def test_label_keys_with_the_same_text_give_one_sample():
    items = [("e", {"state": "OK", "labels": {1: 5, "1": 6}})]
    assert render_prometheus(items) == HEAD + 'svc_status{name="e"} 0\n' + LABEL_HEAD + (
        'svc_status_label{name="e",label="1"} 5\n'
    )


def test_1_0_layout_never_repeats_a_name():
    items = [
        ("a", {"state": "OK", "labels": {"b": 1, "c": 2}}),
        ("a_b", {"state": "RED", "labels": {"x": 3}}),
        ("d", {"state": "OK", "labels": {"": 4}}),
        ("d_", {"state": "YELLOW"}),
        ("e", {"state": "OK", "labels": {1: 5, "1": 6}}),
    ]
    assert render_prometheus(items, label_family=False) == HEAD + (
        'svc_status{name="a"} 0\n'
        'svc_status{name="a_c"} 2\n'
        'svc_status{name="a_b"} 2\n'
        'svc_status{name="a_b_x"} 3\n'
        'svc_status{name="d"} 0\n'
        'svc_status{name="d_"} 1\n'
        'svc_status{name="e"} 0\n'
        'svc_status{name="e_1"} 5\n'
    )


def test_names_with_the_same_text_give_one_sample_of_the_worst_state():
    # 1 and "1" in STATUS_HANDLERS (set directly, addStatusHandler refuses 1)
    for order in ([(1, "RED"), ("1", "OK")], [("1", "OK"), (1, "RED")]):
        names = [name for name, _ in order]
        statuses = [{"state": state} for _, state in order]
        assert render_exposition(names, statuses, [0.5, 0.25]) == HEAD + (
            'svc_status{name="1"} 2\n'
        ) + DURATION_HEAD + (
            f'svc_status_duration_seconds{{name="1"}} '
            f'{"0.500000000" if order[0][0] == 1 else "0.250000000"}\n'
        )


def test_prometheus_escapes_names_and_label_names():
    items = [('q"\\\n', {"state": "OK", "labels": {'"': 1}})]
    assert render_prometheus(items) == HEAD + (
        'svc_status{name="q\\"\\\\\\n"} 0\n'
    ) + LABEL_HEAD + 'svc_status_label{name="q\\"\\\\\\n",label="\\""} 1\n'
    assert render_prometheus(items, label_family=False) == HEAD + (
        'svc_status{name="q\\"\\\\\\n"} 0\n'
        'svc_status{name="q\\"\\\\\\n_\\""} 1\n'
    )


def test_prometheus_durations():
    items = [("a", {"state": "OK"}), ("b", {"state": "RED"}), ('"', {"state": "OK"})]
    text = render_prometheus(items, [("a", 0.25), ("b", None), ('"', 1e-06)])
    assert text == HEAD + (
        'svc_status{name="a"} 0\n'
        'svc_status{name="b"} 2\n'
        'svc_status{name="\\""} 0\n'
    ) + DURATION_HEAD + (
        'svc_status_duration_seconds{name="a"} 0.250000000\n'
        'svc_status_duration_seconds{name="\\""} 0.000001000\n'
    )


@pytest.mark.parametrize("value, text", [
    (2, "2.000000000"),
    (float("nan"), "NaN"),
    (float("inf"), "+Inf"),
    (-0.5, "-0.5"),
    (1e16, "1e+16"),
    (decimal.Decimal("0.5"), "0.5"),
])
def test_durations_that_are_no_plain_seconds(value, text):
    line = f'svc_status_duration_seconds{{name="a"}} {text}\n'
    for cache in (None, {}):
        assert render_exposition(["a", "b"], [{"state": "OK"}] * 2, [value, 0.5],
                                 cache=cache).endswith(
            DURATION_HEAD + line + 'svc_status_duration_seconds{name="b"} 0.500000000\n')


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
    render_prometheus([("a", status), ("a_x", {"state": "OK"})], label_family=False)
    render_prometheus([("a", status)])
    assert status == {"state": "OK", "labels": {"x": 1, "y": "z"}}


# ---------------------------------------------------------------- counters, probe


SERIES = (("a", "OK", 1700000000.5), ("a", "RED", 1700000100.25), ('b"', "OK", 1700000000.5))


def test_checks_and_probe_in_text():
    text = render_exposition(["a"], [{"state": "OK"}], checks=(SERIES, [3, 1, 4]), probe=True)
    assert text == HEAD + 'svc_status{name="a"} 0\n' + (
        f"# HELP svc_status_checks_total {CHECKS_HELP}\n"
        "# TYPE svc_status_checks_total counter\n"
        'svc_status_checks_total{name="a",state="OK"} 3\n'
        'svc_status_checks_total{name="a",state="RED"} 1\n'
        'svc_status_checks_total{name="b\\"",state="OK"} 4\n'
        f"# HELP svc_status_checks_created {CHECKS_HELP}\n"
        "# TYPE svc_status_checks_created gauge\n"
        'svc_status_checks_created{name="a",state="OK"} 1700000000.5\n'
        'svc_status_checks_created{name="a",state="RED"} 1700000100.25\n'
        'svc_status_checks_created{name="b\\"",state="OK"} 1700000000.5\n'
    ) + PROBE_HEAD + "svc_status_probe 1\n"


def test_checks_without_created_and_probe_down():
    text = render_exposition([], [], checks=(SERIES[:1], [3]), created=False, probe=False)
    assert text == HEAD + (
        f"# HELP svc_status_checks_total {CHECKS_HELP}\n"
        "# TYPE svc_status_checks_total counter\n"
        'svc_status_checks_total{name="a",state="OK"} 3\n'
    ) + PROBE_HEAD + "svc_status_probe 0\n"


def test_checks_of_no_handler():
    assert render_exposition([], [], checks=((), [])) == HEAD


def test_openmetrics():
    names = ["b", "a"]
    statuses = [{"state": "RED"}, {"state": "OK", "labels": {"n": 7}}]
    text = render_exposition(names, statuses, [0.5, 0.25], sort=True, openmetrics=True,
                             checks=(SERIES[:2], [3, 1]), probe=True)
    assert text == OM_HEAD + (
        'svc_status{name="a"} 0\n'
        'svc_status{name="b"} 2\n'
        "# HELP svc_status_label A number from the labels of the status handler's result\n"
        "# TYPE svc_status_label unknown\n"
        'svc_status_label{name="a",label="n"} 7\n'
    ) + DURATION_HEAD + (
        "# UNIT svc_status_duration_seconds seconds\n"
        'svc_status_duration_seconds{name="a"} 0.250000000\n'
        'svc_status_duration_seconds{name="b"} 0.500000000\n'
        f"# HELP svc_status_checks {CHECKS_HELP}\n"
        "# TYPE svc_status_checks counter\n"
        'svc_status_checks_total{name="a",state="OK"} 3\n'
        'svc_status_checks_created{name="a",state="OK"} 1700000000.5\n'
        'svc_status_checks_total{name="a",state="RED"} 1\n'
        'svc_status_checks_created{name="a",state="RED"} 1700000100.25\n'
    ) + PROBE_HEAD + "svc_status_probe 1\n"
    without = render_exposition([], [], openmetrics=True, checks=(SERIES[:1], [3]),
                                created=False)
    assert without == OM_HEAD + (
        f"# HELP svc_status_checks {CHECKS_HELP}\n"
        "# TYPE svc_status_checks counter\n"
        'svc_status_checks_total{name="a",state="OK"} 3\n'
    )


@pytest.mark.parametrize("counts, shown", [([2.0], "2.0"), (["x"], "NaN"), ([True], "1")])
def test_counts_that_are_no_ints(counts, shown):
    text = render_exposition([], [], checks=(SERIES[:1], counts), created=False, cache={})
    assert text.endswith(f'svc_status_checks_total{{name="a",state="OK"}} {shown}\n')


# ---------------------------------------------------------------- the cache


def test_the_cache_gives_the_same_text():
    names = ["b", "a", '%d "q"', "c%"]
    ok = [{"state": "OK"}, {"state": "YELLOW"}, {"state": "RED"}, {"state": "OK"}]
    other = [{"state": "RED"}, {"state": "OK", "labels": {"x": 1}}, {}, {"state": "ok"}]
    seconds = [0.1, 0.2, 0.3, 0.4]
    cache = {}
    odd_series = SERIES + (("100%", "OK", 1.5), ("%d%%", "RED", None))
    for statuses, durations in [(ok, seconds), (other, seconds), (ok, [None] * 4), (ok, seconds)]:
        for openmetrics in (False, True):
            for checks in (None, (SERIES, [1, 2, 3]), (SERIES, [4, 5, 6]),
                           (odd_series, [1, 2, 3, 4, 5]), (odd_series, [1, 2, 3, 4, 5.5])):
                kwargs = dict(sort=True, openmetrics=openmetrics, checks=checks)
                assert render_exposition(names, statuses, durations, cache=cache, **kwargs) == \
                    render_exposition(names, statuses, durations, **kwargs)
    assert "layout" in cache and "checks" in cache
    # other names: the cache follows
    assert render_exposition(["z"], [{"state": "OK"}], cache=cache) == (
        HEAD + 'svc_status{name="z"} 0\n')


def test_names_that_are_no_text_are_not_cached():
    cache = {}
    render_exposition([1, "1"], [{"state": "OK"}, {"state": "RED"}], cache=cache)
    assert "layout" not in cache


# ---------------------------------------------------------------- the parsers


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
    assert samples == [
        ("svc_status", {"name": 'a"\\\nb'}, 0.0),
        ("svc_status", {"name": ""}, 1.0),
        ("svc_status", {"name": "\u00e9\U0001f600"}, 2.0),
    ]
    labels = [(s.labels, s.value) for s in families["svc_status_label"].samples]
    assert labels[0] == ({"name": 'a"\\\nb', "label": "n"}, 1.5)
    assert labels[1][0] == {"name": 'a"\\\nb', "label": "bad"}
    assert math.isnan(labels[1][1])
    assert len(families["svc_status_duration_seconds"].samples) == 3


def test_openmetrics_accepted_by_the_parser():
    parser = pytest.importorskip("prometheus_client.openmetrics.parser")
    names = ['a"\\\nb', "", "x"]
    statuses = [{"state": "OK", "labels": {"n": 1.5}}, {"state": "YELLOW"}, {"state": "RED"}]
    text = render_exposition(names, statuses, [0.5, 0.25, 1.0], openmetrics=True,
                             checks=(SERIES, [3, 1, 4]), probe=False) + "# EOF\n"
    families = {f.name: f for f in parser.text_string_to_metric_families(text)}
    assert families["svc_status"].type == "unknown"
    assert [s.value for s in families["svc_status"].samples] == [0.0, 1.0, 2.0]
    assert families["svc_status_duration_seconds"].unit == "seconds"
    checks = families["svc_status_checks"]
    assert checks.type == "counter"
    assert [(s.name, s.labels["state"], s.value) for s in checks.samples] == [
        ("svc_status_checks_total", "OK", 3.0),
        ("svc_status_checks_created", "OK", 1700000000.5),
        ("svc_status_checks_total", "RED", 1.0),
        ("svc_status_checks_created", "RED", 1700000100.25),
        ("svc_status_checks_total", "OK", 4.0),
        ("svc_status_checks_created", "OK", 1700000000.5),
    ]
    assert [s.value for s in families["svc_status_probe"].samples] == [0.0]
