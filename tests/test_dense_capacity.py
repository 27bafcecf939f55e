"""The ``dense`` experiment: capacity of dense associative memories through the sweep engine."""

import pathlib

import numpy as np
import pytest

from hopjax.experiments import dense as dense_exp
from hopjax.config import ConfigError, load_config, validate_config
from hopjax.io import load
from hopjax.run import run
from hopjax.sweep import Runner

ROOT = pathlib.Path(__file__).resolve().parents[1]

SMALL = {"experiment": "dense", "name": "d", "seeds": 1, "probes": 16, "m0": [1.0, 0.8],
         "memories": [{"F": "poly", "a": 3, "N": [16]}, {"F": "exp", "N": [12]}],
         "load": [0.05, 0.3]}


def _cfg(**over):
    return validate_config({**SMALL, **over})


def test_quick_config_runs_end_to_end_and_orders_the_memories(tmp_path):
    cfg = load_config(ROOT / "configs/dense_capacity.yaml", quick=True)
    path, figures = run(cfg, tmp_path, progress=False)
    ds = load(path)
    assert set(ds.memory.values) == {"poly a=2", "poly a=3", "exp"}
    assert ds.sizes["load"] == len(cfg.load) and ds.sizes["m0"] == len(cfg.m0)
    assert {f.name for f in figures} >= {"capacity_curves_patterns.png", "capacity.json",
                                         "capacity_scaling_patterns.png",
                                         "capacity_scaling_spins.png"}
    # blocks a memory does not measure are NaN; measured ones are complete
    measured = np.isfinite(ds.P.isel(seed=0, load=0))
    assert measured.sum().item() == sum(len(m.N) for m in cfg.memories)
    assert np.isfinite(ds.retrieved.where(measured)).sum() == measured.sum() * ds.sizes["load"] * ds.sizes["m0"] * ds.sizes["seed"]
    # a pattern that is a fixed point (drive test) is exactly what relaxation from m0 = 1 keeps
    np.testing.assert_allclose(ds.stable_fraction, ds.retrieved.sel(m0=1.0))
    # physics: at the same N the cubic memory stores several times more patterns than Hebb,
    # and the exponential one several times more than the cubic (Krotov & Hopfield 2016;
    # Demircigil et al. 2017)
    pc = dense_exp.capacity(ds)
    assert pc.sel(memory="poly a=3", N=32) > 3 * pc.sel(memory="poly a=2", N=32), pc.values
    assert pc.sel(memory="exp", N=16) > 10 * pc.sel(memory="poly a=3", N=16), pc.values


def test_one_compilation_per_block_for_all_loads_and_seeds():
    cfg = _cfg(seeds=2, load=[0.05, 0.1, 0.2, 0.3])
    runner = Runner(dense_exp.plan(cfg), 3)  # 8 points per block: 3 calls each
    for i in range(len(runner.bounds)):
        runner.run_chunk(i)
    assert len(runner.bounds) == 4 * 3  # (2 memories × 2 N values) blocks × 3 chunks
    assert [f._cache_size() for f in runner.compiled.values()] == [1, 1, 1, 1]


@pytest.mark.parametrize("memory", [{"F": "poly", "a": 3, "N": [16]}, {"F": "exp", "N": [12]}])
def test_padded_points_equal_unpadded(tmp_path, memory):
    # load 0.05 alone (P_max = its own P) vs padded to the P_max of load 0.3
    alone = load(run(_cfg(memories=[memory], load=[0.05]), tmp_path / "a", plots=False,
                     progress=False)[0])
    padded = load(run(_cfg(memories=[memory]), tmp_path / "b", plots=False,
                      progress=False)[0]).sel(load=[0.05])
    assert padded.P.item() < dense_exp.P_max(validate_config(
        {**SMALL, "memories": [memory]}).memories[0], memory["N"][0], SMALL["load"])
    for v in alone.data_vars:
        np.testing.assert_array_equal(alone[v].values, padded[v].values, err_msg=v)


