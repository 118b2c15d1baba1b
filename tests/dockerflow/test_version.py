"""``/__version__``: the version file (or callback) as JSON, 404 without one,
500 (logged, nothing leaked) when it is broken."""
from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import pytest
from pyramid.exceptions import ConfigurationError

from lovely.ws.status.dockerflow.views import VersionError, VersionFile, default_version_path

from ..helpers import PATIENCE, make_app, make_config

DOCKERFLOW = "lovely.ws.status.dockerflow"

VERSION = {
    "source": "https://github.com/example/app",
    "version": "1.2.3",
    "commit": "0123456789abcdef",
    "build": "https://ci.example.com/build/42",
}


# Used through dotted names in the settings.
def version_callback(request):
    return dict(VERSION, host=request.host)


def version_callback_none(request):
    return None


def version_callback_raises(request):
    raise RuntimeError("no git here")


def version_callback_list(request):
    return ["1.2.3"]


def version_app(**settings):
    return make_app(DOCKERFLOW, settings={f"dockerflow.{k}": v for k, v in settings.items()})


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


# ------------------------------------------------------------ version file


def test_from_a_file(tmp_path):
    path = tmp_path / "version.json"
    _write(path, json.dumps(VERSION, indent=2))
    response = version_app(version_file=str(path)).get("/__version__", status=200)
    assert response.json == VERSION
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"


def test_the_file_is_read_again_when_it_changes(tmp_path):
    path = tmp_path / "version.json"
    _write(path, json.dumps(VERSION))
    app = version_app(version_file=str(path))
    assert app.get("/__version__").json["version"] == "1.2.3"
    _write(path, json.dumps(dict(VERSION, version="1.2.4-rc1")))
    stat = path.stat()
    # A different mtime even on file systems with coarse timestamps.
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    assert app.get("/__version__").json["version"] == "1.2.4-rc1"
    path.unlink()
    app.get("/__version__", status=404)


def test_a_missing_file_is_404(tmp_path):
    response = version_app(version_file=str(tmp_path / "nope.json")).get(
        "/__version__", status=404
    )
    assert response.headers["Content-Type"] == "application/json"
    assert response.json == {"error": "no version information"}


@pytest.mark.parametrize(
    "content, reason",
    [
        ('{"version": "1.2.3",', "is not valid JSON"),
        (b"\xff\xfe\x00garbage", "is not valid JSON"),
        ('["1.2.3"]', "holds a JSON list, not an object"),
    ],
)
def test_an_invalid_file_is_500_and_logged(tmp_path, caplog, content, reason):
    path = tmp_path / "version.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        _write(path, content)
    app = version_app(version_file=str(path))
    with caplog.at_level(logging.ERROR, "lovely.ws.status.dockerflow"):
        response = app.get("/__version__", status=500)
    assert response.headers["Content-Type"] == "application/json"
    assert set(response.json) == {"error"}
    assert "Traceback" not in response.text
    assert str(path) not in response.text
    [record] = [r for r in caplog.records if r.name == "lovely.ws.status.dockerflow"]
    assert record.levelno == logging.ERROR
    assert str(path) in record.getMessage()
    assert reason in record.getMessage()


def test_an_unreadable_file_is_500_and_logged(tmp_path, caplog):
    path = tmp_path / "version.json"
    path.mkdir()  # exists, but cannot be read as a file (even by root)
    app = version_app(version_file=str(path))
    with caplog.at_level(logging.ERROR, "lovely.ws.status.dockerflow"):
        response = app.get("/__version__", status=500)
    assert "Traceback" not in response.text
    assert "cannot read the version file" in caplog.text


def test_a_file_without_the_dockerflow_keys_is_served_with_one_warning(tmp_path, caplog):
    path = tmp_path / "version.json"
    _write(path, '{"version": "1.2.3"}')
    app = version_app(version_file=str(path))
    with caplog.at_level(logging.WARNING, "lovely.ws.status.dockerflow"):
        assert app.get("/__version__").json == {"version": "1.2.3"}
        app.get("/__version__")
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "source, commit, build" in record.getMessage()


