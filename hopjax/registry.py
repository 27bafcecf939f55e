"""Where experiment kinds come from: one lookup that the config layer, the runner, ``hopjax
plot`` and ``hopjax list`` share.

An experiment kind is a module (or any object) with

- ``Config``: a pydantic model of its config; its ``experiment`` field holds the kind's name,
- ``plan(cfg) -> hopjax.sweep.Plan``: the grid and the point function,
- ``plots(ds, outdir) -> list[Path]``: the figures of a finished results file.

A config's ``experiment:`` names it in one of four ways, looked up in this order:

1. a kind registered in this process with `register` (a notebook, a test);
2. a kind that ships with hopjax (``retrieval``, ``daydreaming``, …: `BUILTIN`);
3. a kind another installed package declares under the entry-point group
   ``hopjax.experiments`` (``[project.entry-points."hopjax.experiments"] mykind =
   "mypackage.mykind"`` in its pyproject.toml);
4. a dotted module path, ``experiment: mypackage.mymodule``, imported as it stands, or from
   the config file's own folder when it is a plain module name (``experiment: my_kind`` beside
   ``my_kind.py``).

Modules are imported only when a config names them, so nothing here imports the experiments.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import pathlib
import sys
import types

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "ExperimentKindError", "register", "unregister",
           "get", "available"]

ENTRY_POINT_GROUP = "hopjax.experiments"

BUILTIN = {name: f"hopjax.experiments.{module}" for name, module in (
    ("retrieval", "retrieval"), ("capacity", "capacity"), ("daydreaming", "daydreaming"),
    ("prototypes", "prototypes"), ("dense", "dense"), ("bam", "bam"))}

_REGISTERED: dict[str, object] = {}
_CONTRACT = ("Config", "plan", "plots")


class ExperimentKindError(LookupError):
    """An ``experiment:`` that names no kind, or a kind that does not keep the contract."""


def _check(name: str, kind):
    missing = [a for a in _CONTRACT if not hasattr(kind, a)]
    if missing:
        raise ExperimentKindError(f"experiment kind {name!r} ({getattr(kind, '__name__', kind)})"
                                  f" lacks {', '.join(missing)}: a kind provides Config (pydantic"
                                  " model), plan(cfg) and plots(ds, outdir)")
    if "experiment" not in getattr(kind.Config, "model_fields", {}):
        raise ExperimentKindError(f"experiment kind {name!r}: its Config has no 'experiment' "
                                  "field (it must accept the kind's name)")
    return kind


def register(name: str, kind) -> None:
    """Make ``kind`` (a module or object with Config, plan, plots) available as ``name`` in
    this process. A built-in name cannot be taken; registering a name again replaces it."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"register: name must be a non-empty string (got {name!r})")
    if name in BUILTIN:
        raise ValueError(f"register: {name!r} is a built-in experiment kind; pick another name")
    _REGISTERED[name] = _check(name, kind)


def unregister(name: str) -> None:
    """Forget a kind registered with `register` (no error if there is none)."""
    _REGISTERED.pop(name, None)


def _entry_points() -> dict:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _import_beside(name: str, folder: pathlib.Path):
    """Import module ``name`` from ``folder`` (a user's kind next to their config)."""
    path = folder / f"{name}.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic and pickling resolve the module by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def get(name: str, *, near=None):
    """The experiment kind a config's ``experiment:`` names (see the module docstring).

    ``near``: the config file's path, whose folder is searched for a plain module name.
    Raises `ExperimentKindError` naming the kinds available."""
    if not isinstance(name, str) or not name:
        raise ExperimentKindError(f"must be one of {available()} or a module path "
                                  f"(got {name!r})")
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name in BUILTIN:
        return _check(name, importlib.import_module(BUILTIN[name]))
    eps = _entry_points()
    if name in eps:
        kind = eps[name].load()
        return _check(name, kind)
    if all(part.isidentifier() for part in name.split(".")):
        module = None
        if name in sys.modules and isinstance(sys.modules[name], types.ModuleType):
            module = sys.modules[name]
        else:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as err:
                if err.name != name.split(".")[0] and err.name != name:
                    raise  # the module exists but one of its own imports is missing
                if near is not None and "." not in name:
                    module = _import_beside(name, pathlib.Path(near).resolve().parent)
        if module is not None:
            return _check(name, module)
    raise ExperimentKindError(f"must be one of {available()} or an importable module that "
                              f"defines Config, plan and plots (got {name!r})")


def available() -> list[str]:
    """Names of the kinds known without importing any: built-in, installed, registered."""
    return sorted({*BUILTIN, *_entry_points(), *_REGISTERED})
