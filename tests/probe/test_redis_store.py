"""The Redis store (``probestatus.store = redis://...``) against a real
``redis-server``: shared between apps, a 503 (never a 500) while Redis is
stopped, frozen or unreachable, and back once Redis is."""
from __future__ import annotations

import logging
import os
import signal

import pytest
import redis

from lovely.ws.status import probestatus
from lovely.ws.status.probe.redisstore import RedisStore
from lovely.ws.status.probe.store import StoreUnavailable
from lovely.ws.status.probe.urls import open_store

from ..helpers import make_app, make_config

PROBE = "lovely.ws.status.probestatus"


def redis_app(url):
    return make_app(PROBE, settings={"probestatus.store": url})


@pytest.mark.server
def test_get_and_set(redis_server):
    store = open_store(redis_server.url + "?key=myapp%3Aprobe")
    assert isinstance(store, RedisStore)
    client = redis.Redis(port=redis_server.port)
    try:
        assert store.get() == "OK"
        store.set("ÖFF")
        assert client.get("myapp:probe") == "ÖFF".encode()
        assert store.get() == "ÖFF"
        store.set("OK")
        assert client.exists("myapp:probe") == 0
        assert store.get() == "OK"
        with pytest.raises(ValueError):
            store.set("bad\x00")
    finally:
        client.close()
        store.close()


@pytest.mark.server
def test_two_apps_share_redis_and_survive_a_restart(redis_server, caplog):
    first = redis_app(redis_server.url)
    second = redis_app(redis_server.url)
    assert first.get("/probe_status").text == "OK"
    assert first.post("/probe_status?body=OFF").text == "OFF"
    assert second.get("/probe_status", status=503).text == "OFF"
    assert second.post("/probe_status").text == "OK"
    assert first.get("/probe_status").text == "OK"
    assert probestatus.RESPONSE_BODY == "OK"  # not the memory store

    redis_server.stop()
    caplog.set_level(logging.INFO, logger="lovely.ws.status.probestatus")
    response = first.get("/probe_status", status=503)
    assert response.text.startswith("probe store unavailable: Redis at redis://127.0.0.1:")
    assert "cannot be reached" in response.text
    assert response.headers["Cache-Control"] == "no-store"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "cannot read the probe text" in warnings[0].getMessage()
    # Throttled: the next failures do not flood the log.
    first.get("/probe_status", status=503)
    first.head("/probe_status", status=503)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    response = second.post("/probe_status?body=OFF", status=503)
    assert "the probe is unchanged" in response.text

    redis_server.start()  # same port, empty database
    assert first.get("/probe_status").text == "OK"
    assert any("reachable again" in r.getMessage() for r in caplog.records)
    assert second.post("/probe_status?body=BACK").text == "BACK"
    assert first.get("/probe_status", status=503).text == "BACK"


@pytest.mark.server
def test_redis_down_from_the_start(redis_server):
    url = redis_server.url
    redis_server.stop()
    app = redis_app(url)  # commit does not connect
    response = app.get("/probe_status", status=503)
    assert "cannot be reached" in response.text


@pytest.mark.server
def test_frozen_redis_answers_503(redis_server):
    # A Redis that accepts connections but never answers (stopped by
    # SIGSTOP, swapped out, stuck): the probe gives up after its timeout.
    app = redis_app(redis_server.url)
    assert app.post("/probe_status?body=OFF").text == "OFF"  # a pooled connection
    os.kill(redis_server.proc.pid, signal.SIGSTOP)
    try:
        response = app.get("/probe_status", status=503)
        assert response.text.startswith("probe store unavailable")
        fresh = redis_app(redis_server.url)  # no pooled connection yet
        response = fresh.get("/probe_status", status=503)
        assert response.text.startswith("probe store unavailable")
    finally:
        os.kill(redis_server.proc.pid, signal.SIGCONT)
    assert app.get("/probe_status", status=503).text == "OFF"
    assert fresh.get("/probe_status", status=503).text == "OFF"


@pytest.mark.server
def test_store_of_an_app_is_what_other_readers_use(redis_server):
    # What other modules (dockerflow, pprobe) rely on: get_store(registry)
    # reads and writes the app's store, and says when it is unreachable.
    config = make_config(PROBE, settings={"probestatus.store": redis_server.url})
    config.commit()
    store = probestatus.get_store(config.registry)
    assert isinstance(store, RedisStore)
    store.set("OFF")
    assert store.get() == "OFF"
    redis_server.stop()
    with pytest.raises(StoreUnavailable):
        store.get()
    with pytest.raises(StoreUnavailable):
        store.set("OK")


def test_host_that_cannot_be_encoded_answers_503_not_500():
    # An empty label ("a..b") or one of more than 63 characters passes
    # redis-py's URL parser, then socket.getaddrinfo() raises UnicodeError,
    # which is neither a RedisError nor an OSError.
    app = redis_app("redis://a..b:6379/0")
    response = app.get("/probe_status", status=503)
    assert "probe store unavailable" in response.text
    response = app.post("/probe_status?body=OFF", status=503)
    assert "unchanged" in response.text
    store = open_store("redis://" + "a" * 64 + ".example:6379/0")
    with pytest.raises(StoreUnavailable):
        store.get()
    with pytest.raises(StoreUnavailable):
        store.set("OFF")
