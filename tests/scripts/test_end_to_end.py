"""The installed ``pstatus`` and ``pprobe`` scripts, run as subprocesses.

They load ``tests/scripts/scripts.ini`` (the app factory is
:mod:`tests.scripts.app`) exactly as an operator, a Docker ``HEALTHCHECK``
or a Kubernetes exec probe would.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import List, Optional

import pytest

from ..helpers import PYRAMID_IMPORT_WARNING
from ..servers import IN_CI, free_port, http_ready, need_binary, stop_process, wait_until_ready

pytestmark = pytest.mark.server

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
INI = HERE / "scripts.ini"


def script(name: str) -> str:
    # The entry point of this checkout's venv, not one found first on PATH.
    path = Path(sys.executable).parent / name
    if path.exists():
        return str(path)
    if IN_CI:
        pytest.fail(f"{name} is not installed: pip install -e .")
    return need_binary(name)


def environ(**extra: str) -> dict:
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    # tests.scripts.app must be importable by the app factory.
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    # What the scripts print to stderr is compared whole: not Pyramid's own warning.
    env["PYTHONWARNINGS"] = ",".join(
        [PYRAMID_IMPORT_WARNING] + ([env["PYTHONWARNINGS"]] if env.get("PYTHONWARNINGS") else [])
    )
    env.update(extra)
    return env


def run(
    name: str, *args: str, env: Optional[dict] = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [script(name), *args],
        capture_output=True,
        text=True,
        env=env or environ(),
        cwd=str(ROOT),
        timeout=120,
    )


def uri(section: str = "") -> str:
    return f"{INI}#{section}" if section else str(INI)


# ---------------------------------------------------------------- pstatus


def test_ok_exits_0():
    result = run("pstatus", uri("ok"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "NAME      STATE  DETAIL\n"
        "cache     OK     cache is ok\n"
        "database  OK     database is ok\n"
        "\n"
        "OK (2 handlers: 2 OK)\n"
    )


def test_yellow_exits_1():
    result = run("pstatus", uri("yellow"))
    assert result.returncode == 1, result.stderr
    assert "cache     YELLOW  cache is yellow\n" in result.stdout
    assert result.stdout.endswith("YELLOW (2 handlers: 1 OK, 1 YELLOW)\n")
    assert "\x1b" not in result.stdout  # not a terminal


def test_red_exits_2_with_failures_and_timeouts_isolated():
    result = run("pstatus", uri("red"))
    assert result.returncode == 2, result.stderr
    assert result.stdout == (
        "NAME      STATE   DETAIL\n"
        "broken    RED     RuntimeError: broken exploded\n"
        "cache     YELLOW  cache is yellow\n"
        "database  RED     database is red\n"
        "queue     OK      queue is ok\n"
        "slow      RED     timed out after 0.5 seconds\n"
        "\n"
        "RED (5 handlers: 1 OK, 1 YELLOW, 3 RED)\n"
    )
    # The exception goes to the log (configured from the .ini), not stdout.
    assert "ERROR [lovely.ws.status] status handler 'broken' raised" in result.stderr


@pytest.mark.parametrize("cache, code", [("OK", 0), ("YELLOW", 1), ("RED", 2)])
def test_config_vars_choose_the_states(cache, code):
    result = run("pstatus", uri(), "database=OK", f"cache={cache}")
    assert result.returncode == code, result.stderr
    assert f"cache     {cache}" in result.stdout
    # Registered from svcstatus.handlers by dotted name.
    assert "disk      OK" in result.stdout


def test_json_and_only():
    result = run("pstatus", uri("red"), "--format", "json", "--only", "queue", "cache")
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout) == {
        "queue": {"state": "OK", "detail": "queue is ok"},
        "cache": {"state": "YELLOW", "detail": "cache is yellow"},
    }


def test_csv():
    result = run("pstatus", uri("yellow"), "--format=csv")
    assert result.returncode == 1
    assert (
        result.stdout
        == "cache\tYELLOW\tcache is yellow\ndatabase\tOK\tdatabase is ok\n"
    )


def test_prometheus_passes_promtool(tmp_path):
    promtool = need_binary("promtool")
    result = run("pstatus", uri("red"), "--format", "prometheus")
    assert result.returncode == 2
    assert 'svc_status{name="database"} 2\n' in result.stdout
    assert 'svc_status{name="queue"} 0\n' in result.stdout
    check = subprocess.run(
        [promtool, "check", "metrics"],
        input=result.stdout,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_unknown_only_name_exits_3():
    result = run("pstatus", uri("ok"), "--only", "database", "nope")
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr == (
        "pstatus: unknown status handler 'nope'; registered: cache, database\n"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        ([uri("bad")], "SettingsError: unknown setting 'svcstatus.timeuot'"),
        ([str(HERE / "missing.ini")], "FileNotFoundError"),
        ([uri("nosuchapp")], "LookupError"),
        ([uri(), "cache=OK"], "'database'"),  # a config var is missing
    ],
)
def test_an_app_that_does_not_load_exits_4(args, message):
    result = run("pstatus", *args)
    assert result.returncode == 4, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("pstatus: cannot load the application from ")
    assert message in result.stderr


def test_usage_error_exits_64():
    result = run("pstatus", uri("ok"), "--format", "yaml")
    assert result.returncode == 64
    assert "invalid choice: 'yaml'" in result.stderr


def run_on_terminal(args: List[str], env: dict) -> tuple:
    """Run ``args`` with stdout on a pseudo-terminal; (exit code, output)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            args, stdout=slave, stderr=subprocess.DEVNULL, env=env, cwd=str(ROOT)
        )
        os.close(slave)
        slave = -1
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        return proc.wait(timeout=120), b"".join(chunks).decode("utf-8")
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)


