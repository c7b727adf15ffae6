#!/usr/bin/python3
"""tokengrow against PyTorch: the same TokenFormer and the same training step, timed
interleaved in one invocation, printed as a Markdown table.

    /usr/bin/python3 bench/compare_pytorch.py [--configs configs/bench/A.json configs/bench/B.json]
        [--precisions fp32 bf16] [--rounds 3] [--steps 10] [--threads 2]
        [--torch-blas-dir /usr/lib/x86_64-linux-gnu/openblas-openmp]

Each round runs, for every config and precision, `tokengrow bench --json` and then this
script's PyTorch worker, each in its own process (so each process's peak RSS is its own),
alternating which goes first. The table gives medians over rounds of each run's median
step time, and the ratio tokengrow / PyTorch in tokens/s from the paired runs.

The PyTorch model is written independently from the C++ one, from the same definition
(docs/model.md): pre-norm blocks, Q/K/V/proj/FFN Pattentions with
l2_norm_gelu (eps 1e-6 inside the norm, tau = sqrt(n) stored), non-affine block
LayerNorms (eps 1e-5), final affine LayerNorm, causal multi-head attention with NeoX
rotary on 25% of each head's dims, tied embedding, AdamW (0.9, 0.95, eps 1e-8, decay 0.1
on tokens and embedding), global-norm clip 1.0. bf16 = torch.autocast on the CPU.
The worker also checks that both sides count the same parameters and FLOPs.

PyTorch runs with the fastest BLAS Debian offers it: the OpenMP build of OpenBLAS
(libopenblas0-openmp, `scripts/install-deps.sh --bench`), loaded for the PyTorch process
only through LD_LIBRARY_PATH, with OPENBLAS_CORETYPE removed from its environment so
OpenBLAS picks its kernel for this CPU. (The pthreads build's threads fight PyTorch's
OpenMP threads: about half the fp32 speed on config A.) The worker reports the library
it loaded (from /proc/self/maps) and OpenBLAS's own config and kernel; the table's
header names them. tokengrow runs in this script's environment, unchanged but for the
thread counts.
"""
import argparse
import ctypes
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPENMP_OPENBLAS = "/usr/lib/x86_64-linux-gnu/openblas-openmp"


# ----------------------------------------------------------------------------- PyTorch side
def torch_model(model_cfg):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    d = model_cfg["d_model"]
    n_layers = model_cfg["n_layers"]
    n_heads = model_cfg["n_heads"]
    vocab = model_cfg.get("vocab_size", 256)
    seq = model_cfg["seq_len"]
    hd = d // n_heads
    rot = int(hd * model_cfg.get("rotary_fraction", 0.25))
    rot -= rot % 2
    base = model_cfg.get("rotary_base", 10000.0)
    init_std = model_cfg.get("init_std", 0.02)
    out_std = 2.0 / (n_layers * math.sqrt(d))

    class Pattention(nn.Module):
        # A = X K^T; S = GELU(A / sqrt(sum A^2 + eps) * tau); Y = S V
        def __init__(self, n):
            super().__init__()
            self.keys = nn.Parameter(torch.randn(n, d) * init_std)
            self.values = nn.Parameter(torch.randn(n, d) * out_std)
            self.tau = math.sqrt(n)

        def forward(self, x):
            a = x @ self.keys.t()
            a32 = a.float()
            r = torch.sqrt((a32 * a32).sum(-1, keepdim=True) + 1e-6)
            s = F.gelu(a32 * (self.tau / r))
            return s.to(a.dtype) @ self.values

    half = rot // 2
    inv_freq = base ** (-torch.arange(0, half, dtype=torch.float64) * 2.0 / max(rot, 1))
    angles = torch.arange(seq, dtype=torch.float64)[:, None] * inv_freq[None, :]
    cos = torch.cos(angles).float()
    sin = torch.sin(angles).float()

    def rope(x):  # x: B, H, T, hd; NeoX rotate_half on the first `rot` dims
        if rot == 0:
            return x
        x1, x2, rest = x[..., :half], x[..., half:rot], x[..., rot:]
        c, s = cos[: x.shape[2]].to(x.dtype), sin[: x.shape[2]].to(x.dtype)
        return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s, rest], dim=-1)

    mask = torch.triu(torch.ones(seq, seq, dtype=torch.bool), diagonal=1)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.q = Pattention(model_cfg.get("qkv_tokens", d))
            self.k = Pattention(model_cfg.get("qkv_tokens", d))
            self.v = Pattention(model_cfg.get("qkv_tokens", d))
            self.proj = Pattention(model_cfg.get("proj_tokens", d))
            self.ffn = Pattention(model_cfg.get("ffn_tokens", 4 * d))

        def forward(self, x):
            B, T, _ = x.shape
            a = F.layer_norm(x, (d,), eps=1e-5)
            heads = lambda t: t.view(B, T, n_heads, hd).transpose(1, 2)
            q, k, v = heads(self.q(a)), heads(self.k(a)), heads(self.v(a))
            q, k = rope(q), rope(k)
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
            scores = scores.float().masked_fill(mask[:T, :T], float("-inf"))
            p = torch.softmax(scores, dim=-1).to(v.dtype)
            o = (p @ v).transpose(1, 2).reshape(B, T, d)
            h = x + self.proj(o)
            return h + self.ffn(F.layer_norm(h, (d,), eps=1e-5))

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Parameter(torch.randn(vocab, d) * init_std)
            self.blocks = nn.ModuleList([Block() for _ in range(n_layers)])
            self.norm = nn.LayerNorm(d, eps=1e-5)

        def forward(self, tokens, targets):
            x = F.embedding(tokens, self.embedding)
            for b in self.blocks:
                x = b(x)
            logits = self.norm(x) @ self.embedding.t()
            return F.cross_entropy(logits.float().view(-1, vocab), targets.view(-1))

    return LM()


