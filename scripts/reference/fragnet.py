#!/usr/bin/env python3
"""PyTorch reference for vqa-mpi's `fragnet` model, FAST-VQA losses, AdamW and the AWP step.

Running this file writes the parity fixture Tests/EngineTests/Fixtures/fragnet_reference.safetensors
(tensor names and conventions: scripts/reference/README.md). scripts/bench/torch_engine.py imports
the model from here. Needs torch==2.13.0+cpu, numpy, safetensors (requirements.txt).

Shapes: x [N, 3, T, H, W] -> stem [N, C0, T/2, H/4, W/4] -> stages.i [N, C_{i+1}, T/2, H/2^(i+3), ...]
        -> quality map [N, 1, T/2, H/32, W/32] -> score [N] (mean of the map).
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULT_WIDTHS = (24, 48, 96, 192)
# Parameters whose name starts with one of these belong to the backbone (learning rate x0.1).
BACKBONE_PREFIXES = ("stem.", "stages.")


def group_norm(groups, channels):
    """GroupNorm(groups, channels), or no normalisation (option norm=none) when groups is None."""
    return nn.Identity() if groups is None else nn.GroupNorm(groups, channels, eps=1e-5)


class Stem(nn.Module):
    """Patchify conv (2x4x4, stride = kernel) + GroupNorm + exact GELU."""

    def __init__(self, c_out, groups):
        super().__init__()
        self.conv = nn.Conv3d(3, c_out, kernel_size=(2, 4, 4), stride=(2, 4, 4), padding=0, bias=True)
        self.norm = group_norm(groups, c_out)

    def forward(self, x):
        return F.gelu(self.norm(self.conv(x)), approximate="none")


class Block(nn.Module):
    """Spatial 1x3x3 conv + GroupNorm + GELU (the residual add is done by the stage)."""

    def __init__(self, c, groups):
        super().__init__()
        self.conv = nn.Conv3d(c, c, kernel_size=(1, 3, 3), stride=1, padding=(0, 1, 1), bias=True)
        self.norm = group_norm(groups, c)

    def forward(self, x):
        return F.gelu(self.norm(self.conv(x)), approximate="none")


class Stage(nn.Module):
    """Downsampling 3x3x3 conv (stride 1,2,2) + GroupNorm + GELU, then out = down + block(down)."""

    def __init__(self, c_in, c_out, groups):
        super().__init__()
        self.down = nn.Conv3d(c_in, c_out, kernel_size=3, stride=(1, 2, 2), padding=1, bias=True)
        self.down_norm = group_norm(groups, c_out)
        self.block = Block(c_out, groups)

    def forward(self, x):
        d = F.gelu(self.down_norm(self.down(x)), approximate="none")
        return d + self.block(d)


class Head(nn.Module):
    """1x1x1 conv to head_hidden + GELU + Dropout, then 1x1x1 conv to one quality channel."""

    def __init__(self, c_in, hidden, dropout):
        super().__init__()
        self.fc_hid = nn.Conv3d(c_in, hidden, kernel_size=1, bias=True)
        self.dropout = nn.Dropout(dropout)
        self.fc_last = nn.Conv3d(hidden, 1, kernel_size=1, bias=True)

    def forward(self, x, acts=None):
        h = F.gelu(self.fc_hid(x), approximate="none")
        if acts is not None:
            acts["act.head.hid"] = h
        return self.fc_last(self.dropout(h))


class FragNet(nn.Module):
    """The `fragnet` model of vqa-mpi; state_dict names match the Swift parameter names."""

    def __init__(self, widths=DEFAULT_WIDTHS, head_hidden=64, groups=4, dropout=0.5, norm="group"):
        super().__init__()
        assert norm in ("group", "none"), "norm must be 'group' or 'none'"
        groups = groups if norm == "group" else None
        assert len(widths) == 4, "widths must be [C0, C1, C2, C3]"
        self.config = dict(widths=list(widths), head_hidden=head_hidden, groups=groups, dropout=dropout, norm=norm)
        self.stem = Stem(widths[0], groups)
        self.stages = nn.ModuleList([Stage(widths[i], widths[i + 1], groups) for i in range(3)])
        self.head = Head(widths[3], head_hidden, dropout)

    def forward(self, x, acts=None):
        """Returns (scores [N], quality map [N,1,T/2,H/32,W/32]); fills `acts` if given."""
        h = self.stem(x)
        if acts is not None:
            acts["act.stem"] = h
        for i, stage in enumerate(self.stages):
            h = stage(h)
            if acts is not None:
                acts[f"act.stages.{i}"] = h
        qmap = self.head(h, acts)
        return qmap.mean(dim=(-3, -2, -1)).reshape(-1), qmap


def conv_macs(model, input_shape):
    """Multiply-accumulates of every Conv3d in one forward pass of an input of `input_shape`."""
    total = 0
    hooks = []

    def count(module, inputs, output):
        nonlocal total
        k = module.in_channels // module.groups
        for s in module.kernel_size:
            k *= s
        total += output.numel() * k

    for m in model.modules():
        if isinstance(m, nn.Conv3d):
            hooks.append(m.register_forward_hook(count))
    with torch.no_grad():
        model(torch.zeros(input_shape))
    for h in hooks:
        h.remove()
    return total


# ----- losses (FAST-VQA new_train.py semantics) -------------------------------------------------

def plcc_loss(y_pred, y):
    """z-score both (population std, +1e-8 on the std); (MSE(p,y)/4 + MSE(rho*p,y)/4)/2."""
    s_hat, m_hat = torch.std_mean(y_pred, unbiased=False)
    p = (y_pred - m_hat) / (s_hat + 1e-8)
    s, m = torch.std_mean(y, unbiased=False)
    t = (y - m) / (s + 1e-8)
    loss0 = F.mse_loss(p, t) / 4
    rho = torch.mean(p * t)
    loss1 = F.mse_loss(rho * p, t) / 4
    return (loss0 + loss1) / 2


def rank_loss(y_pred, y):
    """r_ij = relu((p_i - p_j) * sign(y_j - y_i)); sum(r) / N / (N-1) / (1 + max(r))."""
    p = y_pred.reshape(-1, 1)
    t = y.reshape(-1, 1)
    r = F.relu((p - p.t()) * torch.sign(t.t() - t))
    n = p.shape[0]
    return torch.sum(r) / n / (n - 1) / (1 + torch.max(r))


def total_loss(y_pred, y, rank_weight=0.3):
    """Returns (plcc, rank, plcc + rank_weight * rank)."""
    lp, lr = plcc_loss(y_pred, y), rank_loss(y_pred, y)
    return lp, lr, lp + rank_weight * lr


# ----- optimiser and AWP ------------------------------------------------------------------------

def make_adamw(model, lr=1e-3, backbone_mult=0.1, wd=0.05, betas=(0.9, 0.999), eps=1e-8):
    """AdamW with two groups: backbone (stem, stages) at lr*backbone_mult, head at lr."""
    backbone = [p for n, p in model.named_parameters() if n.startswith(BACKBONE_PREFIXES)]
    head = [p for n, p in model.named_parameters() if not n.startswith(BACKBONE_PREFIXES)]
    groups = [{"params": backbone, "lr": lr * backbone_mult}, {"params": head, "lr": lr}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, weight_decay=wd, foreach=False)


def awp_perturb(model, gamma, eps=1e-6, selector=lambda name: name.endswith("weight")):
    """Seed-code AWP ascent: w' = clamp(w + g*gamma/(|g|+eps)*(|w|+eps), w -+ gamma|w|).

    Uses the gradients currently in p.grad. Returns the backup {name: w} to restore later.
    Tensors with a zero (or NaN) gradient norm are left unperturbed but still backed up.
    """
    backup = {}
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.grad is None or not selector(name):
                continue
            w0 = p.detach().clone()
            backup[name] = w0
            bound = gamma * w0.abs()
            lo, hi = w0 - bound, w0 + bound
            gnorm = torch.norm(p.grad)
            if gnorm == 0 or torch.isnan(gnorm):
                continue
            wnorm = torch.norm(w0)
            r = gamma * p.grad / (gnorm + eps) * (wnorm + eps)
            p.add_(r)
            p.copy_(torch.min(torch.max(p, lo), hi))
    return backup


def awp_restore(model, backup):
    """Puts the weights saved by awp_perturb back."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in backup:
                p.copy_(backup[name])