def test_polynomial_capacity_slopes_near_a_minus_1(tmp_path):
    # per-spin criterion (1 % of pattern spins against their drive): no log N correction,
    # so even small N give slopes close to Krotov & Hopfield's a − 1
    cfg = _cfg(seeds=2, probes=48, m0=[1.0],
               memories=[{"F": "poly", "a": 2, "N": [32, 64, 128]},
                         {"F": "poly", "a": 3, "N": [24, 48, 96]}],
               load=[0.08, 0.11, 0.15, 0.2, 0.27, 0.36])
    ds = load(run(cfg, tmp_path, plots=False, progress=False)[0])
    fits = dense_exp.scaling_fits(dense_exp.capacity(ds, "bit_stability", threshold=0.99))
    assert abs(fits["poly a=2"][0] - 1) < 0.25, fits  # measured 0.95
    assert abs(fits["poly a=3"][0] - 2) < 0.25, fits  # measured 2.01


@pytest.mark.parametrize("memory,field,msg", [
    ({"F": "poly", "N": [16]}, "memories.0.a", "needs an integer power"),
    ({"F": "exp", "a": 3, "N": [16]}, "memories.0.a", "takes no power"),
    ({"F": "cubic", "a": 3, "N": [16]}, "memories.0.F", "'poly', 'rectified' or 'exp'"),
    ({"F": "poly", "a": 3, "N": [16, 16]}, "memories.0.N", "distinct integers"),
])
def test_bad_memory_names_the_field(memory, field, msg):
    with pytest.raises(ConfigError) as err:
        _cfg(memories=[memory])
    assert f"field '{field}'" in str(err.value) and msg in str(err.value), str(err.value)


def test_too_many_patterns_for_memory_budget_names_the_field():
    with pytest.raises(ConfigError, match="field 'memory_budget_mb'.*exp at N=30"):
        _cfg(memories=[{"F": "exp", "N": [30]}])


def test_analysis_lives_in_hopjax_dense_capacity():
    from hopjax import dense_capacity

    for name in ("capacity", "crossing", "scaling_fits", "capacity_table", "CRITERIA",
                 "CAPACITY_THRESHOLD"):
        assert getattr(dense_exp, name) is getattr(dense_capacity, name), name


def test_crossing_interpolates_in_log_P():
    from hopjax.dense_capacity import crossing

    # first value below 0.95 at P = 4: halfway between log 2 and log 4 (any input order)
    assert crossing(np.array([8, 1, 4, 2]), np.array([0.5, 1.0, 0.9, 1.0]), 0.95) == \
        pytest.approx(2 * np.sqrt(2))
    assert np.isnan(crossing(np.array([1, 2]), np.array([0.9, 0.8]), 0.95))  # starts below
    assert np.isnan(crossing(np.array([1, 2]), np.array([1.0, 0.99]), 0.95))  # never crosses
    assert np.isnan(crossing(np.array([1, np.nan]), np.array([1.0, 0.5]), 0.95))  # unmeasured


def test_capacity_table_and_fits_on_synthetic_curves():
    import xarray as xr

    from hopjax.dense_capacity import capacity, capacity_table, scaling_fits

    # retrieved = 1 up to P_c = N^2 / 2, then 0: the crossing sits between the loads around it
    N = np.array([16, 32, 64])
    P = np.array([[n * n / 2 * f for f in (0.5, 0.9, 1.1, 2.0)] for n in N])
    y = np.where(P < N[:, None] ** 2 / 2, 1.0, 0.0)
    ds = xr.Dataset({"retrieved": (("memory", "N", "seed", "load", "m0"), y[None, :, None, :, None]),
                     "bit_stability": (("memory", "N", "seed", "load"), y[None, :, None, :]),
                     "P": (("memory", "N", "seed", "load"), P[None, :, None, :])},
                    coords={"memory": ["poly a=3"], "N": N, "seed": [0], "load": range(4),
                            "m0": [1.0]})
    pc = capacity(ds)
    assert np.all((pc.values > 0.9 * N**2 / 2) & (pc.values < 1.1 * N**2 / 2))
    assert scaling_fits(pc)["poly a=3"][0] == pytest.approx(2.0)
    table = capacity_table(ds)
    assert set(table) == {"patterns", "spins"}
    assert table["patterns"]["slope"] == {"poly a=3": 2.0}
    assert list(table["spins"]["P_c"]["poly a=3"]) == [16, 32, 64]
