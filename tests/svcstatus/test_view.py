"""The /svc_status view: the 1.0 contract and the robustness of issue 3."""
from __future__ import annotations

import copy
import datetime
import decimal
import json
import logging
import re
import types

import pytest
from pyramid import testing
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationConflictError
from webtest import TestApp

from lovely.ws.status import GREEN, OK, RED, STATUS_HANDLERS, YELLOW, addStatusHandler
from lovely.ws.status.svcstatus import ROUTE_PATTERN, choose_format, svc_status_view

CSV = "text/csv; charset=UTF-8"
JSON = "application/json"
PROMETHEUS = "text/plain; version=0.0.4; charset=UTF-8"
HTML = "text/html; charset=UTF-8"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
HELP = "# HELP svc_status Status 0->OK, 1->YELLOW, 2->RED\n# TYPE svc_status untyped\n"
PATHS = ["/svc_status", "/svc_status.csv", "/svc_status.json",
         "/svc_status.prometheus", "/svc_status.html"]


def make_app(settings=None, scan=False):
    config = Configurator(settings=settings)
    config.include("lovely.ws.status.svcstatus")
    if scan:
        config.scan("lovely.ws.status.svcstatus")
    return TestApp(config.make_wsgi_app())


@pytest.fixture
def app():
    return make_app()


def svc_part(text):
    """The svc_status family of a Prometheus text (no duration, no registry)."""
    return "".join(
        line + "\n" for line in text.split("\n")
        if line.startswith(("svc_status{", "# HELP svc_status ", "# TYPE svc_status "))
    )


def fixed(**status):
    def handler():
        return status

    return handler


class Counting:
    def __init__(self, state=OK):
        self.state = state
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return {"state": self.state}


# ---------------------------------------------------------------- direct calls


def dummy(type=None, accept=None):
    request = testing.DummyRequest()
    request.headers = {} if accept is None else {"accept": accept}
    if type is not None:
        request.matchdict = {"type": type}
    return request


def test_direct_call_with_a_bare_dummy_request():
    addStatusHandler("b", fixed(state=OK, detail="fine"))
    addStatusHandler("a", fixed(state=RED, detail="down"))
    request = testing.DummyRequest()
    response = svc_status_view(request)
    assert response is request.response
    assert response.status_code == 200
    assert response.headers["Content-Type"] == CSV
    assert response.text == "a\tRED\tdown\nb\tOK\tfine"


def test_direct_call_within_testing_setup():
    config = testing.setUp()
    try:
        addStatusHandler("x", fixed(state=YELLOW))
        response = svc_status_view(dummy(".json"))
        assert response.headers["Content-Type"] == JSON
        assert json.loads(response.body) == {"x": {"state": "YELLOW"}}
    finally:
        testing.tearDown()
    assert config is not None


def test_direct_call_reads_a_plain_dict_of_headers():
    addStatusHandler("x", fixed(state=OK))
    response = svc_status_view(dummy("", "application/json"))
    assert response.headers["Content-Type"] == JSON
    assert response.json == {"x": {"state": "OK"}}


def test_direct_call_with_an_environ_and_a_plain_dict_of_headers():
    addStatusHandler("x", fixed(state=OK))
    request = testing.DummyRequest(environ={"REMOTE_ADDR": "127.0.0.1"},
                                   headers={"accept": "application/json"})
    assert svc_status_view(request).headers["Content-Type"] == JSON


def test_direct_call_with_capitalised_plain_headers():
    addStatusHandler("x", fixed(state=OK))
    request = testing.DummyRequest(headers={"Accept": "application/json"})
    response = svc_status_view(request)
    assert response.headers["Content-Type"] == JSON
    assert response.body == b'{"x":{"state":"OK"}}'


def test_direct_call_prometheus():
    addStatusHandler("x", fixed(state=YELLOW))
    response = svc_status_view(dummy(".prometheus", "application/json"))
    assert response.headers["Content-Type"] == PROMETHEUS
    assert response.text.startswith(HELP + 'svc_status{name="x"} 1\n')


def test_direct_call_without_matchdict():
    addStatusHandler("x", fixed(state=OK))
    request = testing.DummyRequest()
    request.matchdict = None  # what pyramid sets when no route matched
    assert svc_status_view(request).text == "x\tOK\t"


# ---------------------------------------------------------------- configuration


