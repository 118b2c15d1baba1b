"""``svcstatus.share`` under real gunicorn: a background handler runs in one
worker of the host (file) or one process of the fleet (Redis), every worker
serves its result, and another one takes over when the runner dies."""
from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Set, Tuple

import pytest

from ..helpers import PATIENCE, wait_until
from ..servers import (
    AppServer,
    app_server,
    free_port,
    gunicorn_command,
    gunicorn_ready,
    need_gunicorn,
)
from .share_app import calls

pytestmark = pytest.mark.server

APP = "tests.evaluation.share_app:make_app()"
COUNTED = "counted = tests.evaluation.share_app:counted"
LOCAL = "local = tests.evaluation.share_app:PidState"
#: Seconds between background runs: short, to keep the module quick.
INTERVAL = 0.5
#: The least number of seconds the tests that count calls watch them.
WINDOW = 5.0


class Answer(NamedTuple):
    sent: float  # time.time() when the request was sent
    status: int
    body: Any  # the JSON of /svc_status.json (the text if it is none)
    pid: int  # the process that answered (X-Pid)


def get(port: int, path: str = "/svc_status.json") -> Answer:
    sent = time.time()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        try:
            body = json.loads(text)
        except ValueError:  # an error page: the test shows it
            body = text
        pid = response.getheader("X-Pid")
        return Answer(sent, response.status, body, int(pid) if pid else 0)
    finally:
        conn.close()


def state_of(answer: Answer, name: str = "counted") -> Optional[str]:
    if answer.status != 200 or not isinstance(answer.body, dict):
        return None
    return answer.body.get(name, {}).get("state")


def runner_pid(source: str) -> int:
    """The pid of a result's ``host:pid`` source."""
    return int(source.rsplit(":", 1)[1])


def gunicorn(log_path: Path, settings: Dict[str, Any], counter: Path,
             workers: int = 4) -> contextlib.AbstractContextManager[AppServer]:
    """gunicorn with ``workers`` sync workers serving the share app, ready
    once each worker answered; its log stays at ``log_path``."""
    need_gunicorn()
    port = free_port()
    env = {"LWS_SHARE_SETTINGS": json.dumps(settings), "LWS_SHARE_COUNTER": str(counter)}
    return app_server(gunicorn_command(port, [APP], workers), port, gunicorn_ready(port),
                      env, workers, pid_path="/svc_status.json", log_path=str(log_path))


class Hammer:
    """Client threads that GET /svc_status.json from ``ports`` in turn until
    the block ends; :attr:`answers` and :attr:`errors` are what they got."""

    def __init__(self, *ports: int, threads: int = 4) -> None:
        self.ports = ports
        self.answers: List[Answer] = []
        self.errors: List[Exception] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                         for i in range(threads)]

    def _run(self, i: int) -> None:
        while not self._stop.is_set():
            port = self.ports[i % len(self.ports)]
            i += 1
            try:
                self.answers.append(get(port))
            except (OSError, http.client.HTTPException) as exc:
                self.errors.append(exc)

    def since(self, when: float) -> List[Answer]:
        return [a for a in list(self.answers) if a.sent >= when]

    def __enter__(self) -> Hammer:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(PATIENCE)


def calls_between(counter: Path, start: float, end: float) -> List[int]:
    """The pids of the calls that started from ``start`` to ``end``."""
    return [pid for pid, when in calls(str(counter)) if start <= when <= end]


def count_window(counter: Path, servers: List[AppServer]) -> Tuple[float, List[int], Hammer]:
    """Load every server for :data:`WINDOW` seconds at least, and until the
    handler was called twice meanwhile; returns the window's length, the
    pids of the calls in it, and the answers."""
    ports = [s.port for s in servers]
    with Hammer(*ports) as hammer:
        start = time.time()
        wait_until(lambda: time.time() - start >= WINDOW
                   and len(calls_between(counter, start, time.time())) >= 2,
                   "two calls of the handler")
    end = time.time()
    return end - start, calls_between(counter, start, end), hammer


