"""Every shipped config validates, at full size and with its quick overrides."""

import math
import pathlib

import pytest

from hopjax.config import fingerprint, load_config

CONFIGS = sorted((pathlib.Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_validates_full_and_quick(path):
    full, quick = load_config(path), load_config(path, quick=True)
    assert full.name == path.stem  # results land in results/<name>: keep them apart
    assert fingerprint(full) != fingerprint(quick)
    assert quick.n_points() <= full.n_points()


SWEEP_KINDS = ("retrieval", "capacity", "daydreaming", "bam")


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_outputs_and_their_count_come_from_one_declaration(path):
    from hopjax import registry
    from hopjax.sweep import Plan

    cfg = load_config(path, quick=True)
    if cfg.experiment not in SWEEP_KINDS:
        pytest.skip("kind with its own outputs")
    if cfg.experiment == "bam":
        declared, coords = registry.get("bam").VARIABLES, {"m0": cfg.m0}
    else:
        declared, coords = cfg.observables(), cfg.inner_coords()
    schema = Plan.schema(declared, coords)
    assert cfg.values_per_point() == sum(math.prod(s) for _, s, _ in schema.values())
    if getattr(getattr(cfg, "data", None), "kind", None) == "mnist":
        assert {"test_mf", "test_proto", "train_proto", "proto_mf"} <= set(declared)
        return  # building the plan reads the MNIST data set
    plan = registry.get(cfg.experiment).plan(cfg)
    assert plan.variables == schema and plan.values_per_point == cfg.values_per_point()
