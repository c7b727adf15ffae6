#!/usr/bin/python3
"""tokengrow export / import through PyTorch, both ways (docs/interop.md).

usage: /usr/bin/python3 tests/interop/test_export_import.py TOKENGROW_BINARY WORKDIR

Trains a tiny TokenFormer in tokengrow (bytes, and BPE), exports it (`tokengrow export
--format torch`), loads the state_dict in PyTorch by its GPT-NeoX key names, checks the
loss against `tokengrow eval --text`, trains one AdamW step in PyTorch, writes the
state_dict back, imports it (`tokengrow import`) and checks tokengrow's loss on the
imported checkpoint against PyTorch's for the stepped model. Also: the export's keys,
config and tokenizer sidecar, and the one-line errors of bad exports and imports.
Exit 0 on success, 1 naming the failed check.
"""

import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))

import torch  # noqa: E402

import tokengrow_torch as tt  # noqa: E402

RTOL = 1e-7  # fp32 on both sides (measured ~1e-9)
ENV = dict(os.environ, OMP_NUM_THREADS="1")


def fail(message):
    print(f"test_export_import: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def run(binary, *args, expect=0):
    r = subprocess.run([binary, *args], capture_output=True, text=True, env=ENV)
    if r.returncode != expect:
        fail(f"tokengrow {' '.join(args)}: exit {r.returncode}, expected {expect}\n{r.stdout}{r.stderr}")
    return r


def eval_loss(binary, ckpt, text):
    return json.loads(run(binary, "eval", "--ckpt", ckpt, "--text", text, "--json", "--threads", "1").stdout)["loss"]


def make_text(path):
    words = ["the", "river", "garden", "moon", "house", "walks", "sees", "finds", "old", "red", "a", "we", "she"]
    lines, x = [], 7
    for _ in range(2500):
        n = 4 + x % 7
        line = []
        for _ in range(n):
            x = (x * 1103515245 + 12345) % 2**31
            line.append(words[x % len(words)])
        lines.append(" ".join(line) + ".")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def train_tiny(binary, work, corpus, name):
    config = {"data": corpus,
              "model": {"d_model": 32, "n_layers": 2, "n_heads": 2, "seq_len": 32,
                        "qkv_tokens": 16, "proj_tokens": 16, "ffn_tokens": 64},
              "train": {"steps": 10, "batch_size": 8, "lr": 3e-3, "warmup_steps": 2, "log_every": 5,
                        "eval_every": 10, "eval_batches": 2, "threads": 1}}
    path = os.path.join(work, name + ".json")
    with open(path, "w") as f:
        json.dump(config, f)
    run(binary, "train", "--config", path, "--out", os.path.join(work, name))
    return os.path.join(work, name, "latest.h5")


def one_torch_step(model, corpus_text):
    """One AdamW step on windows of the text (byte ids): the model must change."""
    ids = torch.tensor(list(corpus_text.encode()[: 8 * 33]), dtype=torch.long).view(8, 33)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    logits = model(ids[:, :-1])
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
    loss.backward()
    optimizer.step()
    model.eval()


def round_trip(binary, work, ckpt, text, name, bpe=False):
    pt = os.path.join(work, name + ".pt")
    run(binary, "export", "--ckpt", ckpt, "--format", "torch", "--out", pt)
    base = os.path.splitext(pt)[0]
    state_dict = torch.load(pt)
    with open(base + ".json") as f:
        config = json.load(f)
    # The public code's names, every tensor float32.
    for key in ("sequential.0.word_embeddings.weight", "sequential.2.attention.query.key_param_tokens",
                "sequential.3.attention.proj.value_param_tokens", "sequential.3.mlp.key_param_tokens",
                "sequential.5.norm.weight", "sequential.5.norm.bias"):
        check(key in state_dict, f"{name}: {key} missing from the export (keys: {sorted(state_dict)[:6]} ...)")
    check(len(state_dict) == 1 + 2 * 10 + 2, f"{name}: {len(state_dict)} tensors exported, expected 23")
    check(config["qkv_slot_num"] == 16 and config["num_layers"] == 2, f"{name}: config {config}")
    check(os.path.exists(base + ".model") == bpe, f"{name}: tokenizer sidecar present: {os.path.exists(base + '.model')}")

    # Loaded in PyTorch from the state_dict alone: tokengrow's loss.
    model = tt.from_neox_state_dict(state_dict, config)
    if bpe:
        with open(base + ".model", "rb") as f:
            model.tokenizer_model = f.read()
        check(model.tokenizer_model == tt.load_checkpoint(ckpt).tokenizer_model, f"{name}: sidecar is not the tokenizer")
    before = eval_loss(binary, ckpt, text)
    torch_before = tt.eval_text(model, text, tokenizer_binary=binary)
    check(abs(torch_before - before) <= RTOL * before, f"{name}: PyTorch loss {torch_before} vs tokengrow {before}")

    # One step in PyTorch, back into tokengrow.
    if not bpe:
        with open(text) as f:
            one_torch_step(model, f.read())
    else:
        ids = tt.tokenize_file(model, text, tokenizer_binary=binary)[: 8 * 33]
        ids = torch.tensor(ids, dtype=torch.long).view(8, 33)
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
        logits = model(ids[:, :-1])
        torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1)).backward()
        optimizer.step()
        model.eval()
    torch_after = tt.eval_text(model, text, tokenizer_binary=binary)
    check(abs(torch_after - before) > 1e-4, f"{name}: the PyTorch step changed nothing ({torch_after} vs {before})")
    stepped = os.path.join(work, name + "-stepped.pt")
    torch.save(tt.to_neox_state_dict(model), stepped)
    shutil.copy(base + ".json", os.path.splitext(stepped)[0] + ".json")
    if bpe:
        shutil.copy(base + ".model", os.path.splitext(stepped)[0] + ".model")
    imported = os.path.join(work, name + "-imported.h5")
    run(binary, "import", "--state-dict", stepped, "--out", imported)
    after = eval_loss(binary, imported, text)
    check(abs(after - torch_after) <= RTOL * torch_after, f"{name}: tokengrow {after} on the import vs PyTorch {torch_after}")
    inspect = run(binary, "inspect", imported).stdout
    check(("bpe (vocab" in inspect) == bpe, f"{name}: inspect of the import: {inspect[:300]}")
    return pt, imported


