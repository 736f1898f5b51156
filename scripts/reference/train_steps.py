#!/usr/bin/env python3
"""PyTorch reference of consecutive training steps as the trainer runs them (the seed code's step).

Written from the seed code's semantics (XinliYue/VQA-Generalization fastvqa/train.py, class WP, as
summarised in docs and scripts/reference/README.md), not from the Swift code: per step
  1. zero grads; forward in train mode (dropout masks of stream 0); PLCC + 0.3 rank loss on the batch;
     backward -> g (for RWP a forward only: the logged loss; the seed code's RWP backward is discarded)
  2. if the step perturbs (AWP/RWP, epoch >= start_epoch, global step % every == 0): for every
     parameter named '*weight': d = g (AWP) or N(0,1) noise (RWP);
     w' = clamp(w + gamma*d/(|d|+1e-6)*(|w|+1e-6), w -+ gamma|w|); zero grads; forward (FRESH dropout
     masks, as the seed's second train-mode forward draws; stream 1) at w'; backward -> g'; restore w
  3. clip the gradient by global norm (torch.nn.utils.clip_grad_norm_) when clip_norm > 0
  4. optimizer step (AdamW or SGD, backbone group at lr*backbone_lr_mult) with the step's lr
  5. EMA: ema = ema*d + w*(1-d)
Randomness that both sides must share is reproduced exactly: dropout masks and RWP noise come from
vqa-mpi's counter RNG (Philox4x32-10 keyed by seed, stream, sample key, purpose; re-implemented below
from its definition), so the fixture pins which masks each pass uses.

Writes Tests/Fixtures/step/train_steps.safetensors (layout: scripts/reference/README.md, section
"Training steps"). Usage: train_steps.py [--out FILE] [--no-f64-check]
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fragnet import BACKBONE_PREFIXES, FragNet, clip_like_input, total_loss  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
MASK32, MASK64 = 0xFFFFFFFF, (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
PURPOSE_DROPOUT, PURPOSE_RWP = 2, 3
SEED = 42

MODEL = dict(widths=[2, 2, 4, 4], head_hidden=4, groups=1)
N, T, SIZE = 4, 2, 32

# Each case: config overrides as `vqa-mpi train --set` keys (what the Swift test feeds TrainConfig),
# and the (epoch, global step, lr, batch) of every step.
def schedule(n, epoch_of=lambda s: 0, scale=1.0):
    lrs = [4e-4, 1e-3, 8e-4, 6e-4, 5e-4]
    return [(epoch_of(s), s, lrs[s] * scale, "AB"[s % 2]) for s in range(n)]


CASES = {
    "awp_adamw": dict(sets=["regularization.kind=awp", "regularization.awp.gamma=0.05", "model.options.dropout=0.5",
                            "train.ema=0.9"], steps=schedule(3)),
    "awp_shared_masks": dict(sets=["regularization.kind=awp", "regularization.awp.gamma=0.05", "model.options.dropout=0.5",
                                   "train.ema=0.9", "regularization.awp.dropout_masks=shared"], steps=schedule(3)),
    "rwp_adamw": dict(sets=["regularization.kind=rwp", "regularization.rwp.gamma=0.05", "model.options.dropout=0.5",
                            "train.ema=0.9"], steps=schedule(3)),
    "awp_every2_start1": dict(sets=["regularization.kind=awp", "regularization.awp.gamma=0.05", "regularization.awp.every=2",
                                    "regularization.awp.start_epoch=1", "model.options.dropout=0", "train.ema=0.9"],
                              steps=schedule(5, lambda s: 0 if s < 2 else 1)),
    # SGD without clipping, so a wrong gradient scale shows (clipping would normalise it away).
    "sgd_awp": dict(sets=["optimizer.kind=sgd", "optimizer.momentum=0.9", "optimizer.wd=0.001",
                          "optimizer.backbone_lr_mult=0.5", "regularization.kind=awp", "regularization.awp.gamma=0.05",
                          "model.options.dropout=0.5", "train.ema=0.9"], steps=schedule(3, scale=25)),
    "adamw_l2_clip": dict(sets=["regularization.kind=l2", "regularization.l2.wd=0.2", "optimizer.clip_norm=0.02",
                                "optimizer.backbone_lr_mult=0.3", "model.options.dropout=0", "train.ema=0.9"], steps=schedule(3)),
}
DEFAULTS = {"optimizer.kind": "adamw", "optimizer.lr": 1e-3, "optimizer.backbone_lr_mult": 0.1, "optimizer.wd": 0.05,
            "optimizer.momentum": 0.9, "optimizer.clip_norm": 0.0, "regularization.kind": "none", "regularization.l2.wd": 0.05,
            "train.ema": 0.999, "model.options.dropout": 0.5}


def parse(sets):
    """The case's effective settings (TrainConfig's defaults overridden by its --set keys)."""
    c = dict(DEFAULTS)
    for s in sets:
        k, v = s.split("=", 1)
        try:
            c[k] = float(v)
        except ValueError:
            c[k] = v
    reg = c["regularization.kind"]
    if reg in ("awp", "rwp"):
        c.setdefault(f"regularization.{reg}.every", 1.0)
        c.setdefault(f"regularization.{reg}.start_epoch", 0.0)
        c.setdefault(f"regularization.{reg}.dropout_masks", "fresh")
    return c


# ----- vqa-mpi's counter RNG (Philox4x32-10), from its definition ------------------------------

class CounterRNG:
    """Philox4x32-10 keyed by (seed, epoch, index, purpose); the counter's first word counts blocks."""

    def __init__(self, seed, epoch, index, purpose):
        self.k0 = seed & MASK32
        self.k1 = ((seed >> 32) & MASK32) ^ ((purpose * 0x9E3779B9) & MASK32)
        self.c = [0, epoch & MASK32, index & MASK32, ((index >> 32) & MASK32) ^ ((purpose << 24) & MASK32)]
        self.buf, self.used = [0, 0, 0, 0], 4

    @staticmethod
    def philox(c, k0, k1):
        x0, x1, x2, x3 = c
        a, b = k0, k1
        for _ in range(10):
            p0 = 0xD2511F53 * x0
            p1 = 0xCD9E8D57 * x2
            n0 = ((p1 >> 32) ^ x1 ^ a) & MASK32
            n2 = ((p0 >> 32) ^ x3 ^ b) & MASK32
            x1, x3 = p1 & MASK32, p0 & MASK32
            x0, x2 = n0, n2
            a, b = (a + 0x9E3779B9) & MASK32, (b + 0xBB67AE85) & MASK32
        return [x0, x1, x2, x3]

    def next_u32(self):
        if self.used == 4:
            self.buf = self.philox(self.c, self.k0, self.k1)
            self.c[0] = (self.c[0] + 1) & MASK32
            self.used = 0
        v = self.buf[self.used]
        self.used += 1
        return v

    def next_float(self):
        return np.float32(self.next_u32() >> 8) * np.float32(1.0 / 16777216.0)


