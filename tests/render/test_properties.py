"""Property tests: any handler names and any results, every format answers.

Whatever the handlers are called and whatever they return or raise, every
format answers 200; CSV has one line per handler, JSON one key per handler,
and the Prometheus and OpenMetrics texts parse (with ``prometheus_client``'s
parsers, and ``promtool``) into exactly one ``svc_status`` sample per
handler, one ``svc_status_label`` sample per distinct label, one duration
per handler and one check counter per handler.
"""
from __future__ import annotations

import datetime
import decimal
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyramid.config import Configurator
from webtest import TestApp

from lovely.ws.status import GREEN, OK, RED, STATUS_HANDLERS, YELLOW, addStatusHandler
from lovely.ws.status.states import checked
from lovely.ws.status.text import to_text

from ..servers import need_binary

parser = pytest.importorskip("prometheus_client.parser")
om_parser = pytest.importorskip("prometheus_client.openmetrics.parser")

VALID = (OK, YELLOW, RED)
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: What Prometheus 2.42 sends when it scrapes.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def app():
    """A new app: its check counters start at zero."""
    config = Configurator()
    config.include("lovely.ws.status.svcstatus")
    return TestApp(config.make_wsgi_app())


class Thing:
    def __init__(self, text):
        self.text = text

    def __str__(self):
        return self.text

    def __repr__(self):
        return f"Thing({self.text!r})"


class Broken:
    def __str__(self):
        raise RuntimeError("no str")

    def __repr__(self):
        return "Broken()"


class Handler:
    """Returns ``value``, or raises it when ``raises``."""

    def __init__(self, value, raises=False):
        self.value = value
        self.raises = raises

    def __call__(self):
        if self.raises:
            raise self.value
        return self.value

    def __repr__(self):
        return f"Handler({self.value!r}, raises={self.raises})"


# ---------------------------------------------------------------- strategies

hostile_names = st.sampled_from([
    "", '"', "\\", "\n", 'a"b\\c\nd', "\\n", "tab\t", "\r\n", "\u2028", "\x85",
    "\u00e9\u00e8", "\U0001f600", "db", "db_x", "x_1", "{}=,#",
])
names = st.one_of(st.text(), hostile_names)

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)

non_json = st.one_of(
    st.datetimes(),
    st.dates(),
    st.decimals(allow_nan=True),
    st.sets(st.integers(), max_size=3),
    st.frozensets(st.text(max_size=3), max_size=2),
    st.builds(Thing, st.text(max_size=10)),
    st.just(Broken()),
    st.builds(ValueError, st.text(max_size=10)),
    st.binary(max_size=5),
    st.tuples(st.integers(), st.text(max_size=3)),
    st.dictionaries(st.tuples(st.integers()), st.integers(), max_size=2),
    st.sampled_from([float("nan"), float("inf"), float("-inf")]),
    st.just(datetime.timezone.utc),
    st.just(decimal.Decimal("1e-7")),
)
anything = st.one_of(json_like, non_json)

labels = st.one_of(
    st.dictionaries(
        st.one_of(st.text(max_size=5), st.integers(), hostile_names),
        st.one_of(st.integers(), st.floats(), st.text(max_size=5), st.none(),
                  st.booleans(), st.decimals(allow_nan=True)),
        max_size=4,
    ),
    st.lists(st.integers(), max_size=2),
    st.text(max_size=3),
    st.none(),
)

states = st.one_of(
    st.sampled_from([OK, GREEN, YELLOW, RED]),
    st.sampled_from(["ok", "GREEN", "", "BLUE"]),
    st.none(),
    st.integers(),
    st.lists(st.text(max_size=2), max_size=2),
)


@st.composite
def statuses(draw):
    status = {"state": draw(states)}
    if draw(st.booleans()):
        status["detail"] = draw(st.one_of(st.text(), anything))
    if draw(st.booleans()):
        status["labels"] = draw(labels)
    for key in draw(st.lists(st.text(max_size=5), max_size=2)):
        status.setdefault(key, draw(anything))
    if not draw(st.integers(0, 9)):  # now and then, no state at all
        del status["state"]
    return status


handlers = st.one_of(
    statuses().map(Handler),
    statuses().map(Handler),
    anything.map(Handler),  # not a dict at all
    st.builds(
        lambda exc: Handler(exc, raises=True),
        st.one_of(
            st.builds(ValueError, st.text(max_size=10)),
            st.builds(KeyError, st.text(max_size=5)),
            st.builds(RuntimeError),
            st.just(ZeroDivisionError("division by zero")),
        ),
    ),
)

registries = st.dictionaries(names, handlers, max_size=8)


# ---------------------------------------------------------------- expectations


def expected_status(handler):
    """The status every format must show for ``handler``."""
    value = handler.value
    if handler.raises or not isinstance(value, Mapping):
        return {"state": RED}
    return checked(value)


def label_text(value):
    """A label value as Prometheus reads it back."""
    return to_text(value).encode("utf-8", "backslashreplace").decode("utf-8")


def expected_labels(registry):
    """``{(name, label)}`` of the svc_status_label family."""
    found = set()
    for name, handler in registry.items():
        labels = expected_status(handler).get("labels")
        if isinstance(labels, dict):
            found.update((label_text(name), label_text(key)) for key in labels)
    return found


def register(registry):
    STATUS_HANDLERS.clear()
    for name, handler in registry.items():
        addStatusHandler(name, handler)
    return {name: repr(handler.value) for name, handler in registry.items()}


