"""Benchmarks of lovely.ws.status against lovely-ws-status 1.0.0, in one run.

Usage (with the project's venv)::

    .venv/bin/python benchmarks/run.py              # full run (about 3 minutes)
    .venv/bin/python benchmarks/run.py --quick      # smoke run (about 30 s)
    .venv/bin/python benchmarks/run.py --json out.json --wrk-seconds 10
    .venv/bin/python benchmarks/run.py --profile csv   # cProfile of one scenario

The 1.0 baseline venv (``benchmarks/.venv-1.0``) is created on first use.
Each implementation is measured by ``bench_impl.py`` in its own interpreter;
this script only starts processes, runs ``wrk``, and prints the table.
See README.rst for what each figure means.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from setup_baseline import ensure_baseline  # noqa: E402

BENCH = os.path.join(HERE, "bench_impl.py")
PROJECT_PYTHON = os.path.join(ROOT, ".venv", "bin", "python")

WRK_SCRIPT = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non200 = 0 end
function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end
function done(summary, latency, requests)
  local non200 = 0
  for _, t in ipairs(threads) do non200 = non200 + t:get("non200") end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, '
    .. '"write": %d, "status": %d, "timeout": %d, "non200": %d, '
    .. '"p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status,
    e.timeout, non200, latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def clean_env() -> Dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def run_impl(python: str, quick: bool, only_wsgi: bool = False) -> Dict[str, Any]:
    args = [python, "-I", BENCH, "measure"] + (["--quick"] if quick else [])
    if only_wsgi:
        args.append("--only-wsgi")
    proc = subprocess.run(args, capture_output=True, text=True, env=clean_env(), cwd=HERE)
    if proc.returncode != 0:
        return {
            "error": proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"],
            "stderr": proc.stderr,
        }
    return json.loads(proc.stdout.strip().splitlines()[-1])


def merge_best(into: Dict[str, Any], other: Dict[str, Any]) -> None:
    """Keep the best in-process figure of two rounds (less disturbed by other load)."""
    if "error" in into or "error" in other:
        return
    for key, entry in other.get("wsgi", {}).items():
        mine = into.get("wsgi", {}).get(key)
        if mine is None:
            continue
        mine["all"] = mine["all"] + entry["all"]
        if entry["seconds"] < mine["seconds"]:
            mine["seconds"] = entry["seconds"]
            mine["number"] = entry["number"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def run_wrk(
    python: str,
    seconds: int,
    threads: int,
    connections: int,
    store: Optional[str] = None,
) -> Dict[str, Any]:
    """wrk against waitress (4 threads) serving /probe_status on 127.0.0.1."""
    port = free_port()
    args = [python, "-I", BENCH, "serve", str(port)] + (["--store", store] if store else [])
    with tempfile.TemporaryDirectory(prefix="lws-wrk-") as tmp:
        log_path = os.path.join(tmp, "server.log")
        script = os.path.join(tmp, "done.lua")
        with open(script, "w") as f:
            f.write(WRK_SCRIPT)
        with open(log_path, "w") as log:
            server = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env=clean_env(), cwd=HERE
            )
        try:
            if not wait_for_port(port, server):
                with open(log_path) as f:
                    return {"error": "server did not start: " + f.read()[-500:]}
            proc = subprocess.run(
                [
                    "wrk",
                    f"-t{threads}",
                    f"-c{connections}",
                    f"-d{seconds}s",
                    "-s",
                    script,
                    f"http://127.0.0.1:{port}/probe_status",
                ],
                capture_output=True,
                text=True,
                timeout=seconds + 60,
            )
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    match = re.search(r"^WRKJSON (.*)$", proc.stdout, re.M)
    if proc.returncode != 0 or not match:
        return {"error": "wrk failed: " + (proc.stderr or proc.stdout)[-500:]}
    result = json.loads(match.group(1))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = sum(result[k] for k in ("connect", "read", "write", "timeout"))
    # "Non-2xx or 3xx responses" as wrk prints it, and our own count of non-200.
    result["non2xx"] = result["status"]
    return result


# -- the report --------------------------------------------------------------


def fmt_time(seconds: Optional[float]) -> str:
    if seconds is None:
        return "-"
    if seconds >= 0.1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return "%.2f ms" % (seconds * 1e3)
    return "%.1f µs" % (seconds * 1e6)


def fmt_ratio(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f}×"


def verdict(value: Optional[float], limit: float) -> str:
    if value is None:
        return "n/a"
    return "PASS" if value <= limit else "FAIL"


def wsgi(results: Dict[str, Any], key: str) -> Optional[float]:
    entry = results.get("wsgi", {}).get(key)
    return entry["seconds"] if entry else None


def div(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or b is None or b == 0 else a / b


def table(rows: List[Tuple[str, ...]], header: Tuple[str, ...]) -> str:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = [line]
    for r in [header] + rows:
        out.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    out[0], out[1] = out[1], out[0]
    return "\n".join(out)


def report(
    old: Dict[str, Any], new: Dict[str, Any], wrk: Dict[str, Dict[str, Any]]
) -> Tuple[str, List[str]]:
    """The tables, and the list of failed targets."""
    failures: List[str] = []
    rows: List[Tuple[str, ...]] = []

    def check(
        label: str,
        value: Optional[float],
        limit: float,
        target: str,
        shown: Optional[str] = None,
    ) -> str:
        v = verdict(value, limit)
        if v == "FAIL":
            failures.append(f"{label}: {shown or fmt_ratio(value)} (target {target})")
        return v

    old_bare, new_bare = wsgi(old, "bare"), wsgi(new, "bare")
    wsgi_rows = [
        ("bare Pyramid view 'OK'", "bare", None, None),
        ("minimal view Response(b'OK') (reference)", "minimal", None, None),
        ("/probe_status (memory store)", "probe_memory", "bare", 1.1),
        ("/probe_status (file store, no file)", "probe_file_missing", "bare", 1.3),
        ("/probe_status (file store, file written)", "probe_file", "bare", 1.3),
        ("/svc_status CSV, 1,000 handlers", "csv_1000", "1.0", 1.2),
        ("/svc_status.json, 1,000 handlers", "json_1000", "1.0", 1.2),
        ("/svc_status.prometheus, 1,000 handlers", "prometheus_1000", "1.0", 1.2),
        ("/svc_status.prometheus, 1,000 handlers, OpenMetrics", "openmetrics_1000", "1.0", 1.2),
        ("/svc_status.prometheus, no handlers", "prometheus_empty", None, None),
        ("/svc_status CSV, no handlers (reference)", "csv_empty", None, None),
        ("/svc_status, 20 handlers × 100 ms, interval", "interval_20", "bare", 2.0),
    ]
    for label, key, against, limit in wsgi_rows:
        o, n = wsgi(old, key), wsgi(new, key)
        if o is None and n is None and key.startswith("probe_file"):
            continue
        vs_old, vs_bare = div(n, o), div(n, new_bare)
        if against is None:
            target, v = "-", ""
        else:
            target = "≤{:.1f}× {}".format(limit, "bare" if against == "bare" else "1.0")
            v = check(label, vs_bare if against == "bare" else vs_old, limit, target)
        rows.append(
            (
                label,
                fmt_time(o),
                fmt_ratio(div(o, old_bare)),
                fmt_time(n),
                fmt_ratio(vs_bare),
                fmt_ratio(vs_old),
                target,
                v,
            )
        )
    out = [
        "In-process WSGI, per request (best of %s loops)"
        % (len(new.get("wsgi", {}).get("bare", {}).get("all", [])) or "?"),
        table(
            rows,
            (
                "request",
                "1.0",
                "1.0/bare",
                "this",
                "this/bare",
                "this/1.0",
                "target",
                "result",
            ),
        ),
    ]

    rows = []
    o_slow, n_slow = old.get("slow", {}), new.get("slow", {})
    for label, key, judged in (
        ("cold (first request of the process)", "cold", False),
        ("warm (worst of the requests after it)", "warm", True),
    ):
        o, n = o_slow.get(key), n_slow.get(key)
        ratio = div(n, 0.1)
        if judged:
            v = check("20 × 100 ms handlers, " + key, ratio, 1.2, "≤1.2× 0.1 s")
            target = "≤1.2× 0.1 s"
        else:
            v, target = (f"(info: {verdict(ratio, 1.2)})"), "-"
        rows.append(
            (
                "20 handlers × 100 ms, " + label,
                fmt_time(o),
                fmt_ratio(div(o, 0.1)),
                fmt_time(n),
                fmt_ratio(ratio),
                target,
                v,
            )
        )
    out += [
        "",
        "Slow handlers (ratio to the slowest handler, 0.1 s)",
        table(
            rows,
            ("request", "1.0", "1.0/0.1s", "this", "this/0.1s", "target", "result"),
        ),
    ]

    rows = []
    for key, label in (
        ("hang", "100 requests, one after the other"),
        ("hang_concurrent", "100 requests from 10 client threads"),
    ):
        h = new.get(key)
        if not h:
            rows.append((label, "-", "-", "-", "n/a"))
            continue
        v1 = check(
            f"hung handler, {label}: max response",
            h["max"],
            1.3,
            "≤1.3 s",
            fmt_time(h["max"]),
        )
        v2 = check(
            f"hung handler, {label}: threads stuck",
            h["stuck_threads"],
            1,
            "≤1",
            str(h["stuck_threads"]),
        )
        if h["bad_responses"]:
            failures.append(
                f"hung handler, {label}: {h['bad_responses']} responses were not "
                f"200 with RED: {h['bad_sample']}"
            )
        rows.append(
            (
                label,
                fmt_time(h["max"]),
                f"{v1} (≤1.3 s)",
                str(h["stuck_threads"]),
                f"{v2} (≤1)",
            )
        )
    out += [
        "",
        "One handler that never returns, svcstatus.timeout = 1 "
        "(this project only: 1.0 has no timeout and would hang forever)",
        table(rows, ("scenario", "max response", "result", "threads stuck", "result")),
    ]

    rows = []
    for label, w in wrk.items():
        if "error" in w:
            rows.append((label, w["error"][:60], "", "", "", "", "n/a"))
            continue
        ok = w["errors"] == 0 and w["non2xx"] == 0 and w["non200"] == 0
        judged = not label.startswith("1.0")
        if judged and not ok:
            failures.append(
                f"wrk {label}: {w['errors']} errors, {w['non2xx']} non-2xx, {w['non200']} non-200"
            )
        rows.append(
            (
                label,
                "{:.0f}".format(w["rps"]),
                "%.2f ms" % (w["p50_us"] / 1e3),
                "%.2f ms" % (w["p99_us"] / 1e3),
                str(w["errors"]),
                f"{w['non2xx']} / {w['non200']}",
                ("PASS" if ok else "FAIL") if judged else "(baseline)",
            )
        )
    if wrk:
        out += [
            "",
            "wrk against waitress (4 threads), GET /probe_status on 127.0.0.1",
            table(
                rows,
                (
                    "server",
                    "req/s",
                    "p50",
                    "p99",
                    "errors",
                    "non-2xx / non-200",
                    "zero errors",
                ),
            ),
        ]
    return "\n".join(out), failures


def machine() -> Dict[str, str]:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        # "-dirty": the work tree has changes not committed yet.
        commit = subprocess.run(
            ["git", "-C", ROOT, "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "?"
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "kernel": platform.release(),
        "commit": commit,
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="lovely.ws.status benchmarks vs 1.0.0")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fast smoke run: fewer iterations, wrk for 3 s",
    )
    parser.add_argument(
        "--wrk-seconds",
        type=int,
        default=None,
        help="duration of each wrk run (default 30, 3 with --quick)",
    )
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--wrk-connections", type=int, default=8)
    parser.add_argument("--no-wrk", action="store_true", help="skip the wrk runs")
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="in-process WSGI rounds per version, alternating 1.0 and "
        "this; the best figure counts (default 3, 1 with --quick)",
    )
    parser.add_argument(
        "--python",
        default=PROJECT_PYTHON,
        help="interpreter with this project installed (default .venv)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    parser.add_argument(
        "--profile",
        metavar="SCENARIO",
        help="instead of measuring, cProfile one scenario in both "
        "versions: bare, probe, csv, json, prometheus, prometheus_empty",
    )
    parser.add_argument("--profile-seconds", type=float, default=3.0)
    args = parser.parse_args(argv)

    baseline = ensure_baseline()
    if args.profile:
        for python in (baseline, args.python):
            subprocess.run(
                [
                    python,
                    "-I",
                    BENCH,
                    "profile",
                    args.profile,
                    "--seconds",
                    str(args.profile_seconds),
                ],
                env=clean_env(),
                cwd=HERE,
            )
        return 0

    info = machine()
    print(
        f"lovely.ws.status benchmarks, {info['date']}, commit {info['commit']}, "
        f"{info['nproc']} CPUs: {info['cpu']}, Python {platform.python_version()}",
        flush=True,
    )
    print(f"measuring 1.0.0 ({baseline}) ...", flush=True)
    old = run_impl(baseline, args.quick)
    print(f"measuring this project ({args.python}) ...", flush=True)
    new = run_impl(args.python, args.quick)
    rounds = args.rounds or (1 if args.quick else 3)
    for i in range(1, rounds):
        print(f"in-process WSGI round {i + 1} of {rounds} ...", flush=True)
        merge_best(old, run_impl(baseline, args.quick, only_wsgi=True))
        merge_best(new, run_impl(args.python, args.quick, only_wsgi=True))
    for name, res in (("1.0", old), ("this project", new)):
        if "error" in res:
            print("!! {} failed: {}".format(name, res["error"]))
            print(res["stderr"][-3000:])
        else:
            print(
                "   {}: lovely-ws-status {}, Python {}, {}".format(
                    name, res["version"], res["python"], res["module"]
                )
            )
            for note in res["notes"]:
                print(f"   note ({name}): {note}")

    wrk: Dict[str, Dict[str, Any]] = {}
    seconds = args.wrk_seconds or (3 if args.quick else 30)
    if args.no_wrk:
        print("note: wrk runs skipped (--no-wrk)")
    elif shutil.which("wrk") is None:
        print("note: wrk is not installed (Debian package 'wrk'): load runs skipped")
    else:
        runs = [("1.0 (memory)", baseline, None), ("this (memory)", args.python, None)]
        file_ok = "probe_file" in new.get("wsgi", {})
        tmp = tempfile.mkdtemp(prefix="lws-wrk-store-")
        if file_ok:
            runs.append(
                (
                    "this (file store)",
                    args.python,
                    "file://" + os.path.join(tmp, "probe.txt"),
                )
            )
        else:
            print("note: no wrk run with the file store (it is not available)")
        try:
            for label, python, store in runs:
                print(f"wrk {label} for {seconds} s ...", flush=True)
                wrk[label] = run_wrk(python, seconds, args.wrk_threads, args.wrk_connections, store)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    text, failures = report(old, new, wrk)
    print()
    print(text)
    print()
    if failures:
        print(f"FAILED targets ({len(failures)}):")
        for f in failures:
            print("  - " + f)
    else:
        print("every target met")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "machine": info,
                    "quick": args.quick,
                    "baseline": old,
                    "project": new,
                    "wrk": wrk,
                    "failures": failures,
                },
                f,
                indent=1,
            )
    return 1 if failures or "error" in old or "error" in new else 0


if __name__ == "__main__":
    sys.exit(main())
