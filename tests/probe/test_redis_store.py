"""The Redis store (``probestatus.store = redis://...``) against a real
``redis-server``: shared between apps, a 503 (never a 500) while Redis is
stopped, frozen or unreachable, and back once Redis is."""
from __future__ import annotations

import logging
import os
import signal
import socket

import pytest
import redis

from lovely.ws.status import probestatus
from lovely.ws.status.probe.redisstore import DEFAULT_REDIS_KEY, RedisStore
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
    assert "the text may not have been stored" in response.text

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
    assert "may not have been stored" in response.text
    store = open_store("redis://" + "a" * 64 + ".example:6379/0")
    with pytest.raises(StoreUnavailable):
        store.get()
    with pytest.raises(StoreUnavailable):
        store.set("OFF")


# --- what the key may hold ---------------------------------------------------------


@pytest.mark.server
def test_a_large_value_is_not_read_whole(redis_server):
    client = redis.Redis(port=redis_server.port)
    app = redis_app(redis_server.url)
    try:
        client.set(DEFAULT_REDIS_KEY, b"x" * (8 * 1024 * 1024))
        before = client.info("stats")["total_net_output_bytes"]
        response = app.get("/probe_status", status=503)
        sent = client.info("stats")["total_net_output_bytes"] - before
    finally:
        client.close()
    assert response.text == (
        f"probe store unavailable: the Redis key {DEFAULT_REDIS_KEY!r} holds more "
        "than 4098 bytes, longer than any probe text"
    )
    # Redis sent a few KiB for the probe (and the INFO reply), not 8 MiB.
    assert sent < 64 * 1024


@pytest.mark.server
@pytest.mark.parametrize(
    "value, words",
    [
        (b"maintenance\x1b]0;pwned\x07", "U+001B at position 11"),
        (b"two\nlines", "U+000A at position 3"),
        (b"x" * 1025, "1025 characters long"),
    ],
)
def test_a_value_that_is_no_probe_text_is_503(redis_server, value, words):
    client = redis.Redis(port=redis_server.port)
    try:
        client.set(DEFAULT_REDIS_KEY, value)
    finally:
        client.close()
    response = redis_app(redis_server.url).get("/probe_status", status=503)
    assert response.text.startswith(
        f"probe store unavailable: the Redis key {DEFAULT_REDIS_KEY!r} holds no valid "
        "probe text: "
    )
    assert words in response.text
    assert "\x1b" not in response.text


@pytest.mark.server
def test_empty_text_and_missing_key_are_told_apart(redis_server):
    store = open_store(redis_server.url)
    try:
        store.set("")
        assert store.get() == ""
        store.set("OK")
        assert store.get() == "OK"
        store.set("é" * 1024)
        assert store.get() == "é" * 1024
    finally:
        store.close()


class FrozenServer:
    """A listening socket nobody serves: the kernel completes each TCP
    handshake and takes what is sent, and nothing ever answers (a Redis
    stopped by SIGSTOP, as far as a client can tell); :meth:`connections`
    counts the connections made to it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.accepted = []

    def connections(self):
        # Every connection made is complete and waits in the backlog.
        while True:
            try:
                self.accepted.append(self.sock.accept()[0])
            except BlockingIOError:
                return len(self.accepted)

    def close(self):
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.mark.server
def test_a_frozen_redis_costs_one_attempt_not_two():
    # Each attempt is one timeout: a retry would make every probe twice as
    # slow as probestatus.store's timeout promises. Counted, not timed.
    server = FrozenServer()
    try:
        app = redis_app(f"redis://127.0.0.1:{server.port}/0?timeout=0.2")
        response = app.get("/probe_status", status=503)
        assert "Timeout" in response.text
        assert server.connections() == 1
        app.post("/probe_status?body=OFF", status=503)
        assert server.connections() == 2
    finally:
        server.close()