def check_families(families, registry, evaluations):
    """What both formats must hold, from ``{name: family}``."""
    ordered = sorted(registry)
    got = [(s.labels["name"], s.value) for s in families["svc_status"].samples]
    assert got == [
        (label_text(name), float(VALID.index(expected_status(registry[name])["state"])))
        for name in ordered
    ]
    labels = families.get("svc_status_label")
    got_labels = [] if labels is None else [
        (s.labels["name"], s.labels["label"]) for s in labels.samples]
    assert len(got_labels) == len(set(got_labels))  # no series twice
    assert set(got_labels) == expected_labels(registry)
    durations = families["svc_status_duration_seconds"].samples
    assert sorted(s.labels["name"] for s in durations) == sorted(map(label_text, registry))
    assert all(s.value >= 0 for s in durations)
    if registry:
        checks = [(s.labels["name"], s.labels["state"], s.value)
                  for s in families["svc_status_checks"].samples if s.name.endswith("_total")]
        assert checks == [
            (label_text(name), expected_status(registry[name])["state"], float(evaluations))
            for name in ordered
        ]


def check_prometheus(text, registry, evaluations):
    families = {f.name: f for f in parser.text_string_to_metric_families(text)}
    check_families(families, registry, evaluations)
    return text


def check_openmetrics(text, registry, evaluations):
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in om_parser.text_string_to_metric_families(text)}
    assert families["svc_status_duration_seconds"].unit == "seconds"
    check_families(families, registry, evaluations)
    return text


def promtool_accepts(text):
    """``promtool check metrics`` for text 0.0.4; for OpenMetrics, which it
    cannot lint, Prometheus' own OpenMetrics parser in
    ``promtool tsdb create-blocks-from openmetrics`` (which wants a
    timestamp on every sample)."""
    promtool = need_binary("promtool")
    if not text.endswith("# EOF\n"):
        result = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                                capture_output=True, timeout=60)
    else:
        stamped = "\n".join(
            line if not line or line.startswith("#") else line + " 1700000000"
            for line in text.split("\n"))
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "metrics.txt")
            with open(path, "w", encoding="utf-8") as file:
                file.write(stamped)
            result = subprocess.run(
                [promtool, "tsdb", "create-blocks-from", "openmetrics", path,
                 os.path.join(tmp, "blocks")],
                capture_output=True, timeout=60, cwd=tmp)
    output = (result.stdout + result.stderr).decode(errors="replace")
    assert result.returncode == 0, output


# ---------------------------------------------------------------- properties


@SETTINGS
@given(registries)
def test_every_format_answers_for_anything(registry):
    before = register(registry)
    test_app = app()
    n = len(registry)
    ordered = sorted(registry)

    csv = test_app.get("/svc_status")
    assert csv.status_code == 200
    lines = csv.text.splitlines()
    if n:
        assert len(lines) == n
        assert csv.text.split("\n") == lines
    else:
        assert csv.body == b""
    for line, name in zip(lines, ordered):
        fields = line.split("\t")
        assert len(fields) == 3
        assert fields[1] == expected_status(registry[name])["state"]

    response = test_app.get("/svc_status.json")
    assert response.status_code == 200

    def strict(constant):
        raise AssertionError(f"not strict JSON: {constant}")

    data = json.loads(response.text, parse_constant=strict)
    assert set(data) == set(registry)
    assert len(data) == n
    for name, handler in registry.items():
        assert data[name]["state"] == expected_status(handler)["state"]

    response = test_app.get("/svc_status.prometheus")
    assert response.status_code == 200
    check_prometheus(response.text, registry, 3)

    response = test_app.get("/svc_status.prometheus", headers={"Accept": PROMETHEUS_ACCEPT})
    assert response.status_code == 200
    assert response.content_type == "application/openmetrics-text"
    check_openmetrics(response.text, registry, 4)

    response = test_app.get("/svc_status.html")
    assert response.status_code == 200
    assert response.text.count('<td class="name">') == n

    # the views never touched what the handlers returned
    assert {name: repr(handler.value) for name, handler in registry.items()} == before


@SETTINGS
@given(registries, st.sampled_from([None, "application/json", "text/csv",
                                    "text/html,*/*;q=0.8", "application/json;q=0",
                                    PROMETHEUS_ACCEPT, "*/*;q=0, garbage;;"]),
       st.sampled_from(["", ".csv", ".json", ".prometheus", ".html"]))
def test_status_is_always_200(registry, accept, extension):
    register(registry)
    headers = {"Accept": accept} if accept else {}
    response = app().get("/svc_status" + extension, headers=headers)
    assert response.status_code == 200
    assert response.headers["Vary"] == "Accept"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(registries)
def test_promtool_accepts_anything(registry):
    register(registry)
    test_app = app()
    promtool_accepts(check_prometheus(
        test_app.get("/svc_status.prometheus").text, registry, 1))
    promtool_accepts(check_openmetrics(
        test_app.get("/svc_status.prometheus", headers={"Accept": PROMETHEUS_ACCEPT}).text,
        registry, 2))


@SETTINGS
@given(st.lists(st.tuples(names, statuses()), max_size=8),
       st.lists(st.one_of(st.none(), st.floats(), st.integers()), max_size=8),
       st.booleans(), st.booleans())
def test_the_renderer_s_cache_changes_no_byte(pairs, seconds, openmetrics, label_family):
    from lovely.ws.status.render.prometheus import render_exposition

    names = [name for name, _ in pairs]
    states = [status for _, status in pairs]
    seconds = (seconds + [0.5] * len(names))[:len(names)]
    series = tuple((label_text(n), VALID[i % 3], 1700000000.5) for i, n in enumerate(names))
    checks = (series, list(range(len(series))))
    kwargs = dict(sort=True, openmetrics=openmetrics, label_family=label_family, checks=checks)
    plain = render_exposition(names, states, seconds, **kwargs)
    cache = {}
    assert render_exposition(names, states, seconds, cache=cache, **kwargs) == plain
    assert render_exposition(names, states, seconds, cache=cache, **kwargs) == plain
