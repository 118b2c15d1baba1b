"""Real servers for the tests: Redis, PostgreSQL, Prometheus, WSGI apps.

Each starts on a free loopback port in a temporary directory and is stopped
by the test. A missing binary skips the test with the reason, except under
``CI=true``, where it fails: CI installs every server, so a skip there would
hide a broken install step.
"""
from __future__ import annotations

import contextlib
import glob
import http.client
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator, List, NamedTuple, Optional, Sequence, Set

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

#: The checkout: the working directory and ``PYTHONPATH`` of app servers.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _pyramid_version() -> tuple:
    from importlib.metadata import version

    return tuple(int(part) for part in version("pyramid").split(".")[:2])


#: For tests of Pyramid 2's security policies; the package itself also
#: runs on Pyramid 1.10 (tox -e pyramid110).
needs_pyramid2 = pytest.mark.skipif(
    _pyramid_version() < (2, 0), reason="needs Pyramid 2 (security policies)"
)


# The Debian package of each binary the tests start.
PACKAGES = {
    "redis-server": "redis-server",
    "initdb": "postgresql",
    "pg_ctl": "postgresql",
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "chromium": "chromium",
    "gunicorn": "(pip) gunicorn",
    "wrk": "wrk",
}


def need_binary(name: str, *candidates: str) -> str:
    """The path of ``name`` (or the first existing candidate); skip or fail."""
    for path in (shutil.which(name), *candidates):
        if path and os.path.exists(path):
            return path
    package = PACKAGES.get(name, name)
    reason = (f"{name} is not installed (Debian: apt-get install {package}; "
              ".ci/run installs it)")
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(ready: Callable[[], bool], what: str,
                     proc: Optional[subprocess.Popen] = None, timeout: float = 60.0) -> None:
    """Wait until ``ready()`` says the server answers as it should.

    An open port is not enough: Prometheus answers 503 until it is ready,
    gunicorn accepts connections before its workers run. ``proc`` is the
    server's process: its end fails the wait at once.
    """
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before it was ready")
        try:
            if ready():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not ready after {timeout} s")
        time.sleep(0.05)


def http_ready(url: str, status: int = 200) -> Callable[[], bool]:
    """A readiness check: ``GET url`` answers ``status``."""
    import urllib.error
    import urllib.request

    def ready() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == status
        except urllib.error.HTTPError as exc:
            return exc.code == status
        except urllib.error.URLError:
            return False

    return ready


def redis_ready(port: int) -> Callable[[], bool]:
    """A readiness check: the Redis server answers ``PING`` (with ``PONG``,
    or that it wants a password first)."""

    def ready() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))

    return ready


def wait_for_port(
    port: int, timeout: float = 20.0, proc: Optional[subprocess.Popen] = None
) -> None:
    """Wait until something listens on ``port`` (for servers with no better
    sign of readiness than their socket, such as a bare TCP peer)."""

    def listening() -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            return sock.connect_ex(("127.0.0.1", port)) == 0

    wait_until_ready(listening, f"the server on port {port}", proc, timeout)


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class RedisServer:
    """A throw-away ``redis-server`` on a loopback port, no persistence."""

    def __init__(self) -> None:
        self.binary = need_binary("redis-server", "/usr/bin/redis-server")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="lws-redis-")
        self.proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_until_ready(redis_ready(self.port), "redis-server", self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return need_binary(name, *found[-1:])


class PostgresServer:
    """A throw-away PostgreSQL cluster (``initdb`` + ``pg_ctl``) on loopback.

    As root, the cluster runs as the ``postgres`` user, since PostgreSQL
    refuses to run as root.
    """

    password = "s3cret-pw"
    user = "lws"
    database = "lws"

    def __init__(self) -> None:
        self.initdb = _pg_bin("initdb")
        self.pg_ctl = _pg_bin("pg_ctl")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="lws-pg-")
        self.data = os.path.join(self.dir, "data")
        self.running = False

    @property
    def url(self) -> str:
        return (f"postgresql+psycopg://{self.user}:{self.password}"
                f"@127.0.0.1:{self.port}/{self.database}")

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        if not os.path.exists(self.data):
            pwfile = os.path.join(self.dir, "pw")
            with open(pwfile, "w") as f:
                f.write(self.password)
            if os.geteuid() == 0:
                shutil.chown(pwfile, "postgres", "postgres")
            self._run(self.initdb, "-D", self.data, "-U", self.user, "--pwfile", pwfile,
                      "-A", "scram-sha-256", "--no-sync")
        self._run(self.pg_ctl, "-D", self.data, "-w", "-l", os.path.join(self.dir, "log"),
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -F",
                  "start")
        self.running = True
        if not getattr(self, "_created", False):
            import psycopg

            with psycopg.connect(host="127.0.0.1", port=self.port, user=self.user,
                                 password=self.password, dbname="postgres",
                                 autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {self.database}")
            self._created = True
        return self

    def stop(self) -> None:
        if self.running:
            self._run(self.pg_ctl, "-D", self.data, "-m", "immediate", "-w", "stop")
            self.running = False

    def cleanup(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def serve_wsgi(app, threads: int = 4, **options) -> Iterator[str]:
    """Serve ``app`` with waitress on a loopback port; yields the base URL.

    ``options`` go to waitress (``trusted_proxy=...``, for example).
    """
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=threads, **options)
    port = int(server.effective_port)  # a str in waitress 3
    stop = threading.Event()

    def run() -> None:
        # Our own loop, so the socket is closed only after select() is done
        # with it (server.close() from here races with server.run()).
        while not stop.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, count=1)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        thread.join(5)
        server.close()
        server.task_dispatcher.shutdown()


