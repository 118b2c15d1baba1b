"""An app for gunicorn in prometheus_client's multiprocess mode:
``gunicorn -c tests/prometheus/gunicorn_conf.py 'tests.prometheus.app:make_app()'``.

Each worker counts in ``lws_test_worker_loads_total`` that it loaded the
app; every response says which process answered (``X-Pid``).
"""
from __future__ import annotations

import os
from typing import Any

from pyramid.config import Configurator
from pyramid.events import NewResponse


def _add_pid(event: Any) -> None:
    event.response.headers["X-Pid"] = str(os.getpid())


def make_app() -> Any:
    # Made in the worker, after PROMETHEUS_MULTIPROC_DIR is set: its value
    # lives in the worker's own file of that directory.
    from prometheus_client import Counter

    Counter("lws_test_worker_loads", "Workers that loaded the app").inc()
    config = Configurator()
    config.include("lovely.ws.status.svcstatus")
    config.add_status_handler("db", lambda: {"state": "OK"})
    config.add_subscriber(_add_pid, NewResponse)
    return config.make_wsgi_app()