def train_step(model, opt, x, y, awp_gamma=None):
    """One training step; with awp_gamma the full two-pass AWP step. Returns (clean, adv) losses."""
    opt.zero_grad(set_to_none=False)
    scores, _ = model(x)
    loss = total_loss(scores, y)[2]
    loss.backward()
    adv = None
    if awp_gamma is not None:
        backup = awp_perturb(model, awp_gamma)
        opt.zero_grad(set_to_none=False)
        scores2, _ = model(x)
        adv = total_loss(scores2, y)[2]
        adv.backward()
        awp_restore(model, backup)
    opt.step()
    return loss.detach(), (adv.detach() if adv is not None else None)


def manual_adamw(params, grads, state, lrs, step, betas=(0.9, 0.999), eps=1e-8, wd=0.05):
    """Independent float32 AdamW (decoupled decay first, torch's update order) for a self-check."""
    b1, b2 = betas
    out = {}
    for name, w in params.items():
        g = grads[name]
        m, v = state.setdefault(name, (torch.zeros_like(w), torch.zeros_like(w)))
        lr = lrs[name]
        w = w * (1 - lr * wd)
        m = m + (g - m) * (1 - b1)
        v = v * b2 + g * g * (1 - b2)
        c1 = 1 - b1 ** step
        c2 = math.sqrt(1 - b2 ** step)
        w = w - (lr / c1) * m / (v.sqrt() / c2 + eps)
        state[name] = (m, v)
        out[name] = w
    return out


