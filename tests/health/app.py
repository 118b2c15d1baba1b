"""The app that ``test_gunicorn`` serves: the probe and the health
endpoints, one handler in ``liveness`` and ``readiness``.

``[app:main]`` of an ``.ini`` file: ``use = call:tests.health.app:main``.
Every response carries ``X-Pid``, the id of the process that answered.
"""
from __future__ import annotations

import os
from typing import Any

from pyramid.config import Configurator
from pyramid.events import NewResponse

from lovely.ws.status import OK


def _add_pid(event: Any) -> None:
    event.response.headers["X-Pid"] = str(os.getpid())


def database() -> Any:
    return {"state": OK, "detail": "3 ms"}


def main(global_config: Any, **settings: Any) -> Any:
    config = Configurator(settings=settings)
    config.include("lovely.ws.status.probestatus")
    config.include("lovely.ws.status.health")
    config.add_status_handler("database", database, groups=["liveness", "readiness"])
    config.add_subscriber(_add_pid, NewResponse)
    return config.make_wsgi_app()
