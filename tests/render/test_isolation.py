"""A detail whose ``__str__`` blocks (a label whose ``__float__`` does) holds
no request: its text is made on a status thread under the timeout, and a
placeholder stands in for it when that does not return; one stuck render
holds one thread, not one per request."""
from __future__ import annotations

import json
import threading

import pytest

from lovely.ws.status import OK, RED, addStatusHandler
from lovely.ws.status.text import PLACEHOLDER, RAISE, NotPlain, reset_mode, set_mode, to_text

from ..helpers import PATIENCE, make_app

PLACEHOLDER_TEXT = "<Stalling: not rendered, its code did not return in time>"


class Stalling:
    """A value whose text and number wait until :attr:`release` is set."""

    def __init__(self):
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()

    def _stall(self):
        self.calls += 1
        self.entered.set()
        self.release.wait(PATIENCE)

    def __str__(self):
        self._stall()
        return "the text, late"

    def __float__(self):
        self._stall()
        return 1.5


class Speaking:
    """A value with its own, prompt ``__str__``."""

    def __str__(self):
        return "spoken"


@pytest.fixture
def stalling():
    value = Stalling()
    yield value
    value.release.set()


def app_with(detail=None, labels=None, timeout="0.2", includes=(), **settings):
    addStatusHandler("fine", lambda: {"state": OK, "detail": "all good"})
    status = {"state": RED, "detail": detail}
    if labels is not None:
        status["labels"] = labels
    addStatusHandler("odd", lambda: dict(status))
    return make_app("lovely.ws.status.svcstatus", *includes,
                    settings={"svcstatus.timeout": timeout, **settings})


def test_a_detail_that_blocks_is_replaced_in_csv(stalling):
    body = app_with(stalling).get("/svc_status").text
    assert body == f"fine\tOK\tall good\nodd\tRED\t{PLACEHOLDER_TEXT}"
    assert stalling.entered.is_set() and not stalling.release.is_set()


def test_a_detail_that_blocks_is_replaced_in_json(stalling):
    data = app_with(stalling).get("/svc_status.json").json
    assert data == {"fine": {"state": OK, "detail": "all good"},
                    "odd": {"state": RED, "detail": PLACEHOLDER_TEXT}}


def test_a_label_that_blocks_is_nan_in_prometheus(stalling):
    body = app_with("x", labels={"lag": stalling}).get("/svc_status.prometheus").text
    assert 'svc_status_label{name="odd",label="lag"} NaN\n' in body
    assert 'svc_status{name="fine"} 0\n' in body


def test_a_detail_that_blocks_in_health_json(stalling):
    app = app_with(stalling)
    response = app.get("/svc_status", headers={"Accept": "application/health+json"},
                       status=503)
    assert PLACEHOLDER_TEXT in response.text


def test_a_detail_that_blocks_on_the_kubernetes_endpoints(stalling):
    app = app_with(stalling, includes=("lovely.ws.status.health",),
                   **{"health.show_details": "always"})
    body = app.get("/readyz?verbose", status=503).text
    assert PLACEHOLDER_TEXT in body and "[+]fine ok" in body


def test_a_detail_that_blocks_on_the_heartbeat(stalling):
    app = app_with(stalling, includes=("lovely.ws.status.dockerflow",))
    data = app.get("/__heartbeat__", status=500).json
    assert data["details"]["odd"]["detail"] == PLACEHOLDER_TEXT


def test_a_detail_that_blocks_on_the_status_page(stalling):
    body = app_with(stalling).get("/svc_status.html").text
    assert "not rendered, its code did not return in time" in body
    assert "all good" in body


def test_one_stuck_render_holds_one_thread(stalling):
    app = app_with(stalling)
    for _ in range(5):
        assert PLACEHOLDER_TEXT in app.get("/svc_status").text
    # The first request's render is still stuck: the others did not start one.
    assert stalling.calls == 1


