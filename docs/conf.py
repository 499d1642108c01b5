"""Sphinx configuration of the skdgating documentation.

Build (warnings as errors, as ``tests/test_docs.py`` does)::

    OMP_NUM_THREADS=1 .venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html

Cross-links to other projects (intersphinx) need their inventories, which are
downloaded at build time. ``SKDGATING_DOCS_INTERSPHINX`` controls this:
``auto`` (default) uses the projects whose documentation host accepts a direct
TCP connection within 2 s and silently leaves the others unlinked, so an offline
build emits no warning; ``1`` always uses all of them (a failed download is then a
warning, so use it behind an HTTP proxy); ``0`` never (``tests/test_docs.py``).
"""

import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import skdgating  # noqa: E402  (the installed package, editable in development)

# -- Project -----------------------------------------------------------------------
project = "skdgating"
author = "the skdgating developers"
copyright = "2025, the skdgating developers"
release = skdgating.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "matplotlib.sphinxext.plot_directive",
    "skdgating_docs",  # docs/_ext: API filtering, ``.. if-available::``
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"
default_role = "literal"
add_module_names = False

# -- autodoc / autosummary / numpydoc ----------------------------------------------
# Stubs are written by skdgating_docs.generate_stubs for the objects that exist.
autosummary_generate = False
autosummary_imported_members = False
autodoc_member_order = "bysource"
autodoc_typehints = "none"
# Members without their own docstring (e.g. DGate.forward, inherited from
# torch.nn.Module) are left out rather than showing the parent's text.
autodoc_inherit_docstrings = False
numpydoc_show_class_members = False  # members come from the autosummary class template
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- matplotlib plot directive -------------------------------------------------------
plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]
plot_rcparams = {"figure.figsize": (6.4, 3.6), "figure.dpi": 100, "savefig.bbox": "tight"}
plot_pre_code = "import numpy as np\nimport matplotlib.pyplot as plt\n"
# Figures that need objects a checkout may not have yet (paths, CV, plotting) are
# wrapped in ``.. if-available:: <dotted names>`` (docs/_ext/skdgating_docs.py):
# the directive, and so the figure's code, runs only when every name imports.

# -- intersphinx (works offline) ------------------------------------------------------
_INTERSPHINX = {
    "python": ("https://docs.python.org/3/", None),
    "numpy": ("https://numpy.org/doc/stable/", None),
    "sklearn": ("https://scikit-learn.org/stable/", None),
    "torch": ("https://docs.pytorch.org/docs/stable/", None),
    "skorch": ("https://skorch.readthedocs.io/en/stable/", None),
    "matplotlib": ("https://matplotlib.org/stable/", None),
}


def _reachable(url, timeout=2.0):
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port or 443), timeout=timeout).close()
        return True
    except OSError:
        return False


_mode = os.environ.get("SKDGATING_DOCS_INTERSPHINX", "auto").strip().lower()
if _mode in ("0", "off", "false", "no"):
    intersphinx_mapping = {}
elif _mode in ("1", "on", "true", "yes"):
    intersphinx_mapping = dict(_INTERSPHINX)
else:
    intersphinx_mapping = {k: v for k, v in _INTERSPHINX.items() if _reachable(v[0])}
intersphinx_timeout = 10
# Unresolved cross-references are not warnings (nitpicky is off): offline, links
# to the projects above render as plain code.

# -- HTML ----------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"skdgating {release}"
html_static_path = []
html_theme_options = {
    "description": "D-Gating feature selection for scikit-learn",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "230px",
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}
