"""Experiment kinds from users' own code: registered in-process, named by module path, found
beside the config; run by the same engine (store, resume, plots) as the built-in kinds."""

import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from hopjax import cli, registry
from hopjax.config import ConfigError, validate_config
from hopjax.io import load
from hopjax.run import run_sweep

KINDS = pathlib.Path(__file__).resolve().parent / "kinds"
RAW = {"experiment": "sync_cycles", "name": "cycles", "N": 100, "alpha": [0.05, 0.6],
       "seeds": 2, "starts": 64}


@pytest.fixture
def sync_cycles():
    sys.path.insert(0, str(KINDS))
    import sync_cycles as kind

    registry.register("sync_cycles", kind)
    yield kind
    registry.unregister("sync_cycles")
    sys.path.remove(str(KINDS))


def test_builtin_kinds_load_lazily_and_keep_the_contract():
    assert set(registry.BUILTIN) <= set(registry.available())
    for name in registry.BUILTIN:
        kind = registry.get(name)
        assert kind.Config.model_fields["experiment"].annotation.__args__ == (name,)


def test_unknown_kind_names_the_available_ones():
    with pytest.raises(ConfigError, match=r"field 'experiment'.*retrieval"):
        validate_config({"experiment": "no_such_kind", "name": "x"})
    with pytest.raises(ValueError, match="built-in"):
        registry.register("retrieval", object())
    with pytest.raises(registry.ExperimentKindError, match="lacks"):
        registry.register("broken", object())


def test_a_registered_kind_runs_with_the_physics_it_declares(sync_cycles, tmp_path):
    cfg = validate_config(RAW)
    o = run_sweep(cfg, tmp_path, progress=False, plots=False)
    ds = load(o.path)
    # symmetric couplings: synchronous dynamics ends in a fixed point or a 2-cycle, nothing
    # else (Goles et al. 1985), so the two fractions add up to one at every point
    total = ds["two_cycles"].values + ds["fixed_points"].values
    np.testing.assert_allclose(total, 1.0, atol=1e-6)
    # few patterns: random starts fall into (mixture) fixed points; far above α_c, where
    # the couplings look like a spin glass's, 2-cycles take a finite share (0.25 measured at
    # N = 100, 2 x 64 starts; binomial s.d. 0.04)
    low, high = ds["two_cycles"].mean("seed").values
    assert low < 0.05 and high > 0.1, (low, high)
    assert ds.attrs["experiment"] == "sync_cycles" and ds.attrs["experiment_file"]


def test_a_kind_beside_its_config_runs_from_the_cli_resumes_and_plots(tmp_path, capsys):
    shutil.copy(KINDS / "sync_cycles.py", tmp_path / "sync_cycles.py")
    cfg_path = tmp_path / "cycles.yaml"
    cfg_path.write_text("experiment: sync_cycles\nname: cycles\nN: 100\nalpha: [0.05, 0.6]\n"
                        "seeds: 2\nstarts: 16\nchunk_size: 1\n")
    out = tmp_path / "out"
    try:
        assert cli.main(["run", str(cfg_path), "--out", str(out), "--no-progress"]) == 0
        first = load(out / "results.nc")
        assert cli.main(["list"]) == 0
        (out / "results.nc").unlink()  # as if interrupted after the last chunk was stored
        assert cli.main(["run", str(cfg_path), "--out", str(out), "--no-progress"]) == 0
        assert load(out / "results.nc").equals(first)  # resumed from the stored chunks
        assert cli.main(["plot", str(out), "--out", str(tmp_path / "figs")]) == 0
    finally:
        sys.modules.pop("sync_cycles", None)
    assert list((tmp_path / "figs").glob("*.png"))
    # a fresh process finds the kind from the file recorded in the results
    r = subprocess.run([sys.executable, "-m", "hopjax.cli", "plot", str(out), "--out",
                        str(tmp_path / "figs2")], capture_output=True, text=True, cwd="/")
    assert r.returncode == 0, r.stderr
    assert list((tmp_path / "figs2").glob("*.png"))


def test_a_dotted_module_path_names_a_kind(tmp_path, monkeypatch):
    pkg = tmp_path / "mylab"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    text = (KINDS / "sync_cycles.py").read_text().replace('Literal["sync_cycles"]',
                                                          'Literal["mylab.cycles"]')
    (pkg / "cycles.py").write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = validate_config({**RAW, "experiment": "mylab.cycles"})
    assert type(cfg).__module__ == "mylab.cycles"
    with pytest.raises(ConfigError, match="field 'experiment'"):
        validate_config({**RAW, "experiment": "mylab.nothing_here"})
