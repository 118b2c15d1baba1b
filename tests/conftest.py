from __future__ import annotations

import pytest
from pyramid.registry import global_registry

from lovely.ws.status import STATUS_HANDLERS, probestatus
from lovely.ws.status.appstatus import IAppStatus

from .helpers import Blocked
from .servers import PostgresServer, RedisServer

#: Fixtures that start a server process: a test using one is a server test.
SERVER_FIXTURES = {"redis_server", "postgres_server", "postgres"}


def pytest_collection_modifyitems(items):
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)


def _reset() -> None:
    STATUS_HANDLERS.clear()
    probestatus.RESPONSE_BODY = "OK"
    # What views called without an app (a bare DummyRequest) keep on
    # Pyramid's global registry.
    global_registry.unregisterUtility(provided=IAppStatus)


@pytest.fixture(autouse=True)
def clean_registry():
    """Each test starts without handlers, with the probe at OK."""
    _reset()
    yield
    _reset()


@pytest.fixture
def blocked():
    """A :class:`helpers.Blocked` handler, released at teardown so that no
    thread stays behind in it."""
    handler = Blocked()
    yield handler
    handler.release.set()


@pytest.fixture
def redis_server():
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL cluster for the session; tests may stop and start it."""
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def postgres(postgres_server):
    """The session's cluster, running (restarted if a test stopped it)."""
    if not postgres_server.running:
        postgres_server.start()
    return postgres_server
