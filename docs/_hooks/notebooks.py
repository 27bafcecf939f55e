"""MkDocs hook: the notebooks of notebooks/ on the site (docs/notebooks links to that folder).

Every notebook has a page: one that the ``Notebooks`` section of the nav does not list yet is
added at its end, titled by its first heading, so a new notebook is built (and so executed and
tested) without editing mkdocs.yml.

The notebooks are executed at build time (mkdocs-jupyter, ``execute: true``), in kernels that
inherit this process's environment:

* quick mode (``HOPJAX_QUICK=1``: small sizes, a few minutes for all of them), unless the
  environment already sets ``HOPJAX_QUICK``;
* matplotlib's inline backend, whatever ``MPLBACKEND`` says (a test run sets ``Agg``, under
  which ``plt.show()`` would leave no figure on the page); it draws into the notebook, never
  to a screen;
* a temporary ``TMPDIR`` of this build for their scratch files (quick mode writes its sweeps
  under ``tempfile.mkdtemp()``), removed when the build ends.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

INLINE = "module://matplotlib_inline.backend_inline"
_saved: dict = {}
_scratch: list = []


def _set(name, value):
    _saved.setdefault(name, os.environ.get(name))
    os.environ[name] = value


SECTION = "Notebooks"


def _title(path: Path) -> str:
    for cell in json.loads(path.read_text(encoding="utf-8")).get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem.replace("_", " ")


def _listed(nav) -> set:
    if isinstance(nav, str):
        return {nav}
    if isinstance(nav, dict):
        return set().union(*(_listed(v) for v in nav.values()))
    if isinstance(nav, list):
        return set().union(set(), *(_listed(v) for v in nav))
    return set()


def on_config(config):
    folder = Path(config["docs_dir"]) / "notebooks"
    nav = config["nav"] or []
    section = next((item[SECTION] for item in nav
                    if isinstance(item, dict) and isinstance(item.get(SECTION), list)), None)
    if section is None:
        section = []
        nav.append({SECTION: section})
    listed = _listed(nav)
    for path in sorted(folder.glob("*.ipynb")):
        src = f"notebooks/{path.name}"
        if src not in listed:
            section.append({_title(path): src})
    config["nav"] = nav
    return config


def on_startup(command, dirty):
    if "HOPJAX_QUICK" not in os.environ:
        _set("HOPJAX_QUICK", "1")
    _set("MPLBACKEND", INLINE)
    _scratch.append(tempfile.mkdtemp(prefix="hopjax-docs-"))
    _set("TMPDIR", _scratch[-1])


def on_shutdown():
    while _scratch:
        shutil.rmtree(_scratch.pop(), ignore_errors=True)
    for name, value in _saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _saved.clear()
