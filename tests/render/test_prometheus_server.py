"""A real Prometheus server scrapes /svc_status.prometheus from waitress,
with its own ``Accept`` header: it gets, and ingests, OpenMetrics."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import pytest
from pyramid.config import Configurator

from lovely.ws.status import OK, RED, YELLOW, addStatusHandler

from ..servers import (
    free_port,
    http_ready,
    need_binary,
    serve_wsgi,
    stop_process,
    wait_until_ready,
)

pytestmark = pytest.mark.server

WAIT_SECONDS = 30

HANDLERS = {
    # name: (state, labels)
    "database": (OK, {"connections": 7}),
    'quote"d': (YELLOW, None),
    "back\\slash": (RED, None),
    "new\nline": (OK, None),
    "\u00e9t\u00e9 \u2603 \U0001f600": (YELLOW, None),
    "tab\there": (OK, None),
    "": (RED, None),  # an empty label value: Prometheus drops the label
}
EXPECTED = {
    "database": 0.0,
    'quote"d': 1.0,
    "back\\slash": 2.0,
    "new\nline": 0.0,
    "\u00e9t\u00e9 \u2603 \U0001f600": 1.0,
    "tab\there": 0.0,
    "": 2.0,
    "raises": 2.0,
}

CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: lovely
    metrics_path: /svc_status.prometheus
    static_configs:
      - targets: ["{target}"]
"""


def api(base, path, **params):
    url = f"{base}/api/v1/{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=5) as response:
        data = json.load(response)
    assert data["status"] == "success", data
    return data["data"]


@pytest.fixture
def prometheus():
    """Start prometheus(1) with ``config`` text; yields a starter function."""
    binary = need_binary("prometheus")
    tmp = tempfile.mkdtemp(prefix="lws-prometheus-")
    procs = []

    def start(config_text):
        port = free_port()
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write(config_text)
        log = open(os.path.join(tmp, "prometheus.log"), "wb")
        proc = subprocess.Popen(
            [binary, f"--config.file={config}",
             f"--storage.tsdb.path={os.path.join(tmp, 'data')}",
             f"--web.listen-address=127.0.0.1:{port}",
             "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp,
        )
        log.close()
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        # Prometheus answers 503 on its API until /-/ready says 200.
        wait_until_ready(http_ready(url + "/-/ready"), "prometheus", proc, WAIT_SECONDS)
        return url

    def log_text():
        try:
            with open(os.path.join(tmp, "prometheus.log"), errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    start.log = log_text
    try:
        yield start
    finally:
        for proc in procs:
            stop_process(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def test_prometheus_ingests_every_handler(prometheus):
    for name, (state, labels) in HANDLERS.items():
        status = {"state": state, "detail": f"detail of {name}"}
        if labels:
            status["labels"] = labels
        addStatusHandler(name, lambda status=status: status)
    addStatusHandler("raises", lambda: 1 / 0)

    config = Configurator()
    config.include("lovely.ws.status.svcstatus")
    config.include("lovely.ws.status.probestatus")
    wsgi = config.make_wsgi_app()
    served = []

    def recording(environ, start_response):
        def start(status, headers, exc_info=None):
            served.append((environ.get("HTTP_ACCEPT"), dict(headers)["Content-Type"]))
            return start_response(status, headers, exc_info)

        return wsgi(environ, start)

    with serve_wsgi(recording) as app_url:
        target = app_url.split("//", 1)[1]
        base = prometheus(CONFIG.format(target=target))
        deadline = time.monotonic() + WAIT_SECONDS
        target_state = samples = None
        while time.monotonic() < deadline:
            targets = api(base, "targets")["activeTargets"]
            target_state = [(t["health"], t["lastError"]) for t in targets]
            if targets and targets[0]["health"] == "up":
                result = api(base, "query", query="svc_status")["result"]
                samples = {
                    r["metric"].get("name", ""): float(r["value"][1]) for r in result
                }
                if samples == EXPECTED:
                    break
            time.sleep(0.25)
        else:
            pytest.fail(
                f"not ingested in {WAIT_SECONDS} s: targets {target_state}, "
                f"samples {samples}\n{prometheus.log()}"
            )

        # every series came from the one target, and the scrape was whole
        result = api(base, "query", query="svc_status")["result"]
        assert {r["metric"]["job"] for r in result} == {"lovely"}
        assert {r["metric"]["instance"] for r in result} == {target}
        up = api(base, "query", query='up{job="lovely"}')["result"]
        assert [float(r["value"][1]) for r in up] == [1.0]
        durations = api(base, "query", query="svc_status_duration_seconds")["result"]
        assert len(durations) == len(HANDLERS) + 1
        assert all(float(r["value"][1]) >= 0 for r in durations)
        # the label sample is in a family of its own, so no state is 7
        labels = api(base, "query", query="svc_status_label")["result"]
        assert [(r["metric"]["name"], r["metric"]["label"], float(r["value"][1]))
                for r in labels] == [("database", "connections", 7.0)]
        checks = api(base, "query", query='svc_status_checks_total{name="raises"}')["result"]
        assert [(r["metric"]["state"], float(r["value"][1]) >= 1) for r in checks] == [
            ("RED", True)]
        probe = api(base, "query", query="svc_status_probe")["result"]
        assert [float(r["value"][1]) for r in probe] == [1.0]

    # what Prometheus asked for, and got
    assert served
    for accept, content_type in served:
        assert accept.startswith("application/openmetrics-text;version=1.0.0")
        assert content_type == "application/openmetrics-text; version=1.0.0; charset=utf-8"
