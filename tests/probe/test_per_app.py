"""Several apps in one process: each has its own probe store, guard, path
and drain, so switching or locking one never changes another. The one
exception is 1.0's contract: every app on the default memory store shares
the process-wide text :data:`lovely.ws.status.probestatus.RESPONSE_BODY`."""
from __future__ import annotations

import os
import signal

from lovely.ws.status import probestatus
from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.probestatus import read_probe

from ..helpers import PATIENCE, make_app, wait_until

PROBE = "lovely.ws.status.probestatus"


def probe_app(**settings):
    return make_app(PROBE, settings=settings)


def answers(*apps):
    """(status, text) of ``GET /probe_status`` for each app."""
    result = []
    for app in apps:
        response = app.get("/probe_status", expect_errors=True)
        result.append((response.status_int, response.text))
    return result


def test_switching_one_app_never_changes_the_others(tmp_path):
    on_file = probe_app(**{"probestatus.store": f"file://{tmp_path / 'a'}"})
    in_memory = probe_app()
    on_other_file = probe_app(**{"probestatus.store": f"file://{tmp_path / 'b'}"})
    # A second app on the default store: 1.0 keeps one text per process, so
    # it shares the text of ``in_memory`` (and only that one).
    also_in_memory = probe_app()
    apps = (on_file, in_memory, on_other_file, also_in_memory)
    assert answers(*apps) == [(200, "OK")] * 4

    on_file.post("/probe_status?body=FILE")
    assert answers(*apps) == [(503, "FILE"), (200, "OK"), (200, "OK"), (200, "OK")]

    on_other_file.post("/probe_status?body=OTHER")
    assert answers(*apps) == [(503, "FILE"), (200, "OK"), (503, "OTHER"), (200, "OK")]

    in_memory.post("/probe_status?body=MEMORY")
    assert answers(*apps) == [
        (503, "FILE"), (503, "MEMORY"), (503, "OTHER"), (503, "MEMORY")
    ]
    assert probestatus.RESPONSE_BODY == "MEMORY"
    assert (tmp_path / "a").read_text() == "FILE"
    assert (tmp_path / "b").read_text() == "OTHER"

    on_file.post("/probe_status")
    assert answers(*apps) == [
        (200, "OK"), (503, "MEMORY"), (503, "OTHER"), (503, "MEMORY")
    ]


def test_each_app_has_its_own_guard_and_path():
    locked = probe_app(**{"probestatus.allow_from": "10.0.0.0/8",
                          "probestatus.path": "/health"})
    open_to_all = probe_app()
    stranger = {"REMOTE_ADDR": "192.0.2.1"}
    locked.post("/health?body=OFF", extra_environ=stranger, status=403)
    open_to_all.get("/health", status=404)
    assert open_to_all.post("/probe_status?body=OFF", extra_environ=stranger).text == "OFF"
    # Both are on the memory store: the text is shared, the guard is not.
    assert locked.get("/health", status=503).text == "OFF"


def test_the_drain_is_seen_by_the_apps_that_configured_it(recorder, tmp_path):
    draining = probe_app(**{"probestatus.drain_seconds": str(PATIENCE),
                            "probestatus.store": f"file://{tmp_path / 'probe'}"})
    not_draining = probe_app()
    drainer = get_app_status(draining.app.registry).drainer
    assert get_app_status(not_draining.app.registry).drainer is None

    os.kill(os.getpid(), signal.SIGTERM)
    wait_until(lambda: drainer.draining, "the drain")
    assert answers(draining, not_draining) == [(503, "DRAINING"), (200, "OK")]
    # What Dockerflow's /__lbheartbeat__ reads as well.
    assert read_probe(get_app_status(draining.app.registry)) == "DRAINING"
    assert read_probe(get_app_status(not_draining.app.registry)) == "OK"
    assert not (tmp_path / "probe").exists()  # the drain writes to no store

    os.kill(os.getpid(), signal.SIGTERM)  # end it
    wait_until(recorder.called.is_set, "the previous handler")