# ----- fixture ----------------------------------------------------------------------------------

def snapshot(model, prefix, grads=False):
    return {prefix + n: (p.grad if grads else p).detach().clone().contiguous()
            for n, p in model.named_parameters()}


def clip_like_input(n, t, size, gen):
    """Normalised-clip-like input: white noise + smooth content + a per-sample colour cast.

    Pure white noise makes every sample statistically alike, so the scores differ by ~1e-3 and
    the z-scored PLCC loss amplifies float32 rounding; this mix gives a score spread ~25x wider.
    """
    noise = torch.randn(n, 3, t, size, size, generator=gen)
    coarse = torch.randn(n, 3, t, size // 8, size // 8, generator=gen)
    smooth = F.interpolate(coarse, size=(t, size, size), mode="trilinear", align_corners=False)
    mix = torch.linspace(0.2, 1.0, n).reshape(n, 1, 1, 1, 1)
    cast = torch.randn(n, 3, 1, 1, 1, generator=gen)
    return mix * noise + (1.2 - mix) * 2 * smooth + cast


def build_fixture(seed=0, n=4, t=4, size=32, widths=(8, 8, 16, 16), head_hidden=16, groups=4,
                  lr=1e-3, backbone_mult=0.1, wd=0.05, gamma=1e-2, dtype=torch.float32,
                  input_grad=False):
    """Computes every fixture tensor; returns (tensors, metadata config)."""
    torch.manual_seed(seed)
    model = FragNet(widths, head_hidden, groups, dropout=0.0).to(dtype)
    model.train()
    gen = torch.Generator().manual_seed(seed + 1)
    x = clip_like_input(n, t, size, gen).to(dtype)
    y = (1.0 + 4.0 * torch.rand(n, generator=gen)).to(dtype)  # MOS-like labels in [1, 5]
    init_state = {k: v.clone() for k, v in model.state_dict().items()}
    out = {"input": x, "labels": y}
    out.update(snapshot(model, "init."))

    # forward / backward at the initial weights
    x_leaf = x.clone().requires_grad_(True)
    acts = {}
    scores, qmap = model(x_leaf, acts)
    lp, lr_, lt = total_loss(scores, y)
    lt.backward()
    out.update({"out.scores": scores, "out.map": qmap, **acts,
                "loss.plcc": lp.reshape(1), "loss.rank": lr_.reshape(1), "loss.total": lt.reshape(1)})
    if input_grad:  # 49 KB at the fixture size: off by default to keep the fixture small
        out["grad.input"] = x_leaf.grad
    out.update(snapshot(model, "grad.", grads=True))

    # three AdamW steps on the same batch (+ an independent re-implementation as a self-check)
    opt = make_adamw(model, lr, backbone_mult, wd)
    lrs = {nm: lr * (backbone_mult if nm.startswith(BACKBONE_PREFIXES) else 1.0)
           for nm, _ in model.named_parameters()}
    losses, mstate, mparams = [], {}, snapshot(model, "")
    for k in range(1, 4):
        loss, _ = train_step(model, opt, x, y)
        losses.append(loss)
        mparams = manual_adamw(mparams, snapshot(model, "", grads=True), mstate, lrs, k, wd=wd)
        out.update(snapshot(model, f"adamw{k}."))
    out["adamw.loss"] = torch.stack(losses)
    check = max((mparams[nm] - out[f"adamw3.{nm}"]).abs().max().item() for nm in mparams)

    # one AWP step from the initial weights with a fresh optimiser
    model.load_state_dict(init_state)
    opt = make_adamw(model, lr, backbone_mult, wd)
    opt.zero_grad(set_to_none=False)
    total_loss(model(x)[0], y)[2].backward()
    backup = awp_perturb(model, gamma)
    out.update(snapshot(model, "awp.perturbed."))
    opt.zero_grad(set_to_none=False)
    adv = total_loss(model(x)[0], y)[2]
    adv.backward()
    out["awp.loss_perturbed"] = adv.reshape(1)
    out.update(snapshot(model, "awp.grad.", grads=True))
    awp_restore(model, backup)
    opt.step()
    out.update(snapshot(model, "awp.after."))

    out.update(ties_fixture(dtype))
    out = {k: v.detach().to(dtype).contiguous() for k, v in out.items()}
    config = dict(seed=seed, N=n, T=t, H=size, W=size, widths=list(widths), head_hidden=head_hidden,
                  groups=groups, dropout=0.0, gn_eps=1e-5, lr_head=lr, lr_backbone=lr * backbone_mult,
                  betas=[0.9, 0.999], adam_eps=1e-8, weight_decay=wd, awp_gamma=gamma, awp_eps=1e-6,
                  rank_weight=0.3, awp_selector="name ends with 'weight'")
    return out, config, check


def ties_fixture(dtype):
    """Loss-only case with tied predictions and labels, and a max(r) attained by two pairs."""
    pred = torch.tensor([0.25, 0.125, 0.25, -0.25, 0.5, 0.125, 0.75, 0.0], dtype=dtype)
    labels = torch.tensor([3.0, 2.5, 3.0, 1.5, 2.0, 2.5, 4.0, 1.0], dtype=dtype)
    p = pred.clone().requires_grad_(True)
    lp, lr_, lt = total_loss(p, labels)
    lt.backward()
    return {"ties.pred": pred, "ties.labels": labels, "ties.plcc": lp.reshape(1),
            "ties.rank": lr_.reshape(1), "ties.total": lt.reshape(1), "ties.grad": p.grad}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.join(here, "..", "..", "Tests", "EngineTests", "Fixtures",
                               "fragnet_reference.safetensors")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.normpath(default_out), help="fixture path")
    ap.add_argument("--input-grad", action="store_true", help="also store grad.input (+49 KB)")
    ap.add_argument("--no-f64-check", action="store_true", help="skip the float64 comparison")
    args = ap.parse_args()

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    from safetensors.torch import load_file, save_file

    tensors, config, adam_check = build_fixture(input_grad=args.input_grad)
    meta = {"config": json.dumps(config, sort_keys=True), "torch_version": torch.__version__,
            "generator": "scripts/reference/fragnet.py", "dtype": "float32",
            "layout": "row-major, PyTorch shapes (NCTHW); scalars stored as shape [1]"}
    save_file(tensors, args.out, metadata=meta)

    back = load_file(args.out)
    assert set(back) == set(tensors), "reloaded names differ"
    for k, v in tensors.items():
        assert torch.equal(back[k], v), f"reloaded tensor differs: {k}"
    n_params = sum(v.numel() for k, v in back.items() if k.startswith("init."))
    print(f"wrote {args.out}: {len(back)} tensors, {os.path.getsize(args.out)} bytes, "
          f"{n_params} parameters, torch {torch.__version__}")
    for k in ("out.scores", "labels", "loss.plcc", "loss.rank", "loss.total", "adamw.loss",
              "awp.loss_perturbed", "ties.plcc", "ties.rank", "ties.total", "ties.grad"):
        print(f"  {k:20s} {[round(float(a), 7) for a in back[k].reshape(-1)]}")
    for k in ("out.map", "act.stem", "act.stages.0", "act.stages.1", "act.stages.2", "act.head.hid"):
        print(f"  {k:20s} shape {list(back[k].shape)}")
    print(f"  self-check: manual AdamW vs torch after 3 steps, max |diff| = {adam_check:.3g}")
    if not args.no_f64_check:
        ref64, _, _ = build_fixture(dtype=torch.float64, input_grad=args.input_grad)
        print("  float32 fixture vs the same computation in float64 (max |diff| / max |ref|):")
        for group in ("out.", "act.", "loss.", "grad.", "adamw3.", "awp.grad.", "awp.after.", "ties."):
            keys = [k for k in back if k.startswith(group)]
            err = max((back[k].double() - ref64[k]).abs().max().item() for k in keys)
            scale = max(ref64[k].abs().max().item() for k in keys)
            print(f"    {group:12s} {err:.3g} / {scale:.3g} = {err / scale:.3g}")
        print("  largest float32-vs-float64 differences of single tensors:")
        diffs = sorted(((back[k].double() - ref64[k]).abs().max().item(), k) for k in back)
        for err, k in diffs[-8:]:
            print(f"    {k:40s} {err:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
