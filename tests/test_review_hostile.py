"""A hostile review of the probe, the stores, Dockerflow, the checks, the
settings and the console scripts: each test is a bug found by trying what a
stranger or a tired operator would try, against real servers (Redis, HTTP,
files, subprocesses), without mocks."""
from __future__ import annotations

import os
import time

import pytest
from pyramid.config import Configurator
from webtest import TestApp

from lovely.ws.status import probestatus, stores


@pytest.fixture(autouse=True)
def probe_at_ok():
    probestatus.RESPONSE_BODY = "OK"
    stores.stop_draining()
    yield
    probestatus.RESPONSE_BODY = "OK"
    stores.stop_draining()


def probe_app(settings):
    config = Configurator(settings=settings)
    config.include("lovely.ws.status.probestatus")
    return TestApp(config.make_wsgi_app())


# --- who may switch the probe -------------------------------------------------


def test_permission_without_a_security_policy_refuses_every_post(caplog):
    # An operator sets probestatus.permission to lock the probe; the app has
    # no security policy, under which Pyramid grants every permission. The
    # probe must stay locked (fail closed), not open to every stranger.
    app = probe_app({"probestatus.permission": "manage-probe"})
    response = app.post("/probe_status?body=OFF", status=403)
    assert "security policy" in response.text
    assert probestatus.RESPONSE_BODY == "OK"
    assert app.get("/probe_status").text == "OK"
    assert any("security policy" in r.getMessage() for r in caplog.records)


# --- the file store -----------------------------------------------------------


def test_file_store_url_with_a_nul_byte_is_a_configuration_error(tmp_path):
    # file:///dir/probe%00x passed the checks (its directory exists), then
    # every request to /probe_status was a 500: os.stat() raises ValueError.
    from pyramid.exceptions import ConfigurationError

    url = f"file://{tmp_path}/probe%00x"
    config = Configurator(settings={"probestatus.store": url})
    config.include("lovely.ws.status.probestatus")
    with pytest.raises(ConfigurationError, match="probestatus.store"):
        config.commit()
    with pytest.raises(ValueError):
        stores.FileStore(f"{tmp_path}/probe\x00x")


# --- the Redis store ------------------------------------------------------------


def test_redis_store_whose_host_cannot_be_encoded_answers_503_not_500():
    # A label of more than 63 characters (or an empty one, "a..b") passes
    # redis-py's URL parser, then socket.getaddrinfo() raises UnicodeError,
    # which is neither a RedisError nor an OSError.
    pytest.importorskip("redis")
    app = probe_app({"probestatus.store": "redis://a..b:6379/0"})
    response = app.get("/probe_status", status=503)
    assert "probe store unavailable" in response.text
    response = app.post("/probe_status?body=OFF", status=503)
    assert "unchanged" in response.text
    store = stores.store_from_url("redis://" + "a" * 64 + ".example:6379/0")
    with pytest.raises(stores.StoreUnavailable):
        store.get()
    with pytest.raises(stores.StoreUnavailable):
        store.set("OFF")


def test_redis_store_port_0_is_a_configuration_error():
    # redis-py reads port 0 as "no port" and connects to 6379: the probe of
    # this app would be written to whatever Redis listens there.
    pytest.importorskip("redis")
    from pyramid.exceptions import ConfigurationError

    with pytest.raises(ValueError, match="port"):
        stores.parse_store_url("redis://127.0.0.1:0/0")
    config = Configurator(settings={"probestatus.store": "redis://127.0.0.1:0/0"})
    config.include("lovely.ws.status.probestatus")
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
    pytest.importorskip("redis")
    from pyramid.exceptions import ConfigurationError

    config = Configurator(settings={"probestatus.store": url})
    config.include("lovely.ws.status.probestatus")
    with pytest.raises(ConfigurationError, match="probestatus.store") as info:
        config.commit()
    assert "s3cret" not in str(info.value)
    assert "***" in str(info.value)


