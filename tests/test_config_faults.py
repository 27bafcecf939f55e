"""Hostile configs: each is rejected before any compute by a `ConfigError` naming the field
(or what is wrong with the file), quickly, with a bounded message, and nothing is written."""

import os
import warnings

import pytest
import yaml

from hopjax import cli
from hopjax.config import (CHUNK_MAX, MAX_CONFIG_BYTES, MAX_NODES, MAX_SHOWN, SEED_MAX,
                           ConfigError, load_config, validate_config)

BASE = {"experiment": "retrieval", "name": "t", "N": 16, "data": {"alpha": [0.25]},
        "m0": [1.0]}
DD = {"experiment": "daydreaming", "name": "dd", "N": 16, "data": {"alpha": [0.25]},
      "training": {"tau": 10, "epochs": 2, "record": [0, 2]}, "m0": [1.0]}
DENSE = {"experiment": "dense", "name": "d", "memories": [{"F": "poly", "a": 2, "N": [16]}],
         "load": [0.1]}
PROTO = {"experiment": "prototypes", "name": "p", "N": 64, "data": {"crop": 8, "n_test": 10},
         "training": {"epochs": 2, "record": [0, 2], "monitor": 10}}


def _with(base, path, value):
    """Copy of ``base`` with the dotted ``path`` set to ``value``."""
    raw = yaml.safe_load(yaml.safe_dump(base))
    *parents, last = path.split(".")
    d = raw
    for p in parents:
        d = d.setdefault(p, {})
    d[last] = value
    return raw


def _rejected(raw, field, *words):
    with pytest.raises(ConfigError) as err:
        validate_config(raw)
    msg = str(err.value)
    assert f"field '{field}'" in msg, msg
    for w in words:
        assert w in msg, msg
    return msg


def _cli_rejects(tmp_path, text, *words):
    """Through the CLI: exit code 2, the words in the message, nothing written."""
    path = tmp_path / "c.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    out = tmp_path / "out"
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert cli.main(["run", str(path), "--out", str(out), "--no-plots", "--no-progress"]) == 2
    assert not out.exists()
    for w in words:
        assert w in str(err.value), str(err.value)
    return str(err.value)


# --- 1. values that crashed (tracebacks) -----------------------------------------------------

@pytest.mark.parametrize("base,path,value,field,words", [
    (BASE, "data.alpha", [float("inf")], "data.alpha.0", ["finite"]),
    (BASE, "data.alpha", [float("nan")], "data.alpha.0", ["finite"]),
    (BASE, "data.alpha", [1e308], "data.alpha.0", ["less than or equal"]),
    (BASE, "memory_budget_mb", float("inf"), "memory_budget_mb", ["finite"]),
    (BASE, "memory_budget_mb", 1e300, "memory_budget_mb", ["less than or equal"]),
    (BASE, "m0", [float("nan")], "m0.0", ["finite"]),
    (BASE, "dynamics.T", float("inf"), "dynamics.T", ["finite"]),
    (BASE, "dynamics.T", [0.1, float("nan")], "dynamics.T.1", ["finite"]),
    (BASE, "rule", [], "rule", ["'hebb' or 'pseudo_inverse'"]),
    (BASE, "dynamics.mode", [], "dynamics.mode", ["'async', 'sequential'"]),
    (BASE, "chunk_size", 10**12, "chunk_size", [f"less than or equal to {CHUNK_MAX}"]),
    (BASE, "experiment", ["retrieval"], "experiment", ["must be one of"]),
    (BASE, "experiment", {"a": 1}, "experiment", ["must be one of"]),
    (DD, "training.tau", float("inf"), "training.tau", ["finite"]),
    (DD, "training.j_max", [float("nan")], "training.j_max.0", ["finite"]),
    (DD, "training.record", 10**12, "training.record", ["less than or equal"]),
    (DD, "training.record", [0, 10**30], "training.record.1", ["less than or equal"]),
    (DENSE, "load", [float("inf")], "load.0", ["finite"]),
    (DENSE, "memories", [{"F": "exp", "N": [4096]}], "memories.0.N", ["<= 64"]),
    (DENSE, "chunk_size", 10**12, "chunk_size", ["less than or equal"]),
    (PROTO, "modern.beta", [float("inf")], "modern.beta.0", ["finite"]),
    (PROTO, "training.tau", float("nan"), "training.tau", ["finite"]),
    (PROTO, "test_chunk", 10**12, "test_chunk", ["less than or equal"]),
])
def test_crashing_values_name_the_field(base, path, value, field, words):
    _rejected(_with(base, path, value), field, *words)


