"""The test suite of a 1.0 application, unchanged.

Written the way a user of lovely-ws-status 1.0 wrote it: only 1.0's API,
WebTest through the app factory, direct calls of the views with
``pyramid.testing.DummyRequest`` (a plain dict of headers, ``matchdict``,
``method`` and ``GET`` set by hand) and its own clean-up of the global state
(``STATUS_HANDLERS.clear()``, ``probestatus.RESPONSE_BODY = 'OK'``); it does
not rely on the project's ``tests/conftest.py``.

It runs against this package (the project's test run) and against the
original release::

    python -m venv /tmp/v10 && /tmp/v10/bin/pip install lovely-ws-status==1.0.0 webtest pytest
    /tmp/v10/bin/python -m pytest tests/compat --noconftest

Where the two differ the test says so:

- ``@changed``: 1.0 behaviour that the port changed on purpose (a documented
  fix); against the port the test is a strict xfail (it must fail), and a
  twin marked ``@port_only`` checks what the port does instead.

Anything else that fails here against the port is a compatibility bug.
"""
import json
import logging
import re
import sqlite3
import threading
import time

import pytest
from pyramid import testing
from pyramid.config import Configurator
from pyramid.events import NewRequest
from pyramid.threadlocal import get_current_registry
from webtest import TestApp

import lovely.ws.status
from lovely.ws.status import (
    GREEN,
    NUMERIC_VALUES,
    OK,
    RED,
    STATUS_HANDLERS,
    YELLOW,
    addStatusHandler,
    getStatus,
    isInState,
    probestatus,
    svcstatus,
    waitForStatus,
)
from lovely.ws.status.probestatus import probe_status_view
from lovely.ws.status.statehandler import StateHandlerMixin
from lovely.ws.status.svcstatus import svc_status_view

from . import CacheConnection, DiskSpace, QueueWorker, main

#: True when running against the original lovely-ws-status 1.0.
V10 = not hasattr(lovely.ws.status, "removeStatusHandler")

# Strict: against the port these must fail, which proves the change is real.
changed = pytest.mark.xfail(
    not V10, strict=True, reason="1.0 behaviour the port changed on purpose"
)
port_only = pytest.mark.skipif(V10, reason="behaviour of the port, not of 1.0")


CSV = "text/csv; charset=UTF-8"
JSON = "application/json"
PROMETHEUS = "text/plain; version=0.0.4; charset=UTF-8"
PROBE = "text/plain; charset=UTF-8"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
HELP = "# HELP svc_status Status 0->OK, 1->YELLOW, 2->RED"
TYPE = "# TYPE svc_status untyped"

EXPECTED_CSV = (
    "cache\tOK\tconnected\n"
    "database\tOK\tpostgresql://db/orders\n"
    "disk\tYELLOW\tfree 15%\n"
    "queue\tOK\tidle\n"
    "search\tRED\tconnection refused"
)

# registration order, as the JSON object keeps it
EXPECTED_JSON = {
    "search": {
        "state": "RED",
        "detail": "connection refused",
        "labels": "n/a",
        "since": "2018-03-01T12:00:00",
    },
    "database": {"state": "OK", "detail": "postgresql://db/orders"},
    "disk": {"state": "YELLOW", "detail": "free 15%", "labels": {"free_percent": 15}},
    "queue": {"state": "OK", "detail": "idle"},
    "cache": {"state": "OK", "detail": "connected", "labels": {"hits": 10, "misses": 2}},
}

EXPECTED_SAMPLES = [
    'svc_status{name="cache"} 0',
    'svc_status{name="cache_hits"} 10',
    'svc_status{name="cache_misses"} 2',
    'svc_status{name="database"} 0',
    'svc_status{name="disk"} 1',
    'svc_status{name="disk_free_percent"} 15',
    'svc_status{name="queue"} 0',
    'svc_status{name="search"} 2',
]


# --- fixtures -------------------------------------------------------------------


@pytest.fixture(autouse=True)
def clean_status():
    """No handlers and a probe at OK before and after every test."""
    STATUS_HANDLERS.clear()
    probestatus.RESPONSE_BODY = "OK"
    yield
    STATUS_HANDLERS.clear()
    probestatus.RESPONSE_BODY = "OK"


@pytest.fixture
def wsgi_app():
    app = main({}, **{"compat_app.environment": "testing"})
    yield app
    app.registry["compat_app.queue"].stop()


@pytest.fixture
def testapp(wsgi_app):
    app = TestApp(wsgi_app)
    # the worker thread reports OK as soon as it runs
    assert waitForStatus("queue", OK, interval=0.01, timeout=5)
    return app


@pytest.fixture
def no_registry(monkeypatch):
    """The Prometheus text without prometheus_client's default registry."""
    monkeypatch.setattr(svcstatus, "generate_latest", lambda: b"")


