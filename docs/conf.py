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
autodoc_mock_imports = []
intersphinx_mapping = {}
nitpicky = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = []
suppress_warnings = ["ref.python"]