def torch_forward_flops(model_cfg, batch):
    # docs/flops.md: model FLOPs of every matmul (2 per multiply-add) incl. attention over the
    # full T x T and logits.
    d, L, seq = model_cfg["d_model"], model_cfg["n_layers"], model_cfg["seq_len"]
    rows = batch * seq
    tokens = 3 * model_cfg.get("qkv_tokens", d) + model_cfg.get("proj_tokens", d) + model_cfg.get("ffn_tokens", 4 * d)
    per_layer = 2.0 * rows * tokens * 2 * d + 4.0 * batch * seq * seq * d
    return L * per_layer + 2.0 * rows * d * model_cfg.get("vocab_size", 256)


def loaded_blas():
    """The BLAS this process runs: the shared objects mapped in (from /proc/self/maps) and,
    for OpenBLAS, its build config, kernel (core name) and threading model."""
    with open("/proc/self/maps") as f:
        paths = sorted({line.split()[-1] for line in f if "/" in line and
                        any(n in os.path.basename(line.split()[-1]) for n in ("blas", "lapack"))})
    info = {"libraries": paths}
    openblas = [p for p in paths if "openblas" in os.path.basename(p)]
    if openblas:
        lib = ctypes.CDLL(openblas[0])  # already loaded: the same handle
        for name in ("openblas_get_config", "openblas_get_corename"):
            getattr(lib, name).restype = ctypes.c_char_p
        info["openblas"] = openblas[0]
        info["config"] = lib.openblas_get_config().decode().strip()
        info["core"] = lib.openblas_get_corename().decode().strip()
        info["parallel"] = {0: "sequential", 1: "pthreads", 2: "OpenMP"}.get(lib.openblas_get_parallel(), "?")
        info["threads"] = lib.openblas_get_num_threads()
    return info


def describe_blas(blas):
    if "openblas" not in blas:
        return "not OpenBLAS: " + (", ".join(blas["libraries"]) or "no BLAS library mapped")
    return (f"{blas['openblas']} ({blas['parallel']}, kernel {blas['core']}, {blas['threads']} threads; "
            f"{blas['config']})")


