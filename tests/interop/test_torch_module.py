#!/usr/bin/python3
"""python/tokengrow_torch.py against the tokengrow binary.

usage: /usr/bin/python3 tests/interop/test_torch_module.py TOKENGROW_BINARY WORKDIR

Makes everything it needs under WORKDIR/torch_module (recreated each run): a text, byte
and BPE corpora, tiny models (d 32, 2 layers, seq 32) trained a few steps, grown ones.
Checks, for TokenFormer with each normalisation, the Transformer, bf16 configs, a BPE
checkpoint and grown checkpoints (tokens, tau anneal, depth, width):
  * eval_text(load_checkpoint(C), T) == `tokengrow eval --ckpt C --text T --json` loss
    (relative 1e-5), and model(tokens) gives (batch, seq, vocab) float32 logits;
  * save_checkpoint(load_checkpoint(C)) is a checkpoint tokengrow accepts: eval gives the
    same loss (relative 1e-6), inspect reads it, a damaged copy is refused by its seal;
  * from a saved checkpoint: grow works, a new training stage works, and a run directory
    whose latest.h5 is the saved file resumes; a model made in Python (new_model) saves,
    evaluates and trains too;
  * bf16 configs: the bf16 emulation is closer to tokengrow than a float32 forward;
  * zero-key growth with the old tau is exact, and a checkpoint trained mid tau-anneal matches.
Exit 0 on success; otherwise 1 with a message naming the failed check.
"""

import json
import os
import random
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ left in python/
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import tokengrow_torch as tt  # noqa: E402

EVAL_RTOL = 1e-6        # Python forward vs tokengrow eval (measured: fp32 <= 1.6e-9, bf16 <= 1.2e-7)
ROUND_TRIP_RTOL = 0.0   # tokengrow eval of a saved copy vs of the original: the same weights, the same loss
STEPS = 8
THREADS = "1"  # one thread: tiny models, and OpenMP teams of 2 crawl on a busy 2-core machine


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


