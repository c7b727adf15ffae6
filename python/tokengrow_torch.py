"""tokengrow checkpoints in PyTorch: load, run, evaluate and save them.

A PyTorch re-implementation of tokengrow's forward pass (src/model, src/layers) that
reproduces `tokengrow eval` to float32 rounding, plus a reader and a writer of its
sealed HDF5 checkpoints (docs/checkpoint-format.md).

    import tokengrow_torch as tt
    model = tt.load_checkpoint("runs/quickstart/latest.h5")   # torch.nn.Module
    logits = model(torch.tensor([[104, 101, 108, 108]]))      # (1, 4, vocab) float32
    loss = tt.eval_text(model, "held_out.txt")                 # nats per token, as `tokengrow eval --text`
    tt.save_checkpoint(model, "edited.h5")                     # weights + state, fresh optimizer

What the module mirrors, per piece of the C++:
  * Pattention (layers/pattention*.cpp): A = X K^T; the row normalisation with eps 1e-6
    inside the square root (l2_norm_gelu: GELU(A tau / sqrt(sum A^2 + eps)); gelu_l2_norm:
    GELU(A) tau / sqrt(sum GELU(A)^2 + eps); softmax: tau^2 softmax(A), max-subtracted);
    Y = S V. Exact (erf) GELU. tau is a float32 per layer: the stored `tau` attribute
    (tau_mode "fixed") or sqrt(n) (tau_mode "dynamic"), exactly as the C++ loader sets it.
    A tau anneal after growth is kept (set_step() applies it); `tokengrow eval` does not
    apply it (it never calls set_step), so load_checkpoint() does not either: the stored
    tau already is the tau of the checkpoint's step.
  * The Pattention group attribute `normalization` is written but never read by
    tokengrow: the config's model.normalization decides. The same here.
  * LayerNorm (layers/layer_norm.cpp): mean and variance in float64, eps 1e-5, rstd rounded
    to float32; block norms have no parameters, the final norm is affine.
  * Attention (layers/attention.cpp): causal, scale 1/sqrt(head_dim), GPT-NeoX
    rotate_half rotary on the first floor(head_dim * rotary_fraction) (rounded down to even)
    dims of each head, angles t * base^(-2i/r) in float64, cos/sin rounded to float32.
  * Output head: logits = final_norm(h) E^T with the embedding table E (tied, no bias).
  * Transformer baseline: bias-free Linear (y = x W^T) for Q/K/V/proj, MLP
    GELU(x W_up^T) W_down^T.
  * precision "bf16" (model config): every matmul input is rounded to bfloat16 (round to
    nearest even), products summed in float32; norms, softmax, GELU, loss in float32.
    `tokengrow eval` does compute so (load_model builds the model with the config's
    precision), and so does this module, unless `model.emulate_bf16 = False`.
  * Loss (layers/cross_entropy.cpp): log-sum-exp in float64 per row; eval windows as in
    train/evaluate.cpp.

What it does not do: training (no optimizer state is read; save_checkpoint writes a
fresh one), and SentencePiece tokenization in Python (Debian has no `sentencepiece`
module): for bpe/unigram checkpoints text is tokenized by `tokengrow tokenize`.
"""

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import zlib

import h5py
import numpy as np
import torch
import torch.nn as nn

# --------------------------------------------------------------------------------------
# Constants of the C++ (named where they live there)
# --------------------------------------------------------------------------------------
SEAL_BYTES = 512                         # core/sealed_file.h kSealBytes
SEAL_MAGIC = "tokengrow sealed file 1"   # core/sealed_file.cpp kMagic
CHECKPOINT_FORMAT = "tokengrow-checkpoint"
CHECKPOINT_FORMAT_VERSION = 2
LAYER_NORM_EPS = np.float32(1e-5)        # layers/layer_norm.h default
PATTENTION_EPS = np.float32(1e-6)        # model/language_model.cpp make_mappings
INV_SQRT2 = np.float32(0.70710678118654752)
NORMALIZATIONS = ("l2_norm_gelu", "gelu_l2_norm", "softmax")
SENTENCEPIECE_KINDS = ("bpe", "unigram", "word", "char")

# model config defaults, as model/model_config.cpp parse_model_config fills them in.
def fill_model_defaults(model_config):
    """The "model" object with every default tokengrow fills in (a new dict).

    Needs d_model, n_layers, n_heads, seq_len; the rest defaults as in docs/config.md.
    """
    c = dict(model_config)
    for key in ("d_model", "n_layers", "n_heads", "seq_len"):
        if key not in c:
            raise ValueError(f"model config: missing \"{key}\"")
    d = int(c["d_model"])
    defaults = {"architecture": "tokenformer", "vocab_size": 256, "qkv_tokens": d, "proj_tokens": d,
                "ffn_tokens": 4 * d, "ffn_hidden": 4 * d, "rotary_fraction": 0.25, "rotary_base": 10000.0,
                "normalization": "l2_norm_gelu", "tau_mode": "fixed", "init_std": 0.02, "precision": "fp32",
                "weights": "float"}
    for key, value in defaults.items():
        c.setdefault(key, value)
    if c["architecture"] not in ("tokenformer", "transformer"):
        raise ValueError(f"model.architecture: \"{c['architecture']}\" (expected tokenformer or transformer)")
    if c["normalization"] not in NORMALIZATIONS:
        raise ValueError(f"model.normalization: \"{c['normalization']}\" (expected one of {', '.join(NORMALIZATIONS)})")
    if c["tau_mode"] not in ("fixed", "dynamic"):
        raise ValueError(f"model.tau_mode: \"{c['tau_mode']}\" (expected fixed or dynamic)")
    if c["precision"] not in ("fp32", "bf16"):
        raise ValueError(f"model.precision: \"{c['precision']}\" (expected fp32 or bf16)")
    if c["weights"] != "float":
        raise ValueError(f"model.weights: \"{c['weights']}\": this module runs float weights only; BitNet "
                         "(binary/ternary) models run in tokengrow itself (docs/bitnet.md)")
    if d % int(c["n_heads"]) != 0:
        raise ValueError(f"model.n_heads: d_model {d} is not divisible by n_heads {c['n_heads']}")
    return c


