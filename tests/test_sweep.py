import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import yaml

from hopjax import cli
from hopjax.config import ConfigError, load_config, validate_config
from hopjax.io import load
from hopjax.run import run
from hopjax.sweep import Runner, auto_chunk_size

ROOT = pathlib.Path(__file__).resolve().parents[1]

BASE = {
    "experiment": "retrieval", "name": "t", "N": 48, "seeds": 2,
    "data": {"alpha": [0.05, 0.1, 0.2]}, "rule": ["hebb", "pseudo_inverse"],
    "m0": [0.4, 0.8, 1.0], "samples": 2,
}


def _cfg(**over):
    raw = {**BASE, **over}
    return validate_config(raw)


def _same_data(a, b, rtol=0.0):
    """Identical results; with rtol > 0 (CPU against an accelerator) float reductions such as
    means may differ in the last bits, everything else must still be equal."""
    assert set(a.data_vars) == set(b.data_vars)
    for v in a.data_vars:
        if rtol and a[v].dtype.kind == "f":
            np.testing.assert_allclose(a[v].values, b[v].values, rtol=rtol, atol=1e-7, err_msg=v)
        else:
            np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)
    for c in a.coords:
        np.testing.assert_array_equal(a[c].values, b[c].values)


# --- config validation: one test per kind of mistake, each naming the field -------------

@pytest.mark.parametrize("over,field,allowed", [
    ({"bogus": 1}, "bogus", "allowed keys here"),
    ({"N": "many"}, "N", "valid integer"),
    ({"data": {"alpha": [0.1, -0.2]}}, "data.alpha.1", "greater than 0"),
    ({"data": {"alpha": []}}, "data.alpha", "at least 1"),
    ({"m0": [0.5, 1.5]}, "m0.1", "less than or equal to 1"),
    ({"rule": "hebbian"}, "rule", "'hebb' or 'pseudo_inverse'"),
    ({"dynamics": {"mode": "parallel"}}, "dynamics.mode", "'async', 'sequential', 'sync'"),
    ({"N": 20000, "data": {"alpha": [1.0]}}, "memory_budget_mb", "grid too big for memory"),
    ({"experiment": "phase"}, "experiment",
     "['bam', 'capacity', 'daydreaming', 'dense', 'prototypes', 'retrieval']"),
])
def test_bad_config_fails_before_compute_naming_field(tmp_path, over, field, allowed):
    with pytest.raises(ConfigError) as err:
        _cfg(**over)
    msg = str(err.value)
    assert f"field '{field}'" in msg and allowed in msg, msg
    # through the CLI: exit code 2, message on stderr, nothing written
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**BASE, **over}))
    out = tmp_path / "out"
    assert cli.main(["run", str(path), "--out", str(out)]) == 2
    assert not out.exists()


def test_quick_overrides_are_validated_too(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**BASE, "quick": {"m0": [2.0]}}))
    assert load_config(path).m0 == BASE["m0"]
    with pytest.raises(ConfigError, match="field 'm0.0'"):
        load_config(path, quick=True)


# --- execution -------------------------------------------------------------------------

def test_results_labelled_metadata_round_trip_and_one_compilation_per_rule(tmp_path):
    cfg = _cfg()
    path, figures = run(cfg, tmp_path, plots=False, progress=False, chunk_size=2)
    ds = load(path)
    assert dict(ds.sizes) == {"rule": 2, "mode": 1, "seed": 2, "alpha": 3, "m0": 3}
    # the validated config (without ``sizes``, unset: results as before that field existed)
    assert ds.attrs["config"] == {k: v for k, v in cfg.model_dump(mode="json").items()
                                  if k != "sizes"}
    assert ds.attrs["experiment"] == "retrieval" and ds.attrs["devices"]
    assert ds.attrs["jax_version"] and ds.attrs["version"]
    # pseudo-inverse stores every pattern at these loads; Hebb at α = 0.05
    assert np.all(ds.stable_fraction.sel(rule="pseudo_inverse").values == 1.0)
    assert np.all(ds.mf_mean.sel(rule="hebb", alpha=0.05, m0=1.0).values == 1.0)
    # 6 points per rule in chunks of 2: 3 calls per rule, one compilation each
    from hopjax.experiments import EXPERIMENTS
    runner = Runner(EXPERIMENTS["retrieval"].plan(cfg), 2)
    for i in range(len(runner.bounds)):
        runner.run_chunk(i)
    assert sorted(runner.compiled) == [0, 1]
    assert all(f._cache_size() == 1 for f in runner.compiled.values())


def test_results_do_not_depend_on_chunk_size(tmp_path):
    a, _ = run(_cfg(), tmp_path / "a", plots=False, progress=False, chunk_size=1)
    b, _ = run(_cfg(), tmp_path / "b", plots=False, progress=False, chunk_size=4)
    _same_data(load(a), load(b))


