"""Experiment configs: YAML files validated (pydantic) before any compute.

A config names an experiment kind (see `hopjax list`); each kind owns a pydantic model with
``extra="forbid"``, so a misspelt key is an error. Fields that are lists become dimensions of
the results (one value = still a dimension of length one). ``quick:`` holds overrides applied
by ``hopjax run --quick`` (re-validated like the rest).
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import re
import reprlib
import typing
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from hopjax import shipped_configs

__all__ = ["ConfigError", "Strict", "Real", "Overlap", "Load", "Seed", "ChunkSize", "Name",
           "MegaBytes", "Size", "load_config", "validate_config", "size_configs", "config_dump",
           "fingerprint"]

# Bounds on what is read and echoed (a config is a short text file; see `load_config`)
MAX_CONFIG_BYTES = 1 << 20  # 1 MiB
MAX_NODES = 10_000  # YAML nodes (keys, values, items) after expanding aliases
MAX_DEPTH = 32  # nesting levels of mappings and lists
MAX_SHOWN = 200  # characters of an offending value echoed in an error message
MAX_ERRORS = 20  # field errors listed (then "... and n more")
SEED_MAX = 2**32 - 1  # jax.random.key keeps 32 bits: larger seeds would repeat seed mod 2³²
CHUNK_MAX = 2**31 - 1  # grid points per compiled call (int32 indices)


class ConfigError(ValueError):
    """A config that cannot run; the message names the field and what is allowed."""


class Strict(BaseModel):
    """Base of every config section: unknown keys are errors, values are not coerced across
    types (a string is not a number)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


# A real number: an int or a float, finite; not a string ("0.1") nor a bool (true).
Real = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Overlap = Annotated[Real, Field(ge=-1.0, le=1.0)]
Load = Annotated[Real, Field(gt=0.0, le=1e6)]
MegaBytes = Annotated[Real, Field(gt=0.0, le=2.0**30)]  # up to a petabyte


def _seed32(v: int) -> int:
    if not 0 <= v <= SEED_MAX:
        raise PydanticCustomError(
            "seed_range", f"must be an integer in [0, 2³² − 1 = {SEED_MAX}] (jax.random.key "
            "keeps 32 bits: a larger seed would give the data of seed mod 2³²)")
    return v


Seed = Annotated[int, AfterValidator(_seed32)]
ChunkSize = Annotated[int, Field(ge=1, le=CHUNK_MAX)]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _plain_name(v: str) -> str:
    if not _NAME.fullmatch(v):
        raise PydanticCustomError(
            "plain_name", "must be a plain name (the results folder results/<name>): letters, "
            "digits, '.', '_' and '-', starting with a letter or digit; no '/' and no '..'")
    return v


Name = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_plain_name)]
Size = Annotated[int, Field(ge=1, le=1_000_000)]  # an N of ``sizes:`` (the kind bounds N itself)


def _distinct(v: list[int]) -> list[int]:
    if len(set(v)) != len(v):
        raise PydanticCustomError("distinct_sizes", "each N may appear once")
    return v


_TYPE_TAGS = {"list", "float", "int", "str", "bool", "none", "dict"}


def _location(loc) -> str:
    # union members appear in pydantic's loc as type tags ("list[...]", "literal[...]"): drop
    parts = [str(p) for p in loc if not (isinstance(p, str) and ("[" in p or p in _TYPE_TAGS))]
    return ".".join(parts)


