"""Create ``benchmarks/.venv-1.0``: lovely-ws-status 1.0.0 from PyPI to compare against.

Idempotent: a venv that already imports every package is left alone.
Run directly (``python benchmarks/setup_baseline.py``) or let ``run.py`` call
:func:`ensure_baseline`.
"""

from __future__ import annotations

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BASELINE_DIR = os.path.join(HERE, ".venv-1.0")
# waitress is not a dependency of 1.0; it is here so the wrk run can serve 1.0 too.
REQUIREMENTS = ["lovely-ws-status==1.0.0", "pyramid", "prometheus_client", "waitress"]
CHECK = (
    "import importlib.metadata as m, lovely.ws.status.svcstatus, prometheus_client;"
    "import waitress;"
    "assert m.version('lovely-ws-status') == '1.0.0'"
)


def baseline_python(venv: str = BASELINE_DIR) -> str:
    return os.path.join(venv, "Scripts" if os.name == "nt" else "bin", "python")


def _ready(python: str) -> bool:
    if not os.path.exists(python):
        return False
    return subprocess.run([python, "-I", "-c", CHECK], capture_output=True).returncode == 0


def ensure_baseline(venv: str = BASELINE_DIR, quiet: bool = False) -> str:
    """Return the baseline venv's python, creating and filling the venv if needed."""
    python = baseline_python(venv)
    if _ready(python):
        return python
    if not quiet:
        print(f"creating the 1.0 baseline venv in {venv} ...", flush=True)
    if not os.path.exists(python):
        # A venv made from inside another venv is based on the same base Python.
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *REQUIREMENTS,
        ],
        check=True,
    )
    if not _ready(python):
        raise RuntimeError(f"the baseline venv {venv} is still incomplete")
    return python


if __name__ == "__main__":
    print(ensure_baseline())