def views_on_the_route(config):
    return [
        intr for intr in config.registry.introspector.get_category("views")
        if intr["introspectable"]["route_name"] == "svc_status"
    ]


def test_route_pattern():
    assert ROUTE_PATTERN.startswith("/svc_status{type:(|.json|.csv|.prometheus")


@pytest.mark.parametrize("scan", [False, True])
def test_include_alone_or_with_scan(scan):
    config = Configurator()
    config.include("lovely.ws.status.svcstatus")
    if scan:
        config.scan("lovely.ws.status.svcstatus")
    config.commit()
    assert len(views_on_the_route(config)) == 1
    route = config.registry.introspector.get("routes", "svc_status")
    assert route["pattern"] == ROUTE_PATTERN
    addStatusHandler("x", fixed(state=OK))
    app = TestApp(config.make_wsgi_app())
    for path in PATHS:
        assert app.get(path).status_code == 200


def test_both_modules_with_their_scans_do_not_conflict():
    config = Configurator()
    config.include("lovely.ws.status.svcstatus")
    config.include("lovely.ws.status.probestatus")
    config.scan("lovely.ws.status.svcstatus")
    config.scan("lovely.ws.status.probestatus")
    try:
        config.commit()
    except ConfigurationConflictError as exc:  # pragma: no cover - the failure
        pytest.fail(f"conflict: {exc}")
    app = TestApp(config.make_wsgi_app())
    assert app.get("/svc_status").text == ""
    assert app.get("/probe_status").text == "OK"


def test_unknown_extension_is_not_found(app):
    app.get("/svc_status.xml", status=404)
    app.get("/svc_status.", status=404)


# ---------------------------------------------------------------- format choice

FORMATS = [
    # (type, accept, format)
    ("", None, "csv"),
    (".csv", None, "csv"),
    (".json", None, "json"),
    (".prometheus", None, "prometheus"),
    (".html", None, "html"),
    ("", "application/json", "json"),
    (".csv", "application/json", "json"),
    ("", "text/csv", "csv"),
    (".json", "text/csv", "csv"),
    ("", "text/csv, application/json", "json"),
    ("", "application/json;q=0.1, text/csv", "json"),
    (".json", "text/csv;q=0.5, application/json", "json"),
    (".prometheus", "application/json", "prometheus"),
    (".prometheus", "text/csv", "prometheus"),
    (".prometheus", BROWSER, "prometheus"),
    ("", BROWSER, "csv"),
    (".csv", BROWSER, "csv"),
    (".json", BROWSER, "json"),
    (".html", BROWSER, "html"),
    ("", "*/*", "csv"),
    ("", "", "csv"),
]
CONTENT_TYPES = {"csv": CSV, "json": JSON, "prometheus": PROMETHEUS, "html": HTML}


@pytest.mark.parametrize("type, accept, expected", FORMATS)
def test_choose_format(type, accept, expected):
    assert choose_format(accept, type) == expected


@pytest.mark.parametrize("type, accept, expected", FORMATS)
def test_format_selection_direct(type, accept, expected):
    addStatusHandler("x", fixed(state=OK))
    response = svc_status_view(dummy(type, accept))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == CONTENT_TYPES[expected]


