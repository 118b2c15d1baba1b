"""The ``pip install`` commands of README.rst and docs/index.rst install
this version: from a checkout, from Git, or from the package index by a
version that 1.0.0 (which is there) does not satisfy."""
from __future__ import annotations

import importlib.metadata
import re
import shlex
from pathlib import Path
from typing import List

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
NAME = "lovely-ws-status"
PAGES = ["README.rst", "docs/index.rst"]


def pip_install_arguments(page: str) -> List[str]:
    arguments = []
    for line in (ROOT / page).read_text(encoding="utf-8").splitlines():
        command = re.match(r"^\s+pip install (.*)$", line)
        if command:
            arguments += shlex.split(command.group(1), comments=True)
    return arguments


@pytest.fixture(scope="module")
def provided():
    metadata = importlib.metadata.metadata(NAME)
    return Version(metadata["Version"]), set(metadata.get_all("Provides-Extra") or ())


@pytest.mark.parametrize("page", PAGES)
def test_every_install_command_gets_this_version(page, provided):
    version, extras = provided
    arguments = pip_install_arguments(page)
    assert arguments, f"{page} shows no pip install"
    for argument in arguments:
        if argument.startswith("."):
            path, _, wanted = argument.partition("[")
            assert Path(path).name in ("", ".", NAME), argument
            assert set(wanted.rstrip("]").split(",")) <= extras, argument
            continue
        requirement = Requirement(argument)
        assert requirement.name == NAME, argument
        assert requirement.extras <= extras, argument
        if requirement.url:
            assert requirement.url.startswith("git+"), argument
        else:
            # From the index: 1.0.0 must not do, this release must.
            assert not requirement.specifier.contains("1.0.0"), argument
            assert requirement.specifier.contains(version.base_version), argument


def test_the_checkout_is_this_project():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(rf'^name = "{NAME}"$', pyproject, re.MULTILINE)
    version = re.search(r'^version = "(.*)"$', pyproject, re.MULTILINE)
    assert version and Version(version.group(1)) == Version(importlib.metadata.version(NAME))
