"""A probe store that cannot be reached: every GET answers 503, and the log
gets one warning when the outage starts (then at most one per interval,
counting the failures left out), and one info record when it is over."""
from __future__ import annotations

import logging

import pytest

from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.probe.store import StoreUnavailable, checked_text

from ..helpers import make_app

PROBE = "lovely.ws.status.probestatus"
LOGGER = "lovely.ws.status.probestatus"


class SwitchableStore:
    """A store that is down while :attr:`down` is true."""

    url = "switchable://"

    def __init__(self):
        self.down = False
        self.text = "OK"

    def get(self):
        if self.down:
            raise StoreUnavailable("switched off by the test")
        return self.text

    def set(self, text):
        if self.down:
            raise StoreUnavailable("switched off by the test")
        self.text = checked_text(text)

    def __repr__(self):
        return "<SwitchableStore>"


@pytest.fixture
def app():
    """A probe app on a :class:`SwitchableStore` (``app.store``)."""
    test_app = make_app(PROBE)
    store = SwitchableStore()
    get_app_status(test_app.app.registry).store = store
    test_app.store = store
    return test_app


def records(caplog, level):
    return [r.getMessage() for r in caplog.records
            if r.name == LOGGER and r.levelno == level]


def test_one_warning_for_an_outage_and_one_info_when_it_is_over(app, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    assert app.get("/probe_status").text == "OK"
    app.store.down = True
    for _ in range(20):
        response = app.get("/probe_status", status=503)
        assert response.text == "probe store unavailable: switched off by the test"
    assert records(caplog, logging.WARNING) == [
        "probe_status cannot read the probe text: switched off by the test"
    ]
    assert records(caplog, logging.INFO) == []

    app.store.down = False
    app.store.text = "BACK"
    for _ in range(3):
        assert app.get("/probe_status", status=503).text == "BACK"
    assert records(caplog, logging.INFO) == [
        "probe_status: the probe store <SwitchableStore> is reachable again"
    ]
    assert len(records(caplog, logging.WARNING)) == 1

    # The next outage is news again.
    app.store.down = True
    app.get("/probe_status", status=503)
    assert len(records(caplog, logging.WARNING)) == 2


def test_a_lasting_outage_warns_again_after_the_interval(app, caplog):
    throttle = get_app_status(app.app.registry).store_throttle
    throttle.interval = 3600.0
    app.store.down = True
    for _ in range(10):
        app.get("/probe_status", status=503)
    assert len(records(caplog, logging.WARNING)) == 1
    throttle.interval = 0.0  # the interval has passed
    app.get("/probe_status", status=503)
    assert records(caplog, logging.WARNING)[1] == (
        "probe_status cannot read the probe text: switched off by the test "
        "(9 more failures since the last warning)"
    )


def test_a_post_that_cannot_be_stored_is_503_and_logged(app, caplog):
    app.store.down = True
    response = app.post("/probe_status?body=OFF", status=503)
    assert response.text == (
        # A write that failed (a timeout above all) may still have landed.
        "probe store unavailable, the text may not have been stored: "
        "switched off by the test"
    )
    assert records(caplog, logging.WARNING) == [
        "probe_status cannot store the probe text: switched off by the test"
    ]
    app.store.down = False
    assert app.store.text == "OK"


def test_each_failing_store_warns_once(tmp_path, caplog):
    apps = [
        make_app(PROBE, settings={"probestatus.store": f"file://{tmp_path / name}"})
        for name in ("a", "b")
    ]
    for name in ("a", "b"):
        (tmp_path / name).mkdir()  # a directory in the way: reads fail
    for app in apps + apps:
        app.get("/probe_status", status=503)
    warnings = records(caplog, logging.WARNING)
    assert len(warnings) == 2
    assert str(tmp_path / "a") in warnings[0]
    assert str(tmp_path / "b") in warnings[1]