def svc_samples(text):
    return [line for line in text.splitlines() if line.startswith("svc_status{")]


def dummy_svc_request(type_="", accept=None):
    headers = {}
    if accept is not None:
        headers["accept"] = accept
    request = testing.DummyRequest(headers=headers)
    request.matchdict = {"type": type_}
    return request


def dummy_probe_request(method="GET", **params):
    request = testing.DummyRequest()
    request.method = method
    request.GET = dict(params)
    return request


class Counting:
    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return {"state": OK, "detail": "call %d" % self.calls}


def environment_status():
    """A handler that reads the app's settings through Pyramid's threadlocals."""
    settings = get_current_registry().settings
    return {"state": OK, "detail": settings["compat_app.environment"]}


# --- the registry -----------------------------------------------------------------


def test_constants():
    assert (OK, GREEN, YELLOW, RED) == ("OK", "OK", "YELLOW", "RED")
    assert NUMERIC_VALUES == {"OK": 0, "YELLOW": 1, "RED": 2}
    assert isinstance(STATUS_HANDLERS, dict)


def test_add_status_handler_replaces_same_name():
    addStatusHandler("db", lambda: {"state": OK})
    addStatusHandler("db", lambda: {"state": RED, "detail": "gone"})
    assert list(STATUS_HANDLERS) == ["db"]
    assert getStatus("db") == {"state": RED, "detail": "gone"}


def test_direct_assignment_is_a_registration():
    STATUS_HANDLERS["db"] = lambda: {"state": YELLOW}
    assert isInState("db", YELLOW)


def test_get_status_and_is_in_state(testapp):
    assert getStatus("database") == {"state": OK, "detail": "postgresql://db/orders"}
    assert getStatus("disk")["state"] == YELLOW
    assert isInState("database", OK)
    assert isInState("database", GREEN)
    assert not isInState("search", OK)
    assert isInState("search", RED)


def test_unknown_names_raise_key_error():
    with pytest.raises(KeyError) as exc:
        getStatus("nope")
    assert exc.value.args == ("nope",)
    with pytest.raises(KeyError) as exc:
        isInState("nope", OK)
    assert exc.value.args == ("nope",)


def test_clear_unregisters_everything(testapp):
    assert testapp.get("/svc_status").text
    STATUS_HANDLERS.clear()
    assert testapp.get("/svc_status").body == b""
    assert testapp.get("/svc_status.json").json == {}


def test_wait_for_status_reached_later():
    worker = CacheConnection()
    worker.setState(RED, detail="connecting")
    addStatusHandler("cache", worker)
    timer = threading.Timer(0.05, worker.connect)
    timer.start()
    try:
        assert waitForStatus("cache", OK, interval=0.01, timeout=5) is True
    finally:
        timer.join()


def test_wait_for_status_times_out():
    addStatusHandler("db", lambda: {"state": RED})
    start = time.time()
    assert waitForStatus("db", OK, interval=0.01, timeout=0.2) is False
    assert time.time() - start >= 0.2


def test_wait_for_status_unknown_name():
    assert waitForStatus("nope", OK, interval=0.01, timeout=0.05) is False
    with pytest.raises(KeyError):
        waitForStatus("nope", OK, interval=0.01, timeout=0.05, raiseOnKeyError=True)


def test_wait_for_status_handler_registered_later():
    timer = threading.Timer(0.05, addStatusHandler, ("late", lambda: {"state": OK}))
    timer.start()
    try:
        assert waitForStatus("late", OK, interval=0.01, timeout=5)
    finally:
        timer.join()


