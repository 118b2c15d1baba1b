"""Measure one implementation of lovely.ws.status, inside its own interpreter.

``run.py`` starts this file with the baseline venv's python (1.0 from PyPI)
and with the project's python, with ``-I`` so that each process imports only
the ``lovely.ws.status`` installed in its own venv. It is self-contained on
purpose (``-I`` leaves this directory off ``sys.path``).

Modes::

    bench_impl.py measure [--quick] [--only-wsgi]   JSON results on stdout
    bench_impl.py serve PORT [--store S]  waitress on 127.0.0.1:PORT (for wrk)
    bench_impl.py profile SCENARIO        cProfile of a scenario, every thread
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import shutil
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from pyramid.config import Configurator
from pyramid.response import Response
from webob import Request

import lovely.ws.status as status

try:
    from importlib.metadata import version as _dist_version

    VERSION = _dist_version("lovely-ws-status")
except Exception:  # pragma: no cover - metadata missing
    VERSION = "?"

IS_BASELINE = VERSION == "1.0.0"
TRIVIAL_HANDLERS = 1000
SLOW_HANDLERS = 20
SLOW_SECONDS = 0.1
HANG_REQUESTS = 100
HANG_THREADS = 10
#: The Accept header of Prometheus 2's scrapes.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


# -- the app -----------------------------------------------------------------


def bare_view(request: Any) -> Any:
    # The yardstick for /probe_status: a plain-text "OK" made the usual
    # Pyramid way, through request.response, as any view would.
    response = request.response
    response.content_type = "text/plain"
    response.text = "OK"
    return response


def minimal_view(request: Any) -> Any:
    # The cheapest response Pyramid can give (no request.response): for reference.
    return Response(body=b"OK", content_type="text/plain")


def make_app(settings: Optional[Dict[str, str]] = None) -> Any:
    """The same app shape for both versions: svc_status, probe_status, /bare."""
    with Configurator(settings=dict(settings or {})) as config:
        config.include("lovely.ws.status.svcstatus")
        config.include("lovely.ws.status.probestatus")
        # 1.0 needs the scans; the port accepts them without registering twice.
        config.scan("lovely.ws.status.svcstatus")
        config.scan("lovely.ws.status.probestatus")
        config.add_route("bare", "/bare")
        config.add_view(bare_view, route_name="bare")
        config.add_route("minimal", "/minimal")
        config.add_view(minimal_view, route_name="minimal")
    return config.make_wsgi_app()


class Call:
    """One prepared WSGI request: ``call()`` runs it and consumes the body."""

    def __init__(self, app: Any, path: str, method: str = "GET",
                 accept: Optional[str] = None) -> None:
        self.app = app
        headers = {"Accept": accept} if accept else None
        self.environ = Request.blank(path, method=method, headers=headers).environ
        self.status = ""
        self.body = b""

    def _start_response(self, status: str, headers: Any, exc_info: Any = None) -> None:
        self.status = status

    def __call__(self) -> bytes:
        # A fresh copy each time: Pyramid and WebOb cache things in the environ.
        app_iter = self.app(self.environ.copy(), self._start_response)
        try:
            body = b"".join(app_iter)
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()
        self.body = body
        return body


def best_per_call(fn: Callable[[], Any], repeats: int, min_time: float) -> Dict[str, Any]:
    """Seconds per call: the best of ``repeats`` loops of at least ``min_time`` each."""
    clock = time.perf_counter
    fn()  # warm caches (and lazily created pools)
    number = 1
    while True:
        start = clock()
        for _ in range(number):
            fn()
        elapsed = clock() - start
        if elapsed >= min_time:
            break
        number = max(number * 2, int(number * min_time / max(elapsed, 1e-9) * 1.2))
    times = []
    for _ in range(repeats):
        start = clock()
        for _ in range(number):
            fn()
        times.append((clock() - start) / number)
    return {"seconds": min(times), "all": times, "number": number}


def trivial_handler_factory(i: int) -> Callable[[], Dict[str, Any]]:
    def handler() -> Dict[str, Any]:
        return {"state": status.OK, "detail": f"check {i} is fine"}

    return handler


def register_trivial(n: int) -> None:
    status.STATUS_HANDLERS.clear()
    for i in range(n):
        status.addStatusHandler(f"check_{i:04d}", trivial_handler_factory(i))


# -- in-process WSGI timings -------------------------------------------------


def file_store_app(tmpdir: str) -> tuple[Any, str]:
    """An app with ``probestatus.store = file://...``, or a reason why not."""
    path = os.path.join(tmpdir, "probe.txt")
    try:
        app = make_app({"probestatus.store": "file://" + path})
    except Exception as exc:
        return (
            None,
            f"probestatus.store = file://... is refused: {type(exc).__name__}: {exc}",
        )
    # Make sure the setting is honoured, not ignored: OFF must reach the file.
    off = Call(app, "/probe_status?body=OFF", method="POST")
    off()
    get = Call(app, "/probe_status")
    get()
    if not get.status.startswith("503") or not os.path.exists(path):
        Call(app, "/probe_status", method="POST")()
        return None, "probestatus.store = file://... seems ignored (no 503 after OFF)"
    return app, path