def check_bound(window: float, count: int) -> None:
    # The refresher sets a run's next due time an interval after the look
    # that starts it, so the due times of one process's runs are at least
    # INTERVAL apart: window / INTERVAL + 1 of them fit in the window. A
    # call starts a thread hand-off after its due time, so one due just
    # before the window may start inside it: + 1.
    assert count <= window / INTERVAL + 2, f"{count} calls in {window:.2f} s"


def every_worker_answers_ok(server: AppServer, workers: Set[int]) -> None:
    """Wait until each of ``workers`` answered ``counted`` OK."""
    missing = set(workers)

    def more() -> bool:
        with ThreadPoolExecutor(8) as pool:
            for answer in pool.map(lambda _: get(server.port), range(16)):
                assert answer.status == 200, answer
                if state_of(answer) == "OK":
                    missing.discard(answer.pid)
        return not missing

    wait_until(more, f"OK answers from workers {missing}")


def file_settings(share: Path, **more: str) -> Dict[str, Any]:
    return {"svcstatus.handlers": COUNTED, "svcstatus.interval": str(INTERVAL),
            "svcstatus.share": f"file://{share}", **more}


def result_file(share: Path, name: str = "counted") -> Path:
    """The result file of handler ``name`` (named after the handler, then a
    hash of the app and the handler)."""
    found = sorted(share.glob(f"{name}-*.json"))
    return found[0] if found else share / f"{name}-none-yet.json"


def read_json(path: Path) -> Optional[Dict[str, Any]]:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return None


def taken_over(read: Callable[[], Optional[Dict[str, Any]]], runner: int,
               killed: float) -> Callable[[], Optional[Dict[str, Any]]]:
    """A predicate: the result that another process than ``runner``
    published after ``killed``, once there is one."""

    def check() -> Optional[Dict[str, Any]]:
        found = read()
        if found and runner_pid(found["source"]) != runner and found["time"] > killed:
            return found
        return None

    return check


# --- one host: svcstatus.share = file:// --------------------------------------