class FakeClock:
    """time.time and time.sleep for tests that must not really wait."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        if len(self.sleeps) > 1000:
            raise AssertionError("waitForStatus does not follow the clock")
        self.now += seconds


def test_wait_for_status_with_a_fake_clock(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(lovely.ws.status.time, "time", clock.time)
    monkeypatch.setattr(lovely.ws.status.time, "sleep", clock.sleep)
    addStatusHandler("db", lambda: {"state": RED})
    assert waitForStatus("db", OK, interval=5, timeout=60) is False
    assert clock.sleeps == [5] * 12


# --- StateHandlerMixin ------------------------------------------------------------


def test_mixin_before_first_state():
    assert CacheConnection()() == {}


def test_mixin_set_state_replaces_everything():
    cache = CacheConnection(hits=1)
    cache.connect()
    assert cache() == {"state": OK, "detail": "connected", "labels": {"hits": 1, "misses": 0}}
    cache.setState(YELLOW)
    assert cache() == {"state": YELLOW}


def test_mixin_logs_state_changes(caplog):
    caplog.set_level(logging.INFO, logger="compat_app.cache")
    cache = CacheConnection()
    cache.connect()
    cache.connect()  # same state: not logged
    cache.disconnect("stopped")
    cache.setState(YELLOW)
    records = [r for r in caplog.records if r.name == "compat_app.cache"]
    assert [r.levelno for r in records] == [logging.INFO] * 3
    assert [r.getMessage() for r in records] == [
        'state change: None -> OK "connected"',
        'state change: OK -> RED "stopped"',
        'state change: RED -> YELLOW "None"',
    ]


def test_mixin_without_logger(caplog):
    class Plain(StateHandlerMixin):
        pass

    caplog.set_level(logging.DEBUG)
    plain = Plain()
    plain.setState(RED, detail="x")
    assert plain() == {"state": RED, "detail": "x"}
    assert caplog.records == []


def test_mixin_logger_on_instance(caplog):
    class Plain(StateHandlerMixin):
        def __init__(self):
            self.logger = logging.getLogger("compat_app.plain")

    caplog.set_level(logging.INFO, logger="compat_app.plain")
    Plain().setState(OK, detail="up")
    assert caplog.messages == ['state change: None -> OK "up"']


def test_worker_thread_reports_its_state(caplog):
    caplog.set_level(logging.INFO, logger="compat_app.queue")
    worker = QueueWorker()
    addStatusHandler("queue", worker)
    assert getStatus("queue") == {"state": YELLOW, "detail": "starting"}
    worker.start()
    assert waitForStatus("queue", OK, interval=0.01, timeout=5)
    worker.stop()
    assert getStatus("queue") == {"state": RED, "detail": "stopped"}
    assert caplog.messages == [
        'state change: None -> YELLOW "starting"',
        'state change: YELLOW -> OK "idle"',
        'state change: OK -> RED "stopped"',
    ]


# --- /svc_status through the app --------------------------------------------------


def test_home_still_works(testapp):
    assert testapp.get("/").text == "compat app"


@pytest.mark.parametrize("path", ["/svc_status", "/svc_status.csv"])
def test_csv(testapp, path):
    res = testapp.get(path)
    assert res.status == "200 OK"
    assert res.headers["Content-Type"] == CSV
    assert res.text == EXPECTED_CSV
    assert not res.text.endswith("\n")


def test_json(testapp):
    res = testapp.get("/svc_status.json")
    assert res.status == "200 OK"
    assert res.headers["Content-Type"] == JSON
    assert res.json == EXPECTED_JSON
    assert list(res.json) == ["search", "database", "disk", "queue", "cache"]
    assert res.body == json.dumps(EXPECTED_JSON, separators=(",", ":")).encode("ascii")


def test_json_non_ascii(testapp):
    addStatusHandler("i18n", lambda: {"state": OK, "detail": "Grüße"})
    res = testapp.get("/svc_status.json")
    assert b'"detail":"Gr\\u00fc\\u00dfe"' in res.body
    assert res.json["i18n"]["detail"] == "Grüße"
    assert "i18n\tOK\tGrüße" in testapp.get("/svc_status").text


def test_accept_json_on_plain_path(testapp):
    res = testapp.get("/svc_status", headers={"Accept": "application/json"})
    assert res.headers["Content-Type"] == JSON
    assert res.json == EXPECTED_JSON


def test_accept_csv_beats_json_extension(testapp):
    res = testapp.get("/svc_status.json", headers={"Accept": "text/csv"})
    assert res.headers["Content-Type"] == CSV
    assert res.text == EXPECTED_CSV


def test_json_wins_when_both_accepted(testapp):
    res = testapp.get("/svc_status.csv", headers={"Accept": "text/csv, application/json"})
    assert res.headers["Content-Type"] == JSON


def test_browser_accept_header(testapp):
    # neither text/csv nor application/json in Accept: the extension decides
    res = testapp.get("/svc_status", headers={"Accept": BROWSER})
    assert res.headers["Content-Type"] == CSV
    res = testapp.get("/svc_status.json", headers={"Accept": BROWSER})
    assert res.headers["Content-Type"] == JSON


def test_unknown_extension_is_404(testapp):
    testapp.get("/svc_status.xml", status=404)


def test_post_answers_like_get(testapp):
    assert testapp.post("/svc_status").text == EXPECTED_CSV


@changed
def test_prometheus(testapp):
    res = testapp.get("/svc_status.prometheus", headers={"Accept": "application/json"})
    assert res.status == "200 OK"
    assert res.headers["Content-Type"] == PROMETHEUS
    assert svc_samples(res.text) == EXPECTED_SAMPLES
    assert HELP in res.text and TYPE in res.text
    # the samples of a handler and of its labels stay together, sorted
    assert 'svc_status{name="search"} 2\n' in res.text


def test_prometheus_appends_default_registry(testapp):
    testapp.post("/order")
    text = testapp.get("/svc_status.prometheus").text
    assert "# TYPE compat_app_orders_total counter" in text
    assert re.search(r"^compat_app_orders_total \d+\.0$", text, re.M)
    assert text.index('svc_status{name="search"} 2\n') < text.index("compat_app_orders_total")


@changed
def test_prometheus_label_values(testapp, no_registry):
    addStatusHandler("pool", lambda: {"state": OK, "labels": {"size": 8, "lag": 0.25}})
    samples = svc_samples(testapp.get("/svc_status.prometheus").text)
    assert samples[6:9] == [
        'svc_status{name="pool"} 0',
        'svc_status{name="pool_size"} 8',
        'svc_status{name="pool_lag"} 0.25',
    ]
    assert samples[9:] == EXPECTED_SAMPLES[6:]


LABEL_SAMPLES = [
    'svc_status_label{name="cache",label="hits"} 10',
    'svc_status_label{name="cache",label="misses"} 2',
    'svc_status_label{name="disk",label="free_percent"} 15',
]


def label_samples(text):
    return [line for line in text.splitlines() if line.startswith("svc_status_label{")]


@pytest.fixture
def labels_1_0_app():
    """The app with ``svcstatus.prometheus_labels = 1.0``: 1.0's layout."""
    app = main({}, **{"compat_app.environment": "testing",
                      "svcstatus.prometheus_labels": "1.0"})
    yield TestApp(app)
    app.registry["compat_app.queue"].stop()


