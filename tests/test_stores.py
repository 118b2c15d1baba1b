"""The probe stores: memory, file (atomic, cheap reads) and Redis against a
real ``redis-server``."""
from __future__ import annotations

import logging
import os
import threading

import pytest
from pyramid.config import Configurator
from webtest import TestApp

from lovely.ws.status import probestatus, stores
from lovely.ws.status.stores import (
    DEFAULT_REDIS_KEY,
    FileStore,
    RedisStore,
    StoreUnavailable,
    parse_store_url,
    store_from_url,
)


@pytest.fixture(autouse=True)
def not_draining():
    stores.stop_draining()
    yield
    stores.stop_draining()


def make_app(store_url):
    config = Configurator(settings={"probestatus.store": store_url})
    config.include("lovely.ws.status.probestatus")
    return TestApp(config.make_wsgi_app())


def test_store_unavailable_is_the_probestatus_exception():
    assert probestatus.StoreUnavailable is StoreUnavailable


@pytest.mark.parametrize("url", [None, "", "memory", " memory ", "memory://"])
def test_memory_urls(url):
    assert store_from_url(url) is probestatus.MEMORY_STORE


def test_memory_store_refuses_bad_text():
    with pytest.raises(ValueError, match="control character"):
        probestatus.MEMORY_STORE.set("a\nb")
    assert probestatus.RESPONSE_BODY == "OK"


# --- file store -------------------------------------------------------------


class TestFileStore:
    def test_missing_file_is_ok(self, tmp_path):
        assert FileStore(str(tmp_path / "probe")).get() == "OK"

    def test_set_and_get(self, tmp_path):
        path = tmp_path / "probe"
        store = store_from_url(f"file://{path}")
        assert isinstance(store, FileStore)
        store.set("ÖFF ☃")
        assert path.read_bytes() == "ÖFF ☃".encode()
        assert store.get() == "ÖFF ☃"
        assert FileStore(str(path)).get() == "ÖFF ☃"
        store.set("OK")
        assert FileStore(str(path)).get() == "OK"

    def test_file_is_readable_by_others(self, tmp_path):
        path = tmp_path / "probe"
        FileStore(str(path)).set("OFF")
        assert os.stat(path).st_mode & 0o777 == 0o644

    def test_write_is_atomic_and_leaves_no_temporary_file(self, tmp_path):
        path = tmp_path / "probe"
        store = FileStore(str(path))
        store.set("first")
        inode = os.stat(path).st_ino
        store.set("second")
        assert os.stat(path).st_ino != inode  # a new file replaced the old one
        assert sorted(os.listdir(tmp_path)) == ["probe"]

    def test_readers_never_see_a_partial_text(self, tmp_path):
        path = tmp_path / "probe"
        writer = FileStore(str(path))
        texts = ["A" * 1000, "B" * 3, "C" * 700]
        writer.set(texts[0])
        seen = set()
        stop = threading.Event()

        def read():
            reader = FileStore(str(path))
            while not stop.is_set():
                seen.add(reader.get())

        thread = threading.Thread(target=read)
        thread.start()
        try:
            for i in range(300):
                writer.set(texts[i % 3])
        finally:
            stop.set()
            thread.join()
        assert seen <= set(texts)

    def test_read_only_when_the_file_changes(self, tmp_path):
        path = tmp_path / "probe"
        store = FileStore(str(path))
        store.set("OFF")
        # A file changed within the last 2 s is read on each GET (a coarse
        # mtime clock could hide a second change); this one is older.
        old = os.stat(path).st_mtime_ns - 10_000_000_000
        os.utime(path, ns=(old, old))
        assert store.get() == "OFF"
        # Same inode, size and mtime: the cached text is used, the file is
        # not read again (proved by changing it behind the store's back).
        st = os.stat(path)
        with open(path, "r+b") as f:
            f.write(b"ONN")
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert store.get() == "OFF"
        # Any real change (here the mtime) is seen.
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
        assert store.get() == "ONN"

    def test_write_by_hand_with_newline(self, tmp_path):
        path = tmp_path / "probe"
        path.write_text("maintenance until 14:00\n")
        assert FileStore(str(path)).get() == "maintenance until 14:00"

    def test_removed_file_is_ok_again(self, tmp_path):
        path = tmp_path / "probe"
        store = FileStore(str(path))
        store.set("OFF")
        assert store.get() == "OFF"
        path.unlink()
        assert store.get() == "OK"

    def test_set_refuses_bad_text(self, tmp_path):
        store = FileStore(str(tmp_path / "probe"))
        with pytest.raises(ValueError, match="1025 characters"):
            store.set("x" * 1025)
        assert not (tmp_path / "probe").exists()

    def test_unwritable_place_is_unavailable(self, tmp_path):
        # A file where the directory should be fails even for root.
        (tmp_path / "plain").write_text("")
        store = FileStore(str(tmp_path / "plain" / "probe"))
        with pytest.raises(StoreUnavailable, match="cannot write"):
            store.set("OFF")
        with pytest.raises(StoreUnavailable, match="cannot read"):
            store.get()

    def test_directory_in_the_way_is_unavailable(self, tmp_path):
        path = tmp_path / "probe"
        path.mkdir()
        with pytest.raises(StoreUnavailable, match="cannot read"):
            FileStore(str(path)).get()
        (path / "x").write_text("")
        with pytest.raises(StoreUnavailable, match="cannot write"):
            FileStore(str(path)).set("OFF")

    def test_relative_path_is_refused(self):
        with pytest.raises(ValueError, match="absolute"):
            FileStore("probe")

    def test_file_url_forms(self, tmp_path):
        assert store_from_url(f"file://localhost{tmp_path}/p").path == f"{tmp_path}/p"
        assert store_from_url(f"file://{tmp_path}/with%20space").path == (
            f"{tmp_path}/with space"
        )