@pytest.mark.parametrize("type, accept, expected", FORMATS)
def test_format_selection_through_the_app(app, type, accept, expected):
    addStatusHandler("x", fixed(state=OK))
    headers = {} if accept is None else {"Accept": accept}
    response = app.get("/svc_status" + type, headers=headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == CONTENT_TYPES[expected]


# ---------------------------------------------------------------- CSV


def test_csv_without_handlers_is_empty(app):
    response = app.get("/svc_status")
    assert response.headers["Content-Type"] == CSV
    assert response.body == b""


def test_csv_lines_sorted_without_trailing_newline(app):
    addStatusHandler("zeta", fixed(state=OK, detail="last"))
    addStatusHandler("alpha", fixed(state=RED, detail="first"))
    addStatusHandler("mid", fixed(state=YELLOW))
    assert app.get("/svc_status").body == (
        b"alpha\tRED\tfirst\nmid\tYELLOW\t\nzeta\tOK\tlast"
    )
    assert app.get("/svc_status.csv").body == app.get("/svc_status").body


def test_csv_utf8(app):
    addStatusHandler("caf\u00e9", fixed(state=OK, detail="\u00fcber \U0001f600"))
    response = app.get("/svc_status")
    assert response.body == "caf\u00e9\tOK\t\u00fcber \U0001f600".encode()


def test_csv_detail_is_text(app):
    addStatusHandler("n", fixed(state=OK, detail=42))
    addStatusHandler("l", fixed(state=OK, detail=[1, "a"]))
    assert app.get("/svc_status").text == "l\tOK\t[1, 'a']\nn\tOK\t42"


# ---------------------------------------------------------------- JSON


def test_json_is_the_whole_dicts(app):
    addStatusHandler("a", fixed(state=OK, detail="d", labels={"x": 1}, more=[1, None]))
    addStatusHandler("b", fixed(state=RED))
    response = app.get("/svc_status.json")
    assert response.headers["Content-Type"] == JSON
    assert json.loads(response.body) == {
        "a": {"state": "OK", "detail": "d", "labels": {"x": 1}, "more": [1, None]},
        "b": {"state": "RED"},
    }


def test_json_without_handlers(app):
    assert app.get("/svc_status.json").body == b"{}"


def test_json_content_type_has_no_charset(app):
    response = app.get("/svc_status.json")
    assert response.headers["Content-Type"] == "application/json"
    assert "charset" not in response.headers["Content-Type"]


# ---------------------------------------------------------------- Prometheus


def test_prometheus_one_sample_per_handler_sorted(app):
    addStatusHandler("b", fixed(state=YELLOW))
    addStatusHandler("a", fixed(state=OK))
    addStatusHandler("c", fixed(state=RED))
    response = app.get("/svc_status.prometheus")
    assert response.headers["Content-Type"] == PROMETHEUS
    assert svc_part(response.text) == HELP + (
        'svc_status{name="a"} 0\n'
        'svc_status{name="b"} 1\n'
        'svc_status{name="c"} 2\n'
    )
    assert response.text.endswith("\n")
    assert response.text.count("# HELP svc_status ") == 1
    assert response.text.count("# TYPE svc_status ") == 1


def test_prometheus_labels_dict_in_a_family_of_their_own(app):
    addStatusHandler("db", fixed(state=OK, labels={"connections": 7, "lag": 0.5}))
    addStatusHandler("queue", fixed(state=YELLOW, labels={"size": 120}))
    text = app.get("/svc_status.prometheus").text
    assert svc_part(text) == HELP + (
        'svc_status{name="db"} 0\n'
        'svc_status{name="queue"} 1\n'
    )
    assert (
        'svc_status_label{name="db",label="connections"} 7\n'
        'svc_status_label{name="db",label="lag"} 0.5\n'
        'svc_status_label{name="queue",label="size"} 120\n'
    ) in text


@pytest.mark.parametrize("labels", [["a", 1], "text", 5, None, ("a", 1), {"a", "b"}])
def test_prometheus_labels_not_a_dict_are_ignored(app, labels):
    addStatusHandler("x", fixed(state=OK, labels=labels))
    assert svc_part(app.get("/svc_status.prometheus").text) == (
        HELP + 'svc_status{name="x"} 0\n'
    )
    # ... and travel along unchanged in JSON
    if not isinstance(labels, set):
        assert app.get("/svc_status.json").json["x"]["labels"] == (
            list(labels) if isinstance(labels, tuple) else labels
        )


def test_prometheus_escapes_label_values(app):
    addStatusHandler('a"b\\c\nd', fixed(state=RED))
    text = app.get("/svc_status.prometheus").text
    assert 'svc_status{name="a\\"b\\\\c\\nd"} 2\n' in text


def test_prometheus_without_handlers_has_the_family(app):
    text = app.get("/svc_status.prometheus").text
    assert text.startswith(HELP)


def test_prometheus_appends_the_default_registry(app):
    prometheus_client = pytest.importorskip("prometheus_client")
    counter = prometheus_client.Counter(
        "lws_test_svcstatus_requests", "A counter of the test", registry=None
    )
    prometheus_client.REGISTRY.register(counter)
    try:
        counter.inc(3)
        addStatusHandler("x", fixed(state=OK))
        text = app.get("/svc_status.prometheus").text
        registry_text = prometheus_client.generate_latest().decode()
    finally:
        prometheus_client.REGISTRY.unregister(counter)
    own = text.index('svc_status{name="x"} 0\n')
    appended = text.index("lws_test_svcstatus_requests_total 3.0\n")
    assert own < appended
    assert "# TYPE lws_test_svcstatus_requests_total counter\n" in text

    def helps(text):
        return re.findall(r"^# HELP (\S+)", text, re.M)

    # the whole default registry follows our own families, in its order
    ours = ["svc_status", "svc_status_duration_seconds",
            "svc_status_last_change_timestamp_seconds", "svc_status_checks_total",
            "svc_status_checks_created"]
    assert helps(text) == ours + helps(registry_text)
    assert "lws_test_svcstatus_requests" not in app.get("/svc_status.prometheus").text


def test_prometheus_parses(app):
    parser = pytest.importorskip("prometheus_client.parser")
    addStatusHandler("x", fixed(state=YELLOW, labels={"n": 3}))
    addStatusHandler('we"ird\n', fixed(state=OK))
    text = app.get("/svc_status.prometheus").text
    families = {f.name: f for f in parser.text_string_to_metric_families(text)}
    samples = [(s.labels["name"], s.value) for s in families["svc_status"].samples]
    assert samples == [('we"ird\n', 0.0), ("x", 1.0)]
    assert [(s.labels, s.value) for s in families["svc_status_label"].samples] == [
        ({"name": "x", "label": "n"}, 3.0)
    ]
    assert families["svc_status"].documentation == "Status 0->OK, 1->YELLOW, 2->RED"
    assert families["svc_status"].type == "unknown"  # how the parser names untyped


def test_duration_family(app):
    addStatusHandler("b", fixed(state=OK))
    addStatusHandler("a", fixed(state=RED))
    text = app.get("/svc_status.prometheus").text
    assert "# TYPE svc_status_duration_seconds gauge\n" in text
    assert text.count("# HELP svc_status_duration_seconds ") == 1
    pattern = r'^svc_status_duration_seconds\{name="(\w+)"\} (\S+)$'
    durations = re.findall(pattern, text, re.M)
    assert [name for name, _ in durations] == ["a", "b"]
    assert all(float(value) >= 0 for _, value in durations)


# ---------------------------------------------------------------- every format


def test_status_200_everywhere(app):
    addStatusHandler("bad", fixed(state="nonsense"))
    for path in PATHS:
        for accept in (None, "application/json", "text/csv", BROWSER):
            headers = {} if accept is None else {"Accept": accept}
            assert app.get(path, headers=headers).status_code == 200


def test_every_handler_called_once_per_request(app):
    handlers = [Counting() for _ in range(5)]
    for i, handler in enumerate(handlers):
        addStatusHandler(f"h{i}", handler)
    for n, path in enumerate(PATHS, start=1):
        app.get(path)
        assert [h.calls for h in handlers] == [n] * 5


def test_clear_between_requests(app):
    addStatusHandler("x", fixed(state=OK))
    assert app.get("/svc_status").text == "x\tOK\t"
    STATUS_HANDLERS.clear()
    assert app.get("/svc_status").text == ""
    assert app.get("/svc_status.json").json == {}


def test_handlers_registered_after_the_app_was_made(app):
    assert app.get("/svc_status").text == ""
    addStatusHandler("late", fixed(state=YELLOW, detail="hi"))
    assert app.get("/svc_status").text == "late\tYELLOW\thi"


def test_green_and_mapping_results_are_valid(app):
    addStatusHandler("green", fixed(state=GREEN))
    addStatusHandler("proxy", lambda: types.MappingProxyType({"state": YELLOW}))
    assert app.get("/svc_status").text == "green\tOK\t\nproxy\tYELLOW\t"
    assert app.get("/svc_status.json").json == {
        "green": {"state": "OK"}, "proxy": {"state": "YELLOW"}
    }


# ---------------------------------------------------------------- isolation


class UnprintableError(Exception):
    def __str__(self):
        raise RuntimeError("no")


def raising(exc):
    def handler():
        raise exc

    return handler


ISOLATION = {
    "raises": (raising(ValueError("bad value")), "ValueError: bad value"),
    "raises-bare": (raising(KeyError), "KeyError"),
    "raises-unprintable": (
        raising(UnprintableError()), "UnprintableError: <unprintable>"
    ),
    "str": (lambda: "OK", "invalid status: handler returned str, not a dict"),
    "none": (lambda: None, "invalid status: handler returned NoneType, not a dict"),
    "list": (
        lambda: [("state", "OK")], "invalid status: handler returned list, not a dict"
    ),
    "empty": (dict, "invalid status: no 'state' in the handler's result"),
    "no-state": (
        fixed(detail="x"), "invalid status: no 'state' in the handler's result"
    ),
    "okay": (
        fixed(state="okay"), "invalid status: state 'okay' is not one of OK, YELLOW, RED"
    ),
    "blue": (
        fixed(state="BLUE"),
        "invalid status: state 'BLUE' is not one of OK, YELLOW, RED",
    ),
    "none-state": (
        fixed(state=None), "invalid status: state None is not one of OK, YELLOW, RED"
    ),
    "number": (fixed(state=0), "invalid status: state 0 is not one of OK, YELLOW, RED"),
    "unhashable": (
        fixed(state=["OK"]),
        "invalid status: state ['OK'] is not one of OK, YELLOW, RED",
    ),
    "dict-state": (
        fixed(state={}), "invalid status: state {} is not one of OK, YELLOW, RED"
    ),
}
GOOD = {"good-green": GREEN, "good-red": RED, "good-yellow": YELLOW}


@pytest.fixture
def isolated(app):
    for name, (handler, _) in ISOLATION.items():
        addStatusHandler(name, handler)
    for name, state in GOOD.items():
        addStatusHandler(name, fixed(state=state, detail="fine"))
    return app


def test_isolation_csv(isolated):
    response = isolated.get("/svc_status")
    assert response.status_code == 200
    expected = {n: f"{n}\tRED\t{detail}" for n, (_, detail) in ISOLATION.items()}
    expected.update({name: f"{name}\t{state}\tfine" for name, state in GOOD.items()})
    assert response.text == "\n".join(expected[name] for name in sorted(expected))


def test_isolation_json(isolated):
    data = isolated.get("/svc_status.json").json
    expected = {
        n: {"state": "RED", "detail": detail} for n, (_, detail) in ISOLATION.items()
    }
    expected.update({name: {"state": s, "detail": "fine"} for name, s in GOOD.items()})
    assert data == expected


def test_isolation_prometheus(isolated):
    text = isolated.get("/svc_status.prometheus").text
    values = dict(re.findall(r'^svc_status\{name="([^"]+)"\} (\d)$', text, re.M))
    assert values == {
        **{name: "2" for name in ISOLATION},
        "good-green": "0", "good-yellow": "1", "good-red": "2",
    }


def test_isolation_html(isolated):
    text = isolated.get("/svc_status.html").text
    pattern = r'<tr class="(\w+)" data-state="\w+"><td class="name">([^<]*)<'
    rows = re.findall(pattern, text)
    assert dict((name, state) for state, name in rows) == {
        **{name: "RED" for name in ISOLATION}, **GOOD
    }
    assert 'id="overall" data-state="RED"' in text


def test_invalid_state_is_two_never_zero(app):
    addStatusHandler("x", fixed(state="GREENISH"))
    text = app.get("/svc_status.prometheus").text
    assert 'svc_status{name="x"} 2\n' in text


def test_exception_traceback_is_logged(app, caplog):
    def broken_handler():
        raise ValueError("bad value")

    addStatusHandler("broken", broken_handler)
    with caplog.at_level(logging.ERROR, logger="lovely.ws.status"):
        assert app.get("/svc_status").text == "broken\tRED\tValueError: bad value"
    records = [r for r in caplog.records if r.name == "lovely.ws.status"]
    assert len(records) == 1
    record = records[0]
    assert record.levelno == logging.ERROR
    assert "broken" in record.getMessage()
    assert record.exc_info[0] is ValueError
    assert "broken_handler" in caplog.text  # the traceback names the function
    assert "Traceback (most recent call last)" in caplog.text


def test_a_base_exception_is_contained(app):
    addStatusHandler("exit", raising(SystemExit(3)))
    addStatusHandler("ok", fixed(state=OK))
    assert app.get("/svc_status").text == "exit\tRED\tSystemExit: 3\nok\tOK\t"
    # the worker survived: the next request still works
    assert app.get("/svc_status").text == "exit\tRED\tSystemExit: 3\nok\tOK\t"


# ---------------------------------------------------------------- any detail renders


class Thing:
    def __str__(self):
        return "a thing"


class BadStr:
    def __str__(self):
        raise RuntimeError("nope")

    def __repr__(self):
        raise RuntimeError("nope")


def weird_status():
    cycle = {"name": "loop"}
    cycle["self"] = cycle
    listed = [1]
    listed.append(listed)
    return {
        "state": OK,
        "detail": Thing(),
        "when": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc),
        "day": datetime.date(2024, 5, 6),
        "at": datetime.time(7, 8),
        "amount": decimal.Decimal("1.10"),
        "tags": {"only"},
        "frozen": frozenset([2]),
        "error": ValueError("bad"),
        "bare_error": KeyError(),
        "thing": Thing(),
        "bad": BadStr(),
        "raw": b"bytes\xff",
        "tuple_keys": {(1, 2): "pair", 3: "int"},
        "nan": float("nan"),
        "inf": float("inf"),
        "cycle": cycle,
        "listed": listed,
        "deep": [[[[["x"]]]]],
    }


