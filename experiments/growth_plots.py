"""Reading tokengrow's experiment.h5 and drawing grown-vs-scratch curves.

Shared by experiments/plot.py (PNG from the command line) and
notebooks/growth_analysis.ipynb. Needs Debian's python3-h5py and python3-matplotlib.
"""
import csv
import math
import os

import h5py
import numpy as np

COLORS = {"frontier": "#555555", "stage_size": "#999999", "transformer": "#b07aa1"}
RECIPE_COLORS = ["#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#76b7b2", "#edc948", "#ff9da7"]


def load_experiment(path):
    """Returns a list of runs: dicts with name, kind, recipe, seed, budget, attrs,
    the validation curve (step, tokens, flops, val_loss) and growth events."""
    runs = []
    with h5py.File(path, "r") as f:
        for name, group in f["runs"].items():
            metrics = {k: group["metrics"][k][:] for k in group["metrics"]}
            has_val = ~np.isnan(metrics["val_loss"])
            events = {k: group["growth_events"][k][:] for k in group["growth_events"]}
            attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in group.attrs.items()}
            runs.append({
                "name": name,
                "kind": attrs["kind"],
                "recipe": attrs.get("recipe", ""),
                "seed": int(attrs["seed"]),
                "budget": float(attrs.get("budget", 0.0)),
                "attrs": attrs,
                "flops": metrics["flops"][has_val],
                "tokens": metrics["tokens"][has_val],
                "step": metrics["step"][has_val],
                "val_loss": metrics["val_loss"][has_val],
                "growth": events,
            })
    return runs


def load_summary(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def plot_curves(runs, axes=None):
    """Validation loss against cumulative training FLOPs and against tokens: every
    recipe (one line per seed) against the from-scratch frontier and baselines;
    growth points marked with circles."""
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(14, 5.5))
    else:
        fig = axes[0].figure
    recipes = sorted({r["recipe"] for r in runs if r["kind"] == "recipe"})
    color_of = {name: RECIPE_COLORS[i % len(RECIPE_COLORS)] for i, name in enumerate(recipes)}
    labelled = set()
    kind_order = {"frontier": 0, "recipe": 1, "stage_size": 2, "transformer": 3}
    curves = [r for r in runs if r["kind"] in kind_order]  # the scaling sweep: plot_scaling
    for run in sorted(curves, key=lambda r: (kind_order[r["kind"]], r.get("budget") or 0, r["name"])):
        if run["kind"] == "recipe":
            color, label, style, width = color_of[run["recipe"]], run["recipe"], "-", 1.8
        elif run["kind"] == "frontier":
            color, label, style, width = COLORS["frontier"], "scratch %gx" % run["budget"], "--", 1.0
        elif run["kind"] == "stage_size":
            color, label, style, width = COLORS["stage_size"], "scratch, smaller size", ":", 1.0
        else:
            color, label, style, width = COLORS["transformer"], "Transformer (matched params)", "-.", 1.2
        key = (label, run["kind"])
        for ax, x in zip(axes, ("flops", "tokens")):
            ax.plot(run[x], run["val_loss"], style, color=color, lw=width,
                    label=label if key not in labelled else None, alpha=0.9)
            if run["kind"] == "recipe" and len(run["growth"].get("flops", [])):
                gx = run["growth"]["flops" if x == "flops" else "tokens"]
                ax.plot(gx, run["growth"]["loss_before"], "o", color=color, ms=5, mfc="white")
                ax.plot(gx, run["growth"]["loss_after"], "o", color=color, ms=5)
        labelled.add(key)
    for ax, x in zip(axes, ("FLOPs (cumulative, training)", "tokens")):
        ax.set_xscale("log")
        ax.set_xlabel(x)
        ax.set_ylabel("validation loss (nats/token)")
        ax.grid(alpha=0.3, which="both")
    finals = [r["val_loss"][-1] for r in curves if len(r["val_loss"])]
    if finals:
        lo, hi = min(finals) - 0.05, min(finals) + 0.8
        for ax, x in zip(axes, ("flops", "tokens")):
            ax.set_ylim(lo, hi)
            # A growth that raises the loss above the axis (dynamic tau) is marked at the
            # top edge with its value, so the jump stays visible without squashing the curves.
            off_axis = {}
            for run in runs:
                g = run.get("growth", {})
                for gx, after in zip(g.get("flops" if x == "flops" else "tokens", []), g.get("loss_after", [])):
                    if after > hi:
                        ax.plot(gx, hi, "^", color=color_of.get(run.get("recipe"), "k"), ms=6, clip_on=False)
                        off_axis.setdefault(run["recipe"], []).append("%.2f" % after)
            if off_axis and x == "flops":
                ax.text(0.98, 0.97, "loss just after growth (^):\n" +
                        "\n".join("%s: %s" % (k, ", ".join(v)) for k, v in sorted(off_axis.items())),
                        transform=ax.transAxes, ha="right", va="top", fontsize=8,
                        bbox=dict(boxstyle="round", fc="white", alpha=0.8))
    axes[0].set_title("validation loss vs compute (o: before / after growth; ^: after, off the axis)")
    axes[1].set_title("validation loss vs tokens")
    axes[1].legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def recipe_table(summary_rows):
    """Markdown table: per recipe, mean and std over seeds of final loss and compute saved."""
    def stats(values):
        values = [float(v) for v in values if v not in ("", "nan") and math.isfinite(float(v))]
        if not values:
            return "n/a"
        mean = sum(values) / len(values)
        std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0
        return mean, std

    lines = ["| recipe | seeds | final val loss | saved vs frontier (incl. base) | excl. base | conservative (incl. base) |",
             "|---|---|---|---|---|---|"]
    recipes = []
    for row in summary_rows:
        if row["kind"] == "recipe" and row["recipe"] not in recipes:
            recipes.append(row["recipe"])
    for recipe in recipes:
        rows = [r for r in summary_rows if r["kind"] == "recipe" and r["recipe"] == recipe]
        cells = []
        for column, percent in (("final_val_loss", False), ("compute_saved", True),
                                ("compute_saved_without_base", True), ("compute_saved_conservative", True)):
            s = stats([r[column] for r in rows])
            if s == "n/a":
                cells.append(s)
            elif percent:
                cells.append("%+.1f%% ± %.1f" % (100 * s[0], 100 * s[1]))
            else:
                cells.append("%.4f ± %.4f" % s)
        lines.append("| %s | %d | %s |" % (recipe, len(rows), " | ".join(cells)))
    return "\n".join(lines)