def measure_wsgi(repeats: int, min_time: float, notes: List[str]) -> Dict[str, Any]:
    results: Dict[str, Any] = {}
    app = make_app()

    def timed(key: str, call: Call) -> None:
        # One scenario failing (the code under test is changing) must not
        # cost the others: note it and go on.
        try:
            call()
            if not call.status.startswith("200"):
                raise RuntimeError(f"answered {call.status}: {call.body[:200]!r}")
            results[key] = best_per_call(call, repeats, min_time)
            results[key]["bytes"] = len(call.body)
        except Exception as exc:
            notes.append(f"{key} failed: {type(exc).__name__}: {exc}")

    status.STATUS_HANDLERS.clear()
    timed("bare", Call(app, "/bare"))
    timed("minimal", Call(app, "/minimal"))
    timed("probe_memory", Call(app, "/probe_status"))
    timed("prometheus_empty", Call(app, "/svc_status.prometheus"))
    timed("csv_empty", Call(app, "/svc_status"))

    register_trivial(TRIVIAL_HANDLERS)
    timed("csv_1000", Call(app, "/svc_status"))
    timed("json_1000", Call(app, "/svc_status.json"))
    timed("prometheus_1000", Call(app, "/svc_status.prometheus"))
    # What Prometheus sends: this project answers OpenMetrics, 1.0 its text.
    timed("openmetrics_1000", Call(app, "/svc_status.prometheus", accept=PROMETHEUS_ACCEPT))
    status.STATUS_HANDLERS.clear()

    if IS_BASELINE:
        return results
    try:
        timed("interval_20", Call(interval_app(), "/svc_status"))
    finally:
        status.STATUS_HANDLERS.clear()
        gc.collect()  # the app and its refresher go
    tmpdir = tempfile.mkdtemp(prefix="lws-bench-")
    try:
        fapp, path_or_note = file_store_app(tmpdir)
        if fapp is None:
            notes.append("file store skipped: " + path_or_note)
        else:
            # A missing file means OK; after a POST without body the file exists.
            if os.path.exists(path_or_note):
                os.unlink(path_or_note)
            timed("probe_file_missing", Call(fapp, "/probe_status"))
            Call(fapp, "/probe_status", method="POST")()
            timed("probe_file", Call(fapp, "/probe_status"))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return results


# -- 20 handlers sleeping 100 ms ---------------------------------------------


def interval_app() -> Any:
    """An app whose SLOW_HANDLERS handlers sleep SLOW_SECONDS each and run in
    the background every second: a request answers from their latest results."""
    status.STATUS_HANDLERS.clear()

    def sleeper() -> Dict[str, Any]:
        time.sleep(SLOW_SECONDS)
        return {"state": status.OK}

    for i in range(SLOW_HANDLERS):
        status.addStatusHandler(f"slow_{i:02d}", sleeper, interval=1)
    app = make_app()
    first = Call(app, "/svc_status")
    first()  # waits for the first results
    if first.body.count(b"\tOK\t") != SLOW_HANDLERS:
        raise RuntimeError(f"unexpected /svc_status body: {first.body[:200]!r}")
    return app


def measure_slow(quick: bool) -> Dict[str, Any]:
    status.STATUS_HANDLERS.clear()

    def sleeper() -> Dict[str, Any]:
        time.sleep(SLOW_SECONDS)
        return {"state": status.OK}

    for i in range(SLOW_HANDLERS):
        status.addStatusHandler(f"slow_{i:02d}", sleeper)
    app = make_app()
    call = Call(app, "/svc_status")
    clock = time.perf_counter

    def once() -> float:
        start = clock()
        call()
        elapsed = clock() - start
        lines = call.body.decode("utf-8").split("\n")
        if len(lines) != SLOW_HANDLERS or any("\tOK\t" not in line + "\t" for line in lines):
            raise RuntimeError(f"unexpected /svc_status body: {call.body[:200]!r}")
        return elapsed

    cold = once()  # also the warm-up request
    warm = [once() for _ in range(1 if (quick or IS_BASELINE) else 5)]
    status.STATUS_HANDLERS.clear()
    return {"cold": cold, "warm": max(warm), "warm_all": warm}


# -- one handler that never returns ------------------------------------------


def _stuck_in(code: Any) -> int:
    me = threading.get_ident()
    count = 0
    for ident, frame in sys._current_frames().items():
        if ident == me:
            continue
        while frame is not None:
            if frame.f_code is code:
                count += 1
                break
            frame = frame.f_back
    return count