def strict_json(text):
    def no_constants(name):
        raise AssertionError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=no_constants)


def test_json_of_values_json_cannot_encode(app):
    addStatusHandler("weird", weird_status)
    data = strict_json(app.get("/svc_status.json").text)["weird"]
    assert data["state"] == "OK"
    assert data["detail"] == "a thing"
    assert data["when"] == "2024-05-06T07:08:09+00:00"
    assert data["day"] == "2024-05-06"
    assert data["at"] == "07:08:00"
    assert data["amount"] == "1.10"
    assert data["tags"] == ["only"]
    assert data["frozen"] == [2]
    assert data["error"] == "ValueError: bad"
    assert data["bare_error"] == "KeyError"
    assert data["thing"] == "a thing"
    assert data["bad"] == "<unprintable BadStr>"
    assert data["raw"] == "bytes\ufffd"
    assert data["tuple_keys"] == {"(1, 2)": "pair", "3": "int"}
    assert data["nan"] == "nan"
    assert data["inf"] == "inf"
    assert data["cycle"]["name"] == "loop"
    assert data["cycle"]["self"] == "<recursion>"
    assert data["listed"] == [1, "<recursion>"]
    assert data["deep"] == [[[[["x"]]]]]


def test_json_fast_path_values(app):
    # no cycle, no NaN, string keys: encoded in one go
    addStatusHandler("x", fixed(state=OK, when=datetime.date(2020, 1, 2),
                                amount=decimal.Decimal("3"), error=OSError("gone")))
    assert app.get("/svc_status.json").json == {
        "x": {
            "state": "OK", "when": "2020-01-02", "amount": "3", "error": "OSError: gone"
        }
    }


