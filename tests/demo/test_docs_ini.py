"""Every ``.ini`` shown in README.rst and docs/ reads as ``pserve`` reads it:
a ``%`` that starts no interpolation (``10%`` for ``10%%``) stops the app."""
from __future__ import annotations

import configparser
import re
import textwrap
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.rst", *sorted((ROOT / "docs").glob("*.rst"))]
KEY = re.compile(r"^[\w.:-]+\s*=")
SECTION = re.compile(r"^\[[^\]]+\]\s*$")


def literal_blocks(path: Path) -> Iterator[Tuple[int, str, str]]:
    """``(line, language, text)`` of each literal block of a reST page
    (``.. code-block:: LANGUAGE`` or a paragraph ending in ``::``, whose
    language is ``''``)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        directive = re.match(r"^\s*\.\. code-block::\s*(\S+)", line)
        if directive:
            language = directive.group(1)
        elif line.rstrip().endswith("::") and not line.lstrip().startswith(".."):
            language = ""
        else:
            i += 1
            continue
        indent = len(line) - len(line.lstrip())
        j = i + 1
        body: List[str] = []
        while j < len(lines) and (
            not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent
        ):
            body.append(lines[j])
            j += 1
        yield i + 1, language, textwrap.dedent("\n".join(body)).strip("\n")
        i = j


def is_ini(language: str, text: str) -> bool:
    if language:
        return language == "ini"
    code = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return bool(code) and bool(KEY.match(code[0]) or SECTION.match(code[0])) and all(
        KEY.match(ln) or SECTION.match(ln) or ln[0].isspace() for ln in code
    )


INI_BLOCKS = [
    pytest.param(text, id=f"{path.name}:{line}")
    for path in PAGES
    for line, language, text in literal_blocks(path)
    if is_ini(language, text)
]


def test_the_ini_blocks_are_found():
    names = {param.id.split(":")[0] for param in INI_BLOCKS}
    assert {"README.rst", "configuration.rst", "checks.rst"} <= names


@pytest.mark.parametrize("text", INI_BLOCKS)
def test_every_value_reads_with_interpolation(text):
    if not SECTION.match(text.lstrip().splitlines()[0]):
        text = "[app:main]\n" + text  # a snippet of the app's section
    # PasteDeploy's parser: configparser's interpolation, with these defaults.
    parser = configparser.ConfigParser(defaults={"here": "/srv/app", "__file__": "/srv/app/x.ini"})
    parser.optionxform = str
    parser.read_string(text)
    for section in parser.sections():
        for key in parser.options(section):
            try:
                parser.get(section, key)
            except configparser.InterpolationMissingOptionError:
                pass  # a %(name)s given on the command line, as pserve allows


def test_a_bare_percent_is_what_this_catches():
    parser = configparser.ConfigParser()
    parser.read_string("[app:main]\nsvcstatus.handler.disk.warn_below = 10%\n")
    with pytest.raises(configparser.InterpolationSyntaxError):
        parser.get("app:main", "svcstatus.handler.disk.warn_below")