def torch_worker(args):
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with open(args.config) as f:
        cfg = json.load(f)
    mc, tc = cfg["model"], cfg.get("train", {})
    batch, seq, vocab = tc.get("batch_size", 16), mc["seq_len"], mc.get("vocab_size", 256)
    model = torch_model(mc)
    decay = [p for n, p in model.named_parameters() if not n.startswith("norm.")]
    no_decay = [p for n, p in model.named_parameters() if n.startswith("norm.")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": tc.get("weight_decay", 0.1)},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=tc.get("lr", 1e-3), betas=(0.9, 0.95), eps=1e-8)
    bf16 = args.precision == "bf16"
    times, losses = [], []
    for step in range(args.warmup + args.steps):
        tokens = torch.randint(0, vocab, (batch, seq))
        targets = torch.randint(0, vocab, (batch, seq))
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(tokens, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.get("grad_clip", 1.0))
        opt.step()
        elapsed = time.perf_counter() - t0
        losses.append(loss.item())
        if step >= args.warmup:
            times.append(elapsed)
    median = statistics.median(times)
    flops = 3 * torch_forward_flops(mc, batch)
    print(json.dumps({
        "precision": args.precision, "threads": torch.get_num_threads(), "median_step_s": median,
        "tokens_per_s": batch * seq / median, "model_gflop_per_step": flops / 1e9,
        "n_params": sum(p.numel() for p in model.parameters()),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "first_loss": losses[0], "last_loss": losses[-1], "torch_version": torch.__version__,
        "blas": loaded_blas()}))


# ----------------------------------------------------------------------------- driver
def run_json(cmd, env):
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", nargs="+", default=[os.path.join(ROOT, "configs/bench/A.json"),
                                                      os.path.join(ROOT, "configs/bench/B.json")])
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build/tokengrow"))
    ap.add_argument("--torch-blas-dir", default=OPENMP_OPENBLAS,
                    help="directory put first on the PyTorch process's LD_LIBRARY_PATH (its libblas.so.3, "
                         "liblapack.so.3, libopenblas.so.0); empty: the system's default BLAS")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    ap.add_argument("--precision", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return torch_worker(args)

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads))
    # Some machines pin OpenBLAS to an older core type for old builds' sake; Debian's
    # current OpenBLAS picks the right kernel itself, so the PyTorch side runs without.
    torch_env = {k: v for k, v in env.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    if args.torch_blas_dir:
        if not os.path.isfile(os.path.join(args.torch_blas_dir, "libblas.so.3")):
            sys.exit(f"--torch-blas-dir {args.torch_blas_dir}: no libblas.so.3 there (for the OpenMP OpenBLAS: "
                     f"bash scripts/install-deps.sh --bench, which installs libopenblas0-openmp)")
        torch_env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in (args.torch_blas_dir, env.get("LD_LIBRARY_PATH", "")) if p)
    results = {}  # (config, precision) -> {"ours": [...], "torch": [...]}
    for rnd in range(args.rounds):
        for config in args.configs:
            for precision in args.precisions:
                ours_cmd = [args.binary, "bench", "--config", config, "--precision", precision, "--steps",
                            str(args.steps), "--warmup", str(args.warmup), "--threads", str(args.threads), "--json"]
                if rnd > 0:
                    ours_cmd.append("--skip-peak")
                torch_cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--config", config,
                             "--precision", precision, "--steps", str(args.steps), "--warmup", str(args.warmup),
                             "--threads", str(args.threads)]
                order = [("ours", ours_cmd, env), ("torch", torch_cmd, torch_env)]
                if rnd % 2:
                    order.reverse()
                entry = results.setdefault((config, precision), {"ours": [], "torch": []})
                for name, cmd, e in order:
                    r = run_json(cmd, e)
                    entry[name].append(r)
                    blas = f", BLAS {describe_blas(r['blas'])}" if "blas" in r else ""
                    print(f"round {rnd + 1}/{args.rounds} {os.path.basename(config)} {precision} {name}: "
                          f"{r['tokens_per_s']:.0f} tokens/s, peak {r['peak_rss_bytes'] / 2**20:.0f} MiB{blas}",
                          file=sys.stderr, flush=True)

    torch_runs = [r for entry in results.values() for r in entry["torch"]]
    versions = sorted({r["torch_version"] for r in torch_runs})
    blases = sorted({describe_blas(r["blas"]) for r in torch_runs})
    print(f"PyTorch {', '.join(versions)}, {args.threads} threads; its BLAS: {'; '.join(blases)}. "
          f"PyTorch environment: LD_LIBRARY_PATH={torch_env.get('LD_LIBRARY_PATH', '(unset)')}, "
          f"OPENBLAS_CORETYPE unset. tokengrow environment: OPENBLAS_CORETYPE="
          f"{env.get('OPENBLAS_CORETYPE', '(unset)')} (tokengrow does not use OpenBLAS).\n")
    print("| config | precision | tokengrow tokens/s | PyTorch tokens/s | ratio | tokengrow executed GFLOP/s (MFU) "
          "| tokengrow peak MiB | PyTorch peak MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for (config, precision), entry in results.items():
        ours, theirs = entry["ours"], entry["torch"]
        ours_gflop, torch_gflop = ours[0]["model_gflop_per_step"], theirs[0]["model_gflop_per_step"]
        if ours[0]["n_params"] != theirs[0]["n_params"] or abs(ours_gflop - torch_gflop) > 1e-6 * ours_gflop:
            sys.exit(f"{config}: the two models differ: {ours[0]['n_params']} vs {theirs[0]['n_params']} "
                     f"parameters, {ours_gflop} vs {torch_gflop} model GFLOP/step")
        ours_tps = statistics.median(r["tokens_per_s"] for r in ours)
        torch_tps = statistics.median(r["tokens_per_s"] for r in theirs)
        ratio = statistics.median(o["tokens_per_s"] / t["tokens_per_s"] for o, t in zip(ours, theirs))
        gflops = statistics.median(r["achieved_gflops"] for r in ours)
        mfu = f" ({100 * gflops / ours[0]['peak_gflops']:.0f}%)" if "peak_gflops" in ours[0] else ""
        print(f"| {os.path.splitext(os.path.basename(config))[0]} | {precision} | {ours_tps:.0f} | {torch_tps:.0f} "
              f"| {ratio:.2f}x | {gflops:.0f}{mfu} | {max(r['peak_rss_bytes'] for r in ours) / 2**20:.0f} "
              f"| {max(r['peak_rss_bytes'] for r in theirs) / 2**20:.0f} |")


if __name__ == "__main__":
    main()
