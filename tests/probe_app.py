"""A small Pyramid app with the probe, and helpers to run it under real
servers (gunicorn, waitress) and talk HTTP to it on loopback.

The app is configured by environment variables, so that gunicorn workers and
subprocesses build the same app:

``LWS_PROBE_SETTINGS``
    A JSON object of app settings (``{"probestatus.store": "file:///..."}``).
``LWS_PROBE_PORT``
    The loopback port ``python -m tests.probe_app`` serves on (waitress).

Every response carries ``X-Pid``, the id of the process that answered, so a
test can tell gunicorn workers apart.

gunicorn: ``gunicorn 'tests.probe_app:make_app()'``.
"""
from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Sequence

from pyramid.config import Configurator
from pyramid.events import NewResponse


def _add_pid(event: Any) -> None:
    event.response.headers["X-Pid"] = str(os.getpid())


def make_app() -> Any:
    settings = json.loads(os.environ.get("LWS_PROBE_SETTINGS") or "{}")
    config = Configurator(settings=settings)
    config.include("lovely.ws.status.probestatus")
    config.add_subscriber(_add_pid, NewResponse)
    return config.make_wsgi_app()


def main() -> None:
    from waitress import serve

    logging.basicConfig(level=logging.INFO)
    port = int(os.environ["LWS_PROBE_PORT"])
    serve(make_app(), host="127.0.0.1", port=port, threads=2, _quiet=True)



# --- helpers for the tests (not used by the app itself) ---------------------

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Answer(NamedTuple):
    status: int
    text: str
    pid: Optional[int]


def request(port: int, method: str = "GET", path: str = "/probe_status") -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        body = response.read().decode("utf-8")
        pid = response.getheader("X-Pid")
        return Answer(response.status, body, int(pid) if pid else None)
    finally:
        conn.close()


def many(port: int, count: int = 200, threads: int = 8) -> List[Answer]:
    """``count`` GETs of /probe_status from ``threads`` concurrent clients."""
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda _: request(port), range(count)))


def need_gunicorn() -> None:
    import pytest

    from .servers import IN_CI

    try:
        import gunicorn  # noqa: F401
    except ImportError:  # pragma: no cover
        if IN_CI:
            pytest.fail("CI=true and gunicorn is not installed")
        pytest.skip("gunicorn is not installed")


class Server:
    def __init__(self, proc: subprocess.Popen, port: int, log_path: str) -> None:
        self.proc = proc
        self.port = port
        self.log_path = log_path

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def pids(self, want: int, deadline: float = 30.0) -> set:
        """Worker pids seen in answers, once ``want`` distinct ones answered."""
        seen: set = set()
        end = time.monotonic() + deadline
        while len(seen) < want:
            if time.monotonic() > end:
                raise AssertionError(f"only workers {seen} answered\n{self.log()}")
            seen.update(a.pid for a in many(self.port, 40, 8))
        return seen


Settings = Dict[str, object]


@contextlib.contextmanager
def _run(cmd: Sequence[str], settings: Settings, port: int) -> Iterator[Server]:
    from .servers import stop_process, wait_for_port

    env = dict(os.environ, LWS_PROBE_SETTINGS=json.dumps(settings))
    env["LWS_PROBE_PORT"] = str(port)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    log = tempfile.NamedTemporaryFile("w+b", prefix="lws-probe-", delete=False)
    proc = subprocess.Popen(
        list(cmd), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    server = Server(proc, port, log.name)
    try:
        try:
            wait_for_port(port, 30, proc)
        except RuntimeError as exc:
            raise AssertionError(f"{exc}\n{server.log()}") from None
        yield server
    finally:
        stop_process(proc, 30)
        log.close()
        os.unlink(log.name)


def gunicorn(
    settings: Settings, workers: int = 4, extra: Sequence[str] = ()
) -> contextlib.AbstractContextManager[Server]:
    from .servers import free_port

    need_gunicorn()
    port = free_port()
    cmd = [
        sys.executable, "-m", "gunicorn",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--worker-class", "sync",
        "--graceful-timeout", "20",
        "--log-level", "warning",
        *extra,
        "tests.probe_app:make_app()",
    ]
    return _run(cmd, settings, port)


def waitress(settings: Settings) -> contextlib.AbstractContextManager[Server]:
    from .servers import free_port

    port = free_port()
    return _run([sys.executable, "-m", "tests.probe_app"], settings, port)


if __name__ == "__main__":
    main()
