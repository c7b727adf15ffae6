#!/usr/bin/python3
"""Data-parallel training under mpirun, end to end (ctest: mpi_data_parallel).

usage: test_data_parallel.py TOKENGROW FAULT_INJECTION_BINARY WORK_DIR

Each check trains tiny models as real processes and compares metrics.h5 and the final
checkpoint's weights with h5py:
  - N ranks = 1 process with grad_accum N, every step, to the bit (N = 2 and 3 with
    train.deterministic_reduce; N = 2 with MPI_Allreduce too), and within 1e-6 for N = 3
    with MPI_Allreduce;
  - a job whose rank 0 is killed (SIGKILL, at its second checkpoint) exits non-zero and
    resumes under N = 2 to the bits of the uninterrupted run; resumed as one process with
    grad_accum 2 it continues exactly too;
  - rank 1 killed from outside ends the job within 30 s, naming the rank, no process left;
  - an experiment under 2 ranks equals the same experiment in one process with grad_accum 2;
  - ranks started with different configs refuse, naming the key;
  - ranks given different --out refuse, naming both directories (rank 1's was ignored);
  - an error every rank prints is one line per rank, never "error: error: ..." (each rank's
    prefix and text were separate writes, which mpirun interleaved).
"""
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

from run_compare import same_run, write_growth_experiment

TOKENGROW, FAULTY, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1",
           OMPI_MCA_rmaps_base_oversubscribe="1",
           # Open MPI's own allocations are not freed at exit; the sanitizer build checks ours elsewhere.
           ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0",
           # Open MPI patches malloc entry points, which collides with the sanitizer's (open-mpi/ompi#13069).
           OMPI_MCA_memory="^patcher")
failures = []


def check(ok, what):
    print(("ok:     " if ok else "FAILED: ") + what, flush=True)
    if not ok:
        failures.append(what)


def run(cmd, env=ENV, timeout=300):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def mpirun(n, *args, binary=TOKENGROW, extra_env=()):
    env = dict(ENV, **dict(extra_env))
    return run(["mpirun", "-np", str(n), "--oversubscribe", binary, *args], env=env)


def config(name, steps=12, **train):
    t = {"steps": steps, "batch_size": 4, "lr": 3e-3, "log_every": 1, "eval_every": 6, "eval_batches": 2,
         "threads": 1, "replica_check_every": 3}
    t.update(train)
    import json
    path = os.path.join(WORK, name + ".json")
    with open(path, "w") as f:
        json.dump({"data": CORPUS, "model": {"architecture": "tokenformer", "d_model": 32, "n_layers": 2, "n_heads": 2,
                                            "seq_len": 32, "qkv_tokens": 8, "proj_tokens": 8, "ffn_tokens": 16},
                   "train": t}, f)
    return path


def fresh(name):
    path = os.path.join(WORK, name)
    shutil.rmtree(path, ignore_errors=True)
    return path


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
rng = np.random.default_rng(0)
words = ["growth", "token", "the", "of", "model", "layer", "and", "data", "rank", "step", "grad"]
with open(os.path.join(WORK, "text.txt"), "w") as f:
    f.write(" ".join(rng.choice(words, 40000)))
CORPUS = os.path.join(WORK, "text.h5")
rc, out = run([TOKENGROW, "prepare", "--text", os.path.join(WORK, "text.txt"), "--out", CORPUS])
check(rc == 0, "prepare a corpus" + ("" if rc == 0 else ": " + out))

# N ranks x grad_accum 1 against 1 process x grad_accum N.
for n, deterministic, rel in [(2, True, 0.0), (2, False, 0.0), (3, True, 0.0), (3, False, 1e-6)]:
    tag = "n%d-%s" % (n, "det" if deterministic else "allreduce")
    one = fresh("one-" + tag)
    rc1, out1 = run([TOKENGROW, "train", "--config", config("accum%d" % n, grad_accum=n,
                                                             deterministic_reduce=deterministic), "--out", one])
    ranks = fresh("ranks-" + tag)
    rcn, outn = mpirun(n, "train", "--config", config("ranks", deterministic_reduce=deterministic), "--out", ranks)
    if rc1 or rcn:
        check(False, tag + ": runs failed:\n" + out1[-2000:] + outn[-2000:])
        continue
    ok, why = same_run(one, ranks, rel)
    check(ok, "%d ranks = 1 process with grad_accum %d (%s, %s): %s" %
          (n, n, "deterministic_reduce" if deterministic else "MPI_Allreduce", "bit-exact" if rel == 0 else
           "within %g" % rel, why))
    check("micro-batches x %d ranks" % n in outn, tag + ": the model line names the ranks")

# Rank 0 killed at its second checkpoint (every 6 steps: at step 12 of 18), then resumed.
whole = fresh("whole")
rc, out = mpirun(2, "train", "--config", config("long", steps=18), "--out", whole)
check(rc == 0, "uninterrupted 2-rank run" + ("" if rc == 0 else ": " + out[-2000:]))
killed = fresh("killed")
start = time.time()
rc, out = mpirun(2, "train", "--config", config("long", steps=18), "--out", killed, binary=FAULTY,
                 extra_env={"TOKENGROW_CRASH_AT": "checkpoint.model_written:3"})
check(rc != 0, "a rank killed at a checkpoint ends the job non-zero (%d, %.1f s)" % (rc, time.time() - start))
rc, out = mpirun(2, "train", "--resume", killed)
ok, why = same_run(whole, killed) if rc == 0 else (False, out[-2000:])
check(ok, "resumed under 2 ranks: bit-exact to the uninterrupted run: " + why)
killed1 = fresh("killed-then-alone")
rc, out = mpirun(2, "train", "--config", config("long", steps=18), "--out", killed1, binary=FAULTY,
                 extra_env={"TOKENGROW_CRASH_AT": "checkpoint.model_written:3"})
