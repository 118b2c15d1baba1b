"""The file store (``probestatus.store = file:///path``): atomic writes,
cheap reads, every app and process of the host sharing one text, and a 503
(never a 500) when the file cannot be read."""
from __future__ import annotations

import logging
import os
import stat
import threading
import time
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from lovely.ws.status import probestatus
from lovely.ws.status.probe.filestore import FileStore
from lovely.ws.status.probe.store import StoreUnavailable
from lovely.ws.status.probe.urls import open_store

from ..helpers import PATIENCE, in_thread, make_app
from .test_view import BODIES, acceptable

PROBE = "lovely.ws.status.probestatus"


def file_app(path):
    return make_app(PROBE, settings={"probestatus.store": f"file://{path}"})


class TestFileStore:
    def test_missing_file_is_ok(self, tmp_path):
        assert FileStore(str(tmp_path / "probe")).get() == "OK"

    def test_set_and_get(self, tmp_path):
        path = tmp_path / "probe"
        store = open_store(f"file://{path}")
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

    def test_path_with_a_nul_byte_is_refused(self, tmp_path):
        with pytest.raises(ValueError, match="NUL"):
            FileStore(f"{tmp_path}/probe\x00x")

    def test_sees_a_same_size_rewrite_within_one_mtime_tick(self, tmp_path):
        # An operator writes the file by hand (echo OK > probe, then
        # echo NO > probe): same inode, same size, and on a file system whose
        # clock ticks coarsely (1 or 2 s on FAT, HFS+, some NFS and FUSE
        # mounts; a jiffy on older Linux kernels) the same mtime. A worker
        # that read the first text must not answer it for ever after.
        path = tmp_path / "probe"
        reader = FileStore(str(path))
        path.write_text("OK\n")
        first = os.stat(path)
        assert reader.get() == "OK"
        path.write_text("NO\n")
        os.utime(path, ns=(first.st_atime_ns, first.st_mtime_ns))  # the same tick
        assert reader.get() == "NO"
        app = file_app(path)
        assert app.get("/probe_status", status=503).text == "NO"

    def test_reads_an_old_file_once(self, tmp_path):
        # GET stays cheap: a file older than any clock tick is read once and
        # then only stat()ed.
        path = tmp_path / "probe"
        path.write_text("OFF\n")
        old = time.time_ns() - 3_600_000_000_000
        os.utime(path, ns=(old, old))
        reader = FileStore(str(path))
        assert reader.get() == "OFF"
        with open(path, "r+b") as f:  # behind the store's back, stat unchanged
            f.write(b"ONN")
        os.utime(path, ns=(old, old))
        assert reader.get() == "OFF"


# --- through the view -----------------------------------------------------------


def test_file_store_through_the_view(tmp_path):
    path = tmp_path / "probe"
    app = file_app(path)
    other = file_app(path)
    assert app.get("/probe_status").text == "OK"
    assert not path.exists()
    app.post("/probe_status?body=maintenance")
    assert path.read_text("utf-8") == "maintenance"
    assert other.get("/probe_status", status=503).text == "maintenance"
    # the memory store of this process is untouched
    assert probestatus.RESPONSE_BODY == "OK"
    other.post("/probe_status")
    assert app.get("/probe_status").text == "OK"


def test_unreadable_file_is_503_not_500(tmp_path, caplog):
    path = tmp_path / "probe"
    app = file_app(path)
    path.mkdir()  # a directory where the file should be: reading fails
    response = app.get("/probe_status", status=503)
    assert response.text.startswith("probe store unavailable: cannot read the probe")
    assert any("cannot read the probe text" in r.getMessage() for r in caplog.records)
    os.rmdir(path)
    assert app.get("/probe_status").text == "OK"


def test_file_that_cannot_be_written_is_503(tmp_path):
    path = tmp_path / "probe"
    app = file_app(path)
    app.post("/probe_status?body=before")
    os.unlink(path)
    path.mkdir()
    (path / "x").write_text("")  # a directory that os.replace() cannot replace
    response = app.post("/probe_status?body=OFF", status=503)
    assert "the text may not have been stored" in response.text


