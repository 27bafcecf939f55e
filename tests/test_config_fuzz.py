"""Fuzzing the config validation: shipped configs with keys dropped, values replaced by wrong
types, strings, bools, negative / huge / non-finite numbers, empty lists, nested mappings,
unknown keys added and values shared through YAML aliases. Every mutant either validates or
raises `ConfigError` naming a field, quickly, and nothing is written."""

import copy
import pathlib

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hopjax import cli
from hopjax.config import ConfigError, load_config

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHIPPED = {p.stem: yaml.safe_load(p.read_text()) for p in sorted((ROOT / "configs").glob("*.yaml"))}


def _paths(node, prefix=(), above=frozenset()):
    """Every (container path, key) in a raw config, nested ones included (not descending
    into a container that contains itself: aliases can make cycles)."""
    if id(node) in above or len(prefix) > 8:
        return
    above = above | {id(node)}
    if isinstance(node, dict):
        for k, v in node.items():
            yield prefix, k
            yield from _paths(v, prefix + (k,), above)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield prefix, i
            yield from _paths(v, prefix + (i,), above)


def _get(node, path):
    for p in path:
        node = node[p]
    return node


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
scalars = st.one_of(
    text, st.booleans(), st.none(),
    st.integers(min_value=-2**70, max_value=2**70),
    st.sampled_from([0, -1, 1, 2**31, 2**32, 2**63, 10**30, -10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308, -0.0, 1e-320]),
    st.sampled_from(["0.1", "1", "true", "hebb", "async", "", "../x", "/tmp/x"]),
)
values = st.one_of(
    scalars,
    st.builds(list), st.builds(dict),  # fresh objects: mutants may add keys to them
    st.lists(scalars, min_size=1, max_size=4),
    st.dictionaries(text, scalars, max_size=3),
    st.dictionaries(st.sampled_from(["N", "alpha", "mode", "tau", "F"]),
                    st.lists(scalars, max_size=2), min_size=1, max_size=2),
)
ops = st.sampled_from(["drop", "replace", "replace", "replace", "add_key", "alias"])


@st.composite
def mutants(draw):
    name = draw(st.sampled_from(sorted(SHIPPED)))
    raw = copy.deepcopy(SHIPPED[name])
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(raw))
        parent_path, key = draw(st.sampled_from(paths))
        parent = _get(raw, parent_path)
        op = draw(ops)
        if op == "drop":
            del parent[key]
        elif op == "replace":
            parent[key] = draw(values)
        elif op == "add_key":
            target = parent[key] if isinstance(parent[key], dict) else raw
            target[draw(st.one_of(text, st.sampled_from(["quick", "seed", "data", "bogus"])))] = \
                draw(values)
        else:  # share another node: yaml.safe_dump writes it as an anchor and an alias
            other_path, other_key = draw(st.sampled_from(paths))
            try:
                parent[key] = _get(raw, other_path)[other_key]
            except (KeyError, IndexError, TypeError):  # removed by an earlier mutation
                pass
        if not isinstance(raw, dict) or not raw:
            break
    return name, raw


def _check(path, quick):
    try:
        load_config(path, quick=quick)
    except ConfigError as err:
        msg = str(err)
        assert "field '" in msg, msg
        assert len(msg) < 5000, msg[:300]


@settings(max_examples=400, deadline=5000, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(mutants())
def test_mutated_shipped_configs_validate_or_name_a_field(tmp_path, case):
    name, raw = case
    path = tmp_path / "c.yaml"
    try:
        path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    except (yaml.YAMLError, RecursionError):  # a self-containing alias: not expressible
        return
    for quick in (False, True):
        _check(path, quick)
    assert [p.name for p in tmp_path.iterdir()] == ["c.yaml"]  # validation writes nothing
    path.unlink()


# --- a few mutants end to end through the CLI -------------------------------------------------

TINY = {"experiment": "retrieval", "name": "tiny", "N": 16, "data": {"alpha": [0.25]},
        "m0": [1.0], "dynamics": {"max_sweeps": 5}}


@pytest.mark.parametrize("over,rc", [
    ({}, 0),
    ({"rule": "pseudo_inverse", "dynamics": {"mode": ["sync"], "max_sweeps": 3}}, 0),
    ({"dynamics": {"mode": []}}, 2),
    ({"rule": []}, 2),
    ({"data": {"alpha": ["0.25"]}}, 2),
    ({"m0": [True]}, 2),
    ({"data": {"alpha": [0.01]}}, 2),  # P = 0
    ({"name": "../../escaped"}, 2),
    ({"seed": 2**63}, 2),
    ({"chunk_size": 10**12}, 2),
    ({"memory_budget_mb": float("inf")}, 2),
])
def test_cli_end_to_end(tmp_path, monkeypatch, over, rc):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    (work / "c.yaml").write_text(yaml.safe_dump({**TINY, **over}))
    out = work / "out"
    assert cli.main(["run", "c.yaml", "--out", str(out), "--no-plots", "--no-progress"]) == rc
    if rc == 0:
        assert (out / "results.nc").is_file()
    else:
        assert not out.exists()
        assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b", "c.yaml"]
