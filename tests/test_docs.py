"""The documentation site builds in strict mode, and building it runs every notebook once.

`mkdocs build --strict` (mkdocs.yml) fails on a broken link, a missing page or anchor, an API
reference that does not resolve, and on any notebook that raises: mkdocs-jupyter executes
the six notebooks of notebooks/ in quick mode (``HOPJAX_QUICK=1``) to put their outputs on
the pages. So this module is also the notebook test (one execution of each notebook per
run): ``test_notebook[NAME]`` fails with the notebook's error when NAME raises.

Without the docs packages (``pip install -e '.[docs]'``) the site tests are skipped and each
notebook is executed directly with nbclient instead, so no notebook goes untested.
"""

from __future__ import annotations

import html
import importlib.util
import inspect
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
DOCS_TOOLS = ("mkdocs", "material", "mkdocstrings_handlers.python", "mkdocs_jupyter")
HAVE_DOCS_TOOLS = all(importlib.util.find_spec(m) is not None for m in DOCS_TOOLS)
BUILD_TIMEOUT_S = 1800
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _env(tmp: Path) -> dict:
    env = dict(os.environ, HOPJAX_QUICK="1", MPLBACKEND="Agg", TMPDIR=str(tmp),
               NO_MKDOCS_2_WARNING="1")
    env.pop("HOPJAX_DOCS_EXECUTE", None)  # the test always executes the notebooks
    return env


class Build:
    def __init__(self, site: Path, rc: int, log: str, seconds: float):
        self.site, self.rc, self.log, self.seconds = site, rc, ANSI.sub("", log), seconds

    def page(self, url: str) -> str:
        path = self.site / url / "index.html"
        assert path.is_file(), f"page {url!r} was not built ({path} missing)"
        return path.read_text(encoding="utf-8")

    def failed_page(self) -> str | None:
        m = re.search(r"Error (?:reading|building) page '([^']+)'", self.log)
        return m.group(1) if m else None

    def error_excerpt(self, lines: int = 40) -> str:
        log = self.log.splitlines()
        start = next((i for i, line in enumerate(log) if line.startswith("ERROR")), None)
        if start is None:
            return "\n".join(log[-lines:])
        return "\n".join(log[start:start + lines])


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Build:
    if not HAVE_DOCS_TOOLS:
        pytest.skip("docs packages not installed: pip install -e '.[docs]'")
    tmp = tmp_path_factory.mktemp("docs")
    site = tmp / "site"
    (tmp / "scratch").mkdir()
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                        str(site), "--config-file", str(ROOT / "mkdocs.yml")],
                       cwd=ROOT, env=_env(tmp / "scratch"), capture_output=True, text=True,
                       timeout=BUILD_TIMEOUT_S)
    b = Build(site, p.returncode, p.stdout + p.stderr, time.perf_counter() - t)
    print(f"mkdocs build --strict: {b.seconds:.0f} s, exit {b.rc}")
    return b


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def test_site_builds_in_strict_mode(build):
    assert build.rc == 0, (f"mkdocs build --strict failed (exit {build.rc}); "
                           f"first error:\n{build.error_excerpt()}")
    for url in ("", "conventions", "results", "cli", "guide/sweeps", "guide/library",
                "guide/experiments", "guide/cluster", "guide/gpu", "api/rules", "api/dynamics",
                "api/patterns", "api/metrics", "api/io", "api/run", "api/config", "api/cli"):
        build.page(url)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook(path, request, tmp_path, monkeypatch):
    """Each notebook runs top to bottom in quick mode, and its page shows its figures."""
    if not HAVE_DOCS_TOOLS:
        _run_notebook(path, tmp_path, monkeypatch)
        return
    b = request.getfixturevalue("build")
    failed = b.failed_page()
    if b.rc != 0:
        if failed == f"notebooks/{path.name}":
            pytest.fail(f"notebook {path.name} raised while the site was built "
                        f"(HOPJAX_QUICK=1):\n{b.error_excerpt()}", pytrace=False)
        pytest.fail(f"notebook {path.name} not checked: the site build failed at "
                    f"{failed or 'a non-notebook step'} (see test_site_builds_in_strict_mode)",
                    pytrace=False)
    page = b.page(f"notebooks/{path.stem}")
    assert "<img" in page, f"{path.name}: no figure on its page"
    assert "jp-RenderedText" in page or "jp-OutputArea-output" in page, \
        f"{path.name}: no outputs on its page"


