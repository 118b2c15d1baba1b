"""A small Pyramid app for the console script tests (``scripts.ini``).

``scripts_app.states`` sets its handlers, one ``name = STATE`` per line:
``OK``, ``YELLOW`` and ``RED`` are returned as they are, ``RAISE`` makes
the handler raise and ``HANG`` makes it sleep far past any timeout.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict

from pyramid.config import Configurator

from lovely.ws.status import OK
from lovely.ws.status.settings import as_assignments

# Released by nobody: a HANG handler blocks its (daemon) worker thread for
# good, which the evaluator must report as a timeout.
_NEVER = threading.Event()


def make_handler(name: str, state: str) -> Callable[[], Dict[str, Any]]:
    if state == "RAISE":

        def handler() -> Dict[str, Any]:
            raise RuntimeError(f"{name} exploded")

    elif state == "HANG":

        def handler() -> Dict[str, Any]:
            _NEVER.wait(3600)
            return {"state": OK}

    else:

        def handler() -> Dict[str, Any]:
            return {"state": state, "detail": f"{name} is {state.lower()}"}

    return handler


def disk_ok() -> Dict[str, Any]:
    """Registered by dotted name from ``svcstatus.handlers``."""
    return {"state": OK, "detail": "plenty of space"}


def main(global_config: Dict[str, Any], **settings: Any) -> Any:
    config = Configurator(settings=settings)
    config.include("lovely.ws.status.svcstatus")
    config.include("lovely.ws.status.probestatus")
    for name, state in as_assignments(settings.get("scripts_app.states")):
        config.add_status_handler(name, make_handler(name, state))
    return config.make_wsgi_app()