# --------------------------------------------------------------------------------------
# Elementary operations, each the C++ formula in the same float32 / float64 steps
# --------------------------------------------------------------------------------------
def _operand(x, bf16):
    """A matmul input: x itself (fp32) or x rounded to bfloat16 and back (bf16).

    bf16 x bf16 products are exact in float32, so a float32 matmul of rounded operands is
    oneDNN's bf16 matmul up to the order of the float32 sums.
    """
    return x.to(torch.bfloat16).to(torch.float32) if bf16 else x


def _gelu_cdf(x):
    """Phi(x) = 0.5 + 0.5 erf(x / sqrt 2) (pattention_norm.cpp gelu_cdf)."""
    return 0.5 + 0.5 * torch.erf(x * float(INV_SQRT2))


def _gelu_scalar_form(x):
    """gelu(x) = 0.5 x (1 + erf(x / sqrt 2)) (layers/gelu.h, the Transformer's MLP)."""
    return 0.5 * x * (1.0 + torch.erf(x * float(INV_SQRT2)))


def layer_norm(x, weight=None, bias=None):
    """LayerNorm over the last dim as layers/layer_norm.cpp: x (..., d) float32 -> (..., d).

    mean and variance in float64, rstd = float32(1 / sqrt(var + eps)), xhat = float32(x - mean) * rstd.
    """
    xd = x.to(torch.float64)
    mean = xd.mean(dim=-1, keepdim=True)
    centered = xd - mean
    var = (centered * centered).mean(dim=-1, keepdim=True)
    rstd = (1.0 / torch.sqrt(var + float(LAYER_NORM_EPS))).to(torch.float32)
    xhat = centered.to(torch.float32) * rstd
    return xhat * weight + bias if weight is not None else xhat


def pattention_normalize(a, normalization, tau):
    """Row-wise score normalisation (pattention_norm.cpp): a (..., n) float32 -> S (..., n).

    tau: a float32 number (the layer's tau).
    """
    tau = np.float32(tau)
    if normalization == "l2_norm_gelu":
        r = torch.sqrt((a * a).sum(dim=-1, keepdim=True) + float(PATTENTION_EPS))
        z = a * (float(tau) / r)
        return z * _gelu_cdf(z)
    if normalization == "gelu_l2_norm":
        g = a * _gelu_cdf(a)
        r = torch.sqrt((g * g).sum(dim=-1, keepdim=True) + float(PATTENTION_EPS))
        return g * (float(tau) / r)
    if normalization == "softmax":
        e = torch.exp(a - a.amax(dim=-1, keepdim=True))
        return e * (float(tau * tau) / e.sum(dim=-1, keepdim=True))
    raise ValueError(f"unknown Pattention normalization \"{normalization}\" (expected {', '.join(NORMALIZATIONS)})")


def rotary_tables(seq, rot_dims, base):
    """cos, sin (seq, rot_dims/2) float32: angle t * base^(-2i / r) in float64 (attention.cpp)."""
    half = rot_dims // 2
    t = np.arange(seq, dtype=np.float64)[:, None]
    i = np.arange(half, dtype=np.float64)[None, :]
    angle = t * np.power(float(base), -2.0 * i / float(rot_dims))
    return (torch.from_numpy(np.cos(angle).astype(np.float32)), torch.from_numpy(np.sin(angle).astype(np.float32)))


def apply_rotary(x, cos, sin, rot_dims):
    """GPT-NeoX rotate_half on the first rot_dims of each head: x (B, H, T, hd) -> same.

    y_i = x_i cos - x_{i+half} sin,  y_{i+half} = x_{i+half} cos + x_i sin;  dims >= rot_dims pass.
    """
    half = rot_dims // 2
    if half == 0:
        return x
    x1, x2, rest = x[..., :half], x[..., half:rot_dims], x[..., rot_dims:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin, rest], dim=-1)


# --------------------------------------------------------------------------------------
# Layers. Parameter names: a module path with "." for "/" is the checkpoint's /model path
# (layers.0.attn.query.keys <-> /model/layers/0/attn/query/keys).
# --------------------------------------------------------------------------------------
class Pattention(nn.Module):
    """keys K (n, d_in), values V (n, d_out); x (..., d_in) -> (..., d_out). Attributes:
    normalization, tau (float32), tau_anneal (dict from/to/start_step/steps, or None)."""

    def __init__(self, d_in, d_out, n_tokens, normalization):
        super().__init__()
        self.keys = nn.Parameter(torch.zeros(n_tokens, d_in))
        self.values = nn.Parameter(torch.zeros(n_tokens, d_out))
        self.normalization = normalization
        self.tau = np.float32(math.sqrt(np.float32(n_tokens)))  # sqrt(n) at creation, as the C++
        self.tau_anneal = None
        self.bf16 = False

    @property
    def n_tokens(self):
        return self.keys.shape[0]

    def update_tau(self, step):
        """tau at a global step of the anneal (Pattention::update_tau); no-op without one."""
        a = self.tau_anneal
        if not a or a["steps"] <= 0:
            return
        frac = min(max((step - a["start_step"]) / a["steps"], 0.0), 1.0)
        lo, hi = float(np.float32(a["from"])), float(np.float32(a["to"]))
        self.tau = np.float32(lo + (hi - lo) * frac)

    def forward(self, x):
        scores = _operand(x, self.bf16) @ _operand(self.keys, self.bf16).t()
        s = pattention_normalize(scores, self.normalization, self.tau)
        return _operand(s, self.bf16) @ _operand(self.values, self.bf16)


class Linear(nn.Module):
    """Bias-free linear map, weight (d_out, d_in) (PyTorch layout): x (..., d_in) -> x W^T."""

    def __init__(self, d_in, d_out):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(d_out, d_in))
        self.bf16 = False

    def forward(self, x):
        return _operand(x, self.bf16) @ _operand(self.weight, self.bf16).t()


class Mlp(nn.Module):
    """The Transformer baseline's FFN: GELU(x W_up^T) W_down^T; up (h, d), down (d, h)."""

    def __init__(self, d, hidden):
        super().__init__()
        self.up = Linear(d, hidden)
        self.down = Linear(hidden, d)

    def forward(self, x):
        return self.down(_gelu_scalar_form(self.up(x)))


class FinalNorm(nn.Module):
    """The final affine LayerNorm: weight, bias (d)."""

    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d))

    def forward(self, x):
        return layer_norm(x, self.weight, self.bias)


