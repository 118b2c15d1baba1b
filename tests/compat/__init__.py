"""A small Pyramid application written against lovely-ws-status 1.0.

It is deliberately written the way a 1.0 user wrote it (no API of the port
is used anywhere), so that ``test_compat_app.py`` proves that an existing
application and its test suite run unchanged against this package. The
same suite also runs against the original 1.0 release::

    /tmp/v10/bin/python -m pytest tests/compat --noconftest

The app has an order counter of its own in ``prometheus_client``'s default
registry, a home view, and five status handlers of every kind 1.0 allowed:
plain functions, a callable object and ``StateHandlerMixin`` subclasses (one
a background thread with a logger).
"""
import logging
import threading

from pyramid.config import Configurator
from pyramid.view import view_config

from lovely.ws.status import OK, RED, YELLOW, addStatusHandler
from lovely.ws.status.statehandler import StateHandlerMixin

try:
    from prometheus_client import Counter
except ImportError:  # pragma: no cover - the app works without it
    Counter = None

log = logging.getLogger(__name__)

if Counter is not None:
    ORDERS = Counter("compat_app_orders", "Orders placed through the compat app")
else:  # pragma: no cover
    ORDERS = None


# --- status handlers --------------------------------------------------------


def database_status():
    """A plain function: the database is reachable."""
    return {"state": OK, "detail": "postgresql://db/orders"}


def search_status():
    """A plain function for a dependency that is down.

    ``labels`` that is not a dict is ignored by the Prometheus output; the
    extra key ``since`` travels along in the JSON output.
    """
    return {
        "state": RED,
        "detail": "connection refused",
        "labels": "n/a",
        "since": "2018-03-01T12:00:00",
    }


class DiskSpace:
    """A callable object: YELLOW below ``warn`` percent free, RED below ``alarm``."""

    def __init__(self, free_percent, warn=20, alarm=5):
        self.free_percent = free_percent
        self.warn = warn
        self.alarm = alarm

    def __call__(self):
        if self.free_percent < self.alarm:
            state = RED
        elif self.free_percent < self.warn:
            state = YELLOW
        else:
            state = OK
        return {
            "state": state,
            "detail": "free %d%%" % self.free_percent,
            "labels": {"free_percent": self.free_percent},
        }


class CacheConnection(StateHandlerMixin):
    """A connection manager keeping its own state (no thread)."""

    logger = logging.getLogger("compat_app.cache")

    def __init__(self, hits=0, misses=0):
        self.hits = hits
        self.misses = misses

    def connect(self):
        self.setState(
            OK, detail="connected", labels={"hits": self.hits, "misses": self.misses}
        )

    def disconnect(self, reason):
        self.setState(RED, detail=reason)


class QueueWorker(StateHandlerMixin, threading.Thread):
    """A background thread reporting its state through the mixin."""

    logger = logging.getLogger("compat_app.queue")

    def __init__(self):
        threading.Thread.__init__(self, name="compat-app-queue", daemon=True)
        self._stop_event = threading.Event()
        self.setState(YELLOW, detail="starting")

    def run(self):
        self.setState(OK, detail="idle")
        self._stop_event.wait()
        self.setState(RED, detail="stopped")

    def stop(self):
        self._stop_event.set()
        self.join(5)


# --- views and app factory ----------------------------------------------------


@view_config(route_name="home", renderer="string")
def home_view(request):
    return "compat app"


@view_config(route_name="order", request_method="POST", renderer="json")
def order_view(request):
    if ORDERS is not None:
        ORDERS.inc()
    return {"ordered": True}


def register_handlers(registry, disk_free_percent=15):
    """Register the app's status handlers (1.0 style: the global registry)."""
    cache = CacheConnection(hits=10, misses=2)
    cache.connect()
    worker = QueueWorker()
    addStatusHandler("search", search_status)
    addStatusHandler("database", database_status)
    addStatusHandler("disk", DiskSpace(disk_free_percent))
    addStatusHandler("queue", worker)
    addStatusHandler("cache", cache)
    registry["compat_app.cache"] = cache
    registry["compat_app.queue"] = worker
    worker.start()


def main(global_config=None, **settings):
    """The app factory, as in the 1.0 README."""
    config = Configurator(settings=settings)
    config.include("lovely.ws.status.svcstatus")
    config.include("lovely.ws.status.probestatus")
    config.scan("lovely.ws.status.svcstatus")
    config.scan("lovely.ws.status.probestatus")
    config.add_route("home", "/")
    config.add_route("order", "/order")
    # (the test module lives in this package too: not part of the app)
    config.scan(__name__, ignore=[".test_compat_app"])
    register_handlers(
        config.registry, int(settings.get("compat_app.disk_free_percent", 15))
    )
    return config.make_wsgi_app()