def test_weird_values_render_in_every_format(app):
    addStatusHandler("weird", weird_status)
    assert app.get("/svc_status").text == "weird\tOK\ta thing"
    assert 'svc_status{name="weird"} 0\n' in app.get("/svc_status.prometheus").text
    assert "a thing" in app.get("/svc_status.html").text


def test_unprintable_detail_renders(app):
    addStatusHandler("x", fixed(state=YELLOW, detail=BadStr()))
    assert app.get("/svc_status").text == "x\tYELLOW\t<unprintable BadStr>"
    assert app.get("/svc_status.json").json == {
        "x": {"state": "YELLOW", "detail": "<unprintable BadStr>"}
    }
    assert "&lt;unprintable BadStr&gt;" in app.get("/svc_status.html").text


def test_huge_numbers_render(app):
    huge = 10**5000
    labels = {"big": huge, "neg": -huge}
    addStatusHandler("x", fixed(state=OK, detail=huge, labels=labels))
    for path in PATHS:
        assert app.get(path).status_code == 200
    assert app.get("/svc_status").text == "x\tOK\t<unprintable int>"
    strict_json(app.get("/svc_status.json").text)
    text = app.get("/svc_status.prometheus").text
    assert 'svc_status_label{name="x",label="big"} +Inf\n' in text
    assert 'svc_status_label{name="x",label="neg"} -Inf\n' in text