def dropout_mask(shape, p, pass_seed, stream, keys, op=1):
    """Inverted-dropout mask of the tape's op `op` (fragnet's only random op: the head dropout):
    one stream per sample keyed by its global sample index, mask = 0 if u < p else 1/(1-p)."""
    keep = np.float32(1) / (np.float32(1) - np.float32(p))
    per = int(np.prod(shape[1:]))
    out = np.zeros((shape[0], per), dtype=np.float32)
    for r, key in enumerate(keys):
        rng = CounterRNG(pass_seed, stream, (key * 1024 + op) & MASK64, PURPOSE_DROPOUT)
        for i in range(per):
            out[r, i] = 0 if rng.next_float() < np.float32(p) else keep
    return torch.from_numpy(out.reshape(shape))


def rwp_noise(count, seed, step, tensor, block=8192):
    """N(0,1) noise of one tensor: blocks of 8192 values, block b from CounterRNG(seed, step,
    tensor << 32 | b, rwpNoise), Marsaglia's polar method in float32 (both values of a pair)."""
    out = np.zeros(count, dtype=np.float32)
    unit = np.float32(2.0 / 16777216.0)
    for b in range((count + block - 1) // block):
        rng = CounterRNG(seed, step, (tensor << 32) | b, PURPOSE_RWP)
        lo, hi = b * block, min(count, (b + 1) * block)
        j = lo
        while j < hi:
            u = np.float32(rng.next_u32() >> 8) * unit - np.float32(1)
            v = np.float32(rng.next_u32() >> 8) * unit - np.float32(1)
            s = np.float32(u * u + v * v)
            if s >= 1 or s == 0:
                continue
            f = np.sqrt(np.float32(-2) * np.log(s) / s, dtype=np.float32)
            out[j] = u * f
            if j + 1 < hi:
                out[j + 1] = v * f
            j += 2
    return torch.from_numpy(out)


# ----- the step ---------------------------------------------------------------------------------

class HeadDropout(torch.nn.Module):
    """Dropout whose mask is set before each pass (the counter-RNG mask of that pass)."""

    def __init__(self):
        super().__init__()
        self.mask = None

    def forward(self, x):
        return x if self.mask is None else x * self.mask.to(x.dtype)


def run_case(name, case, init, batches, dtype, mutate=None):
    c = parse(case["sets"])
    model = FragNet(MODEL["widths"], MODEL["head_hidden"], MODEL["groups"], dropout=0.0).to(dtype)
    model.head.dropout = HeadDropout()
    model.load_state_dict({k: v.to(dtype) for k, v in init.items()})
    model.train()
    names = [n for n, _ in model.named_parameters()]
    params = dict(model.named_parameters())
    backbone = [params[n] for n in names if n.startswith(BACKBONE_PREFIXES)]
    head = [params[n] for n in names if not n.startswith(BACKBONE_PREFIXES)]
    lr0, mult = c["optimizer.lr"], c["optimizer.backbone_lr_mult"]
    reg = c["regularization.kind"]
    wd = c["regularization.l2.wd"] if reg == "l2" else c["optimizer.wd"]
    groups = [{"params": backbone, "lr": lr0 * mult}, {"params": head, "lr": lr0}]
    if c["optimizer.kind"] == "sgd":
        opt = torch.optim.SGD(groups, lr=lr0, momentum=c["optimizer.momentum"], weight_decay=wd, foreach=False)
    else:
        opt = torch.optim.AdamW(groups, lr=lr0, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd, foreach=False)
    decay = c["train.ema"]
    ema = {n: params[n].detach().clone() for n in names}
    p_drop = c["model.options.dropout"]
    perturb_kind = reg if reg in ("awp", "rwp") else None
    gamma = c.get(f"regularization.{reg}.gamma", 0.0)

    def forward_loss(x, y, pass_seed, stream, keys):
        hid_shape = (x.shape[0], MODEL["head_hidden"], x.shape[2] // 2, x.shape[3] // 32, x.shape[4] // 32)
        model.head.dropout.mask = dropout_mask(hid_shape, p_drop, pass_seed, stream, keys) if p_drop > 0 else None
        scores, _ = model(x)
        return total_loss(scores, y)[2]

    record = {"loss": [], "perturbed_loss": [], "w": [], "ema": [], "s1": [], "s2": []}
    for (epoch, step, lr, which) in case["steps"]:
        x, y, keys = batches[which]
        x, y = x.to(dtype), y.to(dtype)
        for g, mul in zip(opt.param_groups, (mult, 1.0)):
            g["lr"] = lr * mul
        pass_seed = (SEED + step * GOLDEN) & MASK64
        perturb = (perturb_kind is not None and epoch >= c[f"regularization.{reg}.start_epoch"]
                   and step % int(c[f"regularization.{reg}.every"]) == 0)
        clean_loss = math.nan
        if not (perturb and perturb_kind == "rwp"):
            opt.zero_grad(set_to_none=False)
            loss = forward_loss(x, y, pass_seed, 0, keys)
            loss.backward()
            clean_loss = loss.item()
        else:  # RWP: the clean pass gives the logged loss (the seed code logs it); its gradient is unused
            with torch.no_grad():
                clean_loss = forward_loss(x, y, pass_seed, 0, keys).item()
        adv_loss = math.nan
        if perturb:
            backup = {}
            with torch.no_grad():
                for i, n in enumerate(names):
                    if not n.endswith("weight"):
                        continue
                    p = params[n]
                    w0 = p.detach().clone()
                    backup[n] = w0
                    d = p.grad.detach().clone() if perturb_kind == "awp" else rwp_noise(p.numel(), SEED, step, i).reshape(p.shape).to(dtype)
                    dn = torch.norm(d)
                    if dn == 0 or not torch.isfinite(dn):
                        continue
                    r = gamma * d / (dn + 1e-6) * (torch.norm(w0) + 1e-6)
                    p.copy_(torch.min(torch.max(w0 + r, w0 - gamma * w0.abs()), w0 + gamma * w0.abs()))
            clean_grads = [p.grad.detach().clone() for p in model.parameters()] if mutate == "clean_grad" else None
            if mutate != "no_zero":
                opt.zero_grad(set_to_none=False)
            fresh = c[f"regularization.{reg}.dropout_masks"] == "fresh" and mutate != "shared_masks"
            adv = forward_loss(x, y, pass_seed, 1 if fresh else 0, keys)
            adv.backward()
            adv_loss = adv.item()
            if mutate == "clean_grad":
                for p, g in zip(model.parameters(), clean_grads):
                    p.grad.copy_(g)
            if mutate != "restore_late":
                with torch.no_grad():
                    for n, w0 in backup.items():
                        params[n].copy_(w0)
        if mutate == "grad_x2":
            for p in model.parameters():
                p.grad.mul_(2)
        if c["optimizer.clip_norm"] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), c["optimizer.clip_norm"], foreach=False)
        opt.step()
        if perturb and mutate == "restore_late":
            with torch.no_grad():
                for n, w0 in backup.items():
                    params[n].copy_(w0)
        with torch.no_grad():
            for n in names:
                ema[n].mul_(decay).add_(params[n], alpha=1 - decay)
        record["loss"].append(clean_loss)
        record["perturbed_loss"].append(adv_loss)
        flat = lambda d: torch.cat([d[n].detach().reshape(-1) for n in names])
        record["w"].append(flat(params))
        record["ema"].append(flat(ema))
        if c["optimizer.kind"] == "sgd":
            record["s1"].append(flat({n: opt.state[params[n]]["momentum_buffer"] for n in names}))
        else:
            record["s1"].append(flat({n: opt.state[params[n]]["exp_avg"] for n in names}))
            record["s2"].append(flat({n: opt.state[params[n]]["exp_avg_sq"] for n in names}))
    return record, names, c


