"""The file store (``probestatus.store = file:///path``): atomic writes,
cheap reads, every app and process of the host sharing one text, and a 503
(never a 500) when the file cannot be read."""
from __future__ import annotations

import os
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

from ..helpers import make_app
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
    assert "the probe is unchanged" in response.text


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
