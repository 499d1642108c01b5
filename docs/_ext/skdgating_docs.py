"""Build-time helpers for the skdgating documentation.

The documentation is written for the whole public API, including objects that a
given checkout may not have yet (they are being written in parallel). Three
helpers keep a ``-W`` build green in every such state and pick new objects up
without edits once they exist:

* the ``autosummary`` entries of ``api.rst`` are filtered to the names that
  import (both for the page itself and for the generated stub pages);
* public names exported by the package but not listed in ``api.rst`` are
  appended to it in an "Other public objects" section (``tests/test_docs.py``
  fails until they are filed under a proper section);
* ``.. if-available:: name [name ...]`` renders its content (prose, a
  ``.. plot::`` directive, ...) only when every dotted name imports, so figures
  that need :mod:`skdgating.plotting` appear as soon as it lands and nothing at
  all (no placeholder) before.
"""

import importlib
import os
import re
import tempfile
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.util import logging
from sphinx.util.nodes import nested_parse_with_titles

logger = logging.getLogger(__name__)

API_DOCNAME = "api"
STUB_DIR = "generated"
# (module, attribute holding the public names) whose exports must be in api.rst
PUBLIC_NAMESPACES = ("skdgating", "skdgating.plotting")

_CURRENTMODULE = re.compile(r"^\s*\.\.\s+(?:py:)?(?:currentmodule|module)::\s*(\S+)\s*$")
_AUTOSUMMARY = re.compile(r"^(\s*)\.\.\s+autosummary::\s*$")


# --------------------------------------------------------------------------------------
# Name resolution
# --------------------------------------------------------------------------------------
def resolve(dotted):
    """Return ``(True, obj)`` if the dotted name imports, else ``(False, reason)``.

    Only a missing module (``ImportError``) or a missing attribute counts as
    "not available"; any other exception raised while importing is a real bug
    and propagates, so it fails the build.
    """
    parts = dotted.split(".")
    for stop in range(len(parts), 0, -1):
        modname = ".".join(parts[:stop])
        try:
            obj = importlib.import_module(modname)
        except ImportError as exc:
            if stop == 1:
                return False, f"cannot import {modname}: {exc}"
            continue
        for attr in parts[stop:]:
            if not hasattr(obj, attr):
                return False, f"{modname} has no attribute {'.'.join(parts[stop:])!r}"
            obj = getattr(obj, attr)
        return True, obj
    return False, f"cannot import {dotted}"


def available(dotted):
    return resolve(dotted)[0]


def public_names():
    """Fully qualified public names exported by the package (``__all__``)."""
    names = []
    for modname in PUBLIC_NAMESPACES:
        ok, module = resolve(modname)
        if ok:
            names += [f"{modname}.{n}" for n in getattr(module, "__all__", [])]
    return names


# --------------------------------------------------------------------------------------
# api.rst filtering
# --------------------------------------------------------------------------------------
def autosummary_entries(text):
    """Yield ``(line_index, fully_qualified_name)`` of every autosummary entry."""
    module = None
    block_indent = None  # indentation of the current autosummary directive
    for i, line in enumerate(text.splitlines()):
        match = _CURRENTMODULE.match(line)
        if match:
            module, block_indent = match.group(1), None
            continue
        match = _AUTOSUMMARY.match(line)
        if match:
            block_indent = len(match.group(1))
            continue
        if block_indent is None or not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent <= block_indent:
            block_indent = None
            continue
        entry = line.strip()
        if entry.startswith(":"):
            continue  # a directive option
        entry = entry.lstrip("~").split()[0]
        yield i, (f"{module}.{entry}" if module and not entry.startswith(module + ".") else entry)