# --- URL parsing ------------------------------------------------------------


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


@pytest.mark.parametrize(
    "url, words",
    [
        ("redis:///0", "no host"),
        ("redis://h:99999/0", "port"),
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


def test_password_is_hidden():
    store = store_from_url("redis://user:secret@127.0.0.1:1/0")
    assert "secret" not in repr(store)
    with pytest.raises(StoreUnavailable) as info:
        store.get()
    assert "secret" not in str(info.value)
    assert "user:***@127.0.0.1:1" in str(info.value)


# --- Redis against a real server --------------------------------------------


def test_redis_store_get_set(redis_server):
    import redis

    store = store_from_url(redis_server.url + "?key=myapp%3Aprobe")
    assert isinstance(store, RedisStore)
    try:
        assert store.get() == "OK"
        store.set("ÖFF")
        client = redis.Redis(port=redis_server.port)
        assert client.get("myapp:probe") == "ÖFF".encode()
        assert store.get() == "ÖFF"
        store.set("OK")
        assert client.exists("myapp:probe") == 0
        assert store.get() == "OK"
        with pytest.raises(ValueError):
            store.set("bad\x00")
        client.close()
    finally:
        store.close()


def test_two_apps_share_redis_and_survive_a_restart(redis_server, caplog):
    first = make_app(redis_server.url)
    second = make_app(redis_server.url)
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


def test_redis_down_from_the_start(redis_server):
    url = redis_server.url
    redis_server.stop()
    app = make_app(url)  # commit does not connect
    response = app.get("/probe_status", status=503)
    assert "cannot be reached" in response.text


def test_lbheartbeat_style_reader_sees_store_unavailable(redis_server):
    # What other modules (dockerflow, pprobe) rely on: get_store(registry).get()
    config = Configurator(settings={"probestatus.store": redis_server.url})
    config.include("lovely.ws.status.probestatus")
    config.commit()
    store = probestatus.get_store(config.registry)
    assert isinstance(store, RedisStore)
    store.set("OFF")
    assert store.get() == "OFF"
    redis_server.stop()
    with pytest.raises(probestatus.StoreUnavailable):
        store.get()
    with pytest.raises(probestatus.StoreUnavailable):
        store.set("OK")


def test_each_failing_store_warns_once(tmp_path, caplog):
    apps = [make_app(f"file://{tmp_path / name}") for name in ("a", "b")]
    for name in ("a", "b"):
        (tmp_path / name).mkdir()  # a directory in the way: reads fail
    for app in apps + apps:
        app.get("/probe_status", status=503)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert str(tmp_path / "a") in warnings[0]
    assert str(tmp_path / "b") in warnings[1]
