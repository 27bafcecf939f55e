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
import typing
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["ConfigError", "Strict", "Overlap", "Load", "load_config", "validate_config",
           "fingerprint"]


class ConfigError(ValueError):
    """A config that cannot run; the message names the field and what is allowed."""


class Strict(BaseModel):
    """Base of every config section: unknown keys are errors, values are not coerced across
    types (a string is not a number)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


Overlap = Annotated[float, Field(ge=-1.0, le=1.0, strict=False)]
Load = Annotated[float, Field(gt=0.0, strict=False)]


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
        field = model.model_fields.get(part) if isinstance(part, str) else None
        model = _submodel(field.annotation) if field else None
        if model is None:
            return []
    return sorted(model.model_fields)


def _describe(err: ValidationError, source: str, model=None) -> str:
    """One line per field: "field 'data.alpha.1': <what is wrong and allowed> (got <value>)".

    Cross-field checks (model validators) raise "<field>: <message>" and are reported under
    that field."""
    lines, seen = [f"invalid config {source}:"], set()
    for e in err.errors():
        where, msg = _location(e["loc"]), e["msg"].removeprefix("Value error, ")
        if e["type"] == "value_error" and ": " in msg and " " not in msg.split(": ", 1)[0]:
            field, msg = msg.split(": ", 1)
            where = ".".join(filter(None, [where, field]))
        if where in seen:  # one message per field (unions repeat it per member)
            continue
        seen.add(where)
        got = e.get("input")
        shown = "" if isinstance(got, dict) or e["type"] == "value_error" else f" (got {got!r})"
        if e["type"] == "extra_forbidden" and model is not None:
            msg = f"unknown key; allowed keys here: {', '.join(_allowed_keys(model, e['loc']))}"
        lines.append(f"  field '{where or '(top level)'}': {msg}{shown}")
    return "\n".join(lines)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def validate_config(raw: Any, *, quick: bool = False, source: str = "<dict>"):
    """Validate a raw config mapping; returns the experiment's config model instance."""
    from experiments import EXPERIMENTS  # the registry of experiment kinds

    if not isinstance(raw, dict):
        raise ConfigError(f"invalid config {source}: expected a mapping of fields, got "
                          f"{type(raw).__name__}")
    kind = raw.get("experiment")
    if kind not in EXPERIMENTS:
        raise ConfigError(f"invalid config {source}:\n  field 'experiment': must be one of "
                          f"{sorted(EXPERIMENTS)} (got {kind!r})")
    if quick:
        overrides = raw.get("quick")
        if not isinstance(overrides, dict):
            raise ConfigError(f"invalid config {source}:\n  field 'quick': --quick needs a "
                              "'quick:' mapping of overrides in the config")
        raw = _merge(raw, overrides)
    try:
        return EXPERIMENTS[kind].Config.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_describe(err, source, EXPERIMENTS[kind].Config)) from None


def load_config(path, *, quick: bool = False):
    """Read and validate a YAML config file (raises `ConfigError`)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"invalid config {path}: not valid YAML: {err}") from None
    return validate_config(raw, quick=quick, source=str(path))


def fingerprint(cfg) -> str:
    """Hash of everything that changes the numbers (the validated config, quick applied)."""
    blob = json.dumps(cfg.model_dump(mode="json", exclude={"quick"}), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
