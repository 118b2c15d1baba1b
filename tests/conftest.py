from __future__ import annotations

import pytest

from lovely.ws import status
from lovely.ws.status import evaluation, probestatus, stores

from .servers import PostgresServer, RedisServer


@pytest.fixture(autouse=True)
def clean_registry():
    """Each test starts without handlers, with the probe at OK."""
    status.STATUS_HANDLERS.clear()
    status.HANDLER_OPTIONS.clear()
    probestatus.RESPONSE_BODY = "OK"
    stores.stop_draining()
    yield
    status.STATUS_HANDLERS.clear()
    status.HANDLER_OPTIONS.clear()
    probestatus.RESPONSE_BODY = "OK"
    stores.stop_draining()
    evaluation._default_evaluator = None


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
