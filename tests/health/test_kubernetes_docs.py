"""The numbers of docs/kubernetes.rst agree with each other: every probe
waits longer than ``svcstatus.timeout``, the grace period is longer than
gunicorn's graceful timeout, which is longer than the drain, and the load
balancer notices a drain before it is over. Its settings are valid."""
from __future__ import annotations

import configparser
import re
import signal
from pathlib import Path
from typing import Dict, List

from pyramid.config import Configurator

from lovely.ws.status.health import ENDPOINTS

PAGE = Path(__file__).resolve().parents[2] / "docs" / "kubernetes.rst"


def blocks(language: str) -> List[str]:
    """The code blocks of the page in ``language``, dedented."""
    found = []
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.strip() == f".. code-block:: {language}":
            body = []
            for following in lines[i + 2:]:
                if following and not following.startswith("    "):
                    break
                body.append(following[4:])
            found.append("\n".join(body).strip("\n") + "\n")
    return found


def ini_settings() -> Dict[str, str]:
    [_, production] = blocks("ini")
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(production)
    return dict(parser["app:main"])


def numbers(pattern: str, text: str) -> List[float]:
    return [float(n) for n in re.findall(pattern, text)]


def test_the_settings_are_valid(tmp_path):
    settings = ini_settings()
    includes = settings.pop("pyramid.includes").split()
    # The handlers are the page's example app's: not importable here; the
    # store's directory is the pod's.
    settings = {k: v for k, v in settings.items() if not k.startswith("svcstatus.handler")}
    assert settings["probestatus.store"].startswith("file:///")
    settings["probestatus.store"] = f"file://{tmp_path}/probe"
    before = signal.getsignal(signal.SIGTERM)
    try:
        config = Configurator(settings=settings)
        for name in includes:
            config.include(name)
        config.commit()
    finally:
        signal.signal(signal.SIGTERM, before)  # the drain's handler is this test's


def test_the_probes_wait_longer_than_the_handlers():
    timeout = float(ini_settings()["svcstatus.timeout"])
    [manifest] = blocks("yaml")
    waits = numbers(r"timeoutSeconds: (\d+)", manifest)
    assert len(waits) == 3
    assert min(waits) > timeout
    [dockerfile] = blocks("dockerfile")
    assert numbers(r"--timeout=(\d+)s", dockerfile)[0] > timeout
    [haproxy] = blocks("text")
    assert numbers(r"timeout check (\d+)s", haproxy)[0] > timeout


def test_the_grace_period_covers_the_drain():
    drain = float(ini_settings()["probestatus.drain_seconds"])
    [gunicorn_conf] = blocks("python")
    graceful = numbers(r"graceful_timeout = (\d+)", gunicorn_conf)[0]
    [manifest] = blocks("yaml")
    grace = numbers(r"terminationGracePeriodSeconds: (\d+)", manifest)[0]
    assert drain < graceful < grace
    assert "preStop" not in manifest.replace("# No preStop", "").replace(
        "No preStop sleep", "")


def test_the_load_balancer_notices_the_drain_in_time():
    drain = float(ini_settings()["probestatus.drain_seconds"])
    [haproxy] = blocks("text")
    interval = numbers(r"inter (\d+)s", haproxy)[0]
    fall = numbers(r"fall (\d+)", haproxy)[0]
    assert interval * fall < drain
    assert "GET /readyz" in haproxy


def test_the_probes_use_the_endpoints():
    [manifest] = blocks("yaml")
    paths = {e.group: e.default_path for e in ENDPOINTS}
    for probe, group in (("startupProbe", "startup"), ("readinessProbe", "readiness"),
                         ("livenessProbe", "liveness")):
        section = manifest[manifest.index(probe):]
        assert re.search(r"path: (\S+)", section).group(1) == paths[group]
    [dockerfile] = blocks("dockerfile")
    assert "/livez" in dockerfile