class Attention(nn.Module):
    """The four mappings of a block's attention (query, key, value, proj) and the causal
    multi-head rotary attention between them: x (B, T, d) -> (B, T, d)."""

    def __init__(self, config, make):
        super().__init__()
        d, heads = config["d_model"], config["n_heads"]
        self.query, self.key, self.value = make("qkv"), make("qkv"), make("qkv")
        self.proj = make("proj")
        self.n_heads, self.head_dim = heads, d // heads
        rot = int(math.floor(self.head_dim * float(config["rotary_fraction"])))
        self.rot_dims = rot - rot % 2
        self.rotary_base = float(config["rotary_base"])
        self.bf16 = False

    def _heads(self, x):  # (B, T, d) -> (B, H, T, hd)
        b, t, _ = x.shape
        return x.reshape(b, t, self.n_heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self._heads(self.query(x)), self._heads(self.key(x)), self._heads(self.value(x))
        if self.rot_dims // 2 > 0:
            cos, sin = rotary_tables(t, self.rot_dims, self.rotary_base)
            q, k = apply_rotary(q, cos, sin, self.rot_dims), apply_rotary(k, cos, sin, self.rot_dims)
        scale = float(np.float32(1.0) / np.sqrt(np.float32(self.head_dim)))
        scores = (_operand(q, self.bf16) @ _operand(k, self.bf16).transpose(-1, -2)) * scale
        causal = torch.ones(t, t, dtype=torch.bool).triu(1)
        scores = scores.masked_fill(causal, float("-inf"))
        p = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
        p = p * (1.0 / p.sum(dim=-1, keepdim=True))
        out = _operand(p, self.bf16) @ _operand(v, self.bf16)  # (B, H, T, hd)
        return self.proj(out.permute(0, 2, 1, 3).reshape(b, t, d))


class Block(nn.Module):
    """Pre-norm block: h = x + Attn(LN1 x); out = h + FFN(LN2 h). x (B, T, d) -> (B, T, d)."""

    def __init__(self, config):
        super().__init__()
        d = config["d_model"]
        if config["architecture"] == "tokenformer":
            counts = {"qkv": config["qkv_tokens"], "proj": config["proj_tokens"], "ffn": config["ffn_tokens"]}
            make = lambda kind: Pattention(d, d, counts[kind], config["normalization"])  # noqa: E731
            self.attn = Attention(config, make)
            self.ffn = make("ffn")
        else:
            self.attn = Attention(config, lambda kind: Linear(d, d))
            self.ffn = Mlp(d, config["ffn_hidden"])

    def forward(self, x):
        h = x + self.attn(layer_norm(x))
        return h + self.ffn(layer_norm(h))


class TokenGrowLM(nn.Module):
    """A tokengrow language model. tokens (B, T) int64 -> logits (B, T, vocab) float32.

    Attributes besides the parameters: config (the run config dict, JSON), model_config
    (its "model" object with defaults), tokenizer_kind ("bytes", "bpe", ...),
    tokenizer_model (bytes of the SentencePiece model, or None), tokenizer_vocab_size,
    step (global training step), state (the checkpoint's /state: {"datasets": {...},
    "attrs": {...}}, or None for a model not loaded from a file), source_path,
    emulate_bf16 (round matmul inputs to bf16 when the config says "bf16"; default True).
    """

    def __init__(self, config):
        super().__init__()
        config = dict(config)
        config["model"] = fill_model_defaults(config.get("model", {}))
        self.config = config
        m = self.model_config = config["model"]
        self.embedding = nn.Parameter(torch.zeros(m["vocab_size"], m["d_model"]))
        self.final_norm = FinalNorm(m["d_model"])
        self.layers = nn.ModuleList(Block(m) for _ in range(m["n_layers"]))
        self.tokenizer_kind, self.tokenizer_model, self.tokenizer_vocab_size = "bytes", None, 256
        self.state, self.step, self.source_path = None, 0, None
        self.emulate_bf16 = True

    # -- structure -------------------------------------------------------------------
    def checkpoint_parameters(self):
        """{checkpoint name ("layers/0/ffn/keys"): Parameter}, in tokengrow's order."""
        return {name.replace(".", "/"): p for name, p in self.named_parameters()}

    def pattentions(self):
        """{group name ("layers/0/attn/query"): Pattention} (empty for the Transformer)."""
        return {name.replace(".", "/"): mod for name, mod in self.named_modules() if isinstance(mod, Pattention)}

    def set_step(self, step):
        """Moves annealed taus to a global step (LanguageModel::set_step); `tokengrow eval`
        does not call this: the tau stored in a checkpoint is the tau at its step."""
        for p in self.pattentions().values():
            p.update_tau(step)

    @property
    def bf16(self):
        return self.emulate_bf16 and self.model_config["precision"] == "bf16"

    def _set_precision(self):
        for mod in self.modules():
            if hasattr(mod, "bf16") and mod is not self:
                mod.bf16 = self.bf16

    def init_weights(self, generator=None):
        """Random weights with tokengrow's scales (torch's RNG, not tokengrow's): keys, input
        projections and the embedding N(0, init_std); values and whatever writes into the
        residual stream (proj, FFN output) N(0, 2 / (n_layers sqrt d)): GPT-NeoX's wang_init, as
        ModelConfig::residual_init_std in C++ (src/model/model_config.h)."""
        m = self.model_config
        std, residual = float(m["init_std"]), 2.0 / (m["n_layers"] * math.sqrt(m["d_model"]))
        with torch.no_grad():
            for name, p in self.checkpoint_parameters().items():
                if name.startswith("final_norm"):
                    continue
                writes = name.endswith("/values") or name.endswith("proj/weight") or name.endswith("down/weight")
                p.normal_(0.0, residual if writes else std, generator=generator)
        return self

    # -- forward ---------------------------------------------------------------------
    def forward(self, tokens):
        """tokens (B, T) int64 in [0, vocab) -> logits (B, T, vocab) float32."""
        if tokens.dim() != 2:
            raise ValueError(f"tokens: expected (batch, seq), got shape {tuple(tokens.shape)}")
        vocab = self.model_config["vocab_size"]
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= vocab):
            raise ValueError(f"tokens: ids outside the vocabulary [0, {vocab})")
        self._set_precision()
        x = self.embedding[tokens]
        for block in self.layers:
            x = block(x)
        normed = self.final_norm(x)
        return _operand(normed, self.bf16) @ _operand(self.embedding, self.bf16).t()


