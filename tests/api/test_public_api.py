"""docs/api.rst lists exactly the public API, and says since when.

The page has one section per public module, headed by its dotted name. Each
section has a table ``Name | Since`` and documents the same names with
autodoc (the ``:members:`` of its ``automodule``, and ``autodata`` for
values); both must be the module's ``__all__``.
"""
from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Dict, List, NamedTuple

import pytest

API_RST = Path(__file__).resolve().parents[2] / "docs" / "api.rst"

PUBLIC_MODULES = [
    "lovely.ws.status",
    "lovely.ws.status.statehandler",
    "lovely.ws.status.config",
    "lovely.ws.status.svcstatus",
    "lovely.ws.status.probestatus",
    "lovely.ws.status.health",
    "lovely.ws.status.checks",
    "lovely.ws.status.dockerflow",
    "lovely.ws.status.dockerflow.checks",
    "lovely.ws.status.prometheus",
    "lovely.ws.status.gunicorn",
    "lovely.ws.status.scripts.pstatus",
    "lovely.ws.status.scripts.pprobe",
]

#: The names of lovely-ws-status 1.0, per module: the page marks these
#: (and only these) "1.0".
SINCE_1_0 = {
    "lovely.ws.status": {
        "OK", "GREEN", "YELLOW", "RED", "NUMERIC_VALUES", "STATUS_HANDLERS",
        "StateHandlerMixin", "addStatusHandler", "getStatus", "isInState",
        "waitForStatus",
    },
    "lovely.ws.status.statehandler": {"StateHandlerMixin"},
    "lovely.ws.status.svcstatus": {
        "svc_status_view", "includeme", "NUMERIC_VALUES", "STATUS_HANDLERS",
    },
    "lovely.ws.status.probestatus": {"probe_status_view", "includeme", "RESPONSE_BODY"},
}

SINCE_VALUES = {"1.0", "2.0"}


class Section(NamedTuple):
    module: str
    line: int  # of the heading, 1-based
    table: Dict[str, str]  # name -> since
    documented: List[str]  # automodule :members: and auto* directives, in order


_HEADING = re.compile(r"^``([\w.]+)``$")
_BORDER = re.compile(r"^=+\s+=+$")
_DIRECTIVE = re.compile(r"^\.\. (auto\w+|py:module|module|currentmodule)::\s*(\S+)")


def _name(cell: str) -> str:
    return cell.strip().strip("`")


def _parse_table(lines: List[str], start: int, module: str) -> Dict[str, str]:
    """The two-column table whose top border is ``lines[start]``."""
    header = lines[start + 1].split()
    assert header == ["Name", "Since"], (
        f"api.rst line {start + 2}: the table of {module} must have the "
        f"columns 'Name Since', not {header}"
    )
    assert _BORDER.match(lines[start + 2]), (
        f"api.rst line {start + 3}: expected the border under 'Name Since'"
    )
    table: Dict[str, str] = {}
    for number in range(start + 3, len(lines)):
        row = lines[number]
        if _BORDER.match(row):
            return table
        cells = row.split()
        assert len(cells) == 2, (
            f"api.rst line {number + 1}: a row of {module}'s table needs a name "
            f"and a version, got {row!r}"
        )
        name, since = _name(cells[0]), cells[1]
        assert name not in table, f"api.rst line {number + 1}: {name} is listed twice"
        table[name] = since
    raise AssertionError(f"api.rst line {start + 1}: the table of {module} is not closed")


def _members(lines: List[str], start: int) -> List[str]:
    """The names of the ``:members:`` option of the directive at ``start``."""
    for number in range(start + 1, len(lines)):
        line = lines[number]
        if not line.startswith("   "):
            return []  # the directive's options ended without :members:
        if line.strip().startswith(":members:"):
            text = line.strip()[len(":members:"):]
            indent = len(line) - len(line.lstrip())
            for more in lines[number + 1:]:
                if not more.strip() or more.strip().startswith(":"):
                    break
                if len(more) - len(more.lstrip()) <= indent:
                    break
                text += " " + more.strip()
            return [n.strip() for n in text.split(",") if n.strip()]
    return []