def test_file_url_with_a_nul_byte_is_a_configuration_error(tmp_path):
    # Its directory exists, so only the NUL byte can tell: without the check
    # every request to /probe_status would be a 500 (os.stat() raises
    # ValueError).
    config = Configurator(settings={"probestatus.store": f"file://{tmp_path}/probe%00x"})
    config.include(PROBE)
    with pytest.raises(ConfigurationError, match="probestatus.store"):
        config.commit()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])
@given(body=BODIES)
def test_any_body_file_store(tmp_path, body):
    path = tmp_path / "probe"
    app = file_app(path)
    app.post("/probe_status?body=before")
    response = app.post("/probe_status?body=" + quote(body, safe=""), expect_errors=True)
    if acceptable(body):
        assert response.status_int == 200
        expected = (200 if body == "OK" else 503, body)
    else:
        assert response.status_int == 400
        expected = (503, "before")
    # A second app reads the file fresh, the first one through its cache.
    for reader in (app, file_app(path)):
        after = reader.get("/probe_status", expect_errors=True)
        assert (after.status_int, after.text) == expected


# --- what else can be at the path ------------------------------------------------
# Anybody who can write to the directory can put something there.


def get_in_thread(reader):
    """``reader()`` in a thread: (status, text), or a failure if it hangs."""
    thread, out = in_thread(reader)
    thread.join(PATIENCE)
    assert not thread.is_alive(), "the read hangs"
    return out[0]


