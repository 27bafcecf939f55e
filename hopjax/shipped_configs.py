"""The configs that ship with hopjax: found by name (``hopjax run quickstart``), listed and
copied (``hopjax configs``).

In a wheel they are package data under ``hopjax/configs``; in a checkout (also an editable
install) they are the repository's top-level ``configs/`` folder.
"""

from __future__ import annotations

import pathlib
import shutil

_HERE = pathlib.Path(__file__).resolve().parent


def config_dir() -> pathlib.Path:
    """Folder holding the shipped ``*.yaml`` configs."""
    installed = _HERE / "configs"
    return installed if installed.is_dir() else _HERE.parent / "configs"


def names() -> list[str]:
    """Names of the shipped configs (file stems), sorted."""
    return sorted(p.stem for p in config_dir().glob("*.yaml"))


def summary(name: str) -> str:
    """The first line of a shipped config's leading comment ('' if it has none)."""
    for line in (config_dir() / f"{name}.yaml").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("#"):
            return line.lstrip("#").strip()
        if line:
            return ""
    return ""


def shipped(name: str) -> pathlib.Path | None:
    """The shipped config called ``name`` (with or without ``.yaml``), else None."""
    stem = name.removesuffix(".yaml").removesuffix(".yml")
    if not stem or "/" in stem or "\\" in stem or stem not in names():
        return None
    return config_dir() / f"{stem}.yaml"


def resolve(spec) -> pathlib.Path:
    """A config argument as a path: an existing file wins; else a shipped config's name; else
    the path unchanged (the loader reports it missing, naming the shipped ones)."""
    path = pathlib.Path(spec)
    if path.exists():
        return path
    return shipped(str(spec)) or path


def copy(name: str, dest=".", *, force: bool = False) -> pathlib.Path:
    """Copy shipped config ``name`` into folder ``dest`` (or to the file path ``dest``).

    Raises ``KeyError`` for an unknown name and ``FileExistsError`` rather than overwrite,
    unless ``force``."""
    src = shipped(name)
    if src is None:
        raise KeyError(f"no shipped config named {name!r}; shipped: {', '.join(names())}")
    dest = pathlib.Path(dest)
    target = dest / src.name if dest.is_dir() else dest
    if target.exists() and not force:
        raise FileExistsError(17, "will not overwrite (use --force)", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, target)
    return target