def build(dtype=torch.float32):
    torch.manual_seed(0)
    model = FragNet(MODEL["widths"], MODEL["head_hidden"], MODEL["groups"], dropout=0.0)
    init = {k: v.clone() for k, v in model.state_dict().items()}
    gen = torch.Generator().manual_seed(1)
    batches = {}
    for which, base in (("A", 100), ("B", 200)):
        x = clip_like_input(N, T, SIZE, gen)
        y = 1.0 + 4.0 * torch.rand(N, generator=gen)
        batches[which] = (x, y, [base + i for i in range(N)])
    out = {}
    records = {}
    for name, case in CASES.items():
        rec, names, c = run_case(name, case, init, batches, dtype)
        records[name] = rec
        for key in ("w", "ema", "s1", "s2"):
            for k, v in enumerate(rec[key]):
                out[f"{name}.{key}.{k}"] = v
        out[f"{name}.loss"] = torch.tensor(rec["loss"])
        out[f"{name}.perturbed_loss"] = torch.tensor(rec["perturbed_loss"])
        out[f"{name}.lr"] = torch.tensor([s[2] for s in case["steps"]])
    out["init"] = torch.cat([init[n].reshape(-1) for n in names])
    for which, (x, y, keys) in batches.items():
        out[f"batch.{which}.x"] = x
        out[f"batch.{which}.labels"] = y
    return out, records, names, batches, init


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "Tests", "Fixtures", "step", "train_steps.safetensors"))
    ap.add_argument("--no-f64-check", action="store_true")
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    from safetensors.torch import save_file
    out, records, names, batches, init = build()
    shapes = {n: list(v.shape) for n, v in FragNet(MODEL["widths"], MODEL["head_hidden"], MODEL["groups"]).named_parameters()}
    meta = {"names": json.dumps(names), "shapes": json.dumps(shapes), "model": json.dumps(MODEL), "seed": str(SEED),
            "clip": json.dumps([3, T, SIZE, SIZE]), "batch_keys": json.dumps({k: v[2] for k, v in batches.items()}),
            "cases": json.dumps({k: {"sets": v["sets"], "steps": v["steps"]} for k, v in CASES.items()}),
            "generator": "scripts/reference/train_steps.py", "torch_version": torch.__version__}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    save_file({k: v.to(torch.float32).contiguous() for k, v in out.items()}, args.out, metadata=meta)
    print(f"wrote {args.out}: {len(out)} tensors, {os.path.getsize(args.out)} bytes, {out['init'].numel()} parameters")
    for name, rec in records.items():
        print(f"  {name:18s} loss {[round(v, 6) for v in rec['loss']]} perturbed {[round(v, 6) for v in rec['perturbed_loss']]}")
    if not args.no_f64_check:
        ref, rec64, _, _, _ = build(torch.float64)
        sizes = [init[n].numel() for n in names]
        print("  float32 vs float64, worst tensor and step (max |diff| / max(|ref|, floor); floor 1e-3 for"
              " weights/EMA, 1e-12 for moments; head.fc_last.bias excluded):")
        for name in CASES:
            row = []
            for key in ("w", "ema", "s1", "s2"):
                worst = 0.0
                for k in [k for k in out if k.startswith(f"{name}.{key}.")]:
                    for n, a, b in zip(names, torch.split(out[k].double(), sizes), torch.split(ref[k], sizes)):
                        if n != "head.fc_last.bias":
                            floor = 1e-3 if key in ("w", "ema") else 1e-12
                            worst = max(worst, ((a - b).abs().max() / max(b.abs().max().item(), floor)).item())
                if any(k.startswith(f"{name}.{key}.") for k in out):
                    row.append(f"{key} {worst:.2e}")
            print(f"    {name:18s} " + ", ".join(row))
    # How far plausible mistakes move the weights after the first step (max over tensors other than
    # head.fc_last.bias of |diff| / max(|ref|, 1e-3)): the Swift test's tolerance is 5e-5.
    sizes = [init[n].numel() for n in names]
    print("  mistakes (relative change of the weights after step 1; the test tolerates 5e-5):")
    for case, mutate in (("awp_adamw", "shared_masks"), ("awp_adamw", "no_zero"), ("awp_adamw", "clean_grad"),
                         ("awp_adamw", "restore_late"), ("sgd_awp", "no_zero"), ("sgd_awp", "grad_x2"),
                         ("rwp_adamw", "restore_late")):
        rec, _, _ = run_case(case, CASES[case], init, batches, torch.float32, mutate=mutate)
        worst = 0.0
        for n, a, b in zip(names, torch.split(rec["w"][0], sizes), torch.split(out[f"{case}.w.0"], sizes)):
            if n != "head.fc_last.bias":
                worst = max(worst, ((a - b).abs().max() / max(b.abs().max().item(), 1e-3)).item())
        print(f"    {case:14s} {mutate:14s} {worst:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
