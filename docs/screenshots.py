"""Make the screenshots of the status page in ``docs/_static``.

Serves a small shop-like app whose handlers are in every state (with a
history of changes, labels, a cached and a background result), opens its
``/svc_status.html`` in headless Chromium with the tests' machinery
(``tests/servers.py``) and saves ``status-page-desktop.png`` and, with the
probe switched off, ``status-page-phone.png``. Run it from a checkout,
with Debian's chromium installed::

    .venv/bin/python docs/screenshots.py
"""
from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import time
from typing import Any, Dict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from tests.helpers import make_app  # noqa: E402
from tests.servers import chromium, serve_wsgi  # noqa: E402
from webtest import TestApp  # noqa: E402

from lovely.ws.status import OK, RED, YELLOW, probestatus  # noqa: E402

PAGE = "/svc_status.html"
STATIC = os.path.join(HERE, "_static")


def slow(seconds: float, status: Dict[str, Any]) -> Any:
    """A handler that takes ``seconds``, as a real check does."""

    def handler() -> Dict[str, Any]:
        time.sleep(seconds)
        return status

    return handler


class Script:
    """A handler that goes through ``states`` one evaluation after the other,
    then stays in the last."""

    def __init__(self, *states: Dict[str, Any]) -> None:
        self.states = list(states)

    def __call__(self) -> Dict[str, Any]:
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]


def shop(version_file: str) -> TestApp:
    def setup(config: Any) -> None:
        add = config.add_status_handler
        add("database", slow(0.003, {"state": OK, "detail": "3 ms",
                                     "labels": {"connections": 12, "idle": 9}}), interval=30)
        add("payments", Script({"state": OK, "detail": "answers in 80 ms"},
                               {"state": YELLOW, "detail": "answers in 2.1 s"},
                               {"state": RED, "detail": "connection refused "
                                "(api.payments.example:443)"}))
        add("search", Script({"state": OK}, {"state": RED, "detail": "timed out"},
                             {"state": OK, "detail": "12 ms"}))
        add("upstream", slow(0.85, {"state": YELLOW, "detail": "answers slowly (850 ms)"}),
            timeout=2)
        add("cache", lambda: {"state": YELLOW, "detail": "hit rate 41 % (warming up)",
                              "labels": {"hit_ratio": 0.41}}, ttl=60)
        add("mail", lambda: {"state": RED, "detail": "SMTP: 421 service not available"},
            critical=False)
        add("disk", lambda: {"state": OK, "detail": "62 % free",
                             "labels": {"free_bytes": 42_949_672_960}})
        add("queue-worker", lambda: {"state": OK, "detail": "processed 1812 jobs"})

    return make_app("lovely.ws.status.svcstatus", "lovely.ws.status.probestatus",
                    "lovely.ws.status.dockerflow",
                    settings={"svcstatus.name": "shop",
                              "dockerflow.version_file": version_file},
                    setup=setup)


def main() -> None:
    # The pictures show an example host, not the machine that made them.
    socket.gethostname = lambda: "shop-web-1"
    with tempfile.TemporaryDirectory() as tmp:
        version = os.path.join(tmp, "version.json")
        with open(version, "w") as f:
            json.dump({"version": "2.4.1", "commit": "9f3c2e1d8b7a6c5e4f3a2b1c0d9e8f7a6b5c4d3e",
                       "source": "https://git.example.com/shop",
                       "build": "https://ci.example.com/shop/1234"}, f)
        app = shop(version)
        for _ in range(3):  # the scripted handlers change state, a second apart
            app.get(PAGE)
            time.sleep(1.1)
        with serve_wsgi(app.app) as base, chromium() as browser:
            for name, width, probe in (("desktop", 1100, "OK"), ("phone", 400, "OFF")):
                probestatus.RESPONSE_BODY = probe
                context = browser.new_context(viewport={"width": width, "height": 600})
                page = context.new_page()
                page.goto(base + PAGE)
                path = os.path.join(STATIC, f"status-page-{name}.png")
                page.screenshot(path=path, full_page=True)
                context.close()
                print(f"{path}: {os.path.getsize(path) // 1024} KB")


if __name__ == "__main__":
    main()