def measure_hang(concurrent: int) -> Dict[str, Any]:
    """HANG_REQUESTS requests with ``concurrent`` client threads; a fresh app."""
    status.STATUS_HANDLERS.clear()
    release = threading.Event()

    def never_returns() -> Dict[str, Any]:
        release.wait()
        return {"state": status.OK}

    status.addStatusHandler("hung", never_returns)
    app = make_app({"svcstatus.timeout": "1"})
    times: List[float] = []
    bad: List[str] = []
    lock = threading.Lock()
    per_thread = HANG_REQUESTS // concurrent

    def client() -> None:
        call = Call(app, "/svc_status")
        for _ in range(per_thread):
            start = time.perf_counter()
            call()
            elapsed = time.perf_counter() - start
            with lock:
                times.append(elapsed)
                if not call.status.startswith("200") or b"\tRED\t" not in call.body:
                    bad.append(f"{call.status} {call.body[:100]!r}")

    threads = [threading.Thread(target=client) for _ in range(concurrent)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    stuck = _stuck_in(never_returns.__code__)
    alive = threading.active_count()
    release.set()
    status.STATUS_HANDLERS.clear()
    # Give released threads a moment, so the next measurement starts clean.
    deadline = time.monotonic() + 5
    while _stuck_in(never_returns.__code__) and time.monotonic() < deadline:
        time.sleep(0.01)
    times_sorted = sorted(times)
    return {
        "requests": len(times),
        "max": times_sorted[-1],
        "median": times_sorted[len(times_sorted) // 2],
        "over_1_3s": sum(1 for t in times if t > 1.3),
        "stuck_threads": stuck,
        "threads_alive": alive,
        "bad_responses": len(bad),
        "bad_sample": bad[:3],
    }


# -- modes -------------------------------------------------------------------


def measure(quick: bool, only_wsgi: bool = False) -> Dict[str, Any]:
    notes: List[str] = []
    out: Dict[str, Any] = {
        "version": VERSION,
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "module": os.path.dirname(status.__file__),
        "notes": notes,
    }
    repeats, min_time = (3, 0.02) if quick else (5, 0.2)
    phases: List[Tuple[str, Callable[[], Any]]] = [
        ("wsgi", lambda: measure_wsgi(repeats, min_time, notes))
    ]
    if not only_wsgi:
        phases.append(("slow", lambda: measure_slow(quick)))
        if IS_BASELINE:
            notes.append(
                "never-returning handler not run: 1.0 has no timeout, "
                "every request would hang forever"
            )
        else:
            phases.append(("hang", lambda: measure_hang(1)))
            phases.append(("hang_concurrent", lambda: measure_hang(HANG_THREADS)))
    for key, phase in phases:
        try:
            out[key] = phase()
        except Exception as exc:
            notes.append(f"{key} failed: {type(exc).__name__}: {exc}")
    return out


def serve(port: int, store: Optional[str]) -> None:
    import waitress

    status.STATUS_HANDLERS.clear()
    settings = {"probestatus.store": store} if store else {}
    app = make_app(settings)
    waitress.serve(app, host="127.0.0.1", port=port, threads=4, _quiet=True)


SCENARIOS = {
    "bare": ("/bare", 0),
    "probe": ("/probe_status", 0),
    "csv": ("/svc_status", TRIVIAL_HANDLERS),
    "json": ("/svc_status.json", TRIVIAL_HANDLERS),
    "prometheus": ("/svc_status.prometheus", TRIVIAL_HANDLERS),
    "prometheus_empty": ("/svc_status.prometheus", 0),
}


def profile(scenario: str, seconds: float, limit: int, store: Optional[str]) -> None:
    """cProfile of ``scenario`` in the request thread and every worker thread."""
    path, handlers = SCENARIOS[scenario]
    profiles: List[cProfile.Profile] = []
    plock = threading.Lock()

    def start_in_thread(*_: Any) -> None:
        # First profiler event in a new thread: replace this hook with cProfile.
        sys.setprofile(None)
        prof = cProfile.Profile()
        with plock:
            profiles.append(prof)
        prof.enable()

    register_trivial(handlers)
    app = make_app({"probestatus.store": store} if store else {})
    call = Call(app, path)
    threading.setprofile(start_in_thread)  # threads started from now on (the pool)
    main = cProfile.Profile()
    profiles.append(main)
    gc.collect()
    n = 0
    start = time.perf_counter()
    main.enable()
    while time.perf_counter() - start < seconds:
        call()
        n += 1
    main.disable()
    threading.setprofile(None)
    stream = io.StringIO()
    stats = pstats.Stats(main, stream=stream)
    for prof in profiles[1:]:
        # Worker threads are idle now (waiting for work), so a snapshot is safe.
        prof.create_stats()
        stats.add(prof)
    print(
        f"{VERSION} {path}: {n} requests in {seconds:.1f} s, {len(profiles)} profiled "
        "threads (profiler overhead included)"
    )
    stats.sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats(limit)
    print(stream.getvalue())


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--quick", action="store_true")
    m.add_argument("--only-wsgi", action="store_true")
    s = sub.add_parser("serve")
    s.add_argument("port", type=int)
    s.add_argument("--store")
    p = sub.add_parser("profile")
    p.add_argument("scenario", choices=sorted(SCENARIOS))
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--limit", type=int, default=25)
    p.add_argument("--store")
    args = parser.parse_args(argv)
    if args.mode == "measure":
        print(json.dumps(measure(args.quick, args.only_wsgi)))
    elif args.mode == "serve":
        serve(args.port, args.store)
    else:
        profile(args.scenario, args.seconds, args.limit, args.store)


if __name__ == "__main__":
    main()