@port_only
def test_prometheus_label_samples_in_a_family_of_their_own(testapp, labels_1_0_app):
    # Every svc_status sample is a state; svcstatus.prometheus_labels = 1.0
    # brings back 1.0's layout.
    res = testapp.get("/svc_status.prometheus", headers={"Accept": "application/json"})
    assert res.headers["Content-Type"] == PROMETHEUS
    assert svc_samples(res.text) == [s for s in EXPECTED_SAMPLES if "_" not in s.split('"')[1]]
    assert label_samples(res.text) == LABEL_SAMPLES
    old = labels_1_0_app.get("/svc_status.prometheus", headers={"Accept": "application/json"})
    assert svc_samples(old.text) == EXPECTED_SAMPLES
    assert label_samples(old.text) == []
    addStatusHandler("pool", lambda: {"state": OK, "labels": {"size": 8, "lag": 0.25}})
    assert svc_samples(labels_1_0_app.get("/svc_status.prometheus").text)[6:9] == [
        'svc_status{name="pool"} 0',
        'svc_status{name="pool_size"} 8',
        'svc_status{name="pool_lag"} 0.25',
    ]


@changed
def test_prometheus_exact_text_1_0(testapp, no_registry):
    # 1.0 repeated HELP and TYPE before every handler (promtool rejects it)
    text = testapp.get("/svc_status.prometheus").text
    expected = []
    for sample in EXPECTED_SAMPLES:
        if "_" not in sample.split('"')[1]:
            expected += [HELP, TYPE]
        expected.append(sample)
    assert text == "\n".join(expected) + "\n"


@port_only
def test_prometheus_exact_text_port(testapp, no_registry):
    # HELP and TYPE once per family, and the new duration family (CHANGES.rst)
    # the label samples, the checks counter and the probe (CHANGES.rst)
    text = testapp.get("/svc_status.prometheus").text
    text = re.sub(r"(svc_status_(duration_seconds|last_change_timestamp_seconds|checks_created)"
                  r"\{[^}]*\}) \S+", r"\1 X", text)
    names = ["cache", "database", "disk", "queue", "search"]
    states = dict(zip(names, ["OK", "OK", "YELLOW", "OK", "RED"]))
    labels = [
        "# HELP svc_status_label A number from the labels of the status handler's result",
        "# TYPE svc_status_label untyped",
    ] + LABEL_SAMPLES
    durations = [
        '# HELP svc_status_duration_seconds Seconds the last evaluation of the status '
        "handler took",
        "# TYPE svc_status_duration_seconds gauge",
    ] + ['svc_status_duration_seconds{name="%s"} X' % n for n in names]
    durations += [
        "# HELP svc_status_last_change_timestamp_seconds When the state of the status "
        "handler last changed, as this process saw it",
        "# TYPE svc_status_last_change_timestamp_seconds gauge",
    ] + ['svc_status_last_change_timestamp_seconds{name="%s"} X' % n for n in names]
    checks_help = "Evaluations of the status handler by the state they ended in"
    checks = [
        f"# HELP svc_status_checks_total {checks_help}",
        "# TYPE svc_status_checks_total counter",
    ] + ['svc_status_checks_total{name="%s",state="%s"} 1' % (n, states[n]) for n in names] + [
        f"# HELP svc_status_checks_created {checks_help}",
        "# TYPE svc_status_checks_created gauge",
    ] + ['svc_status_checks_created{name="%s",state="%s"} X' % (n, states[n]) for n in names]
    probe = [
        "# HELP svc_status_probe 1 while /probe_status answers OK, 0 while the instance "
        "is out of rotation",
        "# TYPE svc_status_probe gauge",
        "svc_status_probe 1",
    ]
    states_only = [s for s in EXPECTED_SAMPLES if "_" not in s.split('"')[1]]
    assert text == "\n".join(
        [HELP, TYPE] + states_only + labels + durations + checks + probe) + "\n"