def test_handler_dicts_are_never_mutated(app):
    status = {
        "state": YELLOW,
        "detail": "tab\there\nnewline",
        "labels": {"a": 1, "b": "2.5", "c": None, "d": [1]},
        "nested": {"when": datetime.date(2020, 1, 1), "set": {1, 2}, (1,): "tuple"},
        "nan": float("nan"),
        "list": [decimal.Decimal("1"), ValueError("x")],
    }
    pristine = copy.deepcopy(status)
    addStatusHandler("x", lambda: status)
    addStatusHandler("x_a", fixed(state=OK))  # collides with a label sample
    for path in PATHS:
        for accept in (None, "application/json"):
            headers = {} if accept is None else {"Accept": accept}
            app.get(path, headers=headers)
    assert repr(status) == repr(pristine)
    assert status["labels"] == pristine["labels"]
    assert status["nested"]["set"] == {1, 2}
    assert sorted(status) == sorted(pristine)


def test_cyclic_dicts_are_not_mutated(app):
    status = weird_status()
    del status["bad"]  # its repr() raises
    before = repr(status)
    addStatusHandler("x", lambda: status)
    for path in PATHS:
        app.get(path)
    assert repr(status) == before


# ---------------------------------------------------------------- CSV structure


@pytest.mark.parametrize("text", [
    "tab\there", "new\nline", "cr\rlf", "sep\u2028arator", "para\u2029graph",
    "nel\x85", "vt\x0bff\x0c", "fs\x1cgs\x1drs\x1e", "nul\x00", "end\n",
])
def test_csv_one_line_per_handler(app, text):
    addStatusHandler("name " + text, fixed(state=RED, detail="detail " + text))
    addStatusHandler("plain", fixed(state=OK, detail=text))
    addStatusHandler("z-" + text, fixed(state=text))  # an invalid state
    body = app.get("/svc_status").text
    lines = body.splitlines()
    assert len(lines) == 3
    assert body.split("\n") == lines
    for line in lines:
        assert line.count("\t") == 2
    assert lines[1].startswith("plain\tOK\t")