def parse_api_rst(text: str) -> List[Section]:
    lines = text.splitlines()
    headings = [
        (number, _HEADING.match(line).group(1))
        for number, line in enumerate(lines[:-1])
        if _HEADING.match(line) and set(lines[number + 1]) == {"-"}
    ]
    sections = []
    for index, (start, module) in enumerate(headings):
        end = headings[index + 1][0] if index + 1 < len(headings) else len(lines)
        tables = [n for n in range(start + 2, end) if _BORDER.match(lines[n])]
        assert tables, f"api.rst line {start + 1}: the section of {module} has no table"
        table = _parse_table(lines, tables[0], module)
        documented: List[str] = []
        for number in range(start + 2, end):
            found = _DIRECTIVE.match(lines[number])
            if not found:
                continue
            kind, target = found.groups()
            if kind == "automodule":
                assert target == module, (
                    f"api.rst line {number + 1}: automodule {target} in the "
                    f"section of {module}"
                )
                documented += _members(lines, number)
            elif kind.startswith("auto"):
                owner, _, name = target.rpartition(".")
                assert owner == module, (
                    f"api.rst line {number + 1}: {kind} {target} in the section "
                    f"of {module} (write the full dotted name)"
                )
                documented.append(name)
        sections.append(Section(module, start + 1, table, documented))
    return sections


@pytest.fixture(scope="module")
def sections():
    return parse_api_rst(API_RST.read_text("utf-8"))


def test_the_page_has_a_section_per_public_module(sections):
    headings = [s.module for s in sections]
    assert sorted(headings) == sorted(PUBLIC_MODULES), (
        "docs/api.rst must have exactly one section (a ``dotted.name`` heading) "
        f"per public module; missing: {sorted(set(PUBLIC_MODULES) - set(headings))}, "
        f"not public: {sorted(set(headings) - set(PUBLIC_MODULES))}"
    )


def test_the_page_documents_no_other_module():
    for number, line in enumerate(API_RST.read_text("utf-8").splitlines(), 1):
        found = _DIRECTIVE.match(line)
        if not found:
            continue
        kind, target = found.groups()
        module = target if kind in ("automodule", "py:module", "module", "currentmodule") \
            else target.rpartition(".")[0]
        assert module in PUBLIC_MODULES, (
            f"api.rst line {number}: {kind} {target} documents {module}, "
            "which is not a public module"
        )


@pytest.fixture(params=PUBLIC_MODULES)
def public(request, sections):
    """The section of api.rst about one public module, and the module."""
    found = [s for s in sections if s.module == request.param]
    assert found, f"docs/api.rst has no section for {request.param}"
    return found[0], importlib.import_module(request.param)


def test_all_lists_each_name_once_and_every_name_exists(public):
    section, module = public
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), (
        f"{section.module}.__all__ repeats a name: {exported}"
    )
    missing = [name for name in exported if not hasattr(module, name)]
    assert not missing, f"{section.module}.__all__ names what the module lacks: {missing}"


def test_the_table_lists_all(public):
    section, module = public
    table = set(section.table)
    exported = set(module.__all__)
    assert table == exported, (
        f"the table of {section.module} (api.rst line {section.line}) differs from "
        f"its __all__: only in the table {sorted(table - exported)}, "
        f"only in __all__ {sorted(exported - table)}"
    )


def test_autodoc_documents_all_once(public):
    section, module = public
    documented = section.documented
    repeated = sorted({name for name in documented if documented.count(name) > 1})
    assert not repeated, f"api.rst documents these names of {section.module} twice: {repeated}"
    documented_set = set(documented)
    exported = set(module.__all__)
    assert documented_set == exported, (
        f"autodoc in the section of {section.module} (api.rst line {section.line}) "
        f"differs from its __all__: only documented {sorted(documented_set - exported)}, "
        f"only in __all__ {sorted(exported - documented_set)}"
    )


def test_since_is_1_0_or_2_0(public):
    section, _ = public
    wrong = {name: since for name, since in section.table.items() if since not in SINCE_VALUES}
    assert not wrong, f"the table of {section.module}: Since must be 1.0 or 2.0: {wrong}"


def test_exactly_the_names_of_1_0_are_marked_1_0(public):
    section, _ = public
    marked = {name for name, since in section.table.items() if since == "1.0"}
    expected = SINCE_1_0.get(section.module, set())
    assert marked == expected, (
        f"the table of {section.module}: marked 1.0 but new in 2.0: "
        f"{sorted(marked - expected)}; in 1.0 but not marked 1.0: {sorted(expected - marked)}"
    )


def test_the_parser_reads_continued_members_and_autodata():
    text = "\n".join([
        "``pkg.mod``",
        "-----------",
        "",
        "====  =====",
        "Name  Since",
        "====  =====",
        "``a``   1.0",
        "b     2.0",
        "====  =====",
        "",
        ".. automodule:: pkg.mod",
        "   :members: a,",
        "             b",
        "   :undoc-members:",
        "",
        ".. autodata:: pkg.mod.c",
    ])
    (section,) = parse_api_rst(text)
    assert section.module == "pkg.mod"
    assert section.table == {"a": "1.0", "b": "2.0"}
    assert section.documented == ["a", "b", "c"]