def test_coloured_on_a_terminal():
    code, text = run_on_terminal([script("pstatus"), uri("red")], environ(TERM="xterm"))
    assert code == 2
    assert "\x1b[31mRED\x1b[0m" in text
    assert "\x1b[33mYELLOW\x1b[0m" in text
    assert "\x1b[32mOK\x1b[0m" in text


def test_no_colour_on_a_terminal_with_no_color():
    code, text = run_on_terminal(
        [script("pstatus"), uri("red")], environ(TERM="xterm", NO_COLOR="1")
    )
    assert code == 2
    assert "RED" in text
    assert "\x1b" not in text


# ---------------------------------------------------------------- pprobe


def test_pprobe_refuses_the_memory_store():
    result = run("pprobe", uri("memory"), "--off", "draining")
    assert result.returncode == 5
    assert result.stdout == ""
    assert "probestatus.store" in result.stderr


def test_pprobe_drains_and_restores_through_a_file(tmp_path):
    probe = tmp_path / "probe.txt"
    section = [uri("file"), f"probe_file={probe}"]

    result = run("pprobe", *section)
    assert (result.returncode, result.stdout) == (0, "OK\n"), result.stderr

    result = run("pprobe", *section, "--off", "deploying v42")
    assert (result.returncode, result.stdout) == (0, "deploying v42\n"), result.stderr
    assert probe.read_text() == "deploying v42"

    result = run("pprobe", *section, "--show")
    assert (result.returncode, result.stdout) == (1, "deploying v42\n")

    result = run("pprobe", *section, "--on")
    assert (result.returncode, result.stdout) == (0, "OK\n")
    result = run("pprobe", *section)
    assert (result.returncode, result.stdout) == (0, "OK\n")


def test_pprobe_drains_every_gunicorn_worker(tmp_path):
    """The operator's story: workers of a running app all follow pprobe."""
    gunicorn = script("gunicorn")
    probe = tmp_path / "probe.txt"
    port = free_port()
    server = subprocess.Popen(
        [
            gunicorn,
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--paste",
            uri("file"),
            "--paste-global",
            f"probe_file={probe}",
        ],
        env=environ(),
        cwd=str(ROOT),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_ready(http_ready(f"http://127.0.0.1:{port}/probe_status"), "gunicorn", server)

        def answers() -> set:
            # Fresh connections, so both workers get their turn.
            seen = set()
            for _ in range(8):
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/probe_status", timeout=10
                    ) as response:
                        seen.add((response.status, response.read().decode()))
                except urllib.error.HTTPError as exc:
                    seen.add((exc.code, exc.read().decode()))
            return seen

        assert answers() == {(200, "OK")}
        result = run(
            "pprobe", uri("file"), f"probe_file={probe}", "--off", "deploying v42"
        )
        assert result.returncode == 0, result.stderr
        assert answers() == {(503, "deploying v42")}
        result = run("pprobe", uri("file"), f"probe_file={probe}", "--on")
        assert result.returncode == 0, result.stderr
        assert answers() == {(200, "OK")}
    finally:
        stop_process(server)