def test_the_default_file_is_in_app_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("APP_DIR", str(tmp_path))
    _write(tmp_path / "version.json", json.dumps(VERSION))
    assert make_app(DOCKERFLOW).get("/__version__").json == VERSION
    assert default_version_path() == str(tmp_path / "version.json")
    monkeypatch.delenv("APP_DIR")
    assert default_version_path() == "/app/version.json"


def test_the_file_as_an_asset_spec(tmp_path, monkeypatch):
    package = tmp_path / "dockerflow_asset_pkg"
    package.mkdir()
    _write(package / "__init__.py", "")
    _write(package / "version.json", json.dumps(VERSION))
    monkeypatch.syspath_prepend(str(tmp_path))
    app = version_app(version_file="dockerflow_asset_pkg:version.json")
    assert app.get("/__version__").json == VERSION


def test_a_relative_path_is_taken_from_the_working_directory_at_commit(
    tmp_path, monkeypatch
):
    _write(tmp_path / "v.json", json.dumps(VERSION))
    monkeypatch.chdir(tmp_path)
    app = version_app(version_file="v.json")
    monkeypatch.chdir("/")
    assert app.get("/__version__").json == VERSION


def test_a_path_with_a_nul_byte_fails_at_commit(tmp_path):
    bad = f"{tmp_path}/version\x00.json"
    config = make_config(DOCKERFLOW, settings={"dockerflow.version_file": bad})
    with pytest.raises(ConfigurationError, match="dockerflow.version_file"):
        config.commit()
    with pytest.raises(VersionError):
        VersionFile(bad)()


def test_a_fifo_is_500_without_waiting_for_a_writer(tmp_path, caplog):
    fifo = tmp_path / "version.json"
    os.mkfifo(fifo)
    app = version_app(version_file=str(fifo))
    answers = []
    thread = threading.Thread(
        target=lambda: answers.append(app.get("/__version__", expect_errors=True)),
        daemon=True,
    )
    thread.start()
    thread.join(PATIENCE)
    hung = thread.is_alive()
    if hung:  # let the blocked open() go: a writer comes and leaves
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(PATIENCE)
    assert not hung, "/__version__ waited for a writer of the FIFO"
    assert answers[0].status_int == 500
    assert str(tmp_path) not in answers[0].text
    assert "not a regular file" in caplog.text


def test_a_file_too_large_is_refused_not_read_whole(tmp_path, caplog):
    path = tmp_path / "version.json"
    _write(path, '{"version": "1"}' + " " * (2 * 1024 * 1024))
    app = version_app(version_file=str(path))
    response = app.get("/__version__", status=500)
    assert str(tmp_path) not in response.text
    assert "too large" in caplog.text
    _write(path, '{"version": "1"}' + " " * 1000)  # large but fine
    assert app.get("/__version__").json == {"version": "1"}


# -------------------------------------------------------- version callback


def test_a_callback_gets_the_request():
    app = version_app(version_callback="tests.dockerflow.test_version:version_callback")
    response = app.get("/__version__", status=200, extra_environ={"HTTP_HOST": "h:1"})
    assert response.json == dict(VERSION, host="h:1")


def test_a_callback_returning_none_is_404():
    app = version_app(
        version_callback="tests.dockerflow.test_version.version_callback_none"
    )
    response = app.get("/__version__", status=404)
    assert response.json == {"error": "no version information"}


def test_a_raising_callback_is_500_and_logged(caplog):
    app = version_app(
        version_callback="tests.dockerflow.test_version:version_callback_raises"
    )
    with caplog.at_level(logging.ERROR, "lovely.ws.status.dockerflow"):
        response = app.get("/__version__", status=500)
    assert "no git here" not in response.text
    [record] = [r for r in caplog.records if r.name == "lovely.ws.status.dockerflow"]
    assert "version_callback_raises" in record.getMessage()
    assert record.exc_info[0] is RuntimeError


def test_a_callback_returning_a_list_is_500(caplog):
    app = version_app(
        version_callback="tests.dockerflow.test_version:version_callback_list"
    )
    with caplog.at_level(logging.ERROR, "lovely.ws.status.dockerflow"):
        app.get("/__version__", status=500)
    assert "returned a list, not a dict" in caplog.text
