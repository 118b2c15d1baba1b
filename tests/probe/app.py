"""A small Pyramid app with the probe, and what runs it under real servers
(gunicorn, waitress); :mod:`tests.servers` holds how tests start such
servers and talk HTTP to them on loopback.

The app is configured by environment variables, so that gunicorn workers and
subprocesses build the same app:

``LWS_PROBE_SETTINGS``
    A JSON object of app settings (``{"probestatus.store": "file:///..."}``).
``LWS_PROBE_PORT``
    The loopback port ``python -m tests.probe.app`` serves on (waitress).

Every response carries ``X-Pid``, the id of the process that answered, so a
test can tell gunicorn workers apart.

gunicorn: ``gunicorn 'tests.probe.app:make_app()'``.
"""
from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import signal
import sys
import time
from typing import Any, Dict, List, Sequence

from ..servers import (
    Answer,
    AppServer,
    app_server,
    free_port,
    gunicorn_command,
    gunicorn_ready,
    need_gunicorn,
    request,
)

#: The dotted name of this module, for ``python -m`` and gunicorn.
MODULE = "tests.probe.app"


def make_app() -> Any:
    from ..helpers import pid_app

    return pid_app("lovely.ws.status.probestatus", "LWS_PROBE_SETTINGS")


def main() -> None:
    from waitress import serve

    logging.basicConfig(level=logging.INFO)
    port = int(os.environ["LWS_PROBE_PORT"])
    # Not quiet: waitress's "Serving on ..." is what the tests wait for.
    serve(make_app(), host="127.0.0.1", port=port, threads=2)


# --- helpers for the tests (not used by the app itself) ---------------------


def drain_and_exit(server: AppServer) -> List[Answer]:
    """SIGTERM the server; the answers seen until it stopped listening."""
    from ..helpers import PATIENCE

    seen: List[Answer] = []
    server.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + PATIENCE
    while server.proc.poll() is None and time.monotonic() < deadline:
        try:
            seen.append(request(server.port))
        except (OSError, http.client.HTTPException):
            pass  # between the last answer and the exit (a cut answer too)
        time.sleep(0.05)
    server.proc.wait(PATIENCE)
    return seen


def _env(settings: Dict[str, Any], port: int) -> Dict[str, str]:
    return {"LWS_PROBE_SETTINGS": json.dumps(settings), "LWS_PROBE_PORT": str(port)}


def gunicorn(
    settings: Dict[str, Any], workers: int = 4, extra: Sequence[str] = ()
) -> contextlib.AbstractContextManager[AppServer]:
    """gunicorn with ``workers`` sync workers, ready once each answered
    (gunicorn logs no line when a worker has loaded the app)."""
    need_gunicorn()
    port = free_port()
    return app_server(gunicorn_command(port, [*extra, f"{MODULE}:make_app()"], workers),
                      port, gunicorn_ready(port), _env(settings, port), workers)


def waitress(settings: Dict[str, Any]) -> contextlib.AbstractContextManager[AppServer]:
    """waitress in a process of its own, ready once it says it serves."""
    port = free_port()
    return app_server([sys.executable, "-m", MODULE], port,
                      f"Serving on http://127.0.0.1:{port}", _env(settings, port))


if __name__ == "__main__":
    main()
