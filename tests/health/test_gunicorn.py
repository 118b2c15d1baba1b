"""Under gunicorn with the file probe store, one ``pprobe --off`` turns
``/readyz`` to 503 in every worker, while ``/livez`` stays 200: the pods
leave the load balancer's rotation without being restarted."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Set

import pytest

from ..helpers import PATIENCE
from ..servers import (
    IN_CI,
    ROOT,
    Answer,
    app_server,
    free_port,
    gunicorn_command,
    gunicorn_ready,
    need_binary,
    need_gunicorn,
    request,
)

pytestmark = pytest.mark.server


def pprobe(ini: Path, *args: str) -> subprocess.CompletedProcess:
    path = Path(sys.executable).parent / "pprobe"
    if not path.exists():
        if IN_CI:
            pytest.fail("pprobe is not installed: pip install -e .")
        path = Path(need_binary("pprobe"))
    return subprocess.run([str(path), str(ini), *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT},
                          timeout=120)


def answers(port: int, path: str, count: int = 80) -> List[Answer]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: request(port, "GET", path), range(count)))


def every_worker(port: int, path: str, workers: Set[int]) -> Dict[int, Set[tuple]]:
    """What each of ``workers`` answered on ``path``, once each has answered."""
    seen: Dict[int, Set[tuple]] = {}
    deadline = time.monotonic() + PATIENCE
    while not workers <= set(seen):
        if time.monotonic() > deadline:
            raise AssertionError(f"workers {workers - set(seen)} never answered {path}")
        for answer in answers(port, path):
            seen.setdefault(answer.pid, set()).add((answer.status, answer.text))
    return seen


@pytest.mark.timeout(240)
def test_pprobe_off_fails_readyz_in_every_worker_and_livez_stays(tmp_path):
    need_gunicorn()
    store = tmp_path / "probe"
    ini = tmp_path / "app.ini"
    ini.write_text(
        "[app:main]\n"
        "use = call:tests.health.app:main\n"
        f"probestatus.store = file://{store}\n"
    )
    port = free_port()
    cmd = gunicorn_command(port, ["--paste", str(ini)], workers=4)
    with app_server(cmd, port, gunicorn_ready(port), workers=4) as server:
        workers = server.workers
        assert len(workers) == 4
        ready = every_worker(port, "/readyz?verbose", workers)
        assert set().union(*ready.values()) == {
            (200, "[+]database ok\n[+]probe_status ok\nreadyz check passed\n")}

        result = pprobe(ini, "--off", "deploying v42")
        assert result.returncode == 0, result.stderr

        ready = every_worker(port, "/readyz", workers)
        assert set().union(*ready.values()) == {
            (503, "[+]database ok\n[-]probe_status failed: reason withheld\n"
                  "readyz check failed\n")}, server.log()
        live = every_worker(port, "/livez", workers)
        assert set().union(*live.values()) == {(200, "ok")}

        result = pprobe(ini, "--on")
        assert result.returncode == 0, result.stderr
        ready = every_worker(port, "/readyz", workers)
        assert set().union(*ready.values()) == {(200, "ok")}
