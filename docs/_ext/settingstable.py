"""``.. settings-table:: dotted.name.OF_A_LIST`` renders a list of
``lovely.ws.status.settings.Setting`` as a table, so the configuration
reference is generated from the code that validates the settings.

The lists: ``lovely.ws.status.config.SVCSTATUS_SETTINGS``,
``lovely.ws.status.probe.settings.PROBESTATUS_SETTINGS`` and
``lovely.ws.status.dockerflow.DOCKERFLOW_SETTINGS``."""
from __future__ import annotations

from importlib import import_module

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList


def _resolve(dotted: str):
    module, _, name = dotted.rpartition(".")
    return getattr(import_module(module), name)


def _default(value) -> str:
    if value is None or value == [] or value == () or value == "":
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class SettingsTable(Directive):
    required_arguments = 1
    has_content = False

    def run(self):
        try:
            specs = _resolve(self.arguments[0])
        except (ImportError, AttributeError, ValueError) as exc:
            raise self.error(
                f"settings-table: cannot import {self.arguments[0]}: {exc}"
            ) from exc
        lines = [".. list-table::", "   :header-rows: 1", "   :widths: 25 12 40 23", "",
                 "   * - Setting", "     - Default", "     - Meaning", "     - Example"]
        for spec in specs:
            example = spec.example.strip("\n")
            lines += [
                f"   * - ``{spec.key}``",
                f"     - ``{_default(spec.default)}``" if _default(spec.default) != "(none)"
                else "     - (none)",
                f"     - {spec.doc}",
            ]
            if not example:
                lines.append("     -")
            elif "\n" in example:
                lines += ["     - .. code-block:: ini", ""]
                lines += [f"          {spec.key} = {example.splitlines()[0]}".rstrip()]
                lines += ["          " + line for line in example.splitlines()[1:]]
            else:
                lines.append(f"     - ``{spec.key} = {example}``")
        node = nodes.container()
        content = StringList(lines, source="settings-table")
        self.state.nested_parse(content, self.content_offset, node)
        return node.children


def setup(app):
    app.add_directive("settings-table", SettingsTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
