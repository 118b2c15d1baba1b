#!/usr/bin/env python3
"""Set up and run the project with nothing but Python 3.

    python3 dev.py demo    # serve the demo app on http://localhost:6543/
    python3 dev.py demo --port 8080   # on another port
    python3 dev.py test    # run the whole test suite (pytest + doctests)
    python3 dev.py docs    # build the Sphinx docs, warnings are errors
    python3 dev.py lint    # ruff, the import layers, mypy --strict
    python3 dev.py setup   # only create or refresh .venv, with everything

Each command creates ``.venv`` next to this file on first use and installs
the project into it with what the command needs (again whenever
``pyproject.toml`` changes): the demo only its own dependencies, every
other command all extras. Extra arguments go to the tool, e.g.
``python3 dev.py test -k prometheus``.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import venv
from pathlib import Path
from typing import List, Optional, Set, Tuple

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".lovely-ws-status-installed"
COMMANDS = ("demo", "test", "docs", "lint", "setup")
EVERYTHING = frozenset({"test", "docs", "lint", "demo"})
#: The extras of lovely-ws-status each command installs; the demo package
#: (examples/demo) comes with every command.
EXTRAS = {"demo": frozenset({"demo"})}
DEMO_HOST = "localhost"
DEMO_PORT = 6543
DEMO_INI = HERE / "examples" / "demo" / "development.ini"


class UsageError(Exception):
    """A mistake on the command line, said in one line."""

    status = 2


class PortUnavailableError(UsageError):
    """The demo cannot listen on its port."""

    status = 1


def extras_for(command: str) -> frozenset[str]:
    return EXTRAS.get(command, EVERYTHING)


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "examples/demo/pyproject.toml"):
        path = HERE / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _installed() -> Tuple[Optional[str], Set[str]]:
    """The fingerprint and extras of the last install, if any."""
    try:
        stamp = json.loads(STAMP.read_text())
        return stamp["fingerprint"], set(stamp["extras"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, set()


def needs_install(extras: frozenset[str]) -> bool:
    fingerprint, installed = _installed()
    return fingerprint != _fingerprint() or not extras <= installed


def ensure_venv(extras: frozenset[str] = EVERYTHING) -> None:
    if not PYTHON.exists():
        print(f"creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if not needs_install(extras):
        return
    fingerprint, installed = _installed()
    if fingerprint == _fingerprint():
        extras = extras | installed  # keep what an earlier command installed
    print(f"installing lovely-ws-status with {', '.join(sorted(extras))} ...", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["-U", "pip"], check=True)
    subprocess.run(
        pip + ["-e", f"{HERE}[{','.join(sorted(extras))}]",
               "-e", str(HERE / "examples" / "demo")],
        check=True,
    )
    STAMP.write_text(json.dumps({"fingerprint": _fingerprint(), "extras": sorted(extras)}))


def demo_arguments(args: List[str]) -> Tuple[int, List[str]]:
    """The demo's port (``--port N`` or ``--port=N``) and the arguments for ``pserve``."""
    port, rest = DEMO_PORT, []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--port" or arg.startswith("--port="):
            if arg == "--port":
                if i + 1 == len(args):
                    raise UsageError("--port needs a number, as in --port 8080")
                value = args[i + 1]
                i += 1
            else:
                value = arg[len("--port="):]
            if not value.isdigit() or not 0 < int(value) < 65536:
                raise UsageError(f"--port needs a number from 1 to 65535, not {value!r}")
            port = int(value)
        else:
            rest.append(arg)
        i += 1
    return port, rest


def port_problem(port: int, host: str = DEMO_HOST) -> Optional[str]:
    """Why the demo could not listen on ``host:port``, or ``None``."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot resolve {host}: {exc}"
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as sock:
            if os.name == "posix":  # as the server will: a port in TIME_WAIT is free
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return (f"port {port} is already in use (another server, or the demo "
                            f"still running?); try: python3 dev.py demo --port {port + 1}")
                if exc.errno == errno.EACCES:
                    return (f"not allowed to listen on port {port}; try a port above "
                            f"1023: python3 dev.py demo --port 8080")
                if exc.errno == errno.EADDRNOTAVAIL:
                    continue  # e.g. no IPv6 on this machine; the server skips it too
                return f"cannot listen on port {port}: {exc.strerror or exc}"
    return None


def check_port(port: int) -> None:
    problem = port_problem(port)
    if problem:
        raise PortUnavailableError(problem)


def demo(extra: List[str]) -> int:
    port, rest = demo_arguments(extra)
    check_port(port)  # before a first install, which takes minutes
    ensure_venv(extras_for("demo"))
    check_port(port)
    print(f"serving the demo on http://{DEMO_HOST}:{port}/ (Ctrl-C stops it)", flush=True)
    # pserve reads its options before the .ini and name=value pairs after
    # it; the .ini takes its port from the pair http_port.
    pairs = [arg for arg in rest if re.match(r"^\w+=", arg)]
    options = [arg for arg in rest if arg not in pairs]
    args = [str(BIN / "pserve"), *options, str(DEMO_INI), *pairs, f"http_port={port}"]
    if os.name == "posix":
        # Become pserve, so that stopping this process stops the server.
        os.execv(args[0], args)
    return run(*args)


def run(*args: object) -> int:
    return subprocess.call([str(a) for a in args], cwd=HERE)


def main(argv: List[str]) -> int:
    if len(argv) < 2 or argv[1] not in COMMANDS:
        print((__doc__ or "").strip())
        return 2
    command, extra = argv[1], argv[2:]
    try:
        if command == "demo":
            return demo(extra)
    except UsageError as exc:
        print(f"dev.py {command}: {exc}", file=sys.stderr)
        return exc.status
    ensure_venv(extras_for(command))
    if command == "setup":
        return 0
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