def run_in_child(body: Callable[[], str], timeout: float = 30) -> str:
    """Fork, run ``body()`` in the child and return the text it returned.

    A child that does not answer within ``timeout`` is killed and fails the
    test (not the whole run).
    """
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.write(write, body().encode())
        finally:
            os._exit(0)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], timeout)
        if not ready:  # pragma: no cover - the failure
            os.kill(pid, signal.SIGKILL)
            pytest.fail("the forked child did not answer")
        with os.fdopen(read) as pipe:
            return pipe.read()
    finally:
        os.waitpid(pid, 0)


def python() -> str:
    return sys.executable


#: Headless Chromium as root on a machine without network: no sandbox, and
#: none of the background connections it would try at every start.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@contextlib.contextmanager
def chromium(*args: str) -> Iterator[Any]:
    """Debian's chromium, driven by Playwright; ``args`` are more flags."""
    sync_api = pytest.importorskip("playwright.sync_api")
    path = need_binary("chromium", "/usr/bin/chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path,
                                             args=CHROMIUM_ARGS + list(args))
        try:
            yield browser
        finally:
            browser.close()


# --- test apps under real WSGI servers, in processes of their own ---------


def need_gunicorn() -> None:
    """Skip (fail under ``CI=true``) when gunicorn is not installed."""
    try:
        import gunicorn  # noqa: F401
    except ImportError:  # pragma: no cover
        if IN_CI:
            pytest.fail("CI=true and gunicorn is not installed")
        pytest.skip("gunicorn is not installed")


class Answer(NamedTuple):
    """An HTTP answer of a test app; ``pid`` is its ``X-Pid`` header (see
    :func:`tests.helpers.pid_app`): the process that answered."""

    status: int
    text: str
    pid: Optional[int]


def request(port: int, method: str = "GET", path: str = "/probe_status") -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        pid = response.getheader("X-Pid")
        return Answer(response.status, body, int(pid) if pid else None)
    finally:
        conn.close()


def many(port: int, count: int = 200, threads: int = 8,
         path: str = "/probe_status") -> List[Answer]:
    """``count`` GETs of ``path`` from ``threads`` concurrent clients."""
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda _: request(port, "GET", path), range(count)))


class AppServer:
    """A test app served by gunicorn or waitress; :attr:`workers` are the
    pids that answered before it counted as ready."""

    def __init__(self, proc: subprocess.Popen, port: int, log_path: str) -> None:
        self.proc = proc
        self.port = port
        self.log_path = log_path
        self.workers: Set[int] = set()

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_for_log(self, text: str) -> None:
        """Wait until the server wrote ``text`` to its log."""
        from .helpers import PATIENCE

        deadline = time.monotonic() + PATIENCE
        while text not in self.log():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"the server exited with {self.proc.returncode} before it "
                    f"said {text!r}\n{self.log()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"the server never said {text!r}\n{self.log()}")
            time.sleep(0.02)

    def pids(self, want: int, path: str = "/probe_status") -> Set[int]:
        """Worker pids seen in answers to ``path``, once ``want`` distinct
        ones answered."""
        from .helpers import PATIENCE

        seen: Set[int] = set()
        end = time.monotonic() + PATIENCE
        while len(seen) < want:
            if time.monotonic() > end:
                raise AssertionError(f"only workers {seen} answered\n{self.log()}")
            seen.update(a.pid for a in many(self.port, 40, 8, path) if a.pid)
        return seen


def gunicorn_command(port: int, app: Sequence[str], workers: int = 4) -> List[str]:
    """gunicorn with ``workers`` sync workers on ``port`` serving ``app``
    (its last arguments: ``MODULE:make_app()``, or ``--paste`` and a file)."""
    return [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--worker-class", "sync",
            "--graceful-timeout", "20", "--log-level", "info", *app]


def gunicorn_ready(port: int) -> str:
    """What gunicorn logs once it listens on ``port``."""
    return f"Listening at: http://127.0.0.1:{port}"


@contextlib.contextmanager
def app_server(cmd: Sequence[str], port: int, ready: str, env: Optional[dict] = None,
               workers: int = 0, pid_path: str = "/probe_status",
               log_path: Optional[str] = None) -> Iterator[AppServer]:
    """Run ``cmd`` from the checkout with ``env`` added to the environment;
    ready once it logged ``ready`` and ``workers`` distinct processes
    answered ``pid_path``. Its log goes to ``log_path`` (kept), else to a
    temporary file removed at the end; the server is stopped at the end."""
    environ = dict(os.environ, **(env or {}))
    environ["PYTHONPATH"] = ROOT + os.pathsep + environ.get("PYTHONPATH", "")
    if log_path is None:
        fd, path = tempfile.mkstemp(prefix="lws-server-", suffix=".log")
        os.close(fd)
    else:
        path = log_path
    with open(path, "wb") as log:
        proc = subprocess.Popen(list(cmd), cwd=ROOT, env=environ, stdout=log,
                                stderr=subprocess.STDOUT)
    server = AppServer(proc, port, path)
    try:
        server.wait_for_log(ready)
        if workers:
            server.workers = server.pids(workers, pid_path)
        yield server
    finally:
        stop_process(proc, 30)
        if log_path is None:
            os.unlink(path)
