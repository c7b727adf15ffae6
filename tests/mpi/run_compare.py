"""Two training runs compared as a researcher would: the losses in metrics.h5 at every
logged step and the weights of latest.h5, and the two-stage growth experiment both the MPI
and the multi-host tests run data-parallel (shared by those tests)."""
import json
import os

import h5py
import numpy as np


def losses(run_dir):
    with h5py.File(os.path.join(run_dir, "metrics.h5")) as f:
        step, loss = f["step"][:], f["train_loss"][:]
    keep = ~np.isnan(loss)
    return dict(zip(step[keep].tolist(), loss[keep].tolist()))


def weights(run_dir):
    out = {}
    with h5py.File(os.path.join(run_dir, "latest.h5")) as f:
        f["model"].visititems(lambda name, d: out.__setitem__(name, d[()]) if isinstance(d, h5py.Dataset) else None)
    return out


def same_run(a, b, rel=0.0):
    la, lb = losses(a), losses(b)
    if la.keys() != lb.keys() or not la:
        return False, "different steps logged"
    worst = max(abs(la[s] - lb[s]) / abs(la[s]) for s in la)
    if worst > rel:
        return False, "loss differs by %.3g relative" % worst
    wa, wb = weights(a), weights(b)
    if wa.keys() != wb.keys():
        return False, "different parameters"
    if rel == 0.0 and any(not np.array_equal(wa[k], wb[k]) for k in wa):
        return False, "weights differ"
    worst_w = max(np.max(np.abs(wa[k] - wb[k])) / max(np.max(np.abs(wa[k])), 1e-30) for k in wa)
    if worst_w > 1e3 * max(rel, 1e-12):
        return False, "weights differ by %.3g relative" % worst_w
    return True, "worst loss difference %.3g relative" % worst


def write_growth_experiment(path, corpus, grad_accum):
    """A tiny two-stage token-growth experiment with its 1x frontier, deterministic_reduce on."""
    with open(path, "w") as f:
        json.dump({"data": corpus,
                   "model": {"architecture": "tokenformer", "d_model": 32, "n_layers": 2, "n_heads": 2, "seq_len": 32},
                   "train": {"batch_size": 4, "lr": 3e-3, "log_every": 1, "eval_every": 10, "eval_batches": 2,
                             "threads": 1, "deterministic_reduce": True, "grad_accum": grad_accum},
                   "seeds": [0],
                   "recipes": [{"name": "g", "stages": [
                       {"qkv_tokens": 8, "proj_tokens": 8, "ffn_tokens": 16, "tokens": 5120},
                       {"qkv_tokens": 16, "proj_tokens": 16, "ffn_tokens": 32, "tokens": 5120, "growth": {}}]}],
                   "baselines": {"frontier_budgets": [1], "stage_sizes": False, "transformer": False}}, f)
    return path
