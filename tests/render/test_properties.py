"""Property tests: any handler names and any results, every format answers.

Whatever the handlers are called and whatever they return or raise, every
format answers 200; CSV has one line per handler, JSON one key per handler,
and the Prometheus text parses with exactly one ``svc_status`` sample per
handler plus its label samples (and ``promtool`` accepts it).
"""
from __future__ import annotations

import datetime
import decimal
import json
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyramid.config import Configurator
from webtest import TestApp

from lovely.ws.status import GREEN, OK, RED, STATUS_HANDLERS, YELLOW, addStatusHandler
from lovely.ws.status.text import to_text

from ..servers import need_binary

parser = pytest.importorskip("prometheus_client.parser")

VALID = (OK, YELLOW, RED)
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_APP = None


def app():
    """One app for every example: handlers are read at request time."""
    global _APP
    if _APP is None:
        config = Configurator()
        config.include("lovely.ws.status.svcstatus")
        _APP = TestApp(config.make_wsgi_app())
    return _APP


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
    if handler.raises or not isinstance(value, dict):
        return {"state": RED}
    state = value.get("state")
    if isinstance(state, str) and state in VALID:
        return value
    return {"state": RED}


def expected_samples(registry):
    """``[(name label, value)]`` of the svc_status family, as the renderer writes it."""
    items = sorted(registry.items())
    seen = {to_text(name) for name, _ in items}
    samples = []
    for name, handler in items:
        status = expected_status(handler)
        samples.append((name, float(VALID.index(status["state"]))))
        labels = status.get("labels")
        if isinstance(labels, dict):
            for key in labels:
                full = name + "_" + to_text(key)
                if full in seen:
                    continue  # the renderer never repeats a name
                seen.add(full)
                samples.append((full, None))
    return samples


def register(registry):
    STATUS_HANDLERS.clear()
    for name, handler in registry.items():
        addStatusHandler(name, handler)
    return {name: repr(handler.value) for name, handler in registry.items()}


def check_prometheus(text, registry):
    families = {f.name: f for f in parser.text_string_to_metric_families(text)}
    family = families["svc_status"]
    got = [(s.labels["name"], s.value) for s in family.samples]
    expected = expected_samples(registry)
    assert len(got) == len(expected)
    for (name, value), (want_name, want_value) in zip(got, expected):
        assert name == want_name
        if want_value is not None:
            assert value == want_value
    assert len({name for name, _ in got}) == len(got)  # no name twice
    durations = families["svc_status_duration_seconds"].samples
    assert sorted(s.labels["name"] for s in durations) == sorted(registry)
    return text


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
    check_prometheus(response.text, registry)

    response = test_app.get("/svc_status.html")
    assert response.status_code == 200
    assert response.text.count('<td class="name">') == n

    # the views never touched what the handlers returned
    assert {name: repr(handler.value) for name, handler in registry.items()} == before


@SETTINGS
@given(registries, st.sampled_from([None, "application/json", "text/csv",
                                    "text/html,*/*;q=0.8"]),
       st.sampled_from(["", ".csv", ".json", ".prometheus", ".html"]))
def test_status_is_always_200(registry, accept, extension):
    register(registry)
    headers = {"Accept": accept} if accept else {}
    assert app().get("/svc_status" + extension, headers=headers).status_code == 200


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(registries)
def test_promtool_accepts_anything(registry):
    promtool = need_binary("promtool")
    register(registry)
    text = check_prometheus(app().get("/svc_status.prometheus").text, registry)
    result = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                            capture_output=True, timeout=60)
    output = (result.stdout + result.stderr).decode(errors="replace")
    assert result.returncode == 0, output
