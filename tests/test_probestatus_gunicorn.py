"""gunicorn with 4 sync workers: the file store decommissions every worker
(even one started later); the memory store, as in 1.0, only the worker that
got the POST."""
from __future__ import annotations

import os
import signal
import time

import pytest

from .probe_app import gunicorn, many, request

pytestmark = pytest.mark.timeout(120)


def test_file_store_switches_every_worker(tmp_path):
    path = tmp_path / "probe"
    with gunicorn({"probestatus.store": f"file://{path}"}, workers=4) as server:
        workers = server.pids(4)

        answer = request(server.port, "POST", "/probe_status?body=OFF")
        assert (answer.status, answer.text) == (200, "OFF")
        answers = many(server.port, 200)
        assert {(a.status, a.text) for a in answers} == {(503, "OFF")}
        assert len({a.pid for a in answers}) >= 2, "one worker answered everything"
        assert {a.pid for a in answers} <= workers

        # A worker started now reads the same file.
        os.kill(server.proc.pid, signal.SIGTTIN)
        deadline = time.monotonic() + 30
        newcomers = []
        while not newcomers and time.monotonic() < deadline:
            newcomers = [a for a in many(server.port, 40) if a.pid not in workers]
        assert newcomers, "the fifth worker never answered"
        assert {(a.status, a.text) for a in newcomers} == {(503, "OFF")}

        answer = request(server.port, "POST")
        assert (answer.status, answer.text) == (200, "OK")
        answers = many(server.port, 200)
        assert {(a.status, a.text) for a in answers} == {(200, "OK")}
        assert len({a.pid for a in answers}) >= 2


def test_memory_store_switches_only_one_worker():
    """The 1.0 behaviour, kept as the default: each worker has its own text."""
    with gunicorn({}, workers=4) as server:
        server.pids(4)
        answer = request(server.port, "POST", "/probe_status?body=OFF")
        assert answer.status == 200
        switched = answer.pid

        answers = many(server.port, 200)
        others = [a for a in answers if a.pid != switched]
        assert others, "only the switched worker answered"
        assert {(a.status, a.text) for a in others} == {(200, "OK")}
        mine = [a for a in answers if a.pid == switched]
        deadline = time.monotonic() + 30
        while not mine and time.monotonic() < deadline:
            mine = [a for a in many(server.port, 40) if a.pid == switched]
        assert mine, "the switched worker never answered"
        assert {(a.status, a.text) for a in mine} == {(503, "OFF")}