class Harness:
    def __init__(self, binary, workdir):
        self.binary = os.path.abspath(binary)
        self.dir = os.path.join(os.path.abspath(workdir), "torch_module")
        self.results = []  # (what, python or saved loss, tokengrow loss, relative difference)
        self.eval_cache = {}

    def path(self, name):
        return os.path.join(self.dir, name)

    def run(self, *args, expect_ok=True):
        proc = subprocess.run([self.binary, *args], capture_output=True, text=True, cwd=self.dir)
        if expect_ok and proc.returncode != 0:
            raise Failure(f"tokengrow {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}{proc.stdout}")
        return proc

    def tg_eval(self, ckpt, text):
        key = (ckpt, os.path.getmtime(ckpt), text)
        if key not in self.eval_cache:
            out = self.run("eval", "--ckpt", ckpt, "--text", text, "--json", "--threads", THREADS).stdout
            self.eval_cache[key] = json.loads(out)["loss"]
        return self.eval_cache[key]

    # -- setup -----------------------------------------------------------------------
    def write_texts(self):
        rng = random.Random(0)
        syllables = ["ka", "lo", "the", "an", "mir", "od", "el", "su", "ra", "ti", "ne", "vo", "ul", "pe", "shi"]
        words = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 3))) for _ in range(120)]

        def text(seed, lines):
            r = random.Random(seed)
            return "\n".join(" ".join(r.choice(words) for _ in range(r.randint(3, 12))) + "." for _ in range(lines))

        with open(self.path("train.txt"), "w") as f:
            f.write(text(1, 2500) + "\n")
        with open(self.path("held_out.txt"), "w") as f:  # about 8 KB: some 250 windows of 33 bytes
            f.write(text(2, 200) + "\n")

    def write_config(self, name, corpus, steps=STEPS, **model):
        base = {"architecture": "tokenformer", "d_model": 32, "n_layers": 2, "n_heads": 2, "seq_len": 32,
                "qkv_tokens": 16, "proj_tokens": 16, "ffn_tokens": 64, "ffn_hidden": 64}
        base.update(model)
        config = {"data": self.path(corpus), "model": base,
                  "train": {"steps": steps, "batch_size": 8, "lr": 3e-3, "warmup_steps": 2, "log_every": 4,
                            "eval_every": 0, "eval_batches": 2}}
        with open(self.path(name + ".json"), "w") as f:
            json.dump(config, f)
        return self.path(name + ".json")

    def train(self, name, corpus, **model):
        self.run("train", "--config", self.write_config(name, corpus, **model), "--out", self.path("run_" + name),
                 "--threads", THREADS, "--quiet")
        return self.path(f"run_{name}/latest.h5")

    # -- checks ----------------------------------------------------------------------
    def check_matches_eval(self, what, ckpt):
        """eval_text vs tokengrow eval; logits shape; returns the loaded module."""
        model = tt.load_checkpoint(ckpt)
        ours, theirs = tt.eval_text(model, self.path("held_out.txt"), tokenizer_binary=self.binary), \
            self.tg_eval(ckpt, self.path("held_out.txt"))
        self.results.append((what + ": eval_text vs tokengrow eval", ours, theirs, rel(ours, theirs)))
        check(rel(ours, theirs) <= EVAL_RTOL,
              f"{what}: eval_text {ours!r} vs tokengrow eval {theirs!r} (relative {rel(ours, theirs):.3g} > {EVAL_RTOL})")
        if model.model_config["precision"] == "bf16":  # the emulation matters: fp32 is further off
            model.emulate_bf16 = False
            fp32 = tt.eval_text(model, self.path("held_out.txt"), tokenizer_binary=self.binary)
            model.emulate_bf16 = True
            self.results.append((what + ": the same in fp32, not bf16 (for scale)", fp32, theirs, None))
            check(rel(ours, theirs) < 0.5 * rel(fp32, theirs),
                  f"{what}: bf16 emulation ({rel(ours, theirs):.3g}) no closer to tokengrow than fp32 ({rel(fp32, theirs):.3g})")
        vocab, seq = model.model_config["vocab_size"], model.model_config["seq_len"]
        tokens = torch.randint(0, vocab, (3, seq), generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            logits = model(tokens)
        check(tuple(logits.shape) == (3, seq, vocab) and logits.dtype == torch.float32,
              f"{what}: logits {tuple(logits.shape)} {logits.dtype}, expected (3, {seq}, {vocab}) float32")
        check(bool(torch.isfinite(logits).all()), f"{what}: non-finite logits")
        return model

    def check_round_trip(self, what, ckpt):
        """save_checkpoint(load_checkpoint(ckpt)): same weights, same tokengrow eval, inspect reads it,
        a damaged copy is refused. Returns the saved path."""
        saved = self.path(os.path.basename(os.path.dirname(ckpt)) + "_saved.h5")
        tt.save_checkpoint(tt.load_checkpoint(ckpt), saved)
        check(tt.seal_problem(saved) == "", f"{what}: saved file's seal: {tt.seal_problem(saved)}")
        with h5py.File(ckpt, "r") as a, h5py.File(saved, "r") as b:
            def compare(name, obj):
                if isinstance(obj, h5py.Dataset) and name.startswith(("model/", "state/", "tokenizer_model")):
                    check(name in b and np.array_equal(obj[()], b[name][()]), f"{what}: /{name} differs after save")
                if name.startswith("model/") and isinstance(obj, h5py.Group) and "tau" in obj.attrs:
                    for key in obj.attrs:
                        check(b[name].attrs[key] == obj.attrs[key], f"{what}: /{name} attribute {key} differs")
            a.visititems(compare)
            for key in a.attrs:
                check(key in b.attrs and a.attrs[key] == b.attrs[key], f"{what}: root attribute {key} differs")
            for key in a["state"].attrs:
                check(b["state"].attrs[key] == a["state"].attrs[key], f"{what}: /state attribute {key} differs")
            check(not b["optimizer/exp_avg/embedding"][()].any(), f"{what}: the saved optimizer state is not fresh")
        before, after = self.tg_eval(ckpt, self.path("held_out.txt")), self.tg_eval(saved, self.path("held_out.txt"))
        self.results.append((what + ": tokengrow eval of the saved copy", after, before, rel(after, before)))
        check(rel(after, before) <= ROUND_TRIP_RTOL, f"{what}: saved copy evaluates to {after!r}, original {before!r}")
        inspect = self.run("inspect", saved)
        check("layers" in inspect.stdout or "layer" in inspect.stdout, f"{what}: inspect printed no layers")
        damaged = saved + ".damaged"
        shutil.copyfile(saved, damaged)
        with open(damaged, "r+b") as f:
            f.seek(os.path.getsize(damaged) // 2)
            byte = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([byte[0] ^ 0xFF]))
        refused = self.run("eval", "--ckpt", damaged, "--text", self.path("held_out.txt"), expect_ok=False)
        check(refused.returncode != 0 and "damaged" in refused.stderr,
              f"{what}: tokengrow accepted a damaged copy of the saved file ({refused.stderr.strip()})")
        os.unlink(damaged)
        return saved

    def check_uses_of_saved(self, saved, run_dir):
        """grow, a new stage and a run-directory resume, each from a saved checkpoint."""
        grown = self.path("grown_from_saved.h5")
        self.run("grow", "--from", saved, "--out", grown, "--factor", "2", "--threads", THREADS, "--quiet")
        self.check_matches_eval("grown from a saved checkpoint", grown)
        # A checkpoint that is not grown keeps its stage: its schedule still ends at stage_start_step + steps.
        self.run("train", "--resume", saved, "--out", self.path("run_stage_from_saved"), "--steps", str(STEPS + 4),
                 "--threads", THREADS, "--quiet")
        stage = tt.load_checkpoint(self.path("run_stage_from_saved/latest.h5"))
        check(stage.step == STEPS + 4, f"new stage from a saved checkpoint: ended at step {stage.step}, expected {STEPS + 4}")
        copy = self.path("run_resumed_from_saved")
        shutil.copytree(run_dir, copy)
        os.unlink(os.path.join(copy, "latest.h5"))  # a hard link in the copy's source: replace, never edit
        shutil.copyfile(saved, os.path.join(copy, "latest.h5"))
        resumed = self.run("train", "--resume", copy, "--steps", str(STEPS + 4), "--threads", THREADS)
        check("resumed" in resumed.stdout + resumed.stderr, "resume of a run directory: no 'resumed' in its log")
        end = tt.load_checkpoint(os.path.join(copy, "latest.h5"))
        check(end.step == STEPS + 4, f"resumed run ended at step {end.step}, expected {STEPS + 4}")
        self.check_matches_eval("resumed from a saved checkpoint", os.path.join(copy, "latest.h5"))

    def check_corpus_eval(self, ckpt):
        """eval_corpus vs `tokengrow eval --data` (the val split)."""
        ours = tt.eval_corpus(tt.load_checkpoint(ckpt), self.path("bytes.h5"))
        out = self.run("eval", "--ckpt", ckpt, "--data", self.path("bytes.h5"), "--json", "--threads", THREADS).stdout
        theirs = json.loads(out)["loss"]
        self.results.append(("eval_corpus vs tokengrow eval --data", ours, theirs, rel(ours, theirs)))
        check(rel(ours, theirs) <= EVAL_RTOL, f"eval_corpus {ours!r} vs tokengrow eval --data {theirs!r}")

    def check_new_model(self):
        """A model made in Python (new_model, no /state loaded) saved: eval matches, train starts from it."""
        with open(self.path("tf_softmax.json")) as f:
            config = json.load(f)
        fresh = self.path("fresh_from_python.h5")
        tt.save_checkpoint(tt.new_model(config), fresh)
        self.check_matches_eval("new_model saved", fresh)
        self.run("train", "--resume", fresh, "--out", self.path("run_fresh"), "--steps", "4", "--threads", THREADS,
                 "--quiet")
        check(tt.load_checkpoint(self.path("run_fresh/latest.h5")).step == 4, "training from a new_model checkpoint")

    def check_tau_anneal(self, base_ckpt):
        """Zero new keys with tau annealed: exact growth, then mid-anneal taus after training."""
        grown = self.path("grown_anneal.h5")
        self.run("grow", "--from", base_ckpt, "--out", grown, "--factor", "2", "--key-init", "zero", "--tau", "anneal",
                 "--anneal-steps", "10", "--threads", THREADS, "--quiet")
        before = tt.eval_text(tt.load_checkpoint(base_ckpt), self.path("held_out.txt"))
        model = self.check_matches_eval("grown, zero keys, tau anneal", grown)
        after = tt.eval_text(model, self.path("held_out.txt"))
        self.results.append(("zero-key growth with the old tau (Python, exact)", after, before, rel(after, before)))
        check(rel(after, before) <= 1e-6, f"zero-key growth with the old tau changed the loss: {before!r} -> {after!r}")
        self.run("train", "--resume", grown, "--out", self.path("run_anneal"), "--steps", "4", "--threads", THREADS,
                 "--quiet")
        trained = self.check_matches_eval("tau mid-anneal (4 of 10 steps)", self.path("run_anneal/latest.h5"))
        ffn = trained.pattentions()["layers/0/ffn"]
        check(ffn.tau_anneal is not None and ffn.tau_anneal["steps"] == 10, "tau anneal attributes not read")
        frac = (trained.step - ffn.tau_anneal["start_step"]) / ffn.tau_anneal["steps"]
        check(0 < frac < 1, f"the trained checkpoint is not mid-anneal (fraction {frac})")
        stored = ffn.tau
        trained.set_step(trained.step)
        check(ffn.tau == stored, f"set_step(step) moved the stored tau {stored} to {ffn.tau}")

    # -- the whole test ----------------------------------------------------------------
    def main(self):
        started = time.time()
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.write_texts()
        self.run("prepare", "--text", self.path("train.txt"), "--out", self.path("bytes.h5"), "--quiet")
        self.run("prepare", "--text", self.path("train.txt"), "--out", self.path("bpe.h5"), "--tokenizer", "bpe",
                 "--vocab-size", "300", "--quiet")
        cases = [
            ("tf_l2_norm_gelu", "bytes.h5", {}),
            ("tf_gelu_l2_norm", "bytes.h5", {"normalization": "gelu_l2_norm"}),
            ("tf_softmax", "bytes.h5", {"normalization": "softmax"}),
            ("tf_dynamic_tau", "bytes.h5", {"tau_mode": "dynamic", "rotary_fraction": 0.5}),
            ("transformer", "bytes.h5", {"architecture": "transformer"}),
            ("tf_bf16", "bytes.h5", {"precision": "bf16"}),
            ("tf_softmax_bf16", "bytes.h5", {"normalization": "softmax", "precision": "bf16"}),
            ("transformer_bf16", "bytes.h5", {"architecture": "transformer", "precision": "bf16"}),
            ("tf_bpe", "bpe.h5", {}),
        ]
        # bf16 training needs oneDNN's bf16 kernels (AVX-512); `tokengrow --version` says
        # whether this CPU has them. Without, the bf16 cases are skipped, and said to be.
        bf16_here = "bf16 matmuls available on this CPU" in self.run("--version").stdout
        if not bf16_here:
            print("SKIPPED: the bf16 cases (this CPU has no bf16 matmuls in oneDNN: they need AVX-512)")
            cases = [c for c in cases if c[2].get("precision") != "bf16"]
        ckpts = {}
        for name, corpus, model in cases:
            ckpts[name] = self.train(name, corpus, **model)
            self.check_matches_eval(name, ckpts[name])
            saved = self.check_round_trip(name, ckpts[name])
            if name == "tf_l2_norm_gelu":
                self.check_uses_of_saved(saved, os.path.dirname(ckpts[name]))
                self.check_corpus_eval(ckpts[name])
        # Grown checkpoints (default growth: random new tokens, tau_mode dynamic: sqrt(new n)).
        for what, base, flags in [("grown tokens x2", "tf_gelu_l2_norm", ["--factor", "2"]),
                                  ("grown x2, tau kept, from a dynamic-tau model", "tf_dynamic_tau",
                                   ["--factor", "2", "--tau", "fixed"]),
                                  ("grown depth 2 -> 3", "tf_softmax", ["--layers", "3"]),
                                  ("grown Transformer depth and width", "transformer", ["--layers", "3", "--d-model", "64"]),
                                  ("grown bf16 tokens x2", "tf_bf16", ["--factor", "2"])]:
            if base not in ckpts:
                continue  # a skipped bf16 case
            out = self.path("grown_" + base + ".h5")
            self.run("grow", "--from", ckpts[base], "--out", out, *flags, "--threads", THREADS, "--quiet")
            self.check_matches_eval(what, out)
            self.check_round_trip(what, out)
        self.check_tau_anneal(ckpts["tf_l2_norm_gelu"])
        self.check_new_model()
        width = max(len(r[0]) for r in self.results)
        for what, ours, theirs, r in self.results:
            shown = f"rel {r:.2e}" if r is not None else f"rel {rel(ours, theirs):.2e} (not checked)"
            print(f"{what:<{width}}  {ours:.10f}  {theirs:.10f}  {shown}")
        checked = [r[3] for r in self.results if r[3] is not None]
        print(f"ok: {len(checked)} comparisons, worst relative difference {max(checked):.2e}, "
              f"{time.time() - started:.1f} s")


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    torch.set_num_threads(int(THREADS))
    if not (os.path.isfile(argv[1]) and os.access(argv[1], os.X_OK)):
        print(f"FAILED: {argv[1]}: not an executable tokengrow binary", file=sys.stderr)
        return 1
    try:
        Harness(argv[1], argv[2]).main()
    except Failure as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