def test_inf_and_empty_lists_through_the_cli_write_nothing(tmp_path):
    for key, text, field in [("data", "data: {alpha: [.inf]}", "data.alpha.0"),
                             ("memory_budget_mb", "memory_budget_mb: .inf", "memory_budget_mb"),
                             ("rule", "rule: []", "rule"),
                             ("dynamics", "dynamics: {mode: []}", "dynamics.mode"),
                             ("chunk_size", "chunk_size: 1000000000000", "chunk_size")]:
        body = {k: v for k, v in BASE.items() if k != key}
        _cli_rejects(tmp_path, yaml.safe_dump(body) + text + "\n", f"field '{field}'")


def test_binary_and_non_utf8_files(tmp_path):
    _cli_rejects(tmp_path, b"\x7fELF\x02\x01\x01\x00\x00\x00" * 20, "not a UTF-8 text file")
    latin1 = yaml.safe_dump({**BASE, "name": "caf\xe9"}, allow_unicode=True).encode("latin-1")
    _cli_rejects(tmp_path, latin1, "not a UTF-8 text file")
    _cli_rejects(tmp_path, os.urandom(4096).replace(b"\0", b"") + b"\xff", "not a UTF-8 text file")


def test_bad_yaml_scalars_and_tags(tmp_path):
    base = yaml.safe_dump(BASE)
    _cli_rejects(tmp_path, base + "seed: " + "9" * 5000 + "\n", "not valid YAML")
    _cli_rejects(tmp_path, base + "seed: !!float abc\n", "not valid YAML")
    _cli_rejects(tmp_path, base + "seed: !!python/object:os.system x\n", "not valid YAML")
    _cli_rejects(tmp_path, base + "? [1, 2]\n: 3\n", "not valid YAML")
    _cli_rejects(tmp_path, base + "x: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper")


def test_duplicate_keys_and_byte_order_mark(tmp_path):
    base = yaml.safe_dump({k: v for k, v in BASE.items() if k != "data"})
    _cli_rejects(tmp_path, base + "N: 32\ndata: {alpha: [0.25]}\n", "field 'N': duplicate key")
    _cli_rejects(tmp_path, base + "data: {alpha: [0.25], alpha: [0.5]}\n",
                 "field 'data.alpha': duplicate key")
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + yaml.safe_dump(BASE).encode())
    assert load_config(path).N == 16


def test_oversized_file(tmp_path):
    text = yaml.safe_dump(BASE) + "#" * (MAX_CONFIG_BYTES + 1) + "\n"
    _cli_rejects(tmp_path, text, "larger than 1 MiB")


