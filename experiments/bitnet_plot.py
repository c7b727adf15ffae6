#!/usr/bin/env python3
"""Figure of configs/bitnet-small.json: final validation loss by model and weight format.

Usage: /usr/bin/python3 experiments/bitnet_plot.py runs/bitnet-small/summary.csv docs/bitnet-small.png
Bars: mean over seeds; error bars: the seeds' min and max.
"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

GROUPS = [("TokenFormer 49k\n(16/16/64 tokens)", "scaling-tf_small_{w}-1x"),
          ("TokenFormer 148k\n(64/64/256 tokens)", "scaling-tf_large_{w}-1x"),
          ("TokenFormer grown\n16 -> 64 tokens at 25%", "grow-{w}-at0.25"),
          ("Transformer 66k\n(MLP 64)", "scaling-tr_small_{w}-1x"),
          ("Transformer 115k\n(MLP 256)", "scaling-tr_large_{w}-1x")]
FORMATS = ["float", "ternary", "binary"]


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: bitnet_plot.py SUMMARY.csv OUT.png")
    losses = defaultdict(list)
    with open(sys.argv[1], newline="") as f:
        for row in csv.DictReader(f):
            losses[row["name"].rsplit("-seed", 1)[0]].append(float(row["final_val_loss"]))
    fig, ax = plt.subplots(figsize=(9, 4.2))
    width = 0.26
    for i, w in enumerate(FORMATS):
        xs, means, lo, hi = [], [], [], []
        for g, (_, pattern) in enumerate(GROUPS):
            values = losses.get(pattern.format(w=w))
            if not values:
                sys.exit(f"{sys.argv[1]}: no runs named {pattern.format(w=w)}-seed*")
            m = sum(values) / len(values)
            xs.append(g + (i - 1) * width)
            means.append(m)
            lo.append(m - min(values))
            hi.append(max(values) - m)
        ax.bar(xs, means, width, yerr=[lo, hi], capsize=3, label=w)
    ax.set_xticks(range(len(GROUPS)))
    ax.set_xticklabels([g[0] for g in GROUPS], fontsize=8)
    ax.set_ylim(1.6, 2.35)
    ax.set_ylabel("final val loss (nats/byte)")
    ax.set_title("BitNet weights at 2e12 FLOPs per run (data/english.h5, 2 seeds: min-max)")
    ax.legend(title="weights", loc="upper right", ncol=3)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
