"""Sphinx configuration for lovely-ws-status."""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "src")))
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "_ext")))

project = "lovely-ws-status"
author = "lovely-ws-status developers"
copyright = "2026, lovely-ws-status developers"
release = "2.0.0.dev0"
version = "2.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "settingstable",
]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# Show defaults as written (``sys.argv``), not as evaluated at build time.
autodoc_preserve_defaults = True
# A method without a docstring of its own (logging.Formatter.format) is
# documented by its base class, not again with the base's text.
autodoc_inherit_docstrings = False
autodoc_mock_imports = []
intersphinx_mapping = {}
nitpicky = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = []
suppress_warnings = ["ref.python"]


def _drop_type_docstring(app, what, name, obj, options, lines):
    # autodoc falls back to the docstring of a value's type (str, dict) for
    # data without a ``#:`` comment in the module that exports it; the text
    # written under the directive in api.rst says what the value is instead.
    if what != "data":
        return
    from sphinx.util.docstrings import prepare_docstring

    type_doc = getattr(type(obj), "__doc__", None)
    if type_doc and [ln for ln in lines if ln] == [
        ln for ln in prepare_docstring(type_doc) if ln
    ]:
        del lines[:]


def setup(app):
    app.connect("autodoc-process-docstring", _drop_type_docstring)
