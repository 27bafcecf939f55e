"""Command line: ``hopjax run CONFIG``, ``hopjax plot RESULTS``, ``hopjax list``."""

from __future__ import annotations

import argparse
import pathlib
import sys


def _cmd_run(args) -> int:
    from hopjax.config import ConfigError, load_config

    try:
        cfg = load_config(args.config, quick=args.quick)
    except ConfigError as err:  # before any compute, nothing written
        print(f"error: {err}", file=sys.stderr)
        return 2
    from hopjax.run import run

    try:
        path, figures = run(cfg, args.out, mode="overwrite" if args.overwrite else "resume",
                            plots=not args.no_plots, progress=not args.no_progress,
                            chunk_size=args.chunk_size)
    except FileExistsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"results: {path}")
    for f in figures:
        print(f"figure: {f}")
    return 0


def _cmd_plot(args) -> int:
    from experiments import EXPERIMENTS
    from hopjax.io import load

    path = pathlib.Path(args.results)
    if path.is_dir():
        path = path / "results.nc"
    if not path.is_file():
        print(f"error: no results file at {path}", file=sys.stderr)
        return 2
    ds = load(path)
    out = pathlib.Path(args.out) if args.out else path.parent
    for f in EXPERIMENTS[ds.attrs["experiment"]].plots(ds, out):
        print(f"figure: {f}")
    return 0


def _cmd_list(args) -> int:
    from experiments import EXPERIMENTS
    from experiments.common import DYNAMICS, RULES

    print("experiments: " + ", ".join(sorted(EXPERIMENTS)))
    print("rules:       " + ", ".join(RULES))
    print("dynamics:    " + ", ".join(DYNAMICS))
    print("data:        uncorrelated, random_features")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="hopjax", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run (or resume) the sweep described by a YAML config")
    p.add_argument("config")
    p.add_argument("--out", help="output directory (default results/<name>)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", default=True,
                   help="continue an interrupted run (default)")
    g.add_argument("--overwrite", action="store_true", help="recompute from scratch")
    p.add_argument("--quick", action="store_true", help="apply the config's quick: overrides")
    p.add_argument("--chunk-size", type=int, default=None, help="grid points per compiled call")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_run)
    p = sub.add_parser("plot", help="redraw the figures of a results file")
    p.add_argument("results", help="results.nc or its directory")
    p.add_argument("--out", help="figure directory (default: next to the results)")
    p.set_defaults(func=_cmd_plot)
    p = sub.add_parser("list", help="available experiments, rules and dynamics")
    p.set_defaults(func=_cmd_list)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