def test_file_share_runs_the_handler_in_one_worker(tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    counter = tmp_path / "calls"
    with gunicorn(tmp_path / "gunicorn.log", file_settings(share), counter) as server:
        window, pids, hammer = count_window(counter, [server])

        assert not hammer.errors, hammer.errors
        assert hammer.answers
        assert {state_of(a) for a in hammer.answers} == {"OK"}
        assert len(set(pids)) == 1, pids
        [runner] = set(pids)
        assert runner in server.workers, server.log()
        check_bound(window, len(pids))
        result = read_json(result_file(share))
        assert result is not None
        assert runner_pid(result["source"]) == runner
        assert result["status"] == {"state": "OK", "detail": f"pid {runner}"}

        every_worker_answers_ok(server, server.workers)


def test_without_a_share_every_worker_runs_the_handler(tmp_path):
    counter = tmp_path / "calls"
    settings = {"svcstatus.handlers": COUNTED, "svcstatus.interval": str(INTERVAL)}
    with gunicorn(tmp_path / "gunicorn.log", settings, counter) as server:
        start = time.time()
        wait_until(lambda: len(set(calls_between(counter, start, time.time()))) >= 2,
                   "calls from two workers")
        assert set(calls_between(counter, start, time.time())) <= server.workers


def test_another_worker_takes_over_when_the_runner_dies(tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    counter = tmp_path / "calls"
    with gunicorn(tmp_path / "gunicorn.log", file_settings(share), counter) as server:
        wait_until(lambda: read_json(result_file(share)), "the first shared result")
        path = result_file(share)
        runner = runner_pid(read_json(path)["source"])
        assert runner in server.workers

        with Hammer(server.port) as hammer:
            killed = time.time()
            os.kill(runner, signal.SIGKILL)
            new = taken_over(lambda: read_json(path), runner, killed)
            # and until some answers came while it happened
            wait_until(lambda: new() and len(hammer.since(killed)) >= 20,
                       "a result of another worker")
        successor = runner_pid(new()["source"])

        assert successor != runner
        os.kill(successor, 0)  # a live process
        assert hammer.since(killed)
        assert {a.status for a in hammer.answers} == {200}
        assert {state_of(a) for a in hammer.answers} <= {"OK", "RED"}
        # A sync worker holds one connection at a time: the kill cuts at
        # most that one.
        assert len(hammer.errors) <= 1, hammer.errors

        def ok_from_successor() -> bool:
            answer = get(server.port)
            assert answer.status == 200, answer
            return answer.body["counted"] == {"state": "OK", "detail": f"pid {successor}"}

        wait_until(ok_from_successor, "the successor's OK")


def test_a_handler_with_state_in_its_process_is_not_shared(tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    counter = tmp_path / "calls"
    settings = file_settings(share, **{
        "svcstatus.handlers": f"{COUNTED}\n{LOCAL}",
        "svcstatus.handler.local.interval": str(INTERVAL),
    })
    with gunicorn(tmp_path / "gunicorn.log", settings, counter) as server:
        wait_until(lambda: result_file(share).exists(),
                   "the shared result of 'counted'")
        seen: Dict[int, Any] = {}

        def every_worker() -> bool:
            with ThreadPoolExecutor(8) as pool:
                for answer in pool.map(lambda _: get(server.port), range(16)):
                    assert answer.status == 200, answer
                    seen[answer.pid] = answer.body["local"]
            return set(seen) >= server.workers

        wait_until(every_worker, "answers of every worker")

        # Each worker reports its own state: no process reads another's.
        assert seen == {pid: {"state": "OK", "detail": f"pid {pid}"} for pid in seen}
        assert len(seen) >= 4
        assert not [p.name for p in share.iterdir() if p.name.startswith("local-")]


# --- a fleet: svcstatus.share = redis:// --------------------------------------


def test_redis_share_runs_the_handler_in_one_process_of_the_fleet(tmp_path, redis_server,
                                                                  request):
    redis = pytest.importorskip("redis")
    counter = tmp_path / "calls"
    # timeout=2: the lease lasts two intervals and 2 s more, so a busy
    # machine that delays a renewal does not hand the handler to another.
    settings = {"svcstatus.handlers": COUNTED, "svcstatus.interval": str(INTERVAL),
                "svcstatus.share": f"{redis_server.url}?key=test-share&timeout=2"}
    client = redis.Redis(port=redis_server.port)
    request.addfinalizer(client.close)

    def result() -> Optional[Dict[str, Any]]:
        data = client.get("test-share:result:counted")
        return None if data is None else json.loads(data)

    with gunicorn(tmp_path / "a.log", settings, counter, workers=2) as first, \
            gunicorn(tmp_path / "b.log", settings, counter, workers=2) as second:
        fleet = first.workers | second.workers
        window, pids, hammer = count_window(counter, [first, second])

        assert not hammer.errors, hammer.errors
        assert {state_of(a) for a in hammer.answers} == {"OK"}
        assert {a.pid for a in hammer.answers} & first.workers
        assert {a.pid for a in hammer.answers} & second.workers
        assert len(set(pids)) == 1, pids
        [runner] = set(pids)
        assert runner in fleet
        check_bound(window, len(pids))
        assert runner_pid(result()["source"]) == runner
        lease = client.get("test-share:runner:counted").decode()
        assert runner_pid(lease) == runner

        killed = time.time()
        os.kill(runner, signal.SIGKILL)
        new = taken_over(result, runner, killed)
        wait_until(new, "a result of another process")
        successor = runner_pid(new()["source"])
        assert successor != runner
        os.kill(successor, 0)

        every_worker_answers_ok(first, first.workers - {runner})
        every_worker_answers_ok(second, second.workers - {runner})
