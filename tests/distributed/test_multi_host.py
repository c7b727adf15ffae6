#!/usr/bin/python3
"""Data-parallel training across hosts over TCP, on the rig of rig.sh (ctest: distributed_multi_host).

usage: test_multi_host.py TOKENGROW FAULT_INJECTION_BINARY WORK_DIR

Each "host" is a network namespace; mpirun runs in tg-h1 and starts the other hosts'
daemons through netns-rsh; ranks talk only over TCP (btl tcp,self) on the rig's addresses.
Checks:
  - 2 and 3 hosts = 1 process with grad_accum 2 and 3, to the bit (deterministic_reduce);
  - a run killed on 2 hosts resumes on 1 host with the same global batch, to the bit, and
    on 3 hosts within float32 rounding (the sums group differently);
  - an experiment on 2 hosts = the same experiment in one process with grad_accum 2;
  - a link cut (silently: no reset, no error) during a step, during rank 0's checkpoint
    write and during the start-up handshake ends every process of the job within a bound,
    non-zero, with one message naming the host that stopped answering; the checkpoint
    stays sound and --resume continues bit for bit once the link is back;
  - kill -9 of a remote rank, and of mpirun itself: the same bounded end, nothing left.
Exits 77 (ctest: skipped) when the machine cannot make network namespaces.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "mpi"))
from run_compare import same_run, write_growth_experiment  # noqa: E402

TOKENGROW, FAULTY, WORK = (os.path.abspath(a) for a in sys.argv[1:4])
RIG, RSH = os.path.join(HERE, "rig.sh"), os.path.join(HERE, "netns-rsh")
SKIP = 77
# The job's ends, in seconds: the peer timeout, and what the whole job may take after a
# fault to be gone (the ranks' timeout, then Open MPI's keepalive on its daemons' links).
PEER_TIMEOUT = 8
BOUND = 60
# Open MPI on the rig: TCP between the hosts only, and daemon links that notice a silent
# partition within 10 + 3 x 2 s (docs/distributed.md: the same settings for real hosts).
MCA = ["--mca", "plm_rsh_agent", RSH, "--mca", "btl", "tcp,self",
       "--mca", "btl_tcp_if_include", "198.51.100.0/24", "--mca", "oob_tcp_if_include", "198.51.100.0/24",
       "--mca", "oob_tcp_keepalive_time", "10", "--mca", "oob_tcp_keepalive_intvl", "2",
       "--mca", "oob_tcp_keepalive_probes", "3"]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1",
           ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0", OMPI_MCA_memory="^patcher")
failures = []


def check(ok, what):
    print(("ok:     " if ok else "FAILED: ") + what, flush=True)
    if not ok:
        failures.append(what)


def rig(*args):
    return subprocess.run(["bash", RIG, *args], capture_output=True, text=True)


def job_command(hosts, args, binary=TOKENGROW, extra_env=()):
    """mpirun in tg-h1 (under that host's name) over `hosts` hosts, one rank each."""
    hostfile = os.path.join(WORK, "hosts%d" % hosts)
    with open(hostfile, "w") as f:
        f.write("".join("tg-h%d slots=1\n" % (i + 1) for i in range(hosts)))
    exports = []
    for key, value in extra_env:
        exports += ["-x", "%s=%s" % (key, value)]
    mpirun = ["mpirun", "-np", str(hosts), "--hostfile", hostfile, "-wdir", WORK, *MCA, *exports, binary, *args]
    return [RSH, "tg-h1", " ".join(mpirun)]


def run(cmd, timeout=300):
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def on_hosts(hosts, *args, **kw):
    return run(job_command(hosts, args, **kw))


def config(name, steps=12, **train):
    t = {"steps": steps, "batch_size": 4, "lr": 3e-3, "log_every": 1, "eval_every": 6, "eval_batches": 2,
         "threads": 1, "replica_check_every": 3, "deterministic_reduce": True}
    t.update(train)
    path = os.path.join(WORK, name + ".json")
    with open(path, "w") as f:
        json.dump({"data": CORPUS, "model": {"architecture": "tokenformer", "d_model": 32, "n_layers": 2,
                                             "n_heads": 2, "seq_len": 32, "qkv_tokens": 8, "proj_tokens": 8,
                                             "ffn_tokens": 16},
                   "train": t}, f)
    return path


def fresh(name):
    path = os.path.join(WORK, name)
    shutil.rmtree(path, ignore_errors=True)
    return path


def left_running():
    return rig("pids").stdout.split()


def rank_pid(run_dir, host, program=b"tokengrow"):
    """The process of `program` (tokengrow or mpirun) working on `run_dir` inside namespace `host`."""
    for pid in rig("pids").stdout.split():
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().split(b"\0")
            ns = subprocess.run(["ip", "netns", "identify", pid], capture_output=True, text=True).stdout.strip()
        except OSError:
            continue
        if ns == host and run_dir.encode() in cmd and os.path.basename(cmd[0]).startswith(program):
            return int(pid)
    return None


def wait_for(condition, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def state_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def ends_in_bound(job, what, started):
    """The job is gone within BOUND seconds of `started`, non-zero, nothing left in the rig."""
    try:
        out, _ = job.communicate(timeout=max(1, BOUND - (time.time() - started)))
    except subprocess.TimeoutExpired:
        job.kill()
        out, _ = job.communicate()
        check(False, "%s: the job still ran %d s after the fault" % (what, BOUND))
        return out
    took = time.time() - started
    check(job.returncode != 0, "%s: the job ended non-zero (%d) %.1f s after the fault" % (what, job.returncode, took))
    wait_for(lambda: not left_running(), 5)
    check(not left_running(), "%s: no process is left in the rig" % what)
    return out


def cut_link(what, host, run_dir, crash_at, expect):
    """Cuts `host`'s cable while the job trains (crash_at: hold rank 0 there first)."""
    job = subprocess.Popen(job_command(2, ["train", "--config", config("long", steps=40, checkpoint_every=10,
                                                                              eval_every=10), "--out", run_dir,
                                           "--peer-timeout", str(PEER_TIMEOUT)],
                                       binary=FAULTY, extra_env=[("TOKENGROW_CRASH_AT", crash_at)] if crash_at else []),
                           env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    held = None
    if crash_at:
        wait_for(lambda: rank_pid(run_dir, "tg-h1") and state_of(rank_pid(run_dir, "tg-h1")) == "T", 60)
        held = rank_pid(run_dir, "tg-h1")
        check(held is not None, "%s: rank 0 held at %s" % (what, crash_at))
    else:
        wait_for(lambda: os.path.exists(os.path.join(run_dir, "ckpt_10.h5")), 60)
    rig("cut", host)
    started = time.time()
    if held:
        os.kill(held, signal.SIGCONT)
    out = ends_in_bound(job, what, started)
    named = [line for line in out.splitlines() if "stopped answering" in line]
    check(any(expect in line for line in named), "%s: one message names %s: %s" % (what, expect, named[:1]))
    rig("mend", host)
    return out


def resumes_exactly(what, run_dir, whole):
    rc, out = on_hosts(2, "train", "--resume", run_dir)
    ok, why = same_run(whole, run_dir) if rc == 0 else (False, out[-1500:])
    check(ok, "%s: --resume on the mended rig continues bit for bit: %s" % (what, why))


def main():
    reason = rig("check")
    if reason.returncode != 0:
        print("skipped: the multi-host rig cannot run here: " + (reason.stdout + reason.stderr).strip())
        return SKIP
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    if rig("up", "3").returncode != 0:
        print(rig("up", "3").stderr)
        return 1
    try:
        checks()
    finally:
        rig("down")
    print("multi-host: %d failed" % len(failures) if failures else "multi-host: all passed")
    return 1 if failures else 0


def checks():
    global CORPUS
    import numpy as np
    rng = np.random.default_rng(0)
    words = ["growth", "token", "the", "of", "model", "layer", "and", "data", "rank", "step", "grad"]
    with open(os.path.join(WORK, "text.txt"), "w") as f:
        f.write(" ".join(rng.choice(words, 40000)))
    CORPUS = os.path.join(WORK, "text.h5")
    rc, out = run([TOKENGROW, "prepare", "--text", os.path.join(WORK, "text.txt"), "--out", CORPUS])
    check(rc == 0, "prepare a corpus" + ("" if rc == 0 else ": " + out))

    # N hosts x grad_accum 1 against 1 process x grad_accum N.
    for n in (2, 3):
        one, hosts = fresh("one-%d" % n), fresh("hosts-%d" % n)
        rc1, out1 = run([TOKENGROW, "train", "--config", config("accum%d" % n, grad_accum=n), "--out", one])
        rcn, outn = on_hosts(n, "train", "--config", config("ranks"), "--out", hosts)
        ok, why = same_run(one, hosts) if rc1 == 0 and rcn == 0 else (False, out1[-1500:] + outn[-1500:])
        check(ok, "%d hosts over TCP = 1 process with grad_accum %d, bit for bit: %s" % (n, n, why))

    # A job killed at its step-12 checkpoint on 2 hosts resumes elsewhere with the same global
    # batch: on 1 host with grad_accum 2 it adds the same gradients in the same order (bit for
    # bit); on 3 hosts x grad_accum 2 after 2 x 3 it groups the sums of 6 micro-batches
    # differently, ((g0+g1)+(g2+g3))+(g4+g5) against ((g0+g1)+g2)+((g3+g4)+g5), so it agrees
    # to float32 rounding only (docs/distributed.md).
    whole2 = fresh("whole2")
    rc, out = on_hosts(2, "train", "--config", config("long18", steps=18), "--out", whole2)
    check(rc == 0, "an uninterrupted 2-host run of 18 steps" + ("" if rc == 0 else ": " + out[-1500:]))
    to_one = fresh("to-one")
    rc, out = on_hosts(2, "train", "--config", config("long18", steps=18), "--out", to_one,
                       binary=FAULTY, extra_env=[("TOKENGROW_CRASH_AT", "checkpoint.model_written:3")])
    check(rc != 0, "a 2-host job killed at its step-12 checkpoint ends non-zero (%d)" % rc)
    rc, out = run([TOKENGROW, "train", "--config", config("long18-accum2", steps=18, grad_accum=2), "--resume", to_one])
    ok, why = same_run(whole2, to_one) if rc == 0 else (False, out[-1500:])
    check(ok, "resumed on 1 host with grad_accum 2: bit for bit: " + why)
    whole6 = fresh("whole6")
    rc, out = on_hosts(2, "train", "--config", config("accum3", steps=18, grad_accum=3), "--out", whole6)
    moved = fresh("moved")
    rc, out = on_hosts(2, "train", "--config", config("accum3", steps=18, grad_accum=3), "--out", moved,
                       binary=FAULTY, extra_env=[("TOKENGROW_CRASH_AT", "checkpoint.model_written:3")])
    check(rc != 0, "a 2-host x grad_accum 3 job killed at its step-12 checkpoint ends non-zero (%d)" % rc)
    rc, out = on_hosts(3, "train", "--config", config("accum2", steps=18, grad_accum=2), "--resume", moved)
    ok, why = same_run(whole6, moved, rel=1e-6) if rc == 0 else (False, out[-1500:])
    check(ok, "resumed on 3 hosts x grad_accum 2: within 1e-6 of the uninterrupted run: " + why)

    experiment_on_two_hosts()
    dead_links()
    killed_processes()


def experiment_on_two_hosts():
    for name, accum in [("exp-alone", 2), ("exp-hosts", 1)]:
        write_growth_experiment(os.path.join(WORK, name + ".json"), CORPUS, accum)
    alone, hosts = fresh("exp-alone-out"), fresh("exp-hosts-out")
    rc1, out1 = run([TOKENGROW, "experiment", "--config", os.path.join(WORK, "exp-alone.json"), "--out", alone])
    rc2, out2 = on_hosts(2, "experiment", "--config", os.path.join(WORK, "exp-hosts.json"), "--out", hosts)
    if rc1 or rc2:
        check(False, "experiments failed:\n" + out1[-1500:] + out2[-1500:])
        return
    for stage in ["g-seed0/stage0", "g-seed0/stage1", "frontier-1x-seed0"]:
        ok, why = same_run(os.path.join(alone, stage), os.path.join(hosts, stage))
        check(ok, "an experiment on 2 hosts = 1 process with grad_accum 2, %s: %s" % (stage, why))


def dead_links():
    whole = fresh("whole")
    rc, out = on_hosts(2, "train", "--config", config("long", steps=40, checkpoint_every=10, eval_every=10),
                       "--out", whole)
    check(rc == 0, "an uninterrupted 2-host run" + ("" if rc == 0 else ": " + out[-1500:]))
    during_step = fresh("cut-step")
    cut_link("link cut during a step", "tg-h2", during_step, None, "rank 1 (host tg-h2)")
    resumes_exactly("link cut during a step", during_step, whole)
    during_write = fresh("cut-write")
    cut_link("link cut while rank 0 writes a checkpoint", "tg-h2", during_write, "checkpoint.model_written:2:stop",
             "rank 1 (host tg-h2)")
    resumes_exactly("link cut while rank 0 writes a checkpoint", during_write, whole)
    during_start = fresh("cut-start")
    cut_link("link cut during the start-up handshake", "tg-h2", during_start, "ranks.agree:1:stop",
             "rank 1 (host tg-h2)")
    check(not os.path.exists(os.path.join(during_start, "ckpt_10.h5")),
          "link cut during the start-up handshake: no step was taken")


def killed_processes():
    for what, victim in [("kill -9 of rank 1 on tg-h2", "rank"), ("kill -9 of mpirun", "mpirun")]:
        run_dir = fresh("killed-" + victim)
        job = subprocess.Popen(job_command(2, ["train", "--config", config("endless", steps=10 ** 6, eval_every=0,
                                                                             checkpoint_every=50, keep_checkpoints=2),
                                               "--out", run_dir, "--peer-timeout", str(PEER_TIMEOUT)]),
                               env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_for(lambda: os.path.exists(os.path.join(run_dir, "ckpt_50.h5")), 60)
        pid = rank_pid(run_dir, "tg-h2") if victim == "rank" else rank_pid(run_dir, "tg-h1", b"mpirun")
        check(pid is not None, what + ": found the process")
        if pid is None:
            job.kill()
            continue
        os.kill(pid, signal.SIGKILL)
        ends_in_bound(job, what, time.time())
        rc, out = run([TOKENGROW, "inspect", os.path.join(run_dir, "latest.h5")])
        check(rc == 0, what + ": latest.h5 is sound" + ("" if rc == 0 else ": " + out[-500:]))


if __name__ == "__main__":
    sys.exit(main())