def _run_notebook(path, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("HOPJAX_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()


def test_api_page_shows_daydreaming_signature(build):
    from hopjax.rules import daydreaming

    page = build.page("api/rules")
    anchor = 'id="hopjax.rules.daydreaming.daydreaming"'
    assert anchor in page, "no API entry for hopjax.rules.daydreaming.daydreaming"
    # the signature block after the heading: every parameter, in order
    code = re.search(r"<code>(.*?)</code>", page[page.index(anchor):], re.S)
    signature = re.sub(r"\s+", "", _text(code.group(1)))
    assert signature.startswith("daydreaming("), signature[:80]
    names = [n for n in inspect.signature(daydreaming).parameters]
    positions = [signature.find(n) for n in names]
    assert -1 not in positions and positions == sorted(positions), (names, signature)
    assert "Serricchio" in _text(page)  # the docstring is rendered too


def test_cli_page_follows_the_parser(build):
    text = _text(build.page("cli"))
    for command in ("hopjax run", "hopjax submit", "hopjax plot", "hopjax list"):
        assert f"usage: {command}" in text, command
    for flag in ("--shard I/N", "--quick", "--overwrite", "--distributed", "--workers",
                 "--no-wait", "--executor"):
        assert flag in text, flag
    assert "<!-- hopjax-cli-help -->" not in text


def test_results_page_shows_every_committed_figure(build):
    page = build.page("results")
    for png in sorted((ROOT / "docs" / "figures").glob("*.png")):
        assert f'src="../figures/{png.name}"' in page, f"{png.name} is not on the results page"
        assert (build.site / "figures" / png.name).is_file()


def _python_blocks(markdown: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", markdown.read_text(encoding="utf-8"),
                      re.S | re.M)


_RUN_BLOCKS = """
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
namespace = {}
for i, block in enumerate(re.findall(r"^```python\\n(.*?)^```", text, re.S | re.M)):
    exec(compile(block, f"{sys.argv[1]}, python block {i + 1}", "exec"), namespace)
print("blocks run:", i + 1)
"""


def test_library_guide_code_runs(tmp_path):
    """The blocks of docs/guide/library.md run as shown, in order, in one namespace (in a
    fresh process: XLA's backend optimisations off, as the notebooks do in quick mode)."""
    env = dict(os.environ, TMPDIR=str(tmp_path), MPLBACKEND="Agg",
               XLA_FLAGS=os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0")
    p = subprocess.run([sys.executable, "-c", _RUN_BLOCKS,
                        str(ROOT / "docs" / "guide" / "library.md")],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, f"a block of docs/guide/library.md failed:\n{p.stderr[-3000:]}"
    assert "blocks run:" in p.stdout


def test_experiment_kind_example_runs(tmp_path):
    """docs/guide/pattern_energy.py is a working kind, found beside its config, as the guide
    shows (``hopjax run docs/guide/pattern_energy.yaml``)."""
    from hopjax.config import load_config
    from hopjax.io import load
    from hopjax.run import run

    try:
        cfg = load_config(ROOT / "docs" / "guide" / "pattern_energy.yaml", quick=True)
        path, figures = run(cfg, tmp_path / "out", progress=False)
    finally:
        sys.modules.pop("pattern_energy", None)
    energy = load(path).energy
    assert energy.dims == ("seed", "alpha") and bool((abs(energy + 0.5) < 0.05).all())
    assert [f.name for f in figures] == ["energy.png"]
