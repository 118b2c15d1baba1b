"""gunicorn with four workers in prometheus_client's multiprocess mode:
any worker's /svc_status.prometheus shows the sums over all of them."""
from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..helpers import PATIENCE
from ..servers import free_port, stop_process, wait_until_ready

pytestmark = pytest.mark.server

parser = pytest.importorskip("prometheus_client.parser")

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.read().decode("utf-8"), int(response.getheader("X-Pid"))
    finally:
        conn.close()


def value(text, metric, **labels):
    for family in parser.text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == metric and sample.labels == labels:
                return sample.value
    return None


@pytest.fixture
def server(tmp_path):
    pytest.importorskip("gunicorn")
    directory = tmp_path / "multiproc"
    directory.mkdir()
    port = free_port()
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(directory))
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    log = open(tmp_path / "gunicorn.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
         "--workers", str(WORKERS), "--worker-class", "sync",
         "-c", str(ROOT / "tests" / "prometheus" / "gunicorn_conf.py"),
         "tests.prometheus.app:make_app()"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        # (a path without a view: that request evaluates no handler)
        wait_until_ready(lambda: get(port, "/ready")[1] > 0, "gunicorn", proc)
        yield port
    finally:
        stop_process(proc, 30)
        log.close()


def test_one_scrape_shows_the_sum_over_the_workers(server):
    requests = 0
    pids = set()
    deadline = time.monotonic() + PATIENCE
    while len(pids) < WORKERS:  # until every worker has loaded the app
        assert time.monotonic() < deadline, f"only workers {pids} answered"
        pids.add(get(server, "/svc_status")[1])
        requests += 1

    answered = set()
    while len(answered) < 2:  # scrapes answered by two workers at least
        assert time.monotonic() < deadline, f"only worker {answered} answered scrapes"
        text, pid = get(server, "/svc_status.prometheus")
        requests += 1
        answered.add(pid)
        # each worker counted once: every scrape, whichever worker answers it
        assert value(text, "lws_test_worker_loads_total") == WORKERS

    # and the evaluations of every worker (each counts its own within a second)
    while True:
        text, _ = get(server, "/svc_status.prometheus")
        requests += 1
        counted = value(text, "svc_status_checks_total", name="db", state="OK")
        if counted == requests:
            break
        assert counted < requests
        assert time.monotonic() < deadline, f"{counted} of {requests} evaluations counted"
        time.sleep(0.2)