def test_pprobe_through_redis(redis_server):
    import redis

    section = [uri("redis"), f"redis_url={redis_server.url}"]
    result = run("pprobe", *section, "--off", "maintenance")
    assert (result.returncode, result.stdout) == (0, "maintenance\n"), result.stderr
    client = redis.Redis.from_url(redis_server.url)
    try:
        assert client.get("lovely.ws.status:probe") == b"maintenance"
        result = run("pprobe", *section)
        assert (result.returncode, result.stdout) == (1, "maintenance\n")
        result = run("pprobe", *section, "--on")
        assert (result.returncode, result.stdout) == (0, "OK\n")
        assert client.get("lovely.ws.status:probe") is None
    finally:
        client.close()


def test_pprobe_store_unavailable_exits_3():
    # Nothing listens on that port: Redis is down.
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = run("pprobe", uri("redis"), f"redis_url={url}", "--off", "maintenance")
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("pprobe: the probe store is unavailable: ")
    assert "cannot be reached" in result.stderr


def test_pprobe_rejects_a_bad_text():
    result = run("pprobe", uri("memory"), "--off", "x" * 2000)
    assert result.returncode == 64
    assert "at most 1024" in result.stderr


# ------------------------------------------- output nobody reads, or worse


@pytest.fixture
def red_ini(tmp_path):
    """An app with one RED handler and a probe file that says OK."""
    ini = tmp_path / "app.ini"
    ini.write_text(
        "[app:main]\n"
        "use = call:tests.scripts.app:main\n"
        f"probestatus.store = file://{tmp_path}/probe\n"
        "scripts_app.states =\n"
        "    database = RED\n"
    )
    return str(ini)


@pytest.mark.parametrize("name, argv, code", [("pstatus", [], 2), ("pprobe", ["--show"], 0)])
def test_exit_code_is_kept_when_stdout_is_a_broken_pipe(red_ini, name, argv, code):
    # `pstatus app.ini | true`, or a health check runner that stopped
    # reading: the exit code must still be the state (1 is YELLOW).
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [script(name), red_ini, *argv], stdout=write_end,
            stderr=subprocess.PIPE, text=True, env=environ(), cwd=str(ROOT), timeout=120,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == code, proc.stderr


@pytest.mark.parametrize("name, argv, code", [("pstatus", [], 2), ("pprobe", ["--show"], 0)])
def test_exit_code_is_kept_when_stdout_is_closed(red_ini, name, argv, code):
    # `pstatus app.ini >&-`: sys.stdout is None.
    proc = subprocess.run(
        ["sh", "-c", 'exec "$0" "$@" >&-', script(name), red_ini, *argv],
        stderr=subprocess.PIPE, text=True, env=environ(), cwd=str(ROOT), timeout=120,
    )
    assert "Traceback" not in proc.stderr
    assert proc.returncode == code, proc.stderr


def test_pprobe_keeps_control_characters_of_the_stored_text_off_the_terminal(tmp_path):
    # The store holds what anybody with write access to the file (or the
    # Redis key) put there, past the checks of POST and --off: the store
    # refuses it as the view does, and escape sequences never reach the
    # operator's terminal.
    ini = tmp_path / "app.ini"
    ini.write_text(
        "[app:main]\nuse = call:tests.scripts.app:main\n"
        f"probestatus.store = file://{tmp_path}/probe\n"
    )
    (tmp_path / "probe").write_bytes(b"maintenance\x1b]0;pwned\x07\x1b[2J")
    result = run("pprobe", str(ini))
    assert result.returncode == 3, result.stderr
    for output in (result.stdout, result.stderr):
        assert "\x1b" not in output and "\x07" not in output
    assert "holds no valid probe text" in result.stderr
    assert "U+001B at position 11" in result.stderr