def test_directory_as_config(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


# --- 2. strings and booleans are not numbers ---------------------------------------------------

@pytest.mark.parametrize("base,path,value,field", [
    (BASE, "data.alpha", ["0.1"], "data.alpha.0"),
    (BASE, "data.alpha", [True], "data.alpha.0"),
    (BASE, "m0", ["0.5", "1"], "m0.0"),
    (BASE, "m0", [True, False], "m0.0"),
    (BASE, "N", True, "N"),
    (BASE, "N", 16.0, "N"),
    (BASE, "seed", True, "seed"),
    (BASE, "memory_budget_mb", "100", "memory_budget_mb"),
    (BASE, "memory_budget_mb", True, "memory_budget_mb"),
    (BASE, "chunk_size", True, "chunk_size"),
    (BASE, "dynamics.T", "0.1", "dynamics.T"),
    (BASE, "dynamics.T", [True], "dynamics.T.0"),
    (DD, "training.tau", "5", "training.tau"),
    (DD, "training.j_max", True, "training.j_max"),
    (DENSE, "load", ["0.1"], "load.0"),
    (DENSE, "m0", [True], "m0.0"),
    (PROTO, "modern.beta", ["1"], "modern.beta.0"),
    (PROTO, "training.tau", True, "training.tau"),
])
def test_strings_and_bools_are_not_numbers(base, path, value, field):
    _rejected(_with(base, path, value), field, "valid")


def test_ints_are_still_accepted_as_floats():
    cfg = validate_config({**BASE, "m0": [0, 1], "memory_budget_mb": 100})
    assert cfg.m0 == [0.0, 1.0] and isinstance(cfg.m0[1], float)
    assert validate_config(_with(DD, "training.tau", 5)).training.tau == 5.0


# --- 3. alias bombs and oversized values ----------------------------------------------------------

def _anchors(levels, width=9):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return lines


@pytest.mark.parametrize("kind", ["list", "merge"])
def test_billion_laughs_fails_fast(tmp_path, kind):
    # 9 levels of 9 copies: 10⁹ values if expanded; fails at the first alias over the bound
    if kind == "list":
        defs = _anchors(9)
        use = "m0: *a8"
    else:  # merge keys: mappings merging copies of a big mapping
        defs = ["m0: &m0 {" + ", ".join(f"k{i}: [x, x, x, x, x, x, x, x]" for i in range(8))
                + "}"]
        for i in range(1, 9):
            defs.append(f"m{i}: &m{i} {{<<: [" + ", ".join([f"*m{i - 1}"] * 8) + "]}")
        use = "lol: *m8"
    body = yaml.safe_dump({k: v for k, v in BASE.items() if k != "m0"})
    text = "\n".join(defs) + "\n" + body + use + "\n"
    msg = _cli_rejects(tmp_path, text, f"more than {MAX_NODES} YAML nodes", "field '")
    assert len(msg) < 1000


@pytest.mark.parametrize("where,use", [
    ("quick", "quick: {m0: *a3, data: {alpha: *a3}}"),
    ("m0", "m0: [*a3, *a3]"),
    ("lol", "lol: *a3"),  # an unknown key: fails before the "unknown key" message is built
    ("name", "name: *a3"),
])
def test_alias_bomb_fails_where_it_is_used(tmp_path, where, use):
    # the definitions alone (≈ 7 300 nodes) are within the bound; using them is not
    body = yaml.safe_dump({k: v for k, v in BASE.items() if k not in (where, "m0")})
    text = "defs:\n" + "\n".join("  " + a for a in _anchors(4)) + "\n" + body + use + "\n"
    if where != "m0":
        text += "m0: [1.0]\n"
    msg = _cli_rejects(tmp_path, text, f"more than {MAX_NODES} YAML nodes", f"field '{where}")
    assert len(msg) < 1000


def test_recursive_alias(tmp_path):
    _cli_rejects(tmp_path, yaml.safe_dump(BASE) + "quick: &q {m0: *q}\n", "recursive")


def test_python_level_bomb_and_cycle_fail_fast():
    x = ["x"] * 10
    for _ in range(8):
        x = [x] * 10  # 10⁹ leaves, 90 list objects
    for raw in ({**BASE, "m0": x}, {**BASE, "lol": x}, {**BASE, "quick": {"m0": x}}):
        with pytest.raises(ConfigError, match="too large"):  # the size guard, before any walk
            validate_config(raw, quick="quick" in raw)
    cyc = dict(BASE)
    cyc["quick"] = {"data": cyc}
    with pytest.raises(ConfigError, match="too large"):
        validate_config(cyc)


def test_echoed_values_and_error_lists_are_bounded(tmp_path):
    big = "y" * 100_000
    msg = _cli_rejects(tmp_path, yaml.safe_dump({**BASE, "name": big}), "field 'name'")
    assert len(msg) < 1000
    msg = _cli_rejects(tmp_path, yaml.safe_dump({**BASE, "lol": [big] * 5}), "field 'lol'")
    assert len(msg) < 1000
    msg = _cli_rejects(tmp_path, yaml.safe_dump({**BASE, "m0": ["s"] * 3000}), "field 'm0.0'",
                       "and more errors")
    assert msg.count("\n") <= 25 and len(msg) < 5000
    with pytest.raises(ConfigError, match="field 'y{20}.*unknown key") as err:
        validate_config({**BASE, big: 1})
    assert len(str(err.value)) < 1000
    msg = _rejected({**BASE, "dynamics": {"T": [-1.0] * 3000}}, "dynamics.T")
    assert len(msg) < 1000
    msg = _rejected({**BASE, "rule": ["x" * 10_000]}, "rule")
    assert all(len(line) < MAX_SHOWN + 700 for line in msg.splitlines())


# --- 4. names are names, not paths ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["../../escaped", "/abs/path", "a/b", "..", ".", ".hidden",
                                  "-x", "a b", "a\\b", "", "x" * 200, "ü"])