def test_unreachable_redis_store_names_an_ipv6_host_with_brackets():
    pytest.importorskip("redis")
    store = stores.store_from_url("redis://app:s3cret@[::1]:1/0")
    with pytest.raises(stores.StoreUnavailable) as info:
        store.get()
    assert "redis://app:***@[::1]:1/0" in str(info.value)
    assert "s3cret" not in str(info.value) + repr(store)


def test_file_store_sees_a_same_size_rewrite_within_one_mtime_tick(tmp_path):
    # An operator writes the file by hand (echo OK > probe, then
    # echo NO > probe): same inode, same size, and on a file system whose
    # clock ticks coarsely (1 or 2 s on FAT, HFS+, some NFS and FUSE mounts;
    # a jiffy on older Linux kernels) the same mtime. A worker that read the
    # first text must not answer it for ever after.
    path = tmp_path / "probe"
    reader = stores.FileStore(str(path))
    path.write_text("OK\n")
    first = os.stat(path)
    assert reader.get() == "OK"
    path.write_text("NO\n")
    os.utime(path, ns=(first.st_atime_ns, first.st_mtime_ns))  # the same tick
    assert reader.get() == "NO"
    app = probe_app({"probestatus.store": f"file://{path}"})
    assert app.get("/probe_status", status=503).text == "NO"


def test_file_store_still_reads_an_old_file_once(tmp_path):
    # The fix above must keep GET cheap: a file older than any clock tick is
    # read once and then only stat()ed.
    path = tmp_path / "probe"
    path.write_text("OFF\n")
    old = time.time_ns() - 3_600_000_000_000
    os.utime(path, ns=(old, old))
    reader = stores.FileStore(str(path))
    assert reader.get() == "OFF"
    with open(path, "r+b") as f:  # behind the store's back, stat unchanged
        f.write(b"ONN")
    os.utime(path, ns=(old, old))
    assert reader.get() == "OFF"


# --- settings -------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["svcstatus.timeout", "probestatus.drain_seconds", "svcstatus.handler.slow.timeout",
            "svcstatus.handler.slow.ttl"],
)
def test_seconds_too_long_for_a_thread_wait_are_a_configuration_error(key):
    # 1e10 s passed the checks, then the first /svc_status with a handler
    # slower than an instant was a 500: OverflowError from Event.wait().
    from pyramid.exceptions import ConfigurationError

    settings = {
        "svcstatus.handlers": "slow = tests.test_review_hostile:slow_handler",
        key: "1e10",
    }
    config = Configurator(settings=settings)
    config.include("lovely.ws.status.svcstatus")
    config.include("lovely.ws.status.probestatus")
    with pytest.raises(ConfigurationError) as info:
        config.commit()
    message = str(info.value)
    assert key in message or "'slow'" in message
    assert "at most" in message


def slow_handler():
    time.sleep(0.05)
    return {"state": "OK"}


def test_longest_accepted_timeout_serves_svc_status():
    import threading

    from lovely.ws.status import STATUS_HANDLERS

    config = Configurator(settings={"svcstatus.timeout": str(threading.TIMEOUT_MAX)})
    config.include("lovely.ws.status.svcstatus")
    config.add_status_handler("slow", slow_handler)
    app = TestApp(config.make_wsgi_app())
    try:
        assert app.get("/svc_status").text == "slow\tOK\t"
    finally:
        STATUS_HANDLERS.clear()


def test_drain_refuses_seconds_too_long_for_its_timer():
    from lovely.ws.status import drain

    try:
        with pytest.raises(ValueError, match="seconds"):
            drain.install_sigterm_handler(1e10)
    finally:
        drain.uninstall_sigterm_handler()


class NeedsArguments:
    """A handler class that cannot be made without arguments."""

    def __init__(self, url):
        self.url = url

    def __call__(self):
        return {"state": "OK"}


class BrokenFromSettings:
    @classmethod
    def from_settings(cls, settings, options):
        raise RuntimeError("cannot reach the vault")

    def __call__(self):
        return {"state": "OK"}


