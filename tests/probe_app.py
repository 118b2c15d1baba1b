"""A small Pyramid app with the probe, for tests that run real servers.

Configured by environment variables, so that gunicorn workers and
subprocesses build the same app:

``LWS_PROBE_SETTINGS``
    A JSON object of app settings (``{"probestatus.store": "file:///..."}``).
``LWS_PROBE_PORT``
    The loopback port ``python -m tests.probe_app`` serves on (waitress).

Every response carries ``X-Pid``, the id of the process that answered, so a
test can tell gunicorn workers apart.

gunicorn: ``gunicorn 'tests.probe_app:make_app()'``.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any

from pyramid.config import Configurator
from pyramid.events import NewResponse


def _add_pid(event: Any) -> None:
    event.response.headers["X-Pid"] = str(os.getpid())


def make_app() -> Any:
    settings = json.loads(os.environ.get("LWS_PROBE_SETTINGS") or "{}")
    config = Configurator(settings=settings)
    config.include("lovely.ws.status.probestatus")
    config.add_subscriber(_add_pid, NewResponse)
    return config.make_wsgi_app()


def main() -> None:
    from waitress import serve

    logging.basicConfig(level=logging.INFO)
    port = int(os.environ["LWS_PROBE_PORT"])
    serve(make_app(), host="127.0.0.1", port=port, threads=2, _quiet=True)


if __name__ == "__main__":
    main()