def _submodel(annotation):
    """The pydantic model inside a field annotation (``Dynamics``, ``Dynamics | None``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if (m := _submodel(arg)) is not None:
            return m
    return None


def _allowed_keys(model, loc) -> list[str]:
    for part in loc[:-1]:
        if isinstance(part, int):  # a list item: the model of the list's items
            continue
        field = model.model_fields.get(part) if isinstance(part, str) else None
        model = _submodel(field.annotation) if field else None
        if model is None:
            return []
    return sorted(model.model_fields)


_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxdict, _repr.maxlist, _repr.maxtuple = 3, 6, 8, 8
_repr.maxset = _repr.maxfrozenset = _repr.maxdeque = _repr.maxarray = 8
_repr.maxstring = _repr.maxother = _repr.maxlong = MAX_SHOWN


def _clip(text: str, limit: int = MAX_SHOWN) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shown(value, limit: int = MAX_SHOWN) -> str:
    """A bounded repr of a config value for error messages (at most ``limit`` characters,
    never walking more than a few levels of a nested value)."""
    try:
        return _clip(_repr.repr(value), limit)
    except Exception:  # noqa: BLE001 - e.g. an int too long to print
        return f"<{type(value).__name__}>"


def _describe(err: ValidationError, source: str, model=None) -> str:
    """One line per field: "field 'data.alpha.1': <what is wrong and allowed> (got <value>)".

    Cross-field checks (model validators) raise "<field>: <message>" and are reported under
    that field. Echoed values are clipped (`shown`), and at most `MAX_ERRORS` fields listed."""
    lines, seen = [f"invalid config {_clip(source)}:"], set()
    errors = err.errors(include_url=False)
    for e in errors:
        where, msg = _location(e["loc"]), e["msg"].removeprefix("Value error, ")
        if e["type"] == "value_error" and ": " in msg and " " not in msg.split(": ", 1)[0]:
            field, msg = msg.split(": ", 1)
            where = ".".join(filter(None, [where, field]))
        where = _clip(where or "(top level)", 100)
        if where in seen:  # one message per field (unions repeat it per member)
            continue
        seen.add(where)
        if len(seen) > MAX_ERRORS:
            lines.append(f"  ... and more errors (the first {MAX_ERRORS} fields are listed)")
            break
        got = e.get("input")
        shown_got = ("" if isinstance(got, dict) or e["type"] == "value_error"
                     else f" (got {shown(got)})")
        if e["type"] == "extra_forbidden" and model is not None:
            msg = f"unknown key; allowed keys here: {', '.join(_allowed_keys(model, e['loc']))}"
        lines.append(f"  field '{where}': {_clip(msg, 600)}{shown_got}")
    return "\n".join(lines)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _size_error(raw) -> str | None:
    """Why a raw (Python) config is too big to validate, or None: more than `MAX_NODES`
    values counting shared references each time (so a YAML alias bomb cannot get through
    `validate_config` either), or nested deeper than `MAX_DEPTH`. Stops at the bound."""
    count, stack = 0, [(raw, 0)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            return (f"more than {MAX_NODES} values (counting repeated references; an alias "
                    "bomb or a recursive structure?)")
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for kv in value.items() for v in kv)
        elif isinstance(value, (list, tuple, set, frozenset)):
            stack.extend((v, depth + 1) for v in value)
    return None


def validate_config(raw: Any, *, quick: bool = False, source: str = "<dict>"):
    """Validate a raw config mapping; returns the experiment's config model instance.

    ``experiment:`` names the kind (`hopjax.registry.get`: built-in, installed, registered, or
    a module path; a plain module name is also looked up beside the config file ``source``)."""
    from hopjax import registry

    if not isinstance(raw, dict):
        raise ConfigError(f"invalid config {_clip(source)}: expected a mapping of fields, got "
                          f"{type(raw).__name__}")
    if (why := _size_error(raw)) is not None:
        raise ConfigError(f"invalid config {_clip(source)}: too large: {why}")
    kind = raw.get("experiment")
    near = source if pathlib.Path(source).is_file() else None
    try:
        module = registry.get(kind, near=near) if isinstance(kind, str) else None
    except registry.ExperimentKindError as err:
        raise ConfigError(f"invalid config {_clip(source)}:\n  field 'experiment': "
                          f"{err}") from None
    if module is None:
        raise ConfigError(f"invalid config {_clip(source)}:\n  field 'experiment': must be one "
                          f"of {registry.available()} or a module path (got {shown(kind)})")
    if quick:
        overrides = raw.get("quick")
        if not isinstance(overrides, dict):
            raise ConfigError(f"invalid config {_clip(source)}:\n  field 'quick': --quick needs "
                              "a 'quick:' mapping of overrides in the config")
        raw = _merge(raw, overrides)
    # job options of `hopjax submit` (hopjax.cluster): how to run, not what: no part of the
    # experiment's config nor of its fingerprint
    raw = {k: v for k, v in raw.items() if k != "cluster"}
    try:
        cfg = module.Config.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_describe(err, source, module.Config)) from None
    if cfg.sizes:
        size_configs(cfg, source=source)  # a bad size is an error now, before any compute
    return cfg


def size_configs(cfg, sizes=None, *, source: str | None = None) -> dict:
    """{N: config}: ``cfg`` at each size of ``sizes`` (default: its ``sizes:`` field), each
    validated and named ``<name>_N<n>``, with no ``sizes`` of its own. ``sizes``: N values,
    or {N: overrides}, the overrides merged into the config like its ``quick:`` section (e.g.
    fewer seeds or loads at the largest N, where a run costs most). A bad size raises
    `ConfigError` naming the size and the field."""
    sizes = cfg.sizes if sizes is None else sizes
    if not sizes:
        raise ConfigError(f"config {_clip(cfg.name)} has no sizes: give N values or set its "
                          "'sizes:' field")
    raw = cfg.model_dump(mode="json")
    items = sizes.items() if isinstance(sizes, dict) else ((n, {}) for n in sizes)
    out = {}
    for n, over in items:
        n = int(n)
        over = {**(over or {}), "N": n, "name": f"{cfg.name}_N{n}", "quick": None,
                "sizes": None}
        out[n] = validate_config({**raw, "quick": over}, quick=True,
                                 source=f"{_clip(source or cfg.name)} at sizes.{n}")
    return out


class ExperimentConfig(Strict):
    """The fields every experiment kind's config has; a kind's ``Config`` subclasses it,
    narrows ``experiment`` to its name (``Literal["my_kind"]``) and adds its own fields.

    ``seed``/``seeds``: the base seed and the number of seeds (the engine's ``seed`` dim);
    ``memory_budget_mb`` and ``chunk_size`` size the chunks (`hopjax.run.sweep_layout`);
    ``quick``: overrides applied by ``--quick``; ``sizes``: run the same sweep at each of
    these N (a list, or {N: overrides merged like ``quick``}), one store per N
    (`size_configs`, `hopjax.finite_size`), for finite-size scaling."""

    experiment: str
    name: Name
    seed: Seed = 0
    seeds: int = Field(default=1, ge=1, le=10_000)
    memory_budget_mb: MegaBytes = 1024.0
    chunk_size: ChunkSize | None = None
    quick: dict | None = None
    sizes: (Annotated[list[Size], Field(min_length=1, max_length=64), AfterValidator(_distinct)]
            | Annotated[dict[Size, dict | None], Field(min_length=1, max_length=64)]
            | None) = None


class _TooLarge(Exception):
    """A YAML document over the bounds of `_BoundedLoader` (message names where)."""


class _BoundedLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that counts nodes while composing, an alias counting as the whole
    node it refers to, and refuses more than `MAX_NODES` of them or nesting deeper than
    `MAX_DEPTH`, before anything is constructed: a billion-laughs document fails at its
    first few aliases instead of expanding. Recursive aliases are refused too."""

    def __init__(self, stream):
        super().__init__(stream)
        self._nodes = 0
        self._sizes: dict[int, int] = {}  # id(node) -> expanded node count (composed nodes)
        self._path: list[str] = []

    def _fail(self, what: str):
        where = ".".join(self._path) or "(top level)"
        raise _TooLarge(f"field '{_clip(where, 100)}': {what}")

    def _count(self, n: int):
        self._nodes += n
        if self._nodes > MAX_NODES:
            self._fail(f"config too large: more than {MAX_NODES} YAML nodes after expanding "
                       "aliases (an alias bomb?); a config is a short list of settings")

    def _no_duplicate_keys(self, node):
        # YAML would keep the last of two equal keys silently (merge keys "<<" may repeat)
        lines = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                if (key.tag, key.value) not in lines:
                    lines[key.tag, key.value] = key.start_mark.line + 1
                else:
                    first, line = lines[key.tag, key.value], key.start_mark.line + 1
                    self._path.append(_clip(key.value, 40))
                    where = f"line {line}" if first == line else f"lines {first} and {line}"
                    self._fail(f"duplicate key ({where}); each key may appear once")

    def compose_node(self, parent, index):
        if parent is None:
            part = None
        elif isinstance(index, yaml.ScalarNode):
            part = _clip(index.value, 40)
        elif isinstance(index, int):
            part = str(index)
        else:  # a mapping key being composed (index None) or a complex key
            part = "(key)"
        if part is not None:
            self._path.append(part)
        try:
            if len(self._path) > MAX_DEPTH:
                self._fail(f"nested deeper than {MAX_DEPTH} levels")
            if self.check_event(yaml.AliasEvent):
                anchor = self.peek_event().anchor
                target = self.anchors.get(anchor)
                if target is not None:
                    size = self._sizes.get(id(target))
                    if size is None:
                        self._fail(f"alias *{_clip(anchor, 40)} refers to a node that contains "
                                   "it (a recursive structure)")
                    self._count(size)
                return super().compose_node(parent, index)
            start = self._nodes
            self._count(1)
            node = super().compose_node(parent, index)
            self._sizes[id(node)] = self._nodes - start
            if isinstance(node, yaml.MappingNode):
                self._no_duplicate_keys(node)
            return node
        finally:
            if part is not None:
                self._path.pop()


def _read_yaml(path: pathlib.Path):
    """The YAML document of a config file, within the bounds above (raises `ConfigError`)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as err:
        raise ConfigError(f"cannot read config file {_clip(path)}: "
                          f"{err.strerror or type(err).__name__}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"invalid config {_clip(path)}: larger than {MAX_CONFIG_BYTES >> 20} "
                          "MiB; a config is a short YAML text file")
    if b"\0" in data:
        raise ConfigError(f"invalid config {_clip(path)}: not a UTF-8 text file (it contains "
                          "NUL bytes: a binary file?)")
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark is not part of the text
    except UnicodeDecodeError as err:
        byte = data[err.start:err.start + 1]
        raise ConfigError(f"invalid config {_clip(path)}: not a UTF-8 text file (undecodable "
                          f"byte {byte!r} at offset {err.start})") from None
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    except _TooLarge as err:
        raise ConfigError(f"invalid config {_clip(path)}:\n  {err}") from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as err:
        # ValueError etc.: a scalar the YAML constructors cannot convert (!!float x, an int
        # of 5000 digits, a bad date)
        raise ConfigError(f"invalid config {_clip(path)}: not valid YAML: "
                          f"{_clip(str(err) or type(err).__name__, 600)}") from None
    finally:
        loader.dispose()


def load_config(path, *, quick: bool = False):
    """Read and validate a YAML config file (raises `ConfigError`).

    A config is a UTF-8 YAML file of at most `MAX_CONFIG_BYTES`, at most `MAX_NODES` nodes
    with aliases expanded and `MAX_DEPTH` levels deep; error messages echo at most
    `MAX_SHOWN` characters of an offending value. ``path`` may also name a config that ships
    with hopjax (``"quickstart"``, see `hopjax.shipped_configs`)."""
    path = shipped_configs.resolve(path)
    if path.is_dir():
        raise ConfigError(f"config file {_clip(path)} is a directory, not a YAML file")
    if not path.is_file():
        raise ConfigError(f"config file not found: {_clip(path)} (nor a shipped config; "
                          f"shipped: {', '.join(shipped_configs.names())})")
    return validate_config(_read_yaml(path), quick=quick, source=str(path))


def config_dump(cfg, exclude=frozenset()) -> dict:
    """The validated config as JSON values (what results store as their ``config``), without
    ``sizes`` when unset: stores and results written before that field existed stay the same
    (their fingerprints match, so they resume)."""
    drop = set(exclude) | ({"sizes"} if getattr(cfg, "sizes", None) is None else set())
    return cfg.model_dump(mode="json", exclude=drop)


def fingerprint(cfg) -> str:
    """Hash of everything that changes the numbers (the validated config, quick applied)."""
    blob = json.dumps(config_dump(cfg, exclude={"quick"}), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