with h5py.File(os.path.join(killed1, "latest.h5")) as f:
    at = int(f["state/step"][0])
check(rc != 0 and at == 6, "the second kill also stopped the job at its step-12 checkpoint (latest at step %d)" % at)
rc, out = run([TOKENGROW, "train", "--config", config("long-accum2", steps=18, grad_accum=2), "--resume", killed1])
ok, why = same_run(whole, killed1) if rc == 0 else (False, out[-2000:])
check(ok, "a 2-rank run resumed as 1 process with grad_accum 2 continues exactly: " + why)
check("the same 2 micro-batches per step" in out, "the resume says the global batch is unchanged")

# Rank 1 killed from outside while the job trains.
endless = fresh("endless")
job = subprocess.Popen(["mpirun", "-np", "2", "--oversubscribe", TOKENGROW, "train", "--config",
                        config("endless", steps=10 ** 7, eval_every=0, checkpoint_every=10 ** 6), "--out", endless],
                       env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def rank_pids(rank):
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
            with open("/proc/%s/environ" % pid, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if endless.encode() in cmd and b"mpirun" not in cmd and ("OMPI_COMM_WORLD_RANK=%d" % rank).encode() in env:
            pids.append(int(pid))
    return pids


deadline = time.time() + 60
while time.time() < deadline and not (os.path.exists(os.path.join(endless, "metrics.journal")) and rank_pids(1)):
    time.sleep(0.2)
time.sleep(1)
victims = rank_pids(1)
check(len(victims) == 1, "found rank 1's process")
if victims:
    os.kill(victims[0], signal.SIGKILL)
    killed_at = time.time()
    try:
        out, _ = job.communicate(timeout=30)
        took = time.time() - killed_at
        check(job.returncode != 0, "the job exits non-zero when rank 1 is killed (%d, after %.1f s)" % (job.returncode, took))
        check("rank 1" in out, "the message names rank 1: " + [l for l in out.splitlines() if "rank 1" in l][:1].__str__())
    except subprocess.TimeoutExpired:
        job.kill()
        check(False, "the job still ran 30 s after rank 1 was killed")
    time.sleep(1)
    check(not rank_pids(0) and not rank_pids(1), "no rank is left running")

# An experiment under mpirun: every stage data-parallel, growth and report on rank 0; equal to
# the same experiment in one process with grad_accum 2.
for name, accum in [("exp-alone", 2), ("exp-ranks", 1)]:
    write_growth_experiment(os.path.join(WORK, name + ".json"), CORPUS, accum)
alone, ranks = fresh("exp-alone-out"), fresh("exp-ranks-out")
rc1, out1 = run([TOKENGROW, "experiment", "--config", os.path.join(WORK, "exp-alone.json"), "--out", alone])
rc2, out2 = mpirun(2, "experiment", "--config", os.path.join(WORK, "exp-ranks.json"), "--out", ranks)
if rc1 or rc2:
    check(False, "experiments failed:\n" + out1[-2000:] + out2[-2000:])
else:
    for stage in ["g-seed0/stage0", "g-seed0/stage1", "frontier-1x-seed0"]:
        ok, why = same_run(os.path.join(alone, stage), os.path.join(ranks, stage))
        check(ok, "experiment under 2 ranks = 1 process with grad_accum 2, %s: %s" % (stage, why))
    check(os.path.exists(os.path.join(ranks, "summary.md")), "the 2-rank experiment wrote its summary")

# Ranks that disagree on the config refuse to start, naming the key.
odd = fresh("odd")
rc, out = run(["mpirun", "--oversubscribe", "-np", "1", TOKENGROW, "train", "--config", config("a"), "--out", odd,
               ":", "-np", "1", TOKENGROW, "train", "--config", config("b", lr=1e-3), "--out", odd])
check(rc != 0 and "rank 1 of 2 disagrees with rank 0 on the config" in out and "train.lr: 0.003 on rank 0, 0.001 on rank 1" in out,
      "ranks with different configs refuse, naming train.lr")
check(not os.path.exists(os.path.join(odd, "latest.h5")), "and write no checkpoint")

# Ranks given different --out refuse before rank 0 creates its directory.
out_a, out_b = fresh("out-a"), fresh("out-b")
rc, out = run(["mpirun", "--oversubscribe", "-np", "1", TOKENGROW, "train", "--config", config("a"), "--out", out_a,
               ":", "-np", "1", TOKENGROW, "train", "--config", config("a"), "--out", out_b])
check(rc != 0 and "rank 1 of 2 disagrees with rank 0 on the run directory (--out) (%s on rank 0, %s on rank 1)"
      % (out_a, out_b) in out, "ranks with different --out refuse, naming both: " + out[:300])
check(not os.path.exists(out_a) and not os.path.exists(out_b), "and create neither directory")

# An error on every rank: each rank's line whole, one prefix (tried 3 times: the old
# interleaving depended on timing).
lines = []
for attempt in range(3):
    rc, out = mpirun(2, "train", "--config", os.path.join(WORK, "absent.json"), "--out", fresh("absent"))
    lines += [l for l in out.splitlines() if "absent.json" in l]
check(rc != 0 and len(lines) == 6 and all(l.startswith("error: ") and "error: error:" not in l for l in lines),
      "an error on both ranks is one whole line per rank, one prefix: %r" % lines[:4])

print("mpi: %d failed" % len(failures) if failures else "mpi: all passed")
sys.exit(1 if failures else 0)
