"""dev.py: what each command installs, the demo's port, and a busy port
said in one line."""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_dev():
    spec = importlib.util.spec_from_file_location("lovely_dev_script", ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


dev = _load_dev()


@pytest.fixture
def listening():
    """A port on 127.0.0.1 that a server listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def no_venv(monkeypatch):
    """dev.py without installing or starting anything: what it would run."""
    calls = {"ensure_venv": [], "execv": [], "run": []}
    monkeypatch.setattr(dev, "ensure_venv", lambda *a: calls["ensure_venv"].append(a))
    monkeypatch.setattr(dev.os, "execv", lambda *a: calls["execv"].append(a))
    monkeypatch.setattr(dev, "run", lambda *a: calls["run"].append(a) or 0)
    return calls


# ------------------------------------------------------------ the port


@pytest.mark.parametrize("args, port, rest", [
    ([], 6543, []),
    (["--port", "8080"], 8080, []),
    (["--port=8080"], 8080, []),
    (["--reload", "--port", "1"], 1, ["--reload"]),
    (["--port", "65535", "-v"], 65535, ["-v"]),
])
def test_demo_arguments(args, port, rest):
    assert dev.demo_arguments(args) == (port, rest)


@pytest.mark.parametrize("args, message", [
    (["--port"], "--port needs a number, as in --port 8080"),
    (["--port", "http"], "--port needs a number from 1 to 65535, not 'http'"),
    (["--port=0"], "--port needs a number from 1 to 65535, not '0'"),
    (["--port", "65536"], "--port needs a number from 1 to 65535, not '65536'"),
    (["--port", "-1"], "--port needs a number from 1 to 65535, not '-1'"),
])
def test_a_bad_port_is_one_line(no_venv, capsys, args, message):
    assert dev.main(["dev.py", "demo", *args]) == 2
    assert capsys.readouterr().err == f"dev.py demo: {message}\n"
    assert no_venv == {"ensure_venv": [], "execv": [], "run": []}


def test_the_demo_serves_on_the_port_given(no_venv, capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dev.main(["dev.py", "demo", "--port", str(port), "--reload", "name=value"])
    (command,) = no_venv["execv"] or no_venv["run"]
    args = command[1] if no_venv["execv"] else [str(a) for a in command]
    assert args[1:] == ["--reload", str(dev.DEMO_INI), "name=value", f"http_port={port}"]
    assert args[0].endswith("pserve")
    # As pserve reads them.
    from pyramid.scripts.pserve import PServeCommand

    parsed = PServeCommand(args, quiet=True).args
    assert parsed.reload and parsed.config_uri == str(dev.DEMO_INI)
    assert parsed.config_vars == ["name=value", f"http_port={port}"]
    assert f"serving the demo on http://localhost:{port}/" in capsys.readouterr().out
    assert no_venv["ensure_venv"] == [(frozenset({"demo"}),)]


def test_a_busy_port_is_one_line_not_a_traceback(no_venv, capsys, listening):
    assert dev.main(["dev.py", "demo", "--port", str(listening)]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"dev.py demo: port {listening} is already in use (another server, or the demo "
        f"still running?); try: python3 dev.py demo --port {listening + 1}\n"
    )
    assert no_venv["execv"] == [] and no_venv["run"] == []


def test_a_busy_port_stops_dev_py_before_it_installs_anything(listening, tmp_path):
    # The real script, in a process of its own: the first check comes before
    # the venv is made or touched.
    done = subprocess.run(
        [sys.executable, str(ROOT / "dev.py"), "demo", "--port", str(listening)],
        capture_output=True, text=True, timeout=120, cwd=str(tmp_path),
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith(f"dev.py demo: port {listening} is already in use")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_port_problem_of_a_free_port_is_none():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert dev.port_problem(port, "127.0.0.1") is None


@pytest.mark.parametrize("given, port", [({}, dev.DEMO_PORT), ({"http_port": "8080"}, 8080)])
def test_the_demo_ini_listens_on_the_port_pserve_gives(given, port, monkeypatch):
    import plaster
    from waitress import adjustments

    # pserve hands its http_port=N to the loader as defaults, as here.
    loader = plaster.get_loader(str(dev.DEMO_INI), protocols=["wsgi"])
    seen = {}
    monkeypatch.setattr("waitress.serve", lambda app, **kw: seen.update(kw))
    loader.get_wsgi_server(defaults=given)(None)
    listen = adjustments.Adjustments(**seen).listen
    assert {address[1] for *_, address in listen} == {port}


# ------------------------------------------------------------ what each command installs


def test_the_demo_installs_only_the_demo_extra():
    assert dev.extras_for("demo") == {"demo"}


@pytest.mark.parametrize("command", ["test", "docs", "lint", "setup"])
def test_every_other_command_installs_everything(command):
    assert dev.extras_for(command) == {"test", "docs", "lint", "demo"}


def test_every_extra_dev_py_installs_exists():
    provided = set(importlib.metadata.metadata("lovely-ws-status").get_all("Provides-Extra"))
    assert dev.EVERYTHING <= provided


def test_the_demo_extra_is_small():
    requires = importlib.metadata.requires("lovely-ws-status") or []
    demo = {r.split(";")[0].split("[")[0].split(">")[0].strip().lower()
            for r in requires if 'extra == "demo"' in r}
    assert demo == {"waitress", "prometheus_client", "sqlalchemy", "alembic"}


@pytest.fixture
def pip(monkeypatch, tmp_path):
    """ensure_venv's pip commands, recorded, in a venv that exists."""
    calls = []
    monkeypatch.setattr(dev, "PYTHON", Path(sys.executable))
    monkeypatch.setattr(dev, "STAMP", tmp_path / "stamp")
    monkeypatch.setattr(dev.subprocess, "run", lambda args, **kw: calls.append(args))
    return calls


def _installed_extras(calls):
    (project,) = [arg for arg in calls[-1] if arg.startswith(str(dev.HERE) + "[")]
    return set(project[len(str(dev.HERE)) + 1:-1].split(","))


def test_the_demo_after_nothing_installs_the_demo_extra_and_package(pip):
    dev.ensure_venv(dev.extras_for("demo"))
    assert _installed_extras(pip) == {"demo"}
    assert str(dev.HERE / "examples" / "demo") in pip[-1]
    assert json.loads(dev.STAMP.read_text())["extras"] == ["demo"]


def test_the_tests_after_the_demo_install_everything(pip):
    dev.ensure_venv(dev.extras_for("demo"))
    dev.ensure_venv(dev.extras_for("test"))
    assert _installed_extras(pip) == {"test", "docs", "lint", "demo"}


def test_the_demo_after_the_tests_installs_nothing(pip):
    dev.ensure_venv(dev.extras_for("test"))
    count = len(pip)
    dev.ensure_venv(dev.extras_for("demo"))
    dev.ensure_venv(dev.extras_for("lint"))
    assert len(pip) == count


def test_a_changed_pyproject_installs_again(pip, monkeypatch):
    dev.ensure_venv(dev.extras_for("test"))
    count = len(pip)
    monkeypatch.setattr(dev, "_fingerprint", lambda: "changed")
    dev.ensure_venv(dev.extras_for("demo"))
    assert len(pip) > count and _installed_extras(pip) == {"demo"}


def test_a_stamp_of_an_older_dev_py_installs_again(pip):
    dev.STAMP.write_text(dev._fingerprint())
    dev.ensure_venv(dev.extras_for("demo"))
    assert _installed_extras(pip) == {"demo"}
