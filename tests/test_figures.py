"""Every experiment kind's figures, rendered from a real quick sweep (issue 17).

One shipped config per experiment kind runs with its ``quick:`` overrides: a subprocess
computes the sweeps (XLA's backend optimisations off: compiling dominates these tiny runs,
as in the notebooks' quick mode), then `hopjax.run.run_sweep` (``plots=True``) finds the
stores complete and draws the figures here, with `hopjax.plot.recording` collecting every
Figure it saves. Each figure file must exist and be a readable PNG / PDF, and each Figure
must say what its error bars or bands are (legend entry), print numbers the way `plot.fmt`
does (no '10.00') and, on epoch axes, label at least two ticks.

Set ``HOPJAX_ALL_FIGURES=1`` to render every shipped config instead (a few minutes).
Budget of the default set: under 90 s on one core (measured: see the issue report).
"""

import json
import os
import pathlib
import re
import subprocess
import sys

import matplotlib.image
import pytest
from matplotlib.collections import PolyCollection, QuadMesh
from matplotlib.container import ErrorbarContainer

from hopjax import plot
from hopjax.config import load_config
from hopjax.run import run_sweep


ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))

# one shipped config per experiment kind: the cheapest quick sweep that draws every kind of
# figure the kind has (rf_phase_hebb: retrieval maps, capacity curves and (α, α_D) phase
# diagrams of examples and features; daydreaming_fig2: training curves, maps along
# training, and the Fig. 2 capacity figure of the issue)
PER_KIND = {"retrieval": "rf_phase_hebb", "capacity": "hebb_capacity",
            "daydreaming": "daydreaming_fig2", "prototypes": "mnist_prototypes",
            "dense": "dense_capacity", "bam": "bam_capacity"}
# dense_capacity's quick sweep alone takes ~50 s (an exponential memory of 1400 patterns):
# a smaller grid of the same memories draws the same figures
# (compiling dominates: one block per (memory, N), so two blocks; tests/test_plot.py covers
# the exponential memory's panel)
DENSE_SMALL = {"memories": [{"F": "poly", "a": 3, "N": [12, 16]}], "load": [0.05, 0.15, 0.35],
               "probes": 16}

ALL = os.environ.get("HOPJAX_ALL_FIGURES") == "1"
NAMES = [p.stem for p in CONFIGS] if ALL else sorted(PER_KIND.values())

SPREAD = re.compile(r"^(error bars|bands): (±1 s\.d\. over .+|none \(1 seed\))$")
# a decimal with a trailing zero ('10.00', '0.10', '1.0'): plot.fmt never prints one
PADDED = re.compile(r"(?<![\d.])\d+\.\d*0(?!\d)")


def _config(name):
    cfg = load_config(ROOT / "configs" / f"{name}.yaml", quick=True)
    if name == "dense_capacity" and not ALL:
        cfg = type(cfg).model_validate({**cfg.model_dump(), **DENSE_SMALL})
    return cfg


def _tick_labels(fig) -> set[int]:
    ids = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                ids |= {id(tick.label1), id(tick.label2)}
    return ids


def _texts(fig) -> list[str]:
    """Titles, axis labels, legend entries and annotations (not tick labels)."""
    ticks = _tick_labels(fig)
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))
            if id(t) not in ticks and t.get_visible() and t.get_text()]


def _draws_spread(fig) -> bool:
    for ax in fig.axes:
        if any(isinstance(c, ErrorbarContainer) for c in ax.containers):
            return True
        if any(type(c).__name__ == "FillBetweenPolyCollection" or type(c) is PolyCollection
               for c in ax.collections):
            return True
    return False


_COMPUTE = """
import json, pathlib, sys
from hopjax.config import validate_config
from hopjax.run import run_sweep
for raw, out in json.load(sys.stdin):
    run_sweep(validate_config(raw), pathlib.Path(out), plots=False, progress=False)
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """name -> (figure files, [(png path, Figure)]): every sweep computed at once in a
    subprocess, each config's figures drawn here on first use."""
    base = tmp_path_factory.mktemp("figures")
    cfgs = {name: _config(name) for name in NAMES}
    jobs = [(cfg.model_dump(mode="json"), str(base / name)) for name, cfg in cfgs.items()]
    flags = os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0"
    proc = subprocess.run([sys.executable, "-c", _COMPUTE], input=json.dumps(jobs), text=True,
                          capture_output=True, cwd=ROOT, timeout=1200,
                          env={**os.environ, "XLA_FLAGS": flags.strip()})
    if proc.returncode:
        pytest.fail(f"quick sweeps failed:\n{proc.stderr[-4000:]}")
    cache = {}

    def get(name):
        if name not in cache:
            with plot.recording() as figs:
                outcome = run_sweep(cfgs[name], base / name, plots=True, progress=False)
            assert outcome.reused and outcome.computed == 0  # drawn from the stored results
            cache[name] = (outcome.figures, list(figs))
        return cache[name]

    return get


def test_one_config_per_kind_is_shipped():
    kinds = {load_config(p).experiment for p in CONFIGS}
    assert kinds == set(PER_KIND), "a new experiment kind needs a PER_KIND entry"
    for kind, name in PER_KIND.items():
        assert load_config(ROOT / "configs" / f"{name}.yaml").experiment == kind


@pytest.mark.parametrize("name", NAMES)
def test_figures_render_and_explain_themselves(name, rendered):
    files, figs = rendered(name)
    pngs = [f for f in files if f.suffix == ".png"]
    assert pngs, f"{name}: no figure"
    for f in files:
        assert f.is_file() and f.stat().st_size > 0, f
    for f in pngs:
        assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f
        img = matplotlib.image.imread(f)
        assert img.ndim == 3 and min(img.shape[:2]) > 100, f
        assert f.with_suffix(".pdf").read_bytes().startswith(b"%PDF"), f
    assert sorted(p for p, _ in figs) == sorted(pngs)  # every figure came from plot primitives

    for png, fig in figs:
        texts = _texts(fig)
        where = f"{name}/{png.name}"
        padded = [t for t in texts if PADDED.search(t.replace("$", ""))]
        assert not padded, f"{where}: zero-padded numbers {padded}"
        if _draws_spread(fig):
            assert any(SPREAD.match(t.replace("\n", " ")) for t in texts), \
                f"{where}: bars/bands unexplained {texts}"
        if any(isinstance(c, QuadMesh) for ax in fig.axes for c in ax.collections):
            assert any("seed" in t for t in texts), f"{where}: seeds averaged not said"
        for ax in fig.axes:
            if ax.get_visible() and ax.get_xlabel().startswith("epoch"):
                labelled = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
                assert len(labelled) >= 2, f"{where}: epoch axis labels {labelled}"


def test_fig2_capacity_panels_share_alpha_range_and_legend(rendered):
    files, figs = rendered("daydreaming_fig2")
    fig = dict(figs)[next(f for f in files if f.name == "capacity.png")]
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 3 and len({ax.get_xlim() for ax in axes}) == 1
    texts = _texts(fig)
    title = fig.get_suptitle()
    assert r"$\tau$ = 10" in title and "10.0" not in title and "epoch = 6" in title
    # every drawn curve has a legend entry (one curve here: no facet label to give it)
    legend = [t.get_text().replace("\n", " ") for leg in fig.legends for t in leg.get_texts()]
    assert "simulation" in legend and "error bars: none (1 seed)" in legend, texts