@changed
def test_prometheus_without_handlers_1_0(no_registry):
    assert svc_status_view(dummy_svc_request(".prometheus")).text == ""


@port_only
def test_prometheus_without_handlers_port(no_registry):
    # the family is announced even without samples (valid exposition text)
    text = svc_status_view(dummy_svc_request(".prometheus")).text
    assert svc_samples(text) == []
    assert text.startswith(HELP + "\n" + TYPE + "\n")


@port_only
def test_prometheus_label_values_escaped(testapp):
    addStatusHandler('db "primary"\\', lambda: {"state": OK})
    text = testapp.get("/svc_status.prometheus").text
    assert 'svc_status{name="db \\"primary\\"\\\\"} 0' in text
    assert text.count(HELP + "\n") == 1


@pytest.mark.parametrize("path", ["/svc_status", "/svc_status.csv", "/svc_status.json",
                                  "/svc_status.prometheus"])
def test_every_handler_called_once_per_request(testapp, path):
    counting = Counting()
    addStatusHandler("counting", counting)
    testapp.get(path)
    assert counting.calls == 1
    testapp.get(path)
    assert counting.calls == 2


def test_settings_from_the_ini_reach_the_app():
    app = main({}, **{"compat_app.disk_free_percent": "3"})
    try:
        assert TestApp(app).get("/svc_status.json").json["disk"] == {
            "state": RED, "detail": "free 3%", "labels": {"free_percent": 3}}
    finally:
        app.registry["compat_app.queue"].stop()


def test_handler_replaced_at_runtime(testapp):
    addStatusHandler("disk", DiskSpace(50))
    assert "disk\tOK\tfree 50%" in testapp.get("/svc_status").text


# Handlers without a valid state and handlers that raise (issue 3).


@changed
def test_state_handler_before_first_state_1_0(testapp):
    addStatusHandler("pending", CacheConnection())
    assert "pending\t\t\n" in testapp.get("/svc_status").text
    assert testapp.get("/svc_status.json").json["pending"] == {}
    assert 'svc_status{name="pending"} 0' in testapp.get("/svc_status.prometheus").text


@port_only
def test_state_handler_before_first_state_port(testapp):
    # 1.0: an empty state in CSV, {} in JSON, 0 (OK!) in Prometheus
    addStatusHandler("pending", CacheConnection())
    assert "pending\tRED\tinvalid status: no 'state' in the handler's result\n" in (
        testapp.get("/svc_status").text)
    assert testapp.get("/svc_status.json").json["pending"]["state"] == RED
    assert 'svc_status{name="pending"} 2' in testapp.get("/svc_status.prometheus").text


