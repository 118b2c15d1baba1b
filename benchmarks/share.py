"""One run per host: how often a background handler runs under gunicorn
with ``svcstatus.share = file://...``, and without it.

Usage (with the project's venv)::

    .venv/bin/python benchmarks/share.py                 # 30 s per run, 4 workers
    .venv/bin/python benchmarks/share.py --seconds 10 --workers 2 --interval 0.5

For each run it starts gunicorn (sync workers) serving an app with one
handler, ``svcstatus.interval`` seconds apart, that appends a line to a file
at each call; waits until every worker answered; loads ``/svc_status``
with ``wrk`` (or, without it, with Python threads, and says so) and counts
the calls that started during the load. Issue target with the share: at
most ``seconds / interval + 1`` calls (31 in 30 s). Without a share each
worker runs the handler itself (about ``workers`` times as many); 1.0,
which runs the handlers for each request, would make one call per request.

This module is also the app gunicorn loads (``share:make_app()``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional, Set, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROJECT_PYTHON = os.path.join(ROOT, ".venv", "bin", "python")

# ---------------------------------------------------------------- the app


def counted() -> Dict[str, Any]:
    line = f"{os.getpid()} {time.time():.6f}\n".encode("ascii")
    fd = os.open(os.environ["LWS_BENCH_COUNTER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)  # one short O_APPEND write: lines never interleave
    finally:
        os.close(fd)
    return {"state": "OK", "detail": f"pid {os.getpid()}"}


def make_app() -> Any:
    from pyramid.config import Configurator
    from pyramid.events import NewResponse

    def add_pid(event: Any) -> None:
        event.response.headers["X-Pid"] = str(os.getpid())

    settings = {"svcstatus.interval": os.environ["LWS_BENCH_INTERVAL"],
                "svcstatus.share": os.environ.get("LWS_BENCH_SHARE", "")}
    config = Configurator(settings=settings)
    config.include("lovely.ws.status.svcstatus")
    config.add_status_handler("counted", counted)
    config.add_subscriber(add_pid, NewResponse)
    return config.make_wsgi_app()


# ---------------------------------------------------------------- the harness


def harness() -> Any:
    """``run.py``, whose wrk script, table and machine info this reuses."""
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    import run

    return run


def calls(path: str) -> List[Tuple[int, float]]:
    try:
        with open(path, encoding="ascii") as f:
            return [(int(p), float(t)) for p, t in (line.split() for line in f)]
    except FileNotFoundError:
        return []


def get(port: int) -> Tuple[int, Optional[int]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/svc_status")
        response = conn.getresponse()
        response.read()
        pid = response.getheader("X-Pid")
        return response.status, int(pid) if pid else None
    finally:
        conn.close()


def wait_for_workers(port: int, workers: int, proc: subprocess.Popen,
                     timeout: float = 60.0) -> Set[int]:
    """The worker pids, once each has answered (gunicorn logs no line when
    a worker has loaded the app)."""
    seen: Set[int] = set()
    lock = threading.Lock()
    deadline = time.monotonic() + timeout

    def ask() -> None:
        for _ in range(10):
            try:
                status, pid = get(port)
            except OSError:
                time.sleep(0.05)
                continue
            if status == 200 and pid:
                with lock:
                    seen.add(pid)

    while len(seen) < workers:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"only workers {sorted(seen)} answered in {timeout} s")
        threads = [threading.Thread(target=ask) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return seen


def wrk_load(port: int, seconds: int, threads: int, connections: int) -> Dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="lws-share-wrk-") as tmp:
        script = os.path.join(tmp, "done.lua")
        with open(script, "w") as f:
            f.write(harness().WRK_SCRIPT)
        proc = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", script,
             f"http://127.0.0.1:{port}/svc_status"],
            capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"^WRKJSON (.*)$", proc.stdout, re.M)
    if proc.returncode != 0 or not match:
        raise RuntimeError("wrk failed: " + (proc.stderr or proc.stdout)[-500:])
    found = json.loads(match.group(1))
    return {"requests": found["requests"], "non200": found["non200"],
            "errors": sum(found[k] for k in ("connect", "read", "write", "timeout"))}


def python_load(port: int, seconds: int, connections: int) -> Dict[str, Any]:
    """``connections`` threads that GET /svc_status one after the other."""
    counts = {"requests": 0, "non200": 0, "errors": 0}
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def client() -> None:
        mine = {"requests": 0, "non200": 0, "errors": 0}
        while time.monotonic() < end:
            try:
                status, _ = get(port)
            except (OSError, http.client.HTTPException):
                mine["errors"] += 1
                continue
            mine["requests"] += 1
            mine["non200"] += status != 200
        with lock:
            for key, value in mine.items():
                counts[key] += value

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts


def one_run(args: argparse.Namespace, share: bool, client: str) -> Dict[str, Any]:
    """gunicorn with or without the share, loaded for ``args.seconds``."""
    tmp = tempfile.mkdtemp(prefix="lws-share-bench-")
    try:
        counter = os.path.join(tmp, "calls")
        directory = os.path.join(tmp, "share")
        os.mkdir(directory)
        env = dict(os.environ, LWS_BENCH_COUNTER=counter, LWS_BENCH_INTERVAL=str(args.interval),
                   LWS_BENCH_SHARE=f"file://{directory}" if share else "")
        env.pop("PYTHONPATH", None)
        port = harness().free_port()
        log_path = os.path.join(tmp, "gunicorn.log")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [args.python, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
                 "--workers", str(args.workers), "--worker-class", "sync",
                 "--pythonpath", HERE, "--log-level", "warning", "share:make_app()"],
                cwd=HERE, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            try:
                workers = wait_for_workers(port, args.workers, proc)
            except RuntimeError:
                with open(log_path, errors="replace") as f:
                    print(f.read()[-3000:])
                raise
            before = len(calls(counter))
            start = time.time()
            if client == "wrk":
                load = wrk_load(port, args.seconds, args.wrk_threads, args.connections)
            else:
                load = python_load(port, args.seconds, args.connections)
            end = time.time()
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        inside = [pid for pid, when in calls(counter) if start <= when <= end]
        return dict(load, window=end - start, calls=len(inside), pids=len(set(inside)),
                    workers=len(workers), startup_calls=before)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="calls of a background handler under "
                                     "gunicorn, with and without svcstatus.share")
    parser.add_argument("--seconds", type=int, default=30, help="load per run (default 30)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="svcstatus.interval in seconds (default 1)")
    parser.add_argument("--connections", type=int, default=8,
                        help="wrk's -c, or the number of Python client threads (default 8)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk's -t (default 2)")
    parser.add_argument("--python-client", action="store_true",
                        help="load with Python threads even if wrk is installed")
    parser.add_argument("--python", default=PROJECT_PYTHON if os.path.exists(PROJECT_PYTHON)
                        else sys.executable,
                        help="interpreter with this project and gunicorn (default .venv)")
    args = parser.parse_args(argv)

    info = harness().machine()
    client = "wrk" if shutil.which("wrk") and not args.python_client else "python"
    if client == "wrk":
        load = f"wrk -t{args.wrk_threads} -c{args.connections}"
    else:
        load = f"{args.connections} Python client threads"
        if not args.python_client:
            print("note: wrk is not installed (Debian package 'wrk'): "
                  "the load comes from Python threads instead")
    print(f"svcstatus.share benchmark, {info['date']}, commit {info['commit']}, "
          f"{info['nproc']} CPUs: {info['cpu']}", flush=True)
    print(f"gunicorn, {args.workers} sync workers, svcstatus.interval = {args.interval:g}, "
          f"GET /svc_status for {args.seconds} s with {load}", flush=True)

    results = {}
    for label, share in (("svcstatus.share = file://", True), ("no share", False)):
        print(f"run: {label} ...", flush=True)
        results[label] = one_run(args, share, client)

    rows = []
    for label, r in results.items():
        per_interval = r["calls"] / (r["window"] / args.interval)
        rows.append((label, f"{r['window']:.1f} s", str(r["requests"]),
                     f"{r['requests'] / r['window']:.0f}", f"{r['non200']}/{r['errors']}",
                     str(r["calls"]), f"{per_interval:.2f}", f"{r['pids']} of {r['workers']}"))
    share_run = results["svcstatus.share = file://"]
    rows.append(("1.0, for reference (one per request)", "", "", "", "",
                 f"~{share_run['requests']}", "", ""))
    header = ("run", "window", "requests", "req/s", "non-200/errors", "handler calls",
              "calls/interval", "processes calling")
    print()
    print(harness().table(rows, header))
    print()
    print("(window: from just before the load started to just after it ended; calls made "
          "while the workers started, before it, not counted: "
          + ", ".join(f"{label} {r['startup_calls']}" for label, r in results.items()) + ")")
    # The target, 31 calls in 30 s, for the window as measured.
    limit = int(share_run["window"] / args.interval) + 1
    ok = share_run["calls"] <= limit and share_run["pids"] == 1
    print(f"target with the share: at most {limit} calls in {share_run['window']:.1f} s, from one "
          f"process: {share_run['calls']} from {share_run['pids']}: "
          + ("PASS" if ok else "FAIL"))
    bad = [label for label, r in results.items() if r["non200"] or r["errors"]]
    if bad:
        print("non-200 answers or socket errors in: " + ", ".join(bad))
    return 0 if ok and not bad else 1


if __name__ == "__main__":
    sys.exit(main())
