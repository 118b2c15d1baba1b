"""RedisCheck against real ``redis-server`` processes on loopback."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile

import pytest
import redis
from pyramid.config import Configurator
from webtest import TestApp

from lovely.ws.status import OK, RED
from lovely.ws.status.checks import RedisCheck

from ..servers import free_port, need_binary, redis_ready, stop_process, wait_until_ready

pytestmark = pytest.mark.server

PASSWORD = "red1s-pw"


@pytest.fixture
def redis_with_password():
    """A ``redis-server`` that wants :data:`PASSWORD`; yields its port."""
    binary = need_binary("redis-server", "/usr/bin/redis-server")
    port = free_port()
    directory = tempfile.mkdtemp(prefix="lws-redis-auth-")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            directory,
            "--requirepass",
            PASSWORD,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_ready(redis_ready(port), "redis-server", proc)
        yield port
    finally:
        stop_process(proc)
        shutil.rmtree(directory, ignore_errors=True)


def test_redis_url_ok_then_red_after_stop(redis_server):
    check = RedisCheck(redis_server.url, socket_timeout=2)
    try:
        status = check()
        assert status["state"] == OK
        assert status["detail"].startswith("PING: round trip ")
        redis_server.stop()
        down = check()
        assert down["state"] == RED
        assert down["detail"].startswith("ConnectionError: ")
        assert f"127.0.0.1:{redis_server.port}" in down["detail"]
    finally:
        check.close()


def test_redis_restarted_server_is_ok_at_once(redis_server):
    # The pooled connection died with the server: it is replaced at once
    # instead of making the first check after the restart RED.
    check = RedisCheck(redis_server.url, socket_timeout=2)
    try:
        assert check()["state"] == OK
        redis_server.stop()
        redis_server.start()
        assert check()["state"] == OK
    finally:
        check.close()


def test_redis_nothing_listening_is_red():
    check = RedisCheck(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=2)
    try:
        status = check()
    finally:
        check.close()
    assert status["state"] == RED
    assert status["detail"].startswith("ConnectionError: ")


def test_redis_client_timeouts_from_the_check():
    check = RedisCheck("redis://127.0.0.1:6379/0", socket_timeout=1.5)
    try:
        kwargs = check.client.connection_pool.connection_kwargs
        assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == 1.5
        assert check.owns_client
    finally:
        check.close()


@pytest.mark.parametrize("timeout", [1e300, float("inf"), float("nan"), 0, -3])
def test_redis_timeout_out_of_range_is_refused_at_once(timeout):
    with pytest.raises(ValueError, match="socket_timeout must be a positive"):
        RedisCheck("redis://127.0.0.1:6379/0", socket_timeout=timeout)


def test_redis_with_the_apps_client(redis_server):
    client = redis.Redis.from_url(redis_server.url, socket_timeout=2)
    try:
        check = RedisCheck(client)
        assert check.client is client and not check.owns_client
        assert check()["state"] == OK
        redis_server.stop()
        assert check()["state"] == RED
    finally:
        client.close()


def test_redis_password_right_and_wrong(redis_with_password):
    port = redis_with_password
    good = RedisCheck(f"redis://:{PASSWORD}@127.0.0.1:{port}/0", socket_timeout=2)
    bad = RedisCheck(f"redis://:not-{PASSWORD}@127.0.0.1:{port}/0", socket_timeout=2)
    none = RedisCheck(f"redis://127.0.0.1:{port}/0", socket_timeout=2)
    try:
        assert good()["state"] == OK
        wrong = bad()
        assert wrong["state"] == RED
        assert wrong["detail"].startswith("AuthenticationError: ")
        missing = none()
        assert missing["state"] == RED
        assert "auth" in missing["detail"].lower()
        for output in (good(), wrong, repr(good), repr(bad)):
            assert PASSWORD not in json.dumps(output)
    finally:
        for check in (good, bad, none):
            check.close()


def test_redis_from_settings(redis_server, redis_with_password, registered):
    settings = {
        "redis.url": redis_server.url,
        "svcstatus.handlers": """
            cache = lovely.ws.status.checks.RedisCheck
            sessions = lovely.ws.status.checks.RedisCheck
        """,
        "svcstatus.handler.sessions.url": (
            f"redis://:{PASSWORD}@127.0.0.1:{redis_with_password}/1"
        ),
        "svcstatus.handler.sessions.socket_timeout": "1.5",
    }
    config = Configurator(settings=settings)
    config.include("lovely.ws.status.svcstatus")
    app = TestApp(config.make_wsgi_app())
    try:
        assert registered(app)["sessions"].socket_timeout == 1.5
        body = app.get("/svc_status.json").json
        assert body["cache"]["state"] == OK
        assert body["sessions"]["state"] == OK
        redis_server.stop()
        response = app.get("/svc_status.json")
        assert response.json["cache"]["state"] == RED
        assert response.json["sessions"]["state"] == OK
        assert PASSWORD not in response.text
    finally:
        for check in registered(app).values():
            check.close()