@changed
def test_raising_handler_1_0(testapp):
    addStatusHandler("broken", lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        testapp.get("/svc_status")


@port_only
def test_raising_handler_port(testapp):
    # 1.0: the exception propagated (a 500 in production)
    addStatusHandler("broken", lambda: 1 / 0)
    assert "broken\tRED\tZeroDivisionError: division by zero\n" in (
        testapp.get("/svc_status").text)


@changed
def test_unknown_state_counts_as_ok_1_0(no_registry):
    addStatusHandler("odd", lambda: {"state": "UNKNOWN", "detail": "?"})
    assert svc_status_view(dummy_svc_request()).text == "odd\tUNKNOWN\t?"
    assert svc_samples(svc_status_view(dummy_svc_request(".prometheus")).text) == [
        'svc_status{name="odd"} 0']


@port_only
def test_unknown_state_counts_as_red_port(no_registry):
    addStatusHandler("odd", lambda: {"state": "UNKNOWN", "detail": "?"})
    assert svc_status_view(dummy_svc_request()).text == (
        "odd\tRED\tinvalid status: state 'UNKNOWN' is not one of OK, YELLOW, RED")
    assert svc_samples(svc_status_view(dummy_svc_request(".prometheus")).text) == [
        'svc_status{name="odd"} 2']


@changed
def test_multi_line_detail_1_0(testapp):
    addStatusHandler("trace", lambda: {"state": RED, "detail": "Traceback:\n  boom"})
    assert "trace\tRED\tTraceback:\n  boom" in testapp.get("/svc_status").text


@port_only
def test_multi_line_detail_port(testapp):
    # 1.0 wrote the newline as is, breaking one line per handler
    addStatusHandler("trace", lambda: {"state": RED, "detail": "Traceback:\n  boom"})
    assert "trace\tRED\tTraceback:\\n  boom" in testapp.get("/svc_status").text


def test_detail_none_in_csv(testapp):
    cache = CacheConnection()
    cache.setState(OK, detail=None)
    addStatusHandler("cache", cache)
    assert "cache\tOK\tNone\n" in testapp.get("/svc_status").text


@port_only
def test_string_label_value_written_as_is_in_the_label_family(no_registry):
    addStatusHandler("q", lambda: {"state": OK, "labels": {"length": "12"}})
    text = svc_status_view(dummy_svc_request(".prometheus")).text
    assert 'svc_status_label{name="q",label="length"} 12\n' in text


@changed
def test_string_label_value_written_as_is(no_registry):
    addStatusHandler("q", lambda: {"state": OK, "labels": {"length": "12"}})
    text = svc_status_view(dummy_svc_request(".prometheus")).text
    assert 'svc_status{name="q_length"} 12\n' in text


# --- svc_status_view called directly ----------------------------------------------


def test_direct_csv():
    addStatusHandler("b", lambda: {"state": YELLOW, "detail": "slow"})
    addStatusHandler("a", lambda: {"state": OK})
    request = dummy_svc_request()
    response = svc_status_view(request)
    assert response is request.response
    assert response.status_int == 200
    assert response.content_type == "text/csv"
    assert response.headers["Content-Type"] == CSV
    assert response.text == "a\tOK\t\nb\tYELLOW\tslow"


@changed
def test_direct_capitalised_accept_ignored_1_0():
    # 1.0 read only request.headers.get('accept'): a plain dict with 'Accept' was ignored
    addStatusHandler("a", lambda: {"state": OK})
    request = testing.DummyRequest(headers={"Accept": "application/json"})
    assert svc_status_view(request).text == "a\tOK\t"


@port_only
def test_direct_capitalised_accept_port():
    addStatusHandler("a", lambda: {"state": OK})
    request = testing.DummyRequest(headers={"Accept": "application/json"})
    assert svc_status_view(request).json_body == {"a": {"state": OK}}


def test_direct_csv_without_handlers():
    response = svc_status_view(dummy_svc_request(".csv"))
    assert response.body == b""
    assert response.headers["Content-Type"] == CSV


def test_direct_without_type_in_matchdict():
    addStatusHandler("a", lambda: {"state": OK})
    request = testing.DummyRequest()
    assert svc_status_view(request).text == "a\tOK\t"


def test_direct_json_by_extension_and_by_accept():
    addStatusHandler("a", lambda: {"state": OK, "detail": "x", "extra": [1, 2]})
    for request in (dummy_svc_request(".json"),
                    dummy_svc_request("", accept="application/json")):
        response = svc_status_view(request)
        assert response.headers["Content-Type"] == JSON
        assert response.json_body == {"a": {"state": OK, "detail": "x", "extra": [1, 2]}}


def test_direct_accept_csv_beats_json_extension():
    addStatusHandler("a", lambda: {"state": OK})
    response = svc_status_view(dummy_svc_request(".json", accept="text/csv"))
    assert response.text == "a\tOK\t"


@changed
def test_direct_prometheus(no_registry):
    addStatusHandler("a", lambda: {"state": RED, "labels": {"errors": 3}})
    addStatusHandler("b", lambda: {"state": YELLOW, "labels": ["ignored"]})
    response = svc_status_view(dummy_svc_request(".prometheus", accept="text/csv"))
    assert response.headers["Content-Type"] == PROMETHEUS
    assert svc_samples(response.text) == [
        'svc_status{name="a"} 2',
        'svc_status{name="a_errors"} 3',
        'svc_status{name="b"} 1',
    ]
    assert response.text.endswith("\n")


@port_only
def test_direct_prometheus_label_family(no_registry):
    addStatusHandler("a", lambda: {"state": RED, "labels": {"errors": 3}})
    addStatusHandler("b", lambda: {"state": YELLOW, "labels": ["ignored"]})
    response = svc_status_view(dummy_svc_request(".prometheus", accept="text/csv"))
    assert response.headers["Content-Type"] == PROMETHEUS
    assert svc_samples(response.text) == ['svc_status{name="a"} 2', 'svc_status{name="b"} 1']
    assert label_samples(response.text) == ['svc_status_label{name="a",label="errors"} 3']
    assert response.text.endswith("\n")


def test_handler_reading_settings_direct_call():
    testing.setUp(settings={"compat_app.environment": "staging"})
    try:
        addStatusHandler("env", environment_status)
        response = svc_status_view(dummy_svc_request(accept="application/json"))
        assert response.json_body == {"env": {"state": OK, "detail": "staging"}}
    finally:
        testing.tearDown()


def test_handler_reading_settings_through_the_app(testapp):
    addStatusHandler("env", environment_status)
    assert testapp.get("/svc_status.json").json["env"] == {"state": OK, "detail": "testing"}


def _sqlite_handler_in(app):
    connection = sqlite3.connect(":memory:")

    def sqlite_status():
        connection.execute("select 1")
        return {"state": OK, "detail": "sqlite"}

    addStatusHandler("sqlite", sqlite_status)
    try:
        return app.get("/svc_status").text.split("\n")[-1]
    finally:
        connection.close()


@changed  # handlers run on worker threads (for timeouts): thread-bound ones fail
def test_handler_with_an_sqlite_connection(testapp):
    assert _sqlite_handler_in(testapp) == "sqlite\tOK\tsqlite"


@port_only
def test_handler_with_an_sqlite_connection_on_a_worker_thread(testapp):
    assert _sqlite_handler_in(testapp).startswith("sqlite\tRED\tProgrammingError: ")


@port_only
def test_handler_with_an_sqlite_connection_in_the_request_thread():
    # svcstatus.concurrent = false: one after the other in the request's
    # thread, as 1.0 did.
    app = TestApp(main({}, **{"svcstatus.concurrent": "false"}))
    assert _sqlite_handler_in(app) == "sqlite\tOK\tsqlite"


# --- /probe_status through the app ------------------------------------------------


def test_probe_ok(testapp):
    res = testapp.get("/probe_status")
    assert res.status == "200 OK"
    assert res.headers["Content-Type"] == PROBE
    assert res.text == "OK"


def test_probe_decommission_and_back(testapp):
    res = testapp.post("/probe_status?body=maintenance")
    assert res.status == "200 OK"
    assert res.headers["Content-Type"] == PROBE
    assert res.text == "maintenance"
    assert probestatus.RESPONSE_BODY == "maintenance"
    res = testapp.get("/probe_status", status=503)
    assert res.status == "503 Service Unavailable"
    assert res.headers["Content-Type"] == PROBE
    assert res.text == "maintenance"
    # the status pages are not affected
    assert testapp.get("/svc_status").text == EXPECTED_CSV
    res = testapp.post("/probe_status")
    assert res.status == "200 OK"
    assert res.text == "OK"
    assert testapp.get("/probe_status").text == "OK"


def test_probe_reset_between_tests(testapp):
    # the previous test left the probe at OK through the fixture
    assert testapp.get("/probe_status").status_int == 200


@changed
def test_probe_post_with_form_body_resets(testapp):
    testapp.post("/probe_status?body=off")
    res = testapp.post("/probe_status", params={"body": "from a form"})
    assert res.text == "OK"
    assert testapp.get("/probe_status").text == "OK"


@pytest.fixture
def lenient_app():
    """The app with ``probestatus.strict_requests = false``: 1.0's leniency."""
    app = main({}, **{"compat_app.environment": "testing",
                      "probestatus.strict_requests": "false"})
    yield TestApp(app)
    app.registry["compat_app.queue"].stop()


@port_only
def test_probe_post_with_form_body_is_refused(testapp, lenient_app):
    # A form body or an unknown parameter no longer puts the instance back
    # in service; probestatus.strict_requests = false is 1.0's leniency.
    testapp.post("/probe_status?body=off")
    testapp.post("/probe_status", params={"body": "from a form"}, status=400)
    testapp.post("/probe_status?Body=x", status=400)
    assert testapp.get("/probe_status", status=503).text == "off"
    assert lenient_app.post("/probe_status", params={"body": "from a form"}).text == "OK"
    assert lenient_app.get("/probe_status").text == "OK"


def test_probe_post_empty_body(testapp):
    res = testapp.post("/probe_status?body=")
    assert (res.status_int, res.text) == (200, "")
    res = testapp.get("/probe_status", status=503)
    assert res.text == ""


def test_probe_unicode_body(testapp):
    testapp.post("/probe_status?body=Wartung%20l%C3%A4uft")
    res = testapp.get("/probe_status", status=503)
    assert res.text == "Wartung läuft"
    assert res.body == "Wartung läuft".encode()


@changed
def test_probe_other_methods_read(testapp):
    assert testapp.head("/probe_status").status_int == 200
    assert testapp.put("/probe_status?body=ignored").text == "OK"
    testapp.post("/probe_status?body=off")
    assert testapp.head("/probe_status", status=503).body == b""
    assert testapp.put("/probe_status", status=503).text == "off"
    assert testapp.delete("/probe_status", status=503).text == "off"


@port_only
def test_probe_other_methods_are_not_allowed(testapp, lenient_app):
    assert testapp.head("/probe_status").status_int == 200
    testapp.post("/probe_status?body=off")
    assert testapp.head("/probe_status", status=503).body == b""
    for method in (testapp.put, testapp.delete, testapp.options, testapp.patch):
        assert method("/probe_status", status=405).headers["Allow"] == "GET, HEAD, POST"
    assert lenient_app.put("/probe_status", status=503).text == "off"
    assert lenient_app.delete("/probe_status", status=503).text == "off"


def test_probe_module_global_set_by_a_test(testapp):
    probestatus.RESPONSE_BODY = "shutting down"
    res = testapp.get("/probe_status", status=503)
    assert res.text == "shutting down"


# --- probe_status_view called directly --------------------------------------------


def test_direct_probe_cycle():
    response = probe_status_view(dummy_probe_request())
    assert (response.status_int, response.text) == (200, "OK")
    assert response.headers["Content-Type"] == PROBE

    response = probe_status_view(dummy_probe_request("POST", body="decommissioned"))
    assert (response.status_int, response.text) == (200, "decommissioned")
    assert probestatus.RESPONSE_BODY == "decommissioned"

    response = probe_status_view(dummy_probe_request())
    assert response.status == "503 Service Unavailable"
    assert response.text == "decommissioned"

    response = probe_status_view(dummy_probe_request("POST"))
    assert (response.status_int, response.text) == (200, "OK")
    assert probe_status_view(dummy_probe_request()).status_int == 200


def test_direct_probe_ok_after_reset():
    probestatus.RESPONSE_BODY = "off"
    assert probe_status_view(dummy_probe_request()).status_int == 503
    probestatus.RESPONSE_BODY = "OK"
    assert probe_status_view(dummy_probe_request()).status_int == 200


# --- how the app wires the package ------------------------------------------------


def make_config():
    return Configurator(settings={"compat_app.environment": "testing"})


def test_route_prefix():
    config = make_config()
    config.include("lovely.ws.status.svcstatus", route_prefix="/admin")
    config.include("lovely.ws.status.probestatus", route_prefix="/admin")
    config.scan("lovely.ws.status.svcstatus")
    config.scan("lovely.ws.status.probestatus")
    app = TestApp(config.make_wsgi_app())
    addStatusHandler("a", lambda: {"state": OK})
    assert app.get("/admin/svc_status").text == "a\tOK\t"
    assert app.get("/admin/probe_status").text == "OK"
    app.get("/svc_status", status=404)


def test_scan_of_the_whole_package():
    config = make_config()
    config.include("lovely.ws.status.svcstatus")
    config.include("lovely.ws.status.probestatus")
    config.scan("lovely.ws.status")
    app = TestApp(config.make_wsgi_app())
    addStatusHandler("a", lambda: {"state": OK})
    assert app.get("/svc_status.json").json == {"a": {"state": OK}}
    assert app.get("/probe_status").text == "OK"


@port_only
def test_include_without_scan():
    # 1.0 registered the views only through the scan (404 here); faithful.md
    # lets the port register them in the include.
    config = make_config()
    config.include("lovely.ws.status.svcstatus")
    config.include("lovely.ws.status.probestatus")
    app = TestApp(config.make_wsgi_app())
    assert app.get("/svc_status").status_int == 200
    assert app.get("/probe_status").text == "OK"


def test_own_routes_with_scan():
    config = make_config()
    config.add_route("svc_status", "/health/status{type:(|.json|.csv|.prometheus)}")
    config.add_route("probe_status", "/health/probe")
    config.scan("lovely.ws.status.svcstatus")
    config.scan("lovely.ws.status.probestatus")
    app = TestApp(config.make_wsgi_app())
    addStatusHandler("a", lambda: {"state": OK})
    assert app.get("/health/status.json").json == {"a": {"state": OK}}
    assert app.get("/health/probe").text == "OK"


def test_names_imported_from_svcstatus():
    # a 1.0 suite may clean up through the module the view lives in
    svcstatus.STATUS_HANDLERS.clear()
    assert svcstatus.STATUS_HANDLERS is STATUS_HANDLERS
    assert svcstatus.NUMERIC_VALUES is NUMERIC_VALUES


def instance_header(event):
    event.request.response.headers["X-Instance"] = "web-1"


def test_headers_set_on_request_response_by_the_app():
    config = make_config()
    config.include("lovely.ws.status.svcstatus")
    config.include("lovely.ws.status.probestatus")
    config.scan("lovely.ws.status.svcstatus")
    config.scan("lovely.ws.status.probestatus")
    config.add_subscriber(instance_header, NewRequest)
    app = TestApp(config.make_wsgi_app())
    assert app.get("/svc_status").headers["X-Instance"] == "web-1"
    assert app.get("/probe_status").headers["X-Instance"] == "web-1"