def main():
    binary, workdir = os.path.abspath(sys.argv[1]), sys.argv[2]
    work = os.path.join(workdir, "export_import")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    text = os.path.join(work, "text.txt")
    make_text(text)
    run(binary, "prepare", "--text", text, "--out", os.path.join(work, "bytes.h5"), "--val-fraction", "0.1")
    run(binary, "prepare", "--text", text, "--out", os.path.join(work, "bpe.h5"), "--val-fraction", "0.1",
        "--tokenizer", "bpe", "--vocab-size", "300")
    ckpt = train_tiny(binary, work, os.path.join(work, "bytes.h5"), "bytes-run")
    pt, imported = round_trip(binary, work, ckpt, text, "bytes")
    # The imported checkpoint trains on in tokengrow (a new stage from it).
    run(binary, "train", "--config", os.path.join(work, "bytes-run.json"), "--resume", imported,
        "--out", os.path.join(work, "after-import"), "--steps", "20")
    round_trip(binary, work, train_tiny(binary, work, os.path.join(work, "bpe.h5"), "bpe-run"), text, "bpe", bpe=True)

    # A config as the public code has it (GPT-NeoX arguments only: no tokengrow config, no
    # taus): imported with tau = sqrt(n) recomputed, which this ungrown model has anyway.
    with open(os.path.splitext(pt)[0] + ".json") as f:
        public = {k: v for k, v in json.load(f).items() if k not in ("tokengrow_config", "tau", "format")}
    with open(os.path.join(work, "public.json"), "w") as f:
        json.dump(public, f)
    public_ckpt = os.path.join(work, "public.h5")
    run(binary, "import", "--state-dict", pt, "--config", os.path.join(work, "public.json"), "--out", public_ckpt)
    original = eval_loss(binary, ckpt, text)
    check(abs(eval_loss(binary, public_ckpt, text) - original) <= RTOL * original, "import with a public-code config")
    check(tt.load_checkpoint(public_ckpt).model_config["tau_mode"] == "dynamic", "public-code import: tau_mode")

    # Bad input: one line, exit 2, nothing overwritten.
    r = run(binary, "export", "--ckpt", ckpt, "--out", pt, expect=2)
    check("already exists" in r.stderr and r.stderr.count("\n") == 1, f"export over an existing file: {r.stderr}")
    broken = torch.load(pt)
    del broken["sequential.3.mlp.value_param_tokens"]
    torch.save(broken, os.path.join(work, "broken.pt"))
    shutil.copy(os.path.splitext(pt)[0] + ".json", os.path.join(work, "broken.json"))
    r = run(binary, "import", "--state-dict", os.path.join(work, "broken.pt"), "--out", os.path.join(work, "x.h5"),
            expect=2)
    check("lacks sequential.3.mlp.value_param_tokens" in r.stderr, f"import of an incomplete state_dict: {r.stderr}")
    check(not os.path.exists(os.path.join(work, "x.h5")), "a failed import left a file")
    shutil.rmtree(work)
    print("test_export_import: passed")


if __name__ == "__main__":
    main()
