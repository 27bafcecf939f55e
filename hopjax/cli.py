"""Command line: hopjax run CONFIG, hopjax submit CONFIG, hopjax plot RESULTS, hopjax list,
hopjax configs.

CONFIG is a YAML file or the name of a config shipped with hopjax (hopjax configs lists them).

Exit codes: 0 done (or, for a shard, its chunks stored), 1 a fault while running (a full
disk, a failed job), 2 bad input (config, flags, an --out that holds another sweep), 130
interrupted (every finished chunk stays stored: rerun the same command to resume).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys


def _error(msg) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def _positive_int(flag):
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            v = None
        if v is None or v < 1:
            raise argparse.ArgumentTypeError(f"{flag} must be an integer >= 1 (got {text!r})")
        return v
    return parse


def _shard(text):
    from hopjax.run import parse_shard

    try:
        return parse_shard(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("--shard ")) from None


def _init_distributed(args) -> None:
    """Join a multi-process JAX program (before any JAX computation)."""
    import jax

    # CPU devices of several processes talk through gloo (GPU/TPU backends have their own)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    kw = {k: v for k, v in (("coordinator_address", args.coordinator),
                            ("num_processes", args.num_processes),
                            ("process_id", args.process_id)) if v is not None}
    jax.distributed.initialize(**kw)  # without flags: SLURM / Open MPI detected by JAX


def _guarded(body) -> int:
    """Run ``body()``; turn the faults a user can act on into one line and an exit code."""
    from hopjax import registry
    from hopjax.cache import CacheError
    from hopjax.config import ConfigError
    from hopjax.datasets.mnist import DataNotInstalledError
    from hopjax.files import describe_os_error
    from hopjax.run import Interrupted

    try:
        return body()
    except ConfigError as err:  # before any compute, nothing written
        return _error(err)
    except FileExistsError as err:  # the store holds another sweep, or another writer runs
        return _error(err)
    except registry.ExperimentKindError as err:  # `hopjax plot` of an unknown kind
        return _error(f"experiment {err}")
    except Interrupted as err:
        print(err, file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except CacheError as err:  # found while planning: nothing written yet
        return _error(err)
    except DataNotInstalledError as err:
        return _error(err)
    except (PermissionError, IsADirectoryError, NotADirectoryError) as err:
        return _error(describe_os_error(err))
    except OSError as err:  # e.g. disk full: finished chunks are safe, the final file untouched
        print(f"error: {describe_os_error(err)}; finished chunks are kept: rerun the same "
              "command to resume", file=sys.stderr)
        return 1


def _check_out(out) -> None:
    """Refuse an --out that cannot hold a store, before any compute (OSError -> exit 2)."""
    if out is None:
        return
    p = pathlib.Path(out).absolute()
    while not p.exists():
        p = p.parent
    if not p.is_dir():
        raise NotADirectoryError(20, "--out must be a directory (or a path to create), but "
                                 "this is a file", str(p))
    if not os.access(p, os.W_OK | os.X_OK):
        raise PermissionError(13, "--out is not writable", str(p))


def _sweeps(cfg, out):
    """[(label, config, out)]: the one sweep of ``cfg``, or one per N of its ``sizes:``."""
    if not cfg.sizes:
        return [("", cfg, out)]
    from hopjax.finite_size import size_configs, size_dir

    return [(f"N = {n}: ", c, size_dir(cfg, out, n)) for n, c in size_configs(cfg).items()]


def _report(o, label, shard) -> None:
    if o.path is None:
        print(f"{label}shard {shard[0]}/{shard[1]}: {o.computed} chunks computed; "
              f"{o.missing} of {o.n_chunks} chunks of the sweep still missing (other "
              "shards); the one that stores the last chunk writes results.nc")
        return
    if o.reused:
        print(f"{label}already complete: {o.path} (reused, nothing computed)")
    else:
        if o.computed < o.n_chunks:
            print(f"{label}resumed: {o.n_chunks - o.computed} of {o.n_chunks} chunks were "
                  "already stored")
        print(f"{label}results: {o.path}")
    for f in o.figures:
        print(f"{label}figure: {f}")


def _size_summary(paths) -> None:
    """Every size done: the load where half the patterns are fixed points per N and its
    N → ∞ fit, for results that have a stable fraction against α."""
    from hopjax import finite_size
    from hopjax.io import load

    with load(next(iter(paths.values()))) as ds:
        if "stable_fraction" not in ds or "alpha" not in ds["stable_fraction"].dims:
            return
    try:
        s = finite_size.summary(paths)
    except ValueError:  # other dims than seed and α: the notebook's job to select
        return
    print("load where half the patterns are fixed points (mean ± s.e. over seeds):")
    def pm(v, e):
        return f"{v:.3f}" + (f" ± {e:.3f}" if e == e else "")  # no ± without an error (NaN)

    for n, v, e, k in zip(s["N"], s["value"], s["err"], s["seeds"]):
        print(f"  N = {n}: {pm(v, e)} ({k} seed{'' if k == 1 else 's'} crossed 1/2)")
    if (fit := s["fit"]) is not None:
        print(f"  fit α(N) = α(∞) + b/N: α(∞) = {pm(fit['alpha_inf'], fit['alpha_inf_err'])}, "
              f"b = {fit['slope']:.3g}")


def _cmd_run(args) -> int:
    from hopjax.config import load_config

    def body():
        cfg = load_config(args.config, quick=args.quick)
        _check_out(args.out)
        if args.distributed:
            _init_distributed(args)
        from hopjax.run import run_sweep

        sweeps, paths = _sweeps(cfg, args.out), {}
        for label, c, out in sweeps:
            o = run_sweep(c, out, mode="overwrite" if args.overwrite else "resume",
                          plots=not args.no_plots, progress=not args.no_progress,
                          chunk_size=args.chunk_size, shard=args.shard)
            _report(o, label, args.shard)
            if o.path is not None:
                paths[c.N] = o.path
        if cfg.sizes and len(paths) == len(sweeps):
            _size_summary(paths)
        return 0

    return _guarded(body)


_CLUSTER_FLAGS = ("executor", "partition", "account", "qos", "time_min", "cpus_per_task",
                  "gpus_per_task", "mem_gb")


def _cmd_submit(args) -> int:
    from hopjax.config import _read_yaml, load_config

    def body():
        cfg = load_config(args.config, quick=args.quick)
        _check_out(args.out)
        from hopjax.cluster import cluster_from_raw, submit

        from hopjax.shipped_configs import resolve

        raw = _read_yaml(resolve(args.config))
        section = raw.get("cluster") if isinstance(raw, dict) else None
        cluster = cluster_from_raw(section, {k: getattr(args, k) for k in _CLUSTER_FLAGS},
                                   source=str(args.config))
        codes = [submit(c, cluster, out, args.workers, chunk_size=args.chunk_size,
                        wait=not args.no_wait, progress=not args.no_progress)
                 for _, c, out in _sweeps(cfg, args.out)]
        return max(codes)

    return _guarded(body)


def _cmd_plot(args) -> int:
    from hopjax import registry
    from hopjax.io import load

    path = pathlib.Path(args.results)
    if path.is_dir():
        path = path / "results.nc"
    if not path.is_file():
        return _error(f"no results file at {path}")

    def body():
        ds = load(path)
        out = pathlib.Path(args.out) if args.out else path.parent
        kind = registry.get(ds.attrs["experiment"], near=ds.attrs.get("experiment_file") or None)
        for f in kind.plots(ds, out):
            print(f"figure: {f}")
        return 0

    return _guarded(body)


# The learning rules of hopjax.rules and where a config names them.
_RULES = (("hebb", "Hebb (1/N)", "retrieval, capacity: rule"),
          ("pseudo_inverse", "pseudo-inverse (projector)", "retrieval, capacity: rule"),
          ("dreaming_kernel", "dreaming kernel J(t), Fachechi et al. 2019", "Python API"),
          ("unlearning", "Hopfield-Feinstein-Palmer unlearning", "Python API"),
          ("daydreaming", "Daydreaming, Serricchio et al. 2025",
           "daydreaming, prototypes: training"),
          ("centred_hebb", "centred Hebb for biased patterns", "retrieval, capacity: rule"),
          ("centred_pseudo_inverse", "centred pseudo-inverse", "retrieval, capacity: rule"),
          ("centred_daydreaming", "centred Daydreaming (Doi et al. 2026)",
           "daydreaming: training.centred"))


def _cmd_list(args) -> int:
    from hopjax import registry
    from hopjax.experiments.common import DYNAMICS

    print("experiments: " + ", ".join(registry.available()))
    print("rules:")
    for name, what, where in _RULES:
        print(f"  {name:<23} {what}  [{where}]")
    print("dynamics:    " + ", ".join(DYNAMICS))
    print("data:        uncorrelated, random_features, mnist")
    print("configs (hopjax run NAME; hopjax configs NAME copies one):")
    _print_configs()
    return 0


def _print_configs() -> None:
    from hopjax import shipped_configs

    for name in shipped_configs.names():
        text = shipped_configs.summary(name)
        print(f"  {name:<22} {text if len(text) <= 72 else text[:71] + '…'}")


def _cmd_configs(args) -> int:
    from hopjax import shipped_configs

    if not args.names:
        print(f"shipped configs (in {shipped_configs.config_dir()}):")
        _print_configs()
        print("hopjax configs NAME [NAME ...] [--to DIR] copies them; hopjax run NAME runs one")
        return 0
    if len(args.names) > 1 and pathlib.Path(args.to).suffix in (".yaml", ".yml"):
        return _error("--to must be a directory when copying several configs")
    unknown = [n for n in args.names if shipped_configs.shipped(n) is None]
    if unknown:
        return _error(f"no shipped config named {', '.join(map(repr, unknown))}; shipped: "
                      f"{', '.join(shipped_configs.names())}")
    try:
        for n in args.names:
            print(f"copied: {shipped_configs.copy(n, args.to, force=args.force)}")
    except FileExistsError as err:
        return _error(f"{err.filename} exists; will not overwrite (use --force)")
    return 0


def _common_run_args(p) -> None:
    p.add_argument("config", help="YAML config file, or the name of a shipped config "
                                  "(hopjax configs lists them)")
    p.add_argument("--out", help="output directory (default results/<name>)")
    p.add_argument("--quick", action="store_true", help="apply the config's quick: overrides")
    p.add_argument("--chunk-size", type=_positive_int("--chunk-size"), default=None,
                   help="grid points per chunk (stored and compiled call); default: the "
                        "config's chunk_size, else the largest that fits memory_budget_mb")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="hopjax", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    from hopjax import __version__

    parser.add_argument("--version", action="version", version=f"hopjax {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run (or resume) the sweep described by a YAML config")
    _common_run_args(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", default=True,
                   help="continue an interrupted run (default)")
    g.add_argument("--overwrite", action="store_true", help="recompute from scratch")
    p.add_argument("--shard", type=_shard, default=None, metavar="I/N",
                   help="compute only shard I of N (a fixed share of the chunks) into the shared "
                        "store; results.nc is written once every shard's chunks are in")
    p.add_argument("--no-plots", action="store_true", help="do not draw figures")
    d = p.add_argument_group("one program over several processes (jax.distributed)")
    d.add_argument("--distributed", action="store_true",
                   help="call jax.distributed.initialize() first (SLURM/Open MPI detected, or "
                        "the flags below); process 0 alone writes the store")
    d.add_argument("--coordinator", help="HOST:PORT of process 0")
    d.add_argument("--num-processes", type=_positive_int("--num-processes"))
    d.add_argument("--process-id", type=int)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("submit", help="run a sweep as a job array of shards (submitit: SLURM "
                                      "or local processes)")
    _common_run_args(p)
    p.add_argument("--workers", type=_positive_int("--workers"), required=True,
                   help="number of shards (jobs)")
    p.add_argument("--no-wait", action="store_true",
                   help="return once submitted; the last shard writes results.nc")
    c = p.add_argument_group("job options (override the config's cluster: section)")
    c.add_argument("--executor", choices=["auto", "slurm", "local"])
    c.add_argument("--partition")
    c.add_argument("--account")
    c.add_argument("--qos")
    c.add_argument("--time-min", type=_positive_int("--time-min"), help="minutes per job")
    c.add_argument("--cpus-per-task", type=_positive_int("--cpus-per-task"))
    c.add_argument("--gpus-per-task", type=int)
    c.add_argument("--mem-gb", type=float)
    p.set_defaults(func=_cmd_submit)

    p = sub.add_parser("plot", help="redraw the figures of a results file")
    p.add_argument("results", help="results.nc or its directory")
    p.add_argument("--out", help="figure directory (default: next to the results)")
    p.set_defaults(func=_cmd_plot)
    p = sub.add_parser("list", help="available experiments, rules, dynamics and shipped configs")
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("configs", help="list the shipped configs, or copy some to edit")
    p.add_argument("names", nargs="*", metavar="NAME", help="configs to copy (default: list)")
    p.add_argument("--to", default=".", help="destination folder (default: the current one)")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(func=_cmd_configs)
    args = parser.parse_args(argv)
    if getattr(args, "process_id", None) is not None and args.process_id < 0:
        parser.error(f"--process-id must be >= 0 (got {args.process_id})")
    if getattr(args, "shard", None) is not None and args.overwrite:
        parser.error("--overwrite cannot be combined with --shard (each shard would wipe the "
                     "others' chunks): start the sweep afresh in a new --out")
    try:
        return args.func(args)
    except BrokenPipeError:  # `hopjax list | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
