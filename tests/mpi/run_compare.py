"""Two training runs compared as a researcher would: the losses in metrics.h5 at every
logged step and the weights of latest.h5 (shared by the MPI and multi-host tests)."""
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
