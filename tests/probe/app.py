"""A small Pyramid app with the probe, and helpers to run it under real
servers (gunicorn, waitress) and talk HTTP to it on loopback.

The app is configured by environment variables, so that gunicorn workers and
subprocesses build the same app:

``LWS_PROBE_SETTINGS``
    A JSON object of app settings (``{"probestatus.store": "file:///..."}``).
``LWS_PROBE_PORT``
    The loopback port ``python -m tests.probe.app`` serves on (waitress).

Every response carries ``X-Pid``, the id of the process that answered, so a
test can tell gunicorn workers apart.

gunicorn: ``gunicorn 'tests.probe.app:make_app()'``.
"""
from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Sequence, Set

#: The dotted name of this module, for ``python -m`` and gunicorn.
MODULE = "tests.probe.app"


def make_app() -> Any:
    from ..helpers import pid_app

    return pid_app("lovely.ws.status.probestatus", "LWS_PROBE_SETTINGS")


def main() -> None:
    from waitress import serve

    logging.basicConfig(level=logging.INFO)
    port = int(os.environ["LWS_PROBE_PORT"])
    # Not quiet: waitress's "Serving on ..." is what the tests wait for.
    serve(make_app(), host="127.0.0.1", port=port, threads=2)


# --- helpers for the tests (not used by the app itself) ---------------------

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Answer(NamedTuple):
    status: int
    text: str
    pid: Optional[int]


def request(port: int, method: str = "GET", path: str = "/probe_status") -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
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

    from ..servers import IN_CI

    try:
        import gunicorn  # noqa: F401
    except ImportError:  # pragma: no cover
        if IN_CI:
            pytest.fail("CI=true and gunicorn is not installed")
        pytest.skip("gunicorn is not installed")


class Server:
    """A server process of the app; :attr:`workers` are the pids that
    answered before the server counted as ready."""

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
        from ..helpers import PATIENCE

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

    def pids(self, want: int) -> Set[int]:
        """Worker pids seen in answers, once ``want`` distinct ones answered."""
        from ..helpers import PATIENCE

        seen: Set[int] = set()
        end = time.monotonic() + PATIENCE
        while len(seen) < want:
            if time.monotonic() > end:
                raise AssertionError(f"only workers {seen} answered\n{self.log()}")
            seen.update(a.pid for a in many(self.port, 40, 8))
        return seen


def drain_and_exit(server: Server) -> List[Answer]:
    """SIGTERM the server; the answers seen until it stopped listening."""
    from ..helpers import PATIENCE

    seen: List[Answer] = []
    server.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + PATIENCE
    while server.proc.poll() is None and time.monotonic() < deadline:
        try:
            seen.append(request(server.port))
        except (OSError, http.client.HTTPException):
            pass  # between the last answer and the exit (a cut answer too)
        time.sleep(0.05)
    server.proc.wait(PATIENCE)
    return seen


Settings = Dict[str, Any]


@contextlib.contextmanager
def _run(cmd: Sequence[str], settings: Settings, port: int, ready: str,
         workers: int = 0) -> Iterator[Server]:
    """Run ``cmd``; ready once it logged ``ready`` and ``workers`` distinct
    processes answered."""
    from ..servers import stop_process

    env = dict(os.environ, LWS_PROBE_SETTINGS=json.dumps(settings))
    env["LWS_PROBE_PORT"] = str(port)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    log = tempfile.NamedTemporaryFile("w+b", prefix="lws-probe-", delete=False)
    proc = subprocess.Popen(
        list(cmd), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    server = Server(proc, port, log.name)
    try:
        server.wait_for_log(ready)
        if workers:
            server.workers = server.pids(workers)
        yield server
    finally:
        stop_process(proc, 30)
        log.close()
        os.unlink(log.name)


def gunicorn(
    settings: Settings, workers: int = 4, extra: Sequence[str] = ()
) -> contextlib.AbstractContextManager[Server]:
    """gunicorn with ``workers`` sync workers, ready once each answered
    (gunicorn logs no line when a worker has loaded the app)."""
    from ..servers import free_port

    need_gunicorn()
    port = free_port()
    cmd = [
        sys.executable, "-m", "gunicorn",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--worker-class", "sync",
        "--graceful-timeout", "20",
        "--log-level", "info",
        *extra,
        f"{MODULE}:make_app()",
    ]
    return _run(cmd, settings, port, f"Listening at: http://127.0.0.1:{port}", workers)


def waitress(settings: Settings) -> contextlib.AbstractContextManager[Server]:
    """waitress in a process of its own, ready once it says it serves."""
    from ..servers import free_port

    port = free_port()
    return _run([sys.executable, "-m", MODULE], settings, port,
                f"Serving on http://127.0.0.1:{port}")


if __name__ == "__main__":
    main()