def test_name_is_not_a_path(name):
    _rejected({**BASE, "name": name}, "name")


def test_name_path_through_cli_writes_nothing(tmp_path, monkeypatch):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    for name in ("../../escaped", str(tmp_path / "abs")):
        (work / "c.yaml").write_text(yaml.safe_dump({**BASE, "name": name}))
        assert cli.main(["run", "c.yaml", "--no-plots", "--no-progress"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]
    assert [p.name for p in work.iterdir()] == ["c.yaml"]


@pytest.mark.parametrize("name", ["quickstart", "a.b-c_d", "Run2", "x..y"])
def test_plain_names_pass(name):
    assert validate_config({**BASE, "name": name}).name == name


# --- 5. seeds are 32-bit --------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [2**32, 2**40, 2**63, 2**64 + 1, -1])
@pytest.mark.parametrize("base", [BASE, DENSE, PROTO], ids=["retrieval", "dense", "prototypes"])
def test_seed_bounds(base, seed):
    _rejected({**base, "seed": seed}, "seed", "must be an integer in [0, 2³² − 1 = 4294967295]",
              f"(got {seed})")


def test_largest_seed_validates_and_derived_mnist_seeds_do_not_overflow():
    import jax

    from hopjax.datasets import mnist

    assert validate_config({**BASE, "seed": SEED_MAX, "seeds": 10_000}).seed == SEED_MAX
    # experiments.common.mnist_constants: seed * 100_003 + seed index < 2⁶³
    jax.random.key_data(mnist._as_key(SEED_MAX * 100_003 + 9_999))


# --- 6. no empty points --------------------------------------------------------------------------

def test_alpha_giving_no_patterns_is_rejected():
    msg = _rejected({**BASE, "N": 8, "data": {"alpha": [0.5, 0.01]}}, "data.alpha",
                    "α = 0.01 gives P = round(α N) = 0 patterns at N = 8")
    assert "0.0625" in msg
    _rejected({**BASE, "N": 8, "data": {"alpha": [0.0625]}}, "data.alpha")  # round(0.5) = 0
    assert validate_config({**BASE, "N": 8, "data": {"alpha": [0.07]}})


def test_alpha_D_giving_no_features_is_rejected():
    raw = {**BASE, "N": 16, "data": {"kind": "random_features", "alpha": [0.25],
                                     "alpha_D": [0.5, 0.01]}}
    _rejected(raw, "data.alpha_D", "α_D = 0.01 gives D = round(α_D N) = 0 features at N = 16")


@pytest.mark.parametrize("data,extra,field,words", [
    ({"kind": "random_features"}, {}, "data.alpha_D", ["required for kind 'random_features'"]),
    ({"alpha_D": [0.5]}, {}, "data.alpha_D", ["only applies to kind 'random_features'"]),
    ({"kind": "mnist", "alpha_D": [0.5]}, {}, "data.alpha_D", ["only applies"]),
    ({"crop": 8}, {}, "data.crop", ["only applies to kind 'mnist'"]),
    ({"kind": "random_features", "alpha_D": [0.5], "crop": 8}, {}, "data.crop", ["'mnist'"]),
    ({"kind": "mnist", "crop": 4, "bias": 0.2}, {}, "data.bias",
     ["only applies to kind 'uncorrelated'"]),
    ({}, {"feature_maps": True}, "feature_maps", ["needs data.kind 'random_features'"]),
    ({"kind": "mnist", "crop": 8}, {"N": 16}, "N", ["MNIST crop size squared, 8² = 64"]),
])
def test_each_data_source_checks_its_own_fields(data, extra, field, words):
    # the rules of each data kind are declared once, by its source (experiments.common.SOURCES)
    raw = {**BASE, **extra, "data": {"alpha": [0.25], **data}}
    _rejected(raw, field, *words)
    _rejected({**DD, **extra, "data": raw["data"]}, field, *words)


def test_data_kinds_are_the_declared_sources():
    from hopjax.experiments import common

    kinds = common.Data.model_fields["kind"].annotation.__args__
    assert kinds == tuple(common.SOURCES) == ("uncorrelated", "random_features", "mnist")
    _rejected(_with(BASE, "data.kind", "faces"), "data.kind",
              "'uncorrelated', 'random_features' or 'mnist'")


# --- 7. cache folders -----------------------------------------------------------------------------

def test_one_cache_resolver_expanding_home(monkeypatch, tmp_path):
    from hopjax import _native, cache
    from hopjax.datasets import mnist

    monkeypatch.setenv("HOME", str(tmp_path))
    for var, value, want in [("HOPJAX_CACHE", "~/hc", tmp_path / "hc"),
                             ("XDG_CACHE_HOME", "~/xdg", tmp_path / "xdg" / "hopjax")]:
        monkeypatch.delenv("HOPJAX_CACHE", raising=False)
        monkeypatch.setenv(var, value)
        assert cache.cache_dir() == mnist.cache_dir() == _native._cache_dir() == want


def test_cache_env_pointing_at_a_file(monkeypatch, tmp_path):
    from hopjax.cache import CacheError
    from hopjax.datasets import mnist

    f = tmp_path / "file"
    f.write_text("")
    monkeypatch.setenv("HOPJAX_CACHE", str(f))
    with pytest.raises(CacheError, match=f"HOPJAX_CACHE={f}.*is a file, not a directory; set "
                                         "HOPJAX_CACHE to a directory"):
        mnist.load("test")
    assert isinstance(CacheError("x"), OSError)
    assert not mnist.available() or mnist._csv_dir()  # no exception from available()


def test_cache_file_that_is_a_directory(monkeypatch, tmp_path):
    from hopjax.cache import CacheError, cache_dir
    from hopjax.datasets import mnist

    monkeypatch.setenv("HOPJAX_CACHE", str(tmp_path))
    (tmp_path / mnist.CACHE_NAME).mkdir()
    with pytest.raises(CacheError, match="not a regular file"):
        mnist.load("test")
    parent_file = tmp_path / "f"
    parent_file.write_text("")
    monkeypatch.setenv("HOPJAX_CACHE", str(parent_file / "sub"))
    with pytest.raises(CacheError, match="cannot be created"):
        cache_dir(create=True)
    if mnist.available():  # the data package is installed: fails before parsing its CSVs
        with pytest.raises(CacheError, match="cannot be created"):
            mnist.build_cache()


def test_native_kernel_falls_back_on_a_broken_cache(monkeypatch, tmp_path):
    from hopjax import _native

    f = tmp_path / "file"
    f.write_text("")
    monkeypatch.setenv("HOPJAX_CACHE", str(f))
    monkeypatch.setenv("HOPJAX_NATIVE", "1")
    monkeypatch.setenv("CXX", "c++")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert _native.available.__wrapped__() is False
    assert len(w) == 1 and "is a file, not a directory" in str(w[0].message)