def filter_api(text):
    """Drop unavailable autosummary entries and append unlisted public names.

    Returns ``(new_text, missing, unlisted)``. An autosummary block left without
    entries is replaced by a short note, so the section still reads well.
    """
    lines = text.splitlines()
    listed, missing = set(), []
    for i, name in autosummary_entries(text):
        listed.add(name)
        if not available(name):
            missing.append(name)
            lines[i] = None

    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        match = _AUTOSUMMARY.match(line) if line is not None else None
        if not match:
            if line is not None:
                out.append(line)
            i += 1
            continue
        indent = len(match.group(1))
        block = [line]
        i += 1
        while i < len(lines) and (lines[i] is None or not lines[i].strip()
                                  or len(lines[i]) - len(lines[i].lstrip()) > indent):
            block.append(lines[i])
            i += 1
        kept = [b for b in block[1:] if b is not None and b.strip() and not b.strip().startswith(":")]
        if kept:
            out += [b for b in block if b is not None]
        else:
            out += [" " * indent + "*Not part of the installed version of skdgating.*", ""]

    unlisted = [n for n in public_names() if n not in listed]
    if unlisted:
        out += ["", "Other public objects", "====================", ""]  # a top-level section
        for name in unlisted:
            module, _, obj = name.rpartition(".")
            out += [f".. currentmodule:: {module}", "", ".. autosummary::",
                    f"   :toctree: {STUB_DIR}/", "", f"   {obj}", ""]
    return "\n".join(out) + "\n", missing, unlisted


def _api_path(app):
    return Path(app.srcdir) / (API_DOCNAME + ".rst")


def generate_stubs(app):
    """Write the autosummary stub pages for the available API entries only.

    Replaces ``autosummary_generate`` (set it to False): autosummary would warn
    about every entry that does not import yet. Stale stubs (objects renamed or
    removed) are deleted, so they do not trigger "not in any toctree" warnings.
    """
    from sphinx.ext.autosummary.generate import generate_autosummary_docs

    text, missing, unlisted = filter_api(_api_path(app).read_text(encoding="utf-8"))
    for name in missing:
        logger.info("[skdgating-docs] %s is not available; left out of the API reference", name)
    for name in unlisted:
        logger.info("[skdgating-docs] %s is public but not filed in api.rst; listed under "
                    "'Other public objects'", name)
    stub_dir = Path(app.srcdir) / STUB_DIR
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / (API_DOCNAME + ".rst")
        source.write_text(text, encoding="utf-8")
        written = generate_autosummary_docs(
            [str(source)], output_dir=stub_dir, suffix=".rst", app=app,
            imported_members=app.config.autosummary_imported_members, overwrite=True)
    keep = {Path(p).resolve() for p in written}
    for stub in stub_dir.glob("*.rst"):
        if stub.resolve() not in keep:
            stub.unlink()


def filter_api_source(app, docname, source):
    if docname == API_DOCNAME:
        source[0] = filter_api(source[0])[0]


# --------------------------------------------------------------------------------------
# Conditional content
# --------------------------------------------------------------------------------------
class IfAvailable(Directive):
    """Render the content only if every dotted name given as argument imports.

    Example::

        .. if-available:: skdgating.dgating_path skdgating.plotting.plot_path

           .. plot::

              ...
    """

    required_arguments = 1
    final_argument_whitespace = True
    has_content = True

    def run(self):
        for name in self.arguments[0].split():
            ok, reason = resolve(name)
            if not ok:
                source, line = self.state_machine.get_source_and_line(self.lineno)
                logger.info("[skdgating-docs] %s:%s: content skipped (%s)", source, line, reason)
                return []
        container = nodes.container()
        nested_parse_with_titles(self.state, self.content, container, self.content_offset)
        return container.children


# --------------------------------------------------------------------------------------
# autodoc
# --------------------------------------------------------------------------------------
_SKIPPED_MEMBERS = re.compile(r"^(set_\w+_request|get_metadata_routing)$")


def skip_member(app, what, name, obj, skip, options):
    # scikit-learn's metadata-routing methods (generated per class) are not part
    # of skdgating's API and their docstrings link into scikit-learn's guide.
    if _SKIPPED_MEMBERS.match(name):
        return True
    return None


def setup(app):
    app.connect("builder-inited", generate_stubs)
    app.connect("source-read", filter_api_source)
    app.connect("autodoc-skip-member", skip_member)
    app.add_directive("if-available", IfAvailable)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