@pytest.mark.parametrize(
    "target, words",
    [
        ("tests.test_review_hostile:NeedsArguments", "url"),
        ("tests.test_review_hostile:BrokenFromSettings", "vault"),
        ("review_hostile_raises_on_import:handler", "boom at import"),
        ("review_hostile_bad_syntax:handler", "SyntaxError"),
    ],
)
def test_handler_from_settings_that_fails_names_the_handler(tmp_path, monkeypatch, target, words):
    # A ConfigurationError naming neither the handler nor the setting left
    # the operator to guess which line of svcstatus.handlers was wrong.
    from pyramid.exceptions import ConfigurationError

    from lovely.ws.status import STATUS_HANDLERS

    raising = tmp_path / "review_hostile_raises_on_import.py"
    raising.write_text("raise RuntimeError('boom at import')\n")
    (tmp_path / "review_hostile_bad_syntax.py").write_text("def (:\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = Configurator(settings={"svcstatus.handlers": f"mine = {target}"})
    config.include("lovely.ws.status.svcstatus")
    try:
        with pytest.raises(ConfigurationError) as info:
            config.commit()
    finally:
        STATUS_HANDLERS.clear()
    message = str(info.value)
    assert "'mine'" in message
    assert words in message


# --- /__version__ ---------------------------------------------------------------


def dockerflow_app(settings):
    config = Configurator(settings=settings)
    config.include("lovely.ws.status.dockerflow")
    return TestApp(config.make_wsgi_app())


def test_version_file_with_a_nul_byte_is_a_configuration_error(tmp_path):
    # It passed the checks; then every /__version__ raised ValueError out of
    # os.stat(): a 500 with whatever the server shows for an exception.
    from pyramid.exceptions import ConfigurationError

    from lovely.ws.status.dockerflow import VersionError, VersionFile

    bad = f"{tmp_path}/version\x00.json"
    config = Configurator(settings={"dockerflow.version_file": bad})
    config.include("lovely.ws.status.dockerflow")
    with pytest.raises(ConfigurationError, match="dockerflow.version_file"):
        config.commit()
    with pytest.raises(VersionError):
        VersionFile(f"{tmp_path}/version\x00.json")()


def test_version_file_that_is_a_fifo_does_not_hang_the_request(tmp_path, caplog):
    # open() of a FIFO waits for a writer: each /__version__ request hung a
    # thread of the server for good.
    import threading

    fifo = tmp_path / "version.json"
    os.mkfifo(fifo)
    app = dockerflow_app({"dockerflow.version_file": str(fifo)})
    answers = []
    thread = threading.Thread(
        target=lambda: answers.append(app.get("/__version__", expect_errors=True)),
        daemon=True,
    )
    thread.start()
    thread.join(5)
    hung = thread.is_alive()
    if hung:  # let the blocked open() go: a writer comes and leaves
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(5)
    assert not hung, "/__version__ hung on a FIFO"
    assert answers[0].status_int == 500
    assert str(tmp_path) not in answers[0].text
    assert "not a regular file" in caplog.text


def test_version_file_too_large_is_refused_not_read_whole(tmp_path, caplog):
    # A mistaken path (a log file, a database dump) was read into memory at
    # each change; a version file is a few hundred bytes.
    path = tmp_path / "version.json"
    path.write_text('{"version": "1"}' + " " * (2 * 1024 * 1024))
    app = dockerflow_app({"dockerflow.version_file": str(path)})
    response = app.get("/__version__", status=500)
    assert str(tmp_path) not in response.text
    assert "too large" in caplog.text
    path.write_text('{"version": "1"}' + " " * 1000)  # large but fine
    assert app.get("/__version__").json == {"version": "1"}


# --- MozLog formatting ------------------------------------------------------------


def test_formatter_survives_records_with_exc_info_true_or_an_exception():
    # Records made with logging.makeLogRecord() or LogRecord() directly keep
    # exc_info as given: True, or an exception instance, and a levelno of
    # None unless one is given. The formatter raised TypeError on each, and
    # the handler dropped the record.
    import json
    import logging

    from lovely.ws.status.dockerflow import JsonLogFormatter

    formatter = JsonLogFormatter()
    plain = logging.makeLogRecord({"msg": "no exception here", "exc_info": True})
    line = json.loads(formatter.format(plain))  # no levelno either: None
    assert line["Fields"]["msg"] == "no exception here"
    assert "error" not in line["Fields"]
    assert line["Severity"] == 6

    try:
        raise KeyError("lost key")
    except KeyError as exc:
        caught = exc
    record = logging.makeLogRecord(
        {"msg": "failed", "exc_info": caught, "levelno": logging.ERROR, "levelname": "ERROR"}
    )
    line = json.loads(formatter.format(record))
    assert line["Severity"] == 3
    fields = line["Fields"]
    assert fields["error"] == "KeyError('lost key')"
    assert "raise KeyError" in fields["traceback"]


# --- console scripts --------------------------------------------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def script_command(name):
    import sys

    path = os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.exists(path):
        pytest.skip(f"{name} is not installed in this venv (pip install -e .)")
    return path


def script_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    return env


@pytest.fixture
def red_ini(tmp_path):
    ini = tmp_path / "app.ini"
    ini.write_text(
        "[app:main]\n"
        "use = call:tests.scripts_app:main\n"
        f"probestatus.store = file://{tmp_path}/probe\n"
        "scripts_app.states =\n"
        "    database = RED\n"
    )
    return str(ini)


@pytest.mark.parametrize("name, argv, code", [("pstatus", [], 2), ("pprobe", ["--show"], 0)])
def test_scripts_keep_their_exit_code_when_stdout_is_a_broken_pipe(red_ini, name, argv, code):
    # `pstatus app.ini | true`, or a health check runner that stopped
    # reading: BrokenPipeError made a traceback and exit code 1, which
    # pstatus uses for YELLOW (the state here is RED).
    import subprocess

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [script_command(name), red_ini, *argv], stdout=write_end,
            stderr=subprocess.PIPE, text=True, env=script_env(), cwd=ROOT, timeout=120,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == code, proc.stderr


@pytest.mark.parametrize("name, argv, code", [("pstatus", [], 2), ("pprobe", ["--show"], 0)])
def test_scripts_keep_their_exit_code_when_stdout_is_closed(red_ini, name, argv, code):
    # `pstatus app.ini >&-`: sys.stdout is None, and writing to it raised
    # AttributeError (a traceback, exit code 1).
    import subprocess

    proc = subprocess.run(
        ["sh", "-c", 'exec "$0" "$@" >&-', script_command(name), red_ini, *argv],
        stderr=subprocess.PIPE, text=True, env=script_env(), cwd=ROOT, timeout=120,
    )
    assert "Traceback" not in proc.stderr
    assert proc.returncode == code, proc.stderr


def test_pprobe_does_not_pass_control_characters_of_the_store_to_the_terminal(tmp_path):
    # The store holds what anybody with write access to the file (or the
    # Redis key) put there, bypassing the checks of POST and --off: escape
    # sequences reached the operator's terminal as they were.
    import subprocess

    ini = tmp_path / "app.ini"
    ini.write_text(
        "[app:main]\nuse = call:tests.scripts_app:main\n"
        f"probestatus.store = file://{tmp_path}/probe\n"
    )
    (tmp_path / "probe").write_bytes(b"maintenance\x1b]0;pwned\x07\x1b[2J")
    proc = subprocess.run(
        [script_command("pprobe"), str(ini)], capture_output=True, text=True,
        env=script_env(), cwd=ROOT, timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout
    assert proc.stdout.startswith("maintenance\\x1b]0;pwned")


# --- checks -----------------------------------------------------------------------


@pytest.fixture
def trickling_server():
    """A loopback HTTP server that answers one byte every 0.1 s, for ever."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.05)  # accept() wakes up to see stop
    stop = threading.Event()
    answer = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 100_000

    def trickle(conn):
        with conn:
            try:
                conn.recv(65536)
                for byte in answer:
                    if stop.wait(0.1):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                return

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=trickle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_http_check_gives_up_after_its_timeout_on_a_trickling_server(trickling_server):
    # The timeout applied to each read, so a server (or a proxy) sending a
    # byte now and then held the check, and the worker thread it runs on,
    # for as long as it liked; the views then reported it RED "still
    # running" for good.
    import threading

    from lovely.ws.status.checks import HTTPCheck

    check = HTTPCheck(trickling_server, timeout=0.5)
    results = []
    started = time.monotonic()
    thread = threading.Thread(target=lambda: results.append(check()), daemon=True)
    thread.start()
    thread.join(5)
    assert not thread.is_alive(), "HTTPCheck(timeout=0.5) still runs after 5 s"
    assert time.monotonic() - started < 2.5
    assert results[0]["state"] == "RED"
    assert "0.5 s" in results[0]["detail"]


def test_database_check_hides_a_password_given_in_the_url_query(postgres):
    # libpq (and the MySQL drivers) take the password as a query parameter
    # too; SQLAlchemy's hide_password only hides the one before the host, so
    # the check's repr (shown by pshell and the introspection of the
    # handler) carried it in clear.
    pytest.importorskip("sqlalchemy")
    from lovely.ws.status.checks import DatabaseCheck

    url = (
        f"postgresql+psycopg://{postgres.user}@127.0.0.1:{postgres.port}/"
        f"{postgres.database}?password={postgres.password}"
    )
    check = DatabaseCheck(url, connect_timeout=5)
    try:
        status = check()
        assert status["state"] == "OK", status
        assert postgres.password not in repr(check)
        assert "password=***" in repr(check)
    finally:
        check.close()


# --- cross-site requests from browsers inside the allowed network -------------------


def _post(url, headers):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=b"", method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()


@pytest.mark.parametrize(
    "headers",
    [
        # What a page on another site makes a browser send with
        # fetch(url, {method: "POST", mode: "no-cors"}) or a plain <form>:
        # a "simple" request, sent without a CORS preflight.
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://evil.example"},  # a browser without Sec-Fetch-*
        {"Origin": "null"},  # a sandboxed iframe, a data: URL
        {"Sec-Fetch-Site": "same-site", "Origin": "https://other.intranet.example"},
    ],
)
def test_locked_probe_refuses_cross_site_posts_from_browsers(headers):
    # allow_from trusts the address, and the browser of anybody inside the
    # allowed network has it: any web page they open could switch the probe
    # off, since the view is (rightly, for machines) exempt from CSRF checks.
    from .servers import serve_wsgi

    config = Configurator(settings={"probestatus.allow_from": "127.0.0.0/8 ::1"})
    config.include("lovely.ws.status.probestatus")
    with serve_wsgi(config.make_wsgi_app()) as base:
        status, text = _post(f"{base}/probe_status?body=pwned", headers)
        assert status == 403, text
        assert "cross-site" in text
        assert probestatus.RESPONSE_BODY == "OK"
        # Machines (curl, pprobe-like scripts, load balancer tooling) send no
        # Origin; a same-origin page may.
        assert _post(f"{base}/probe_status?body=OFF", {}) == (200, "OFF")
        same = {"Origin": base, "Sec-Fetch-Site": "same-origin"}
        assert _post(f"{base}/probe_status", same) == (200, "OK")


def test_unlocked_probe_still_accepts_any_post_as_in_1_0():
    from .servers import serve_wsgi

    config = Configurator()
    config.include("lovely.ws.status.probestatus")
    with serve_wsgi(config.make_wsgi_app()) as base:
        headers = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
        assert _post(f"{base}/probe_status?body=OFF", headers) == (200, "OFF")