def release_fifo(path):
    # Should a reader hang in open(), a writer that comes and goes lets it go.
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_at_the_path_is_503_not_a_hang(tmp_path, caplog):
    path = tmp_path / "probe"
    app = file_app(path)
    os.mkfifo(path)
    try:
        response = get_in_thread(lambda: app.get("/probe_status", status=503))
        assert response.text == (
            f"probe store unavailable: cannot read the probe file {path}: it is a FIFO, "
            "and only a regular file is read"
        )
        assert any("it is a FIFO" in r.getMessage() for r in caplog.records)
        # The app is not stuck: with the FIFO gone it answers again.
        os.unlink(path)
        assert app.get("/probe_status").text == "OK"
    finally:
        release_fifo(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_that_takes_the_place_after_the_check_is_no_hang(tmp_path, monkeypatch):
    # The race the check on the open descriptor is for: a regular file at
    # lstat() time, a FIFO at open() time.
    path = tmp_path / "probe"
    path.write_text("OFF")
    store = FileStore(str(path))
    real_lstat = os.lstat

    def lstat_then_swap(target, *args, **kwargs):
        st = real_lstat(target, *args, **kwargs)
        if str(target) == str(path):
            os.unlink(path)
            os.mkfifo(path)
        return st

    monkeypatch.setattr(os, "lstat", lstat_then_swap)
    try:
        def read():
            with pytest.raises(StoreUnavailable, match="it is a FIFO"):
                store.get()
            return True

        assert get_in_thread(read)
    finally:
        monkeypatch.undo()
        release_fifo(path)


SECRET = "s3cr3t-token-4711"


def test_a_symlink_at_the_path_is_not_followed(tmp_path, caplog):
    secret = tmp_path / "secret"
    secret.write_text(f"API_TOKEN={SECRET}\n")
    path = tmp_path / "probe"
    app = file_app(path)
    os.symlink(secret, path)
    response = app.get("/probe_status", status=503)
    assert response.text.startswith("probe store unavailable: ")
    assert "it is a symbolic link" in response.text
    assert SECRET not in response.text
    assert all(SECRET not in r.getMessage() for r in caplog.records)


def test_a_symlink_to_environ_is_not_followed(tmp_path):
    path = tmp_path / "probe"
    os.symlink("/proc/self/environ", path)
    with pytest.raises(StoreUnavailable, match="symbolic link"):
        FileStore(str(path)).get()


def test_a_symlink_that_takes_the_place_after_the_check_is_not_followed(tmp_path,
                                                                         monkeypatch):
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    path = tmp_path / "probe"
    path.write_text("OFF")
    store = FileStore(str(path))
    real_lstat = os.lstat

    def lstat_then_swap(target, *args, **kwargs):
        st = real_lstat(target, *args, **kwargs)
        if str(target) == str(path):
            os.unlink(path)
            os.symlink(secret, path)
        return st

    monkeypatch.setattr(os, "lstat", lstat_then_swap)
    with pytest.raises(StoreUnavailable, match="symbolic link") as info:
        store.get()
    assert SECRET not in str(info.value)


def test_a_cached_text_is_not_served_for_a_symlink(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    path = tmp_path / "probe"
    path.write_text("OFF")
    old = time.time_ns() - 3_600_000_000_000
    os.utime(path, ns=(old, old))
    store = FileStore(str(path))
    assert store.get() == "OFF"  # cached
    os.unlink(path)
    os.symlink(secret, path)
    with pytest.raises(StoreUnavailable, match="symbolic link"):
        store.get()


def test_a_hard_link_to_another_file_is_not_read(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    path = tmp_path / "probe"
    os.link(secret, path)
    with pytest.raises(StoreUnavailable, match="2 names") as info:
        FileStore(str(path)).get()
    assert SECRET not in str(info.value)


def test_a_large_file_is_not_served(tmp_path):
    path = tmp_path / "probe"
    path.write_bytes(b"x" * (64 * 1024))
    app = file_app(path)
    response = app.get("/probe_status", status=503)
    assert response.text == (
        f"probe store unavailable: the probe file {path} holds more than 4098 bytes, "
        "longer than any probe text"
    )
    assert len(response.body) < 300


@pytest.mark.parametrize(
    "data, served",
    [
        ("é".encode() * 1024 + b"\r\n", "é" * 1024),
        (b"x" * 1024 + b"\n", "x" * 1024),
        (b"caf\xe9", "caf\ufffd"),  # Latin-1 by hand: replaced, still decommissioned
    ],
)
def test_the_longest_texts_are_served(tmp_path, data, served):
    path = tmp_path / "probe"
    path.write_bytes(data)
    assert FileStore(str(path)).get() == served


@pytest.mark.parametrize(
    "data, words",
    [
        (b"x" * 1025, "1025 characters long"),
        (b"maintenance\x1b]0;pwned\x07", "U+001B at position 11"),
        (b"two\nlines", "U+000A at position 3"),
        (b"tab\there", "U+0009"),
    ],
)
def test_a_file_with_no_valid_text_is_503(tmp_path, data, words):
    path = tmp_path / "probe"
    path.write_bytes(data)
    response = file_app(path).get("/probe_status", status=503)
    assert response.text.startswith(
        f"probe store unavailable: the probe file {path} holds no valid probe text: "
    )
    assert words in response.text
    assert "\x1b" not in response.text


def test_the_directory_is_synced_after_the_rename(tmp_path, monkeypatch):
    # The rename is an entry of the directory: not synced, a crash can undo it.
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    FileStore(str(tmp_path / "probe")).set("OFF")
    assert synced == [False, True]  # the file, then its directory


@pytest.mark.parametrize(
    "mode, words",
    [
        (0o777, "writable by every user"),
        (0o1777, "the sticky bit keeps them from replacing the app's file, not from "
                 "creating it while it is missing"),
    ],
)
def test_a_directory_others_can_write_is_a_warning_at_start(tmp_path, caplog, mode, words):
    directory = tmp_path / "shared"
    directory.mkdir()
    directory.chmod(mode)
    file_app(directory / "probe")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"probestatus.store: the directory {directory} ")
    assert words in warnings[0]


def test_a_private_directory_is_no_warning(tmp_path, caplog):
    directory = tmp_path / "private"
    directory.mkdir()
    directory.chmod(0o755)
    file_app(directory / "probe")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
