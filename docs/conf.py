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
    "sphinx.ext.extlinks",
    "sphinx.ext.viewcode",
    "settingstable",
]
# Pyramid's documentation, linked without intersphinx: the build must work
# without network. :pyramid:`text <narr/page.html>` links a page;
# references to pyramid.* objects link its API pages (see _link_pyramid).
PYRAMID_DOCS = "https://docs.pylonsproject.org/projects/pyramid/en/latest/"
extlinks = {"pyramid": (PYRAMID_DOCS + "%s", None)}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# Show defaults as written (``sys.argv``), not as evaluated at build time.
autodoc_preserve_defaults = True
# A method without a docstring of its own (logging.Formatter.format) is
# documented by its base class, not again with the base's text.
autodoc_inherit_docstrings = False
autodoc_mock_imports = []
nitpicky = False
exclude_patterns = ["_build"]
# Furo: a maintained theme whose content is as wide as the window allows,
# and whose tables scroll on their own (the settings tables are wide).
html_theme = "furo"
html_title = f"{project} {release}"
html_static_path = ["_static"]
html_css_files = ["tables.css"]
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


def _link_pyramid(app, env, node, contnode):
    # Pyramid documents each module on a page of its own, api/<module>.html,
    # with its objects' dotted names as anchors.
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("pyramid."):
        return None
    from docutils import nodes

    anchor = "module-" + target if node.get("reftype") == "mod" else target
    page = target.split(".")[1]
    reference = nodes.reference(
        "", "", internal=False, refuri=f"{PYRAMID_DOCS}api/{page}.html#{anchor}"
    )
    reference += contnode
    return reference


def setup(app):
    app.connect("autodoc-process-docstring", _drop_type_docstring)
    app.connect("missing-reference", _link_pyramid)
