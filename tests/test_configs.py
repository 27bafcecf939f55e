"""Every shipped config validates, at full size and with its quick overrides."""

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
