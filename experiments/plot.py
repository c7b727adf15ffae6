#!/usr/bin/python3
"""experiments/plot.py runs/E: writes runs/E/growth.png (validation loss against
FLOPs and tokens, every recipe against the scratch frontier, growth points marked),
and for an experiment with a scaling sweep runs/E/scaling.png (IsoFLOP curves; the
envelope with its fitted law and the grown runs), and prints the recipe table. Run
with Debian's /usr/bin/python3."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import matplotlib  # noqa: E402

matplotlib.use("Agg")
from growth_plots import (experiment_paths, load_experiment, load_scaling, load_summary, plot_curves,  # noqa: E402
                          plot_scaling, recipe_table)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run_dir", help="experiment directory (holds experiment.h5 and summary.csv)")
    parser.add_argument("--out", help="PNG path (default: RUN_DIR/growth.png)")
    args = parser.parse_args()
    h5_path, csv_path = experiment_paths(args.run_dir)
    for path in (h5_path, csv_path):
        if not os.path.exists(path):
            sys.exit("error: %s: missing (run `tokengrow experiment` into %s first)" % (path, args.run_dir))
    runs = load_experiment(h5_path)
    if not runs:
        sys.exit("error: %s: no finished runs yet" % h5_path)
    fig = plot_curves(runs)
    out = args.out or os.path.join(args.run_dir, "growth.png")
    fig.savefig(out, dpi=110)
    print("wrote %s" % out)
    scaling = load_scaling(h5_path)
    if scaling is not None and len(scaling["table"]["loss"]):
        out = os.path.join(os.path.dirname(out), "scaling.png")
        plot_scaling(scaling, runs).savefig(out, dpi=110)
        print("wrote %s" % out)
    print(recipe_table(load_summary(csv_path)))


if __name__ == "__main__":
    main()