def test_results_identical_on_four_forced_cpu_devices(tmp_path):
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(yaml.safe_dump(BASE))
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
           "JAX_PLATFORMS": "cpu"}
    script = textwrap.dedent(f"""
        import jax
        assert len(jax.devices()) == 4, jax.devices()
        from hopjax.cli import main
        raise SystemExit(main(["run", {str(cfg_path)!r}, "--out", {str(tmp_path / 'four')!r},
                               "--no-plots", "--no-progress", "--chunk-size", "4"]))
    """)
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=300)
    one, _ = run(_cfg(), tmp_path / "one", plots=False, progress=False, chunk_size=3)
    four = load(tmp_path / "four" / "results.nc")
    assert len(four.attrs["devices"]) == 4
    # on a GPU machine `one` ran on the GPU: the trajectories are identical (full-precision
    # fields, tie tolerance), summary means may differ by an ulp
    import jax
    _same_data(four, load(one), rtol=0.0 if jax.default_backend() == "cpu" else 1e-6)


def test_resume_after_sigkill_reproduces_uninterrupted_run(tmp_path):
    raw = {**BASE, "N": 128, "seeds": 6, "rule": "hebb", "data": {"alpha": [0.05, 0.1, 0.15, 0.2]}}
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "killed"
    args = ["run", str(cfg_path), "--out", str(out), "--no-plots", "--no-progress",
            "--chunk-size", "1"]
    proc = subprocess.Popen([sys.executable, "-m", "hopjax.cli", *args])
    work = out / "results.nc.partial"
    deadline = time.time() + 120
    while not list(work.glob("chunk-*.npz")) and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list(work.glob("chunk-*.npz")))
    assert 1 <= done < 24, done  # killed in the middle
    assert not (out / "results.nc").exists()  # no half-written final file
    assert cli.main([*args]) == 0  # resume
    fresh, _ = run(validate_config(raw), tmp_path / "fresh", plots=False, progress=False,
                   chunk_size=5)
    _same_data(load(out / "results.nc"), load(fresh))


def test_auto_chunk_size_respects_memory_budget():
    from hopjax.experiments import EXPERIMENTS
    plan = EXPERIMENTS["retrieval"].plan(_cfg())
    assert plan.n_points == 12 and plan.block_size == 6
    assert auto_chunk_size(plan, 10 * plan.bytes_per_point, 1, min_chunks=1) == 6  # one block
    assert auto_chunk_size(plan, 10 * plan.bytes_per_point, 1, min_chunks=4) == 3
    assert auto_chunk_size(plan, 3.5 * plan.bytes_per_point, 2, min_chunks=1) == 2
    assert auto_chunk_size(plan, 0.1 * plan.bytes_per_point, 4) == 4  # at least one per device


def test_hebb_capacity_curve_threshold_near_0_14(tmp_path):
    # AGS: α_c ≈ 0.138; at N = 400 m_f(1) crosses 0.9 between α = 0.14 and 0.18
    raw = {"experiment": "capacity", "name": "cap", "N": 400, "seeds": 2, "rule": "hebb",
           "data": {"alpha": [0.08, 0.1, 0.12, 0.14, 0.16, 0.18, 0.2, 0.24]}, "m0": [1.0]}
    path, _ = run(validate_config(raw), tmp_path, plots=False, progress=False)
    mf1 = load(path).mf_mean.sel(m0=1.0).mean(["seed", "rule", "mode"]).values
    alphas = np.array(raw["data"]["alpha"])
    crossing = alphas[np.argmax(mf1 < 0.9)]
    assert mf1[0] > 0.99 and mf1[-1] < 0.7, mf1
    assert 0.14 <= crossing <= 0.2, (crossing, mf1)


def test_cli_quickstart_quick_mode_and_list(tmp_path, capsys):
    assert cli.main(["run", str(ROOT / "configs/quickstart.yaml"), "--quick", "--out",
                     str(tmp_path), "--no-progress"]) == 0
    ds = load(tmp_path / "results.nc")
    assert ds.sizes["alpha"] == 3 and ds.attrs["config"]["N"] == 64
    assert cli.main(["list"]) == 0
    assert "pseudo_inverse" in capsys.readouterr().out


# --- declared observables ------------------------------------------------------------------

def test_declared_observables_give_the_schema_and_the_count():
    from hopjax.sweep import Dim, Plan

    obs = {"m": ("m0",), "e": ("epoch", "m0"), "s": ()}
    coords = {"m0": [0.5, 1.0], "epoch": [0, 5, 10]}
    assert Plan.schema(obs, coords) == {"m": (("m0",), (2,), "float32"),
                                        "e": (("epoch", "m0"), (3, 2), "float32"),
                                        "s": ((), (), "float32")}
    plan = Plan.declare([Dim("seed", np.arange(2))], obs, lambda p, c: {}, bytes_per_point=8,
                        inner_coords=coords)
    assert plan.values_per_point == 2 + 6 + 1
    with pytest.raises(ValueError, match=r"observable 'x': inner dims \['epoch'\]"):
        Plan.schema({"x": ("epoch",)}, {"m0": [1.0]})


