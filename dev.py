#!/usr/bin/env python3
"""Set up and run the project with nothing but Python 3.

    python3 dev.py demo    # serve the demo app on http://localhost:6543/
    python3 dev.py test    # run the whole test suite (pytest + doctests)
    python3 dev.py docs    # build the Sphinx docs, warnings are errors
    python3 dev.py lint    # ruff, the import layers, mypy --strict
    python3 dev.py setup   # only create or refresh .venv

Each command creates ``.venv`` next to this file on first use and installs
the project into it (again whenever ``pyproject.toml`` changes). Extra
arguments go to the tool, e.g. ``python3 dev.py test -k prometheus``.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".lovely-ws-status-installed"
EXTRAS = "test,docs,lint,demo"


def _fingerprint() -> str:
    digest = hashlib.sha256(EXTRAS.encode())
    for name in ("pyproject.toml", "examples/demo/pyproject.toml"):
        path = HERE / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_venv() -> None:
    if not PYTHON.exists():
        print(f"creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = _fingerprint()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print("installing lovely-ws-status and its test/demo dependencies ...", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["-U", "pip"], check=True)
    subprocess.run(
        pip + ["-e", f"{HERE}[{EXTRAS}]", "-e", str(HERE / "examples" / "demo")],
        check=True,
    )
    STAMP.write_text(wanted)


def run(*args: str) -> int:
    return subprocess.call([str(a) for a in args], cwd=HERE)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in ("demo", "test", "docs", "lint", "setup"):
        print(__doc__.strip())
        return 2
    command, extra = argv[1], argv[2:]
    ensure_venv()
    if command == "setup":
        return 0
    if command == "demo":
        print("serving the demo on http://localhost:6543/ (Ctrl-C stops it)", flush=True)
        args = [str(BIN / "pserve"), str(HERE / "examples/demo/development.ini"), *extra]
        if os.name == "posix":
            # Become pserve, so that stopping this process stops the server.
            os.execv(args[0], args)
        return run(*args)
    if command == "test":
        return run(PYTHON, "-m", "pytest", *extra)
    if command == "docs":
        return run(PYTHON, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
                   "docs", "docs/_build/html", *extra)
    status = run(PYTHON, "-m", "ruff", "check", "src", "tests", "examples",
                 "benchmarks", "dev.py", *extra)
    status |= run(BIN / "lint-imports")
    status |= run(PYTHON, "-m", "mypy")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