def load_scaling(path):
    """The scaling sweep of experiment.h5 (/scaling), or None without one: the IsoFLOP
    table (one entry per budget and size: the best LR's loss, mean over seeds), the
    envelope and the fitted law L(C) = E + A C^-alpha."""
    import json
    with h5py.File(path, "r") as f:
        if "scaling" not in f:
            return None
        g = f["scaling"]
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in g.attrs.items()}
        table = {k: g["isoflop"][k][:] for k in g["isoflop"]}
        envelope = {k: g["envelope"][k][:] for k in g["envelope"]}
    return {"budgets": json.loads(attrs["budgets"]), "sizes": json.loads(attrs["sizes"]), "table": table,
            "envelope": envelope, "law": {k: float(attrs[k]) for k in ("law_E", "law_A", "law_alpha")},
            "law_ok": bool(attrs.get("law_ok", 1))}


def plot_scaling(scaling, runs, axes=None):
    """Left: IsoFLOP curves (final loss against parameters, one curve per budget, its
    best size marked). Right: the envelope (best loss per budget) with its fitted law,
    and every grown run's final loss at its FLOPs (one point per seed)."""
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(14, 5.5))
    else:
        fig = axes[0].figure
    t = scaling["table"]
    cmap = plt.get_cmap("viridis")
    order = sorted(set(t["budget_index"].astype(int)), key=lambda b: np.mean(t["flops"][t["budget_index"] == b]))
    for i, b in enumerate(order):
        sel = t["budget_index"] == b
        n, loss = t["n_params"][sel], t["loss"][sel]
        k = np.argsort(n)
        color = cmap(i / max(1, len(order) - 1))
        axes[0].plot(n[k], loss[k], "o-", color=color, ms=4,
                     label="%s (%.2g FLOPs)" % (scaling["budgets"][b], np.mean(t["flops"][sel])))
        best = np.argmin(loss)
        axes[0].plot(n[best], loss[best], "*", color=color, ms=14, mec="black")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("parameters")
    axes[0].set_ylabel("final validation loss (nats/token)")
    axes[0].set_title("IsoFLOP curves: from scratch, one curve per budget (*: best size)")
    axes[0].legend(fontsize=8)
    env = scaling["envelope"]
    axes[1].plot(env["flops"], env["loss"], "s", color="black", label="envelope (best scratch size per budget)")
    law = scaling["law"]
    if scaling["law_ok"] and all(math.isfinite(v) for v in law.values()):
        c = np.geomspace(min(env["flops"]) / 2, max(env["flops"]) * 2, 100)
        axes[1].plot(c, law["law_E"] + law["law_A"] * c ** -law["law_alpha"], "--", color="black",
                     label="L(C) = %.3f + %.3g C^-%.3f" % (law["law_E"], law["law_A"], law["law_alpha"]))
    recipes = sorted({r["recipe"] for r in runs if r["kind"] == "recipe"})
    for i, name in enumerate(recipes):
        pts = [(r["attrs"]["total_flops"], r["attrs"]["final_val_loss"]) for r in runs
               if r["kind"] == "recipe" and r["recipe"] == name]
        axes[1].plot([p[0] for p in pts], [p[1] for p in pts], "o", color=RECIPE_COLORS[i % len(RECIPE_COLORS)],
                     label="grown: " + name, ms=6, alpha=0.85)
    axes[1].set_xscale("log")
    axes[1].set_xlabel("training FLOPs")
    axes[1].set_ylabel("final validation loss (nats/token)")
    axes[1].set_title("growth against the compute-optimal envelope")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def experiment_paths(run_dir):
    return os.path.join(run_dir, "experiment.h5"), os.path.join(run_dir, "summary.csv")