def test_an_added_observable_leaves_the_others_bit_identical():
    # every observable group takes its own key (common.KEY_SLOTS): declaring one more
    # changes no earlier result
    import jax
    import jax.numpy as jnp

    from hopjax.experiments import common

    cfg = _cfg(rule="hebb", seeds=1, dynamics={"mode": "async"})
    sample = common.make_sampler(cfg.data, cfg.N)
    extra = common.Observables({"settled": ()}, lambda pr: {"settled": jnp.mean(
        pr.settle(pr.key("prototypes"), pr.xi[:3]))})
    p = {"seed": jnp.int32(0), "alpha": jnp.float32(0.2), "alpha_index": jnp.int32(2)}

    def run(groups):
        observe = common.make_observer(cfg.dynamics, cfg.m0, cfg.samples, "async", groups)
        key = common.point_key(cfg, p)
        xi, mask, rf = sample(key, p, {})
        J, bias = common.couplings(cfg, "hebb", xi, mask, p)
        return jax.jit(lambda: observe(key, J, xi, mask, rf, None, {}, p, bias=bias))()

    alone, more = run([common.RETRIEVAL]), run([common.RETRIEVAL, extra])
    assert set(more) == set(alone) | {"settled"}
    for k in alone:
        assert np.asarray(alone[k]).tobytes() == np.asarray(more[k]).tobytes(), k


# --- Daydreaming through the sweep engine ------------------------------------------------

DD = {"experiment": "daydreaming", "name": "dd", "N": 40, "data": {"alpha": [0.3]},
      "training": {"tau": 10, "epochs": 4, "record": [0, 4]}, "m0": [1.0]}


@pytest.mark.parametrize("training,field", [
    ({"tau": -1, "epochs": 4}, "training.tau"),
    ({"tau": 5, "epochs": 4, "record": [0, 3, 2]}, "training.record"),
    ({"tau": 5, "epochs": 4, "record": [0, 9]}, "training.record"),
    ({"tau": 5}, "training.epochs"),
    ({"tau": 5, "epochs": 4, "init": "random"}, "training.init"),
])
def test_bad_training_config_names_the_field(training, field):
    with pytest.raises(ConfigError, match=f"field '{field}'"):
        validate_config({**DD, "training": training})


def test_daydreaming_sweep_traces_tau_and_improves_stability(tmp_path):
    raw = {**DD, "N": 60, "seeds": 2, "data": {"alpha": [0.3, 0.4]},
           "training": {"tau": [10.0, 20.0], "epochs": 12, "record": [0, 12]}}
    cfg = validate_config(raw)
    path, figures = run(cfg, tmp_path, progress=False, chunk_size=3)
    ds = load(path)
    assert dict(ds.sizes) == {"mode": 1, "seed": 2, "alpha": 2, "tau": 2, "epoch": 2, "m0": 1}
    # Hebb (epoch 0) cannot store α = 0.3-0.4; Daydreaming stabilises most patterns
    before = ds.stable_fraction.sel(epoch=0).mean().item()
    after = ds.stable_fraction.sel(epoch=12).mean().item()
    assert before < 0.2 and after > 0.8, (before, after)
    assert np.allclose(ds.dist_hebb.sel(epoch=0), 0.0)
    # τ‖ΔJ‖ per step ≈ ‖ξξᵀ − σσᵀ‖/N ≈ √2 for nearly orthogonal pattern and dream
    assert np.all(np.abs(ds.tau_delta.sel(epoch=12).values - np.sqrt(2)) < 0.3)
    assert any(f.name == "training.png" for f in figures)
    from hopjax.experiments import EXPERIMENTS
    runner = Runner(EXPERIMENTS["daydreaming"].plan(cfg), 3)
    for i in range(len(runner.bounds)):
        runner.run_chunk(i)
    assert [f._cache_size() for f in runner.compiled.values()] == [1]


def test_mnist_data_kind_checks_N_against_crop():
    raw = {**DD, "N": 400, "data": {"kind": "mnist", "crop": 16, "alpha": [0.1]}}
    with pytest.raises(ConfigError, match=r"field 'N': must equal the MNIST crop size squared, 16² = 256"):
        validate_config(raw)
    with pytest.raises(ConfigError, match="field 'data.crop'"):
        validate_config({**DD, "data": {"alpha": [0.1], "crop": 10}})


def test_mnist_daydreaming_quick_config_runs(tmp_path):
    pytest.importorskip("hopjax.datasets.mnist")
    from hopjax.datasets import mnist
    if not mnist.available():
        pytest.skip("MNIST data package not installed (see requirements-data.txt)")
    assert cli.main(["run", str(ROOT / "configs/mnist_fig4.yaml"), "--quick", "--out",
                     str(tmp_path), "--no-progress"]) == 0
    ds = load(tmp_path / "results.nc")
    for v in ("test_mf", "test_proto", "train_proto", "proto_mf"):
        vals = ds[v].values
        assert np.all((vals > -1) & (vals <= 1)) and np.all(np.isfinite(vals))
    # Hebb 1/P reference: the initial couplings are Hebb itself
    assert np.allclose(ds.dist_hebb.sel(epoch=0), 0.0)
    assert (tmp_path / "generalisation.png").exists()