def test_csv_escapes(app):
    addStatusHandler("a\tb", fixed(state=OK, detail="x\ny\rz\u2028w\\v"))
    assert app.get("/svc_status").text == "a\\tb\tOK\tx\\ny\\rz\\u2028w\\v"


# ---------------------------------------------------------------- HTML page


def test_html_page(app):
    addStatusHandler("<b>db</b>", fixed(state=OK, detail='say "hi" & <go>'))
    addStatusHandler("cache", fixed(state=YELLOW, detail="warm"))
    addStatusHandler("queue", raising(OSError("down")))
    response = app.get("/svc_status.html")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == HTML
    text = response.text
    assert text.startswith("<!DOCTYPE html>")
    assert "<b>db</b>" not in text
    assert "&lt;b&gt;db&lt;/b&gt;" in text
    assert "say &quot;hi&quot; &amp; &lt;go&gt;" in text
    rows = re.findall(r"<tr class=\"(\w+)\"", text)
    assert rows == ["OK", "YELLOW", "RED"]  # sorted by name: <, c, q
    assert text.count("<tr") == 1 + 3  # the header row and one per handler
    assert 'id="overall" data-state="RED">RED<' in text
    assert "OSError: down" in text
    assert "3 handlers" in text
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00">', text)
    # self-contained: no external assets
    assert not re.search(r"(src|href)=", text)


@pytest.mark.parametrize("states, overall", [
    ([], "OK"), ([OK], "OK"), ([OK, YELLOW], "YELLOW"), ([YELLOW, RED, OK], "RED"),
])
def test_html_overall_state(app, states, overall):
    for i, state in enumerate(states):
        addStatusHandler(f"h{i}", fixed(state=state))
    text = app.get("/svc_status.html").text
    assert f'id="overall" data-state="{overall}">{overall}<' in text
    assert re.search(fr"<title>{overall} - (.* - )?service status</title>", text)
    assert text.count('<td class="name">') == len(states)


def test_background_results_render_anew_when_they_change():
    from ..helpers import wait_until

    calls = []

    def flipping():
        calls.append(1)
        return {"state": OK if len(calls) % 2 else YELLOW, "detail": f"call {len(calls)}"}

    addStatusHandler("db", flipping, interval=0.05)
    app = make_app()
    seen_csv, seen_json = set(), set()
    wait_until(lambda: seen_csv.add(app.get("/svc_status").text) or len(seen_csv) > 2,
               "the CSV of new results")
    wait_until(lambda: seen_json.add(app.get("/svc_status.json").text) or len(seen_json) > 2,
               "the JSON of new results")
    assert all(text.startswith("db\t") for text in seen_csv)
