"""Probe store URLs (``probestatus.store``): what each opens, what is
refused before any backend is touched, and that no message shows a password."""
from __future__ import annotations

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from lovely.ws.status import probestatus
from lovely.ws.status.probe.filestore import FileStore
from lovely.ws.status.probe.redisstore import DEFAULT_REDIS_KEY, RedisStore
from lovely.ws.status.probe.store import StoreUnavailable
from lovely.ws.status.probe.urls import open_store, parse_store_url

PROBE = "lovely.ws.status.probestatus"


def test_store_unavailable_is_the_probestatus_exception():
    assert probestatus.StoreUnavailable is StoreUnavailable


@pytest.mark.parametrize("url", [None, "", "memory", " memory ", "memory://"])
def test_memory_urls(url):
    assert parse_store_url(url).kind == "memory"
    assert open_store(url) is None  # 1.0's text in this process
    assert isinstance(probestatus.store_from_url(url), probestatus.MemoryStore)


def test_file_url_forms(tmp_path):
    store = open_store(f"file://{tmp_path}/p")
    assert isinstance(store, FileStore)
    assert store.path == f"{tmp_path}/p"
    assert open_store(f"file://localhost{tmp_path}/p").path == f"{tmp_path}/p"
    assert open_store(f"file://{tmp_path}/with%20space").path == f"{tmp_path}/with space"


def test_redis_url_parsing():
    spec = parse_store_url("redis://127.0.0.1:6379/2")
    assert (spec.kind, spec.url, spec.key, spec.timeout) == (
        "redis", "redis://127.0.0.1:6379/2", DEFAULT_REDIS_KEY, 0.5)
    spec = parse_store_url(
        "redis://:pw@127.0.0.1:6379/0?key=app%3Aprobe&timeout=2&health_check_interval=5")
    assert spec.key == "app:probe"
    assert spec.timeout == 2.0
    assert spec.url == "redis://:pw@127.0.0.1:6379/0?health_check_interval=5"
    assert parse_store_url("unix:///run/redis.sock?db=1").kind == "redis"
    assert parse_store_url("rediss://cache.example:6380/0").kind == "redis"
    store = open_store("redis://127.0.0.1:6379/0?key=app%3Aprobe")
    assert isinstance(store, RedisStore)
    assert store.key == "app:probe"


@pytest.mark.parametrize(
    "url, words",
    [
        ("redis:///0", "no host"),
        ("redis://h:99999/0", "port"),
        # redis-py reads port 0 as "no port" and connects to 6379: the probe
        # would be written to whatever Redis listens there.
        ("redis://127.0.0.1:0/0", "port"),
        ("redis://h/0?key=", "key must not be empty"),
        ("redis://h/0?timeout=0", "timeout"),
        ("redis://h/0?timeout=inf", "timeout"),
        ("redis://h/0?socket_timeout=abc", "socket_timeout"),
        ("sqlite:///x", "not a probe store"),
        (42, "expected a store URL"),
    ],
)
def test_bad_urls(url, words):
    with pytest.raises(ValueError, match=words):
        parse_store_url(url)


def test_redis_port_0_is_a_configuration_error():
    config = Configurator(settings={"probestatus.store": "redis://127.0.0.1:0/0"})
    config.include(PROBE)
    with pytest.raises(ConfigurationError, match="probestatus.store"):
        config.commit()


@pytest.mark.parametrize(
    "url",
    [
        "redis://app:s3cret-pw@cache:6379/x",
        "redis://app:s3cret-pw@cache:99999/0",
        "redis://app:s3cret-pw@cache/0?bogus=1",
        "redis://app:s3cret-pw@cache/0?timeout=soon",
        "redis://:s3cret-pw@cache/0?key=",
        "redis://app:s3cret-pw@/0",
        "redis://app:s3cret/pw@cache/0",
        "http://app:s3cret-pw@cache/",
    ],
)
def test_bad_store_url_errors_hide_the_password(url):
    # The message of the ConfigurationError ends up in start-up logs and in
    # the output of pstatus/pprobe, which Docker keeps as health check output.
    config = Configurator(settings={"probestatus.store": url})
    config.include(PROBE)
    with pytest.raises(ConfigurationError, match="probestatus.store") as info:
        config.commit()
    assert "s3cret" not in str(info.value)
    assert "***" in str(info.value)


def test_unreachable_redis_hides_the_password():
    store = open_store("redis://user:secret@127.0.0.1:1/0")
    assert "secret" not in repr(store)
    with pytest.raises(StoreUnavailable) as info:
        store.get()
    assert "secret" not in str(info.value)
    assert "user:***@127.0.0.1:1" in str(info.value)


def test_unreachable_redis_names_an_ipv6_host_with_brackets():
    store = open_store("redis://app:s3cret@[::1]:1/0")
    with pytest.raises(StoreUnavailable) as info:
        store.get()
    assert "redis://app:***@[::1]:1/0" in str(info.value)
    assert "s3cret" not in str(info.value) + repr(store)
