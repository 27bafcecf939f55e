"""Tables of the ``prototypes`` experiment (MNIST classification by the ten class
prototypes; Serricchio et al., Neural Networks 186, 107216 (2025)), as markdown.

Pure functions of the stored dataset (dims ``model``, ``seed``, inner dims ``beta``,
``test`` and ``epoch``; variables ``pred`` (labels, −1 spurious) and the Daydreaming curves
``curve_accuracy``, ``curve_spurious``, ``curve_fixed``): `tables` scores every model and
seed against the MNIST test labels, `summary_markdown`, `digit_markdown` and
`curve_markdown` print them (mean ± std over seeds, `mean_std`), and `classification_markdown`
is the whole ``classification.md`` report.
"""

from __future__ import annotations

import numpy as np

__all__ = ["N_CLASSES", "classification_markdown", "curve_markdown", "digit_markdown",
           "mean_std", "settings_text", "summary_markdown", "tables"]

N_CLASSES = 10  # = hopjax.datasets.mnist.N_CLASSES, not imported here: that module loads JAX


def tables(ds, labels=None) -> dict[str, list]:
    """Per row (model, or 'modern β=…' per β) the
    `hopjax.datasets.mnist.ClassificationTable` of every seed. ``labels``: the true labels
    of the ``test`` images (default: the first of the MNIST test set)."""
    from hopjax.datasets import mnist

    if labels is None:
        labels = mnist.load("test")[1][: ds.sizes["test"]]
    out = {}
    for model in ds["model"].values.tolist():
        betas = ds["beta"].values if model == "modern" else ds["beta"].values[:1]
        for b, beta in enumerate(betas):
            row = f"modern β={beta:g}" if model == "modern" else model
            out[row] = [mnist.classification_table(ds["pred"].sel(model=model)
                                                   .isel(seed=s, beta=b).values, labels)
                        for s in range(ds.sizes["seed"])]
    return out


def mean_std(values, decimals: int = 1) -> str:
    """'mean ± std' of ``values`` (population std) with ``decimals`` decimals."""
    v = np.asarray(values, float)
    return f"{v.mean():.{decimals}f} ± {v.std():.{decimals}f}"


def summary_markdown(tabs) -> str:
    """One line per model: accuracy, % wrong, % spurious (mean ± std over seeds) and the
    per-digit % correct. ``tabs``: as from `tables`."""
    lines = ["| model | accuracy % | wrong % | spurious % | " +
             " | ".join(f"{d}" for d in range(N_CLASSES)) + " |",
             "|---" * (4 + N_CLASSES) + "|"]
    for row, ts in tabs.items():
        digits = [mean_std([t.correct[d] for t in ts]) for d in range(N_CLASSES)]
        lines.append(f"| {row} | {mean_std([t.accuracy for t in ts])} | "
                     f"{mean_std([t.wrong_total for t in ts])} | "
                     f"{mean_std([t.spurious_total for t in ts])} | " + " | ".join(digits) + " |")
    return "\n".join(lines)


def digit_markdown(ts) -> str:
    """Per-digit table of one model (``ts``: its tables, one per seed), mean ± std over
    seeds; most common wrong digit by the seeds' majority."""
    lines = ["| digit | n | correct % | wrong % | most common wrong | spurious % |",
             "|---|---|---|---|---|---|"]
    for d in range(N_CLASSES):
        mcw = np.bincount([t.most_common_wrong[d] + 1 for t in ts]).argmax() - 1
        lines.append(f"| {d} | {ts[0].n[d]} | {mean_std([t.correct[d] for t in ts])} | "
                     f"{mean_std([t.wrong[d] for t in ts])} | {mcw if mcw >= 0 else '–'} | "
                     f"{mean_std([t.spurious[d] for t in ts])} |")
    lines.append(f"| all | {int(ts[0].n.sum())} | {mean_std([t.accuracy for t in ts])} | "
                 f"{mean_std([t.wrong_total for t in ts])} | | "
                 f"{mean_std([t.spurious_total for t in ts])} |")
    return "\n".join(lines)


def curve_markdown(ds) -> str:
    """Daydreaming convergence record, mean ± std over seeds."""
    d = ds.sel(model="daydreaming")
    lines = ["| epoch | accuracy % | spurious % | prototypes fixed |", "|---|---|---|---|"]
    for i, e in enumerate(ds["epoch"].values):
        lines.append(f"| {e} | {mean_std(d['curve_accuracy'].isel(epoch=i).values)} | "
                     f"{mean_std(d['curve_spurious'].isel(epoch=i).values)} | "
                     f"{mean_std(d['curve_fixed'].isel(epoch=i).values, 2)} |")
    return "\n".join(lines)


def settings_text(cfg) -> str:
    """One line on the settings of a run from its config dict ('' without one)."""
    if not isinstance(cfg, dict):
        return ""
    t, d = cfg["training"], cfg["data"]
    return (f"Settings: N = {cfg['N']} (crop {d['crop']}, deskew {d['deskew']}); Daydreaming "
            f"τ = {t['tau']:g}, J_max = {t['j_max']}, init {t['init']}, {t['epochs']} epochs "
            f"of 10 steps; modern β = {cfg['modern']['beta']}; dynamics "
            f"{cfg['dynamics']['mode']} (T = 0), at most {cfg['dynamics']['max_sweeps']} sweeps.")


def classification_markdown(ds, tabs=None) -> str:
    """The ``classification.md`` report: the summary, every row's per-digit table, the
    Daydreaming convergence record (when Daydreaming ran) and the settings (from
    ``ds.attrs["config"]``). ``tabs``: as from `tables` (computed if not given)."""
    tabs = tables(ds) if tabs is None else tabs
    parts = ["# MNIST prototype classification", "",
             f"{ds.sizes['test']} test images, {ds.sizes['seed']} seeds (mean ± std).", "",
             summary_markdown(tabs)]
    for row, ts in tabs.items():
        parts += ["", f"## {row}", "", digit_markdown(ts)]
    if "daydreaming" in ds["model"].values.tolist():
        parts += ["", "## Daydreaming convergence", "", curve_markdown(ds)]
    return "\n".join(parts + ["", settings_text(ds.attrs.get("config"))]) + "\n"
