"""A small Pyramid app that shows every endpoint of lovely-ws-status.

It needs no external service: the database is an embedded SQLite file,
migrated with Alembic on start, and the other handlers simulate the kinds of
things real apps check (a background worker, a flaky upstream service).
"""
from __future__ import annotations

import logging
import os
import threading
import time

from pyramid.config import Configurator
from pyramid.response import Response
from sqlalchemy import create_engine

from lovely.ws.status import GREEN, OK, RED, YELLOW
from lovely.ws.status.checks import DatabaseCheck, MigrationsCheck
from lovely.ws.status.statehandler import StateHandlerMixin

log = logging.getLogger(__name__)

HERE = os.path.dirname(os.path.abspath(__file__))


class QueueWorker(StateHandlerMixin, threading.Thread):
    """A background thread that reports its own state, as real workers do."""

    logger = log

    def __init__(self, interval: float = 1.0) -> None:
        threading.Thread.__init__(self, name="demo-queue-worker", daemon=True)
        self.interval = interval
        self.processed = 0
        self.setState(YELLOW, detail="starting")

    def run(self) -> None:
        while True:
            self.processed += 1
            # Every 45th round the queue "backs up" for a few rounds.
            if self.processed % 45 > 40:
                self.setState(YELLOW, detail="backlog of %d jobs" % (self.processed % 45 * 10))
            else:
                self.setState(GREEN, detail="processed %d job%s"
                              % (self.processed, "" if self.processed == 1 else "s"))
            time.sleep(self.interval)


class FlakyUpstream:
    """An upstream service that degrades and fails now and then, on a clock."""

    def __init__(self, period: int = 60) -> None:
        self.period = period

    def __call__(self) -> dict:
        second = int(time.time()) % self.period
        if second < self.period * 2 // 3:
            return {"state": OK, "detail": "answers in 12 ms", "labels": {"latency_ms": 12}}
        if second < self.period * 5 // 6:
            return {"state": YELLOW, "detail": "answers slowly (850 ms)",
                    "labels": {"latency_ms": 850}}
        return {"state": RED, "detail": "connection refused"}


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", os.path.join(HERE, "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def migrate(url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(url), "head")


HOME = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>lovely-ws-status demo</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 2em auto">
<h1>lovely-ws-status demo</h1>
<ul>
<li><a href="/svc_status.html">/svc_status.html</a>: the status page for people</li>
<li><a href="/svc_status">/svc_status</a> (CSV),
    <a href="/svc_status.json">/svc_status.json</a>,
    <a href="/svc_status.prometheus">/svc_status.prometheus</a></li>
<li><a href="/probe_status">/probe_status</a>: what load balancers poll
    (<code>curl -X POST 'localhost:6543/probe_status?body=OFF'</code> decommissions,
    <code>curl -X POST localhost:6543/probe_status</code> brings it back)</li>
<li>The handler <code>upstream</code> is simulated: every minute it turns YELLOW,
    then RED, then OK again, so you can see how each endpoint reports trouble.</li>
<li><a href="/__version__">/__version__</a>, <a href="/__heartbeat__">/__heartbeat__</a>,
    <a href="/__lbheartbeat__">/__lbheartbeat__</a>: Dockerflow</li>
<li>Kubernetes' probes, one group of handlers each:
    <a href="/livez?verbose">/livez</a> (<code>queue-worker</code>: what a restart fixes),
    <a href="/readyz?verbose">/readyz</a> (everything the app needs to serve; the
    probe's switch too), <a href="/startupz?verbose">/startupz</a>
    (<code>migrations</code>, every handler without a group, and the probe's switch);
    <a href="/readyz/database">/readyz/database</a> checks one handler.
    <code>upstream</code> is not critical: its RED leaves <code>/readyz</code> at 200.
    <a href="/svc_status.html?group=liveness">/svc_status.html?group=liveness</a>
    shows one group.</li>
</ul>
</body></html>
"""


def home(request):
    port = request.host_port
    return Response(HOME.replace("localhost:6543", f"localhost:{port}"), content_type="text/html")


def main(global_config, **settings):
    """The WSGI app factory (``use = egg:lovely-ws-status-demo``)."""
    url = settings.setdefault("sqlalchemy.url", "sqlite:///" + os.path.join(HERE, "demo.sqlite"))
    store = settings.get("probestatus.store", "")
    if store.startswith("file://"):
        os.makedirs(os.path.dirname(store[len("file://"):]), exist_ok=True)
    migrate(url)
    engine = create_engine(url)

    config = Configurator(settings=settings)
    config.include("lovely.ws.status.svcstatus")
    config.include("lovely.ws.status.probestatus")
    config.include("lovely.ws.status.dockerflow")
    config.include("lovely.ws.status.health")

    worker = QueueWorker()
    worker.start()
    # A dead worker thread is what a restart fixes: the one liveness check.
    config.add_status_handler("queue-worker", worker,
                              groups=["liveness", "readiness"])
    # The app serves without it (degraded): its RED must not take the pod
    # out of rotation.
    config.add_status_handler("upstream", FlakyUpstream(), timeout=1, critical=False)
    # No groups: readiness and startup. Checked in the background every 5
    # seconds: no request waits on the database, however often it is polled.
    config.add_status_handler("database", DatabaseCheck(engine), interval=5)
    # The revision changes only on deploys: once a minute is plenty.
    config.add_status_handler(
        "migrations", MigrationsCheck(engine, alembic_config(url)), interval=60,
        groups=["startup"],
    )

    config.add_route("home", "/")
    config.add_view(home, route_name="home")
    return config.make_wsgi_app()