def new_model(config):
    """A randomly initialised TokenGrowLM from a run config dict ({"model": {...}, ...})."""
    return TokenGrowLM(config).init_weights()


# --------------------------------------------------------------------------------------
# The seal (core/sealed_file.cpp)
# --------------------------------------------------------------------------------------
def _crc32_of_file(f, offset, end):
    f.seek(offset)
    crc, pos = 0, offset
    while pos < end:
        chunk = f.read(min(4 << 20, end - pos))
        if not chunk:
            raise OSError("read error while checking the seal")
        crc = zlib.crc32(chunk, crc)
        pos += len(chunk)
    return crc & 0xFFFFFFFF


def seal_header(kind, size, crc):
    """The 512-byte header: 4 text lines, NUL-padded (format_seal in the C++)."""
    text = f"{SEAL_MAGIC}\nkind {kind}\nbytes {size}\ncrc32 {crc:08x}\n".encode("ascii")
    if len(text) >= SEAL_BYTES:
        raise ValueError("seal header too long")
    return text + b"\0" * (SEAL_BYTES - len(text))


def seal_problem(path, kind="checkpoint"):
    """'' if path is a sound sealed file of this kind, else what is wrong (as the C++ says it)."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            header = f.read(SEAL_BYTES)
            lines = header.split(b"\0", 1)[0].decode("ascii", "replace").split("\n")
            if len(header) < SEAL_BYTES or len(lines) < 4 or lines[0] != SEAL_MAGIC:
                return f"no tokengrow seal in its first {SEAL_BYTES} bytes; expected a tokengrow {kind}"
            fields = dict(line.split(" ", 1) for line in lines[1:4] if " " in line)
            try:
                seal_kind, seal_bytes, seal_crc = fields["kind"], int(fields["bytes"]), int(fields["crc32"], 16)
            except (KeyError, ValueError):
                return "a malformed tokengrow seal"
            if seal_header(seal_kind, seal_bytes, seal_crc) != header:
                return "a malformed tokengrow seal"
            if seal_kind != kind:
                return f"a tokengrow {seal_kind}, not a {kind}"
            if size < seal_bytes:
                return f"truncated: {size} of {seal_bytes} bytes"
            if size > seal_bytes:
                return f"has {size} bytes but its seal says {seal_bytes} (modified after it was written?)"
            crc = _crc32_of_file(f, SEAL_BYTES, size)
            if crc != seal_crc:
                return f"damaged: its contents do not match its checksum (crc32 {crc:08x}, seal says {seal_crc:08x})"
    except OSError as e:
        return f"cannot read: {e}"
    return ""


def seal_file(path, kind="checkpoint"):
    """Writes the seal into the 512-byte user block of an HDF5 file made with
    h5py.File(path, "w", userblock_size=512): size and zlib CRC-32 of bytes [512, end)."""
    with open(path, "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        crc = _crc32_of_file(f, SEAL_BYTES, size)
        f.seek(0)
        f.write(seal_header(kind, size, crc))
        f.flush()
        os.fsync(f.fileno())


# --------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------
def _attr_str(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _read_state(f):
    """/state as {"datasets": {name: np.ndarray}, "attrs": {name: value}} (every entry, verbatim)."""
    if "state" not in f:
        raise ValueError(f"{f.filename}: no /state group")
    group = f["state"]
    return {"datasets": {k: group[k][()] for k in group if isinstance(group[k], h5py.Dataset)},
            "attrs": {k: group.attrs[k] for k in group.attrs}}


def _load_taus(f, model, path):
    """Each Pattention's tau as the C++ loader sets it: the stored attribute (fixed) or
    sqrt(n) (dynamic), rounded to float32, and its anneal if the group has one."""
    dynamic = model.model_config["tau_mode"] == "dynamic"
    for name, p in model.pattentions().items():
        attrs = f["model/" + name].attrs
        if "tau" not in attrs:
            raise ValueError(f"{path}: /model/{name} has no tau attribute")
        p.tau = np.float32(math.sqrt(np.float32(p.n_tokens))) if dynamic else np.float32(attrs["tau"])
        p.tau_anneal = None
        if "tau_anneal_steps" in attrs:
            p.tau_anneal = {"from": float(attrs["tau_anneal_from"]), "to": float(attrs["tau_anneal_to"]),
                            "start_step": int(attrs["tau_anneal_start_step"]), "steps": int(attrs["tau_anneal_steps"])}


def load_checkpoint(path, verify_seal=True):
    """A tokengrow checkpoint (trained, grown, or written by save_checkpoint) as a
    TokenGrowLM in eval mode, computing what `tokengrow eval` computes.

    verify_seal: check the file's size and CRC-32 first, as tokengrow does.
    """
    if verify_seal:
        problem = seal_problem(path, "checkpoint")
        if problem:
            raise ValueError(f"{path}: {problem}")
    with h5py.File(path, "r") as f:
        if _attr_str(f.attrs.get("format", "")) != CHECKPOINT_FORMAT:
            raise ValueError(f"{path}: not a tokengrow checkpoint (no format = \"{CHECKPOINT_FORMAT}\" attribute)")
        config = json.loads(_attr_str(f.attrs["config"]))
        if "model" not in config:
            raise ValueError(f"{path}: the /config attribute has no \"model\" object")
        model = TokenGrowLM(config)
        with torch.no_grad():
            for name, p in model.checkpoint_parameters().items():
                where = "model/" + name
                if where not in f:
                    raise ValueError(f"{path}: missing parameter /{where}")
                if tuple(f[where].shape) != tuple(p.shape):
                    raise ValueError(f"{path}: /{where} has shape {f[where].shape}, the model expects {tuple(p.shape)}")
                p.copy_(torch.from_numpy(np.asarray(f[where][()], dtype=np.float32)))
        _load_taus(f, model, path)
        model.tokenizer_kind = _attr_str(f.attrs["tokenizer"]) if "tokenizer" in f.attrs else "bytes"
        model.tokenizer_vocab_size = int(f.attrs.get("tokenizer_vocab_size", 256))
        model.tokenizer_model = bytes(f["tokenizer_model"][()].tobytes()) if "tokenizer_model" in f else None
        model.state = _read_state(f)
        model.step = int(model.state["datasets"]["step"][0])
        known = {"format", "format_version", "config", "tokenizer", "tokenizer_vocab_size"}
        model.extra_root_attrs = {k: f.attrs[k] for k in f.attrs if k not in known}
    model.source_path = os.path.abspath(path)
    return model.eval()


def _default_state(model):
    """/state of a model that was not loaded from a checkpoint: step 0, stage 0."""
    lr = float(model.config.get("train", {}).get("lr", 1e-3))
    ints = lambda *v: np.array(v, dtype=np.int64)  # noqa: E731
    return {"datasets": {"step": ints(0), "stage": ints(0), "stage_start_step": ints(0), "tokens": ints(0),
                         "data_rng": ints(0, 0, 0, 0)},
            "attrs": {"flops": 0.0, "wall_s": 0.0, "peak_lr": lr, "lr_scale": 1.0, "skipped_steps": np.int64(0),
                      "rollbacks": np.int64(0), "world_size": np.int64(1), "grad_accum": np.int64(1),
                      "log_loss_sum": 0.0, "log_loss_count": np.int64(0)}}


def _check_config_matches(model):
    """The config is what tokengrow builds the model from: every shape must agree with it."""
    expected = TokenGrowLM(model.config)
    for (name, p), (_, q) in zip(model.checkpoint_parameters().items(), expected.checkpoint_parameters().items()):
        if tuple(p.shape) != tuple(q.shape):
            raise ValueError(f"save_checkpoint: {name} has shape {tuple(p.shape)} but the config describes "
                             f"{tuple(q.shape)}; update model.config[\"model\"] to match")
    if len(model.checkpoint_parameters()) != len(expected.checkpoint_parameters()):
        raise ValueError("save_checkpoint: the model's parameters do not match its config")


def _write_hdf5(f, model):
    f.attrs["format"] = CHECKPOINT_FORMAT
    f.attrs["format_version"] = np.int64(CHECKPOINT_FORMAT_VERSION)
    f.attrs["config"] = json.dumps(model.config, separators=(",", ":"), sort_keys=True)
    f.attrs["tokenizer"] = model.tokenizer_kind
    f.attrs["tokenizer_vocab_size"] = np.int64(model.tokenizer_vocab_size)
    for k, v in getattr(model, "extra_root_attrs", {}).items():
        f.attrs[k] = v
    if model.tokenizer_model:
        f.create_dataset("tokenizer_model", data=np.frombuffer(model.tokenizer_model, dtype=np.uint8))
    params = model.checkpoint_parameters()
    for name, p in params.items():
        f.create_dataset("model/" + name, data=p.detach().cpu().numpy().astype(np.float32))
    for name, p in model.pattentions().items():
        g = f["model/" + name]
        g.attrs["tau"] = float(p.tau)
        g.attrs["normalization"] = model.model_config["normalization"]
        if p.tau_anneal and p.tau_anneal["steps"] > 0:
            a = p.tau_anneal
            g.attrs["tau_anneal_from"] = float(np.float32(a["from"]))
            g.attrs["tau_anneal_to"] = float(np.float32(a["to"]))
            g.attrs["tau_anneal_start_step"] = np.int64(a["start_step"])
            g.attrs["tau_anneal_steps"] = np.int64(a["steps"])
    # A fresh AdamW state (train/adamw.cpp): zero moments, zero step count per row.
    for name, p in params.items():
        shape = tuple(p.shape)
        f.create_dataset("optimizer/exp_avg/" + name, data=np.zeros(shape, np.float32))
        f.create_dataset("optimizer/exp_avg_sq/" + name, data=np.zeros(shape, np.float32))
        f.create_dataset("optimizer/row_steps/" + name, data=np.zeros(shape[0] if len(shape) >= 2 else 1, np.int64))
    state = model.state or _default_state(model)
    group = f.create_group("state")
    for k, v in state["datasets"].items():
        group.create_dataset(k, data=v)
    for k, v in state["attrs"].items():
        group.attrs[k] = v


def save_checkpoint(model, path, overwrite=True):
    """Writes `model` as a sealed tokengrow checkpoint that eval, inspect, grow and train
    (--resume DIR with it as latest.h5, or --resume FILE --out NEW) accept.

    Written: config (its "model" must describe the parameters' shapes), tokenizer (kind,
    vocab size, SentencePiece model), the weights (float32), each Pattention's tau,
    normalization and tau anneal, and /state as loaded (step, stage, tokens, data position,
    corpus checksum, ...; step 0 for a model not loaded from a file). The optimizer is
    NOT carried over: /optimizer holds a fresh AdamW state (zero moments, zero step
    counts), which tokengrow's loader requires to exist for train and grow. A resumed run
    therefore restarts Adam's bias correction (the LR schedule continues at `step`).

    The file is written to a temporary name beside `path`, sealed (size and zlib CRC-32
    of bytes 512 to the end in a 512-byte HDF5 user block), fsynced and renamed into place.
    """
    _check_config_matches(model)
    path = os.path.abspath(path)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path}: already exists")
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        with h5py.File(tmp, "w", userblock_size=SEAL_BYTES) as f:
            _write_hdf5(f, model)
        seal_file(tmp, "checkpoint")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


# --------------------------------------------------------------------------------------
# Tokenizing and evaluating text
# --------------------------------------------------------------------------------------
def find_tokengrow(binary=None):
    """The tokengrow binary: `binary`, else $TOKENGROW_BINARY, else ../build/tokengrow
    beside this file, else `tokengrow` on PATH; None if none exists."""
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (binary, os.environ.get("TOKENGROW_BINARY"), os.path.join(here, "..", "build", "tokengrow"),
                      shutil.which("tokengrow")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    if binary:
        raise FileNotFoundError(f"{binary}: no such executable")
    return None


def _tokenize_with_binary(model, text_path, binary):
    """Token ids of a text file by `tokengrow tokenize --ckpt C --text F` (JSON on stdout)."""
    exe = find_tokengrow(binary)
    if exe is None:
        raise RuntimeError(f"a {model.tokenizer_kind} (SentencePiece) checkpoint: Python here has no sentencepiece "
                           "module, so its text is tokenized by `tokengrow tokenize`, and no tokengrow binary was found "
                           "(pass tokenizer_binary=, set TOKENGROW_BINARY, or build ../build/tokengrow)")
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = model.source_path
        if not ckpt or not os.path.isfile(ckpt):  # the tokenizer lives in a checkpoint: write one
            ckpt = save_checkpoint(model, os.path.join(tmp, "tokenizer.h5"))
        run = subprocess.run([exe, "tokenize", "--ckpt", ckpt, "--text", text_path], capture_output=True, text=True)
    if run.returncode != 0:
        detail = run.stderr.strip() or run.stdout.strip()
        if "unknown command" in detail:
            raise RuntimeError(f"{exe} has no `tokenize` command, which a {model.tokenizer_kind} checkpoint needs "
                               "(Python here has no sentencepiece module); use a newer tokengrow")
        raise RuntimeError(f"{exe} tokenize failed (exit {run.returncode}): {detail}")
    return json.loads(run.stdout)


def tokenize_file(model, text_path, tokenizer_binary=None):
    """The ids `tokengrow eval --text` gives a file: its bytes (bytes tokenizer), or the
    checkpoint's SentencePiece model's ids via `tokengrow tokenize`."""
    if model.tokenizer_kind == "bytes":
        with open(text_path, "rb") as f:
            return list(f.read())
    if model.tokenizer_kind in SENTENCEPIECE_KINDS:
        return _tokenize_with_binary(model, text_path, tokenizer_binary)
    raise ValueError(f"unknown tokenizer \"{model.tokenizer_kind}\" (expected bytes, bpe or unigram)")


def tokenize(model, text_bytes, tokenizer_binary=None):
    """tokenize_file() for bytes in memory: list of int ids."""
    if model.tokenizer_kind == "bytes":
        return list(bytes(text_bytes))
    with tempfile.NamedTemporaryFile(suffix=".txt") as tmp:
        tmp.write(bytes(text_bytes))
        tmp.flush()
        return tokenize_file(model, tmp.name, tokenizer_binary)


def row_losses(logits, targets):
    """Per-position loss in nats as layers/cross_entropy.cpp: log-sum-exp in float64.

    logits (..., V) float32, targets (...) int64 -> (...) float64.
    """
    mx = logits.amax(dim=-1, keepdim=True)
    log_sum = torch.log(torch.exp((logits - mx).to(torch.float64)).sum(dim=-1)) + mx.squeeze(-1).to(torch.float64)
    return log_sum - logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1).to(torch.float64)


def eval_tokens(model, tokens, batch_size=16, max_windows=0):
    """Mean loss over consecutive non-overlapping windows of seq_len + 1 tokens (the last
    partial one dropped), each window's seq_len predictions counted once (train/evaluate.cpp).

    Returns {"loss": nats per token, "tokens": predictions, "windows": windows}.
    """
    seq, vocab = model.model_config["seq_len"], model.model_config["vocab_size"]
    ids = torch.as_tensor(tokens, dtype=torch.int64).reshape(-1)
    bad = ((ids < 0) | (ids >= vocab)).nonzero()
    if len(bad):
        i = int(bad[0])
        raise ValueError(f"token {int(ids[i])} at position {i} is outside the model's vocabulary [0, {vocab})")
    windows = len(ids) // (seq + 1)
    if max_windows > 0:
        windows = min(windows, max_windows)
    if windows == 0:
        raise ValueError(f"{len(ids)} tokens, fewer than one window of seq_len + 1 = {seq + 1}")
    data = ids[: windows * (seq + 1)].reshape(windows, seq + 1)
    total = 0.0
    with torch.no_grad():
        for first in range(0, windows, batch_size):
            batch = data[first:first + batch_size]
            total += float(row_losses(model(batch[:, :-1]), batch[:, 1:]).sum())
    return {"loss": total / (windows * seq), "tokens": windows * seq, "windows": windows}


def eval_text(model, text_path, tokenizer_binary=None, batch_size=16):
    """Mean nats per token of a text file, by the rule of `tokengrow eval --text` (float64 sum)."""
    return eval_tokens(model, tokenize_file(model, text_path, tokenizer_binary), batch_size)["loss"]


def read_corpus(path, split="val", verify_seal=True):
    """A split ("val" or "train") of a `tokengrow prepare` corpus: (n,) int64 token ids."""
    if split not in ("val", "train"):
        raise ValueError(f"split must be val or train, got \"{split}\"")
    if verify_seal:
        problem = seal_problem(path, "corpus")
        if problem:
            raise ValueError(f"{path}: {problem}")
    with h5py.File(path, "r") as f:
        return torch.from_numpy(f[split][()].astype(np.int64))


def eval_corpus(model, corpus_path, split="val", batch_size=16, max_windows=0):
    """Mean nats per token of a corpus split, as `tokengrow eval --data C --split S`
    (the corpus must have been made with the checkpoint's tokenizer; not checked here)."""
    return eval_tokens(model, read_corpus(corpus_path, split), batch_size, max_windows)["loss"]


# --------------------------------------------------------------------------------------
# GPT-NeoX TokenFormer interop (docs/interop.md): the public code's key names
# --------------------------------------------------------------------------------------

# tokengrow parameter (inside /model) -> public TokenFormer state_dict key, for layer i
# the module sequential.{i + 2} (0 is the embedding, 1 a parameterless pre-block step).
_NEOX_LAYER_KEYS = {
    "attn/query/keys": "attention.query.key_param_tokens",
    "attn/query/values": "attention.query.value_param_tokens",
    "attn/key/keys": "attention.key.key_param_tokens",
    "attn/key/values": "attention.key.value_param_tokens",
    "attn/value/keys": "attention.value.key_param_tokens",
    "attn/value/values": "attention.value.value_param_tokens",
    "attn/proj/keys": "attention.proj.key_param_tokens",
    "attn/proj/values": "attention.proj.value_param_tokens",
    "ffn/keys": "mlp.key_param_tokens",
    "ffn/values": "mlp.value_param_tokens",
}
# The Transformer baseline has no public TokenFormer counterpart: its linears keep
# tokengrow's names under the same module layout (docs/interop.md).
_TRANSFORMER_LAYER_KEYS = {
    "attn/query/weight": "attention.query.weight",
    "attn/key/weight": "attention.key.weight",
    "attn/value/weight": "attention.value.weight",
    "attn/proj/weight": "attention.proj.weight",
    "ffn/up/weight": "mlp.up.weight",
    "ffn/down/weight": "mlp.down.weight",
}


def neox_key(name, n_layers, architecture="tokenformer"):
    """The public-code key of tokengrow parameter `name` ("layers/3/attn/query/keys")."""
    if name == "embedding":
        return "sequential.0.word_embeddings.weight"
    if name.startswith("final_norm/"):
        return f"sequential.{n_layers + 3}.norm.{name.split('/', 1)[1]}"
    parts = name.split("/", 2)
    if len(parts) == 3 and parts[0] == "layers":
        table = _NEOX_LAYER_KEYS if architecture == "tokenformer" else _TRANSFORMER_LAYER_KEYS
        if parts[2] in table:
            return f"sequential.{int(parts[1]) + 2}.{table[parts[2]]}"
    raise ValueError(f"tokengrow parameter {name!r} has no GPT-NeoX key")


def tokengrow_name(key, n_layers, architecture="tokenformer"):
    """The inverse of neox_key; a key without the 'sequential.' prefix (DeepSpeed
    per-layer files name the module by file) is accepted as 'sequential.' + key."""
    if not key.startswith("sequential."):
        key = "sequential." + key
    index, _, rest = key[len("sequential."):].partition(".")
    if not index.isdigit():
        raise ValueError(f"{key!r} is not a GPT-NeoX TokenFormer key")
    index = int(index)
    if index == 0 and rest == "word_embeddings.weight":
        return "embedding"
    if index == n_layers + 3 and rest in ("norm.weight", "norm.bias"):
        return "final_norm/" + rest.split(".")[1]
    table = _NEOX_LAYER_KEYS if architecture == "tokenformer" else _TRANSFORMER_LAYER_KEYS
    inverse = {v: k for k, v in table.items()}
    if 2 <= index < n_layers + 2 and rest in inverse:
        return f"layers/{index - 2}/{inverse[rest]}"
    raise ValueError(f"{key!r}: no tokengrow parameter has this key (model of {n_layers} layers)")


def neox_config(model):
    """The JSON written beside an exported state_dict: GPT-NeoX's argument names for what
    the public code reads, and tokengrow's own config and per-layer tau to come back."""
    m = model.model_config
    return {
        "format": "tokengrow-neox-export",
        "architecture": m["architecture"],
        "hidden_size": m["d_model"], "num_layers": m["n_layers"], "num_attention_heads": m["n_heads"],
        "seq_length": m["seq_len"], "padded_vocab_size": m["vocab_size"],
        "qkv_slot_num": m["qkv_tokens"], "proj_slot_num": m["proj_tokens"], "ffn_slot_num": m["ffn_tokens"],
        "norm_activation_type": m["normalization"], "pos_emb": "rotary", "rotary_pct": m["rotary_fraction"],
        "rotary_emb_base": m["rotary_base"], "no_weight_tying": False, "norm": "layernorm", "layernorm_epsilon": 1e-5,
        # What the public code cannot express (docs/interop.md): the tau of every layer.
        "tau": {neox_key(name + "/keys", m["n_layers"], m["architecture"]).rsplit(".", 1)[0]: float(p.tau)
                for name, p in model.pattentions().items()},
        "tokenizer": model.tokenizer_kind, "tokenizer_vocab_size": model.tokenizer_vocab_size,
        "tokengrow_config": model.config,
    }


def to_neox_state_dict(model):
    """TokenGrowLM -> {GPT-NeoX TokenFormer key: float32 tensor} (docs/interop.md)."""
    m = model.model_config
    return {neox_key(name, m["n_layers"], m["architecture"]): p.detach().clone().contiguous()
            for name, p in model.checkpoint_parameters().items()}


def _config_from_neox(config, state_dict):
    """A tokengrow run config for a public-code export: its GPT-NeoX arguments, the shapes
    of its tensors, and tau recomputed as sqrt(n) (tau_mode dynamic), as that code does."""
    if "tokengrow_config" in config:
        return json.loads(json.dumps(config["tokengrow_config"]))
    def tensor(key):
        if key not in state_dict:
            raise ValueError(f"the state_dict has no {key}")
        return state_dict[key]

    embedding = tensor("sequential.0.word_embeddings.weight")
    layers = config.get("num_layers")
    if layers is None:
        raise ValueError("the config has neither tokengrow_config nor num_layers")
    slots = lambda key: int(tensor(f"sequential.2.{key}.key_param_tokens").shape[0])  # noqa: E731
    model = {"architecture": "tokenformer", "vocab_size": int(embedding.shape[0]), "d_model": int(embedding.shape[1]),
             "n_layers": int(layers), "n_heads": int(config["num_attention_heads"]),
             "seq_len": int(config.get("seq_length", 2048)), "qkv_tokens": slots("attention.query"),
             "proj_tokens": slots("attention.proj"), "ffn_tokens": slots("mlp"),
             "normalization": config.get("norm_activation_type", "l2_norm_gelu"),
             "rotary_fraction": float(config.get("rotary_pct", 0.25)),
             "rotary_base": float(config.get("rotary_emb_base", 10000)), "tau_mode": "dynamic"}
    if config.get("no_weight_tying"):
        raise ValueError("the model has an untied output layer (no_weight_tying); tokengrow ties it to the embedding")
    return {"data": config.get("data", "imported.h5"), "model": model, "train": {}}


# dtypes import widens to float32 exactly (every value of theirs is a float32); any other
# dtype is refused: import never changes a weight's value (float64 would be rounded).
_WIDENED_DTYPES = (torch.float16, torch.bfloat16)


def read_state_dict_file(path):
    """torch.load(path) as data only: weights_only, so a pickle naming a function (code to
    run) is refused, never run. Any failure is one ValueError naming the file."""
    if not os.path.isfile(path):
        raise ValueError(f"{path}: " + ("is a directory, not a file" if os.path.isdir(path) else "no such file"))
    if os.path.getsize(path) == 0:
        raise ValueError(f"{path}: the file is empty, not a PyTorch state_dict")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 -- whatever a foreign file makes torch.load raise is bad input
        # torch's message spans lines and advises weights_only=False; its last clause is the cause.
        lines = str(e).split("WeightsUnpickler error:")[-1].strip().splitlines()
        reason = lines[0][:200] if lines else type(e).__name__
        if reason.startswith("Unsupported class "):
            raise ValueError(f"{path}: not a state_dict: it names {reason.split()[-1]}, which a state_dict of tensors "
                             "never does; nothing was run (torch.load weights_only)") from None
        raise ValueError(f"{path}: not a PyTorch state_dict that loads as plain data ({reason})") from None


def check_state_dict(state_dict, source="the state_dict"):
    """A state_dict as torch.save wrote it, or as DeepSpeed did ({"module": ...}), checked:
    a dict of name -> finite float32 tensor (float16 / bfloat16 widened exactly).

    Returns (the dict with every key as "sequential.<...>", {dtype name: tensors widened}).
    ValueError naming `source` and the key for anything else.
    """
    if isinstance(state_dict, dict) and "module" in state_dict and isinstance(state_dict["module"], dict):
        state_dict = state_dict["module"]
    if not isinstance(state_dict, dict):
        raise ValueError(f"{source}: holds a {type(state_dict).__name__}, not a state_dict (a dict of tensor names to "
                         "tensors)")
    out, widened = {}, {}
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise ValueError(f"{source}: key {key!r} ({type(key).__name__}) is not a tensor name")
        if not torch.is_tensor(value):
            raise ValueError(f"{source}: state_dict entry {key!r} is not a tensor")
        dtype = str(value.dtype).replace("torch.", "")
        if value.dtype in _WIDENED_DTYPES:
            widened[dtype] = widened.get(dtype, 0) + 1
            value = value.to(torch.float32)
        elif value.dtype != torch.float32:
            raise ValueError(f"{source}: {key} is {dtype}; expected float32 (float16 and bfloat16 are widened "
                             "exactly; convert anything else yourself, e.g. float64 with .float(), which rounds)")
        bad = ~torch.isfinite(value)
        if bool(bad.any()):
            first = tuple(int(i) for i in bad.nonzero()[0])
            raise ValueError(f"{source}: {key} holds {int(bad.sum())} non-finite value(s) (NaN or Inf), the first "
                             f"at {first}; a model's weights must be finite")
        out[key if key.startswith("sequential.") else "sequential." + key] = value
    return out, widened


def from_neox_state_dict(state_dict, config):
    """(GPT-NeoX TokenFormer state_dict, its JSON config) -> TokenGrowLM: every tensor of
    the model from the state_dict (none missing, none left over, shapes, dtypes and
    finiteness checked: check_state_dict)."""
    state_dict, _ = check_state_dict(state_dict)
    run_config = _config_from_neox(config, state_dict)
    model = TokenGrowLM(run_config)
    m = model.model_config
    params = model.checkpoint_parameters()
    seen = set()
    with torch.no_grad():
        for key, value in state_dict.items():
            name = tokengrow_name(key, m["n_layers"], m["architecture"])
            if tuple(value.shape) != tuple(params[name].shape):
                raise ValueError(f"{key}: shape {tuple(value.shape)}, the model expects {tuple(params[name].shape)}")
            params[name].copy_(value)
            seen.add(name)
    missing = [name for name in params if name not in seen]
    if missing:
        if missing == ["final_norm/weight", "final_norm/bias"] or all(n.startswith("final_norm") for n in missing):
            raise ValueError(f"the state_dict has no final norm (sequential.{m['n_layers'] + 3}.norm.*)")
        raise ValueError(f"the state_dict lacks {neox_key(missing[0], m['n_layers'], m['architecture'])} "
                         f"(and {len(missing) - 1} more)")
    taus = config.get("tau", {})
    for name, p in model.pattentions().items():
        key = neox_key(name + "/keys", m["n_layers"], m["architecture"]).rsplit(".", 1)[0]
        if key in taus and m["tau_mode"] == "fixed":
            if not isinstance(taus[key], (int, float)) or not math.isfinite(taus[key]):
                raise ValueError(f"tau.{key}: {taus[key]!r}; expected a finite number")
            p.tau = np.float32(taus[key])
    model.tokenizer_kind = config.get("tokenizer", "bytes")
    model.tokenizer_vocab_size = int(config.get("tokenizer_vocab_size", 256))
    return model




def _read_import_config(path):
    """The JSON config beside a state_dict: an object; ValueError naming the file otherwise."""
    try:
        with open(path) as f:
            config = json.load(f)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file (the state_dict's JSON config; give it with --config)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: holds a JSON {type(config).__name__}, not the config object `tokengrow export` writes")
    return config


def _write_atomically(path, write):
    """write(file) into a temporary file beside `path`, then renamed over it."""
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv):
    """`tokengrow export` / `tokengrow import` run this (src/cli/python_tool.cpp):
        tokengrow_torch.py export CKPT OUT.pt          (config beside it: OUT.json)
        tokengrow_torch.py import STATE.pt CONFIG.json OUT.h5
    """
    try:
        if len(argv) == 3 and argv[0] == "export":
            ckpt, pt = argv[1], argv[2]
            model = load_checkpoint(ckpt)
            base = os.path.splitext(pt)[0]
            _write_atomically(pt, lambda f: torch.save(to_neox_state_dict(model), f))
            _write_atomically(base + ".json", lambda f: f.write(json.dumps(neox_config(model), indent=2).encode()))
            if model.tokenizer_model:  # a SentencePiece .model file, as that library reads it
                _write_atomically(base + ".model", lambda f: f.write(model.tokenizer_model))
            print(f"wrote {pt} ({len(model.checkpoint_parameters())} tensors, GPT-NeoX TokenFormer key names) and "
                  f"{base}.json" + (f" and {base}.model (the {model.tokenizer_kind} tokenizer)" if model.tokenizer_model else ""))
            return 0
        if len(argv) == 4 and argv[0] == "import":
            pt, config_path, ckpt = argv[1], argv[2], argv[3]
            state_dict, widened = check_state_dict(read_state_dict_file(pt), pt)
            config = _read_import_config(config_path)
            if widened:
                print(f"warning: {pt}: " + ", ".join(f"{n} {dtype} tensors" for dtype, n in widened.items()) +
                      " widened to float32 (exact: each of their values is a float32)", file=sys.stderr)
            try:
                model = from_neox_state_dict(state_dict, config)
            except ValueError as e:
                raise ValueError(f"{pt} with {config_path}: {e}") from None
            if model.tokenizer_kind != "bytes":
                sidecar = os.path.splitext(config_path)[0] + ".model"
                if not os.path.exists(sidecar):
                    raise ValueError(f"{config_path}: a {model.tokenizer_kind} tokenizer, but {sidecar} (its model) is missing")
                with open(sidecar, "rb") as f:
                    model.tokenizer_model = f.read()
            save_checkpoint(model, ckpt)
            return 0
    except (NotImplementedError, ValueError, OSError, RuntimeError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("usage: tokengrow_torch.py export CKPT OUT.pt | import STATE.pt CONFIG.json OUT.h5", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