def test_once_it_returns_the_detail_is_rendered_again(stalling):
    app = app_with(stalling, timeout=str(PATIENCE))
    stalling.release.set()  # slow, but returning
    assert app.get("/svc_status").text.endswith("odd\tRED\tthe text, late")


def test_a_stuck_render_that_returns_frees_the_way():
    value = Stalling()
    app = app_with(value)
    assert PLACEHOLDER_TEXT in app.get("/svc_status").text
    value.release.set()
    # Its thread finishes the late render; then a render may be tried again.
    from ..helpers import wait_until

    wait_until(lambda: "the text, late" in app.get("/svc_status").text,
               "the detail rendered once its __str__ returns promptly")


def test_values_with_their_own_prompt_text_render_as_before():
    app = app_with(Speaking())
    assert app.get("/svc_status").text.endswith("odd\tRED\tspoken")
    assert app.get("/svc_status.json").json["odd"]["detail"] == "spoken"
    addStatusHandler("failed", lambda: {"state": RED, "detail": ValueError("boom")})
    assert app.get("/svc_status.json").json["failed"]["detail"] == "ValueError: boom"
    assert app.get("/svc_status").text.endswith("failed\tRED\tboom\nfine\tOK\tall good"
                                                "\nodd\tRED\tspoken")


def test_handlers_called_in_the_request_thread_render_there_too():
    app = app_with(Speaking(), **{"svcstatus.concurrent": "false"})
    assert app.get("/svc_status").text.endswith("odd\tRED\tspoken")


# --- the modes ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["text", 3, 2.5, True, None, b"x"])
def test_plain_values_are_text_in_every_mode(value):
    for mode in (RAISE, PLACEHOLDER):
        token = set_mode(mode)
        try:
            assert to_text(value) == str(value)
        finally:
            reset_mode(token)


def test_other_values_raise_or_are_placeholders():
    token = set_mode(RAISE)
    try:
        with pytest.raises(NotPlain):
            to_text(Speaking())
    finally:
        reset_mode(token)
    token = set_mode(PLACEHOLDER)
    try:
        assert to_text(Speaking()) == ("<Speaking: not rendered, its code did not return "
                                       "in time>")
    finally:
        reset_mode(token)
    assert to_text(Speaking()) == "spoken"


def test_a_placeholder_is_valid_json_everywhere():
    from lovely.ws.status.render.json import render_json

    token = set_mode(PLACEHOLDER)
    try:
        text = render_json({"a": {"detail": Speaking(), "nested": [Speaking(), {1: Speaking()}]}})
    finally:
        reset_mode(token)
    assert json.loads(text) == {"a": {"detail": "<Speaking: not rendered, its code did not "
                                                "return in time>",
                                      "nested": ["<Speaking: not rendered, its code did not "
                                                 "return in time>",
                                                 {"1": "<Speaking: not rendered, its code did "
                                                       "not return in time>"}]}}


def test_a_placeholder_is_not_kept_for_the_next_request():
    class SlowOnce:
        """Prompt, but for its second text."""

        def __init__(self):
            self.release = threading.Event()
            self.calls = 0

        def __str__(self):
            self.calls += 1
            if self.calls == 2:
                self.release.wait(PATIENCE)
            return "fine detail"

    detail = SlowOnce()
    addStatusHandler("bg", lambda: {"state": OK, "detail": detail}, interval=3600)
    app = make_app(settings={"svcstatus.timeout": "0.3"})
    assert app.get("/svc_status").text == "bg\tOK\tfine detail"  # the request ran it
    try:
        # From the background result now, as every request after it.
        assert "<SlowOnce: not rendered" in app.get("/svc_status").text
    finally:
        detail.release.set()
    from ..helpers import wait_until

    # The same background result, rendered again: its text this time.
    wait_until(lambda: app.get("/svc_status").text == "bg\tOK\tfine detail",
               "the detail's text once its __str__ is prompt")
