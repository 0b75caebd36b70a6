"""Sphinx configuration: the API reference is built from the numpydoc docstrings."""
project = "sublevel"
author = "The sublevel developers"
copyright = "2026, The sublevel developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax"]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
autodoc_member_order = "bysource"
autodoc_typehints = "none"
exclude_patterns = ["_build", "examples"]
html_theme = "alabaster"
