#!/usr/bin/env python3
"""PyTorch reference for vqa-mpi's FAST-VQA models (Video Swin-T with gated relative position bias).

Written from the architecture facts listed in Sources/Engine/Models/SwinBackbone.swift (not from upstream
code). Running this file writes the parity fixture Tests/EngineTests/Fixtures/fastvqa_reference.safetensors
for a tiny configuration, and prints the parameter count of the official fast-vqa-b / fast-vqa-m.
Needs torch==2.13.0+cpu, numpy, safetensors.

Shapes: x [N, 3, T, H, W] -> patch embed [N, D=T/2, H/4, W/4, C] (channel-last inside the backbone)
        -> stage i [N, D, H/2^(i+2), W/2^(i+2), C*2^i] -> final LayerNorm -> head -> map [N, 1, D, h, w]
        -> score [N] (mean of the map).
"""
import argparse
import functools
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fragnet import clip_like_input, total_loss  # noqa: E402  (shared FAST-VQA loss definitions)

FAST_VQA_B = dict(embed_dim=96, depths=(2, 2, 6, 2), heads=(3, 6, 12, 24), window=(8, 7, 7),
                  frag_biases=(True, True, True, False), head_hidden=64)
FAST_VQA_M = dict(FAST_VQA_B, window=(4, 4, 4), frag_biases=(False, False, False, False))
TINY = dict(embed_dim=4, depths=(2, 2, 2, 2), heads=(1, 2, 2, 4), window=(2, 4, 4),
            frag_biases=(True, True, True, False), head_hidden=16)
FRAGMENTS = (1, 7, 7)


def clipped_window(size, window, shift):
    """An axis no longer than the window takes the whole axis as window and is not shifted."""
    w, s = list(window), list(shift)
    for i in range(3):
        if size[i] <= window[i]:
            w[i], s[i] = size[i], 0
    return tuple(w), tuple(s)


def partition(x, w):
    """[B, D, H, W, C] -> [B*nW, wd*wh*ww, C], windows in (b, d, h, w) order."""
    b, d, h, wd_, c = x.shape
    x = x.reshape(b, d // w[0], w[0], h // w[1], w[1], wd_ // w[2], w[2], c)
    return x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(-1, w[0] * w[1] * w[2], c)


def unpartition(win, w, b, d, h, wd_):
    c = win.shape[-1]
    x = win.reshape(b, d // w[0], h // w[1], wd_ // w[2], w[0], w[1], w[2], c)
    return x.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(b, d, h, wd_, c)


def relative_index(window):
    """idx[i, j] of the full window: (delta + w - 1) per axis, mixed radix (2w-1)."""
    g = torch.stack(torch.meshgrid(*[torch.arange(n) for n in window], indexing="ij")).reshape(3, -1)
    rel = (g[:, :, None] - g[:, None, :]).permute(1, 2, 0) + torch.tensor(window) - 1
    return rel[..., 0] * (2 * window[1] - 1) * (2 * window[2] - 1) + rel[..., 1] * (2 * window[2] - 1) + rel[..., 2]


@functools.lru_cache(maxsize=None)
def shift_mask(size, window, shift):
    """[nW, N, N]: -100 between tokens from different regions of the rolled grid, else 0."""
    label = torch.zeros(1, *size, 1)
    cnt = 0
    for a in (slice(-window[0]), slice(-window[0], -shift[0]), slice(-shift[0], None)):
        for b in (slice(-window[1]), slice(-window[1], -shift[1]), slice(-shift[1], None)):
            for c in (slice(-window[2]), slice(-window[2], -shift[2]), slice(-shift[2], None)):
                label[:, a, b, c, :] = cnt
                cnt += 1
    lw = partition(label, window).squeeze(-1)
    diff = lw[:, None, :] - lw[:, :, None]
    return torch.where(diff != 0, torch.tensor(-100.0), torch.tensor(0.0))


@functools.lru_cache(maxsize=None)
def fragment_gate(size, window, shift, fragments=FRAGMENTS):
    """[nW, N, N]: L1 distance of the tokens' fragment coordinates (nearest-stretched grid)."""
    grid = torch.stack(torch.meshgrid(*[torch.arange(f) for f in fragments], indexing="ij")).float()
    coords = F.interpolate(grid[None], size=tuple(size), mode="nearest").long().permute(0, 2, 3, 4, 1)
    coords = torch.roll(coords, shifts=tuple(-s for s in shift), dims=(1, 2, 3))
    wc = partition(coords, window)
    return (wc[:, None, :, :] - wc[:, :, None, :]).abs().sum(-1).float()


class WindowAttention(nn.Module):
    def __init__(self, dim, heads, window, frag_bias):
        super().__init__()
        rows = (2 * window[0] - 1) * (2 * window[1] - 1) * (2 * window[2] - 1)
        self.heads, self.window = heads, window
        self.relative_position_bias_table = nn.Parameter(torch.zeros(rows, heads))
        if frag_bias:
            self.fragment_position_bias_table = nn.Parameter(torch.zeros(rows, heads))
        self.register_buffer("relative_position_index", relative_index(window), persistent=True)
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)
        self.proj = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x, mask, gate):
        bw, n, c = x.shape
        hd = c // self.heads
        qkv = self.qkv(x).reshape(bw, n, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * (hd ** -0.5), qkv[1], qkv[2]
        logits = q @ k.transpose(-2, -1)
        idx = self.relative_position_index[:n, :n].reshape(-1)
        bias = self.relative_position_bias_table[idx].reshape(n, n, -1).permute(2, 0, 1)  # h, N, N
        nw = gate.shape[0]
        if hasattr(self, "fragment_position_bias_table"):
            fbias = self.fragment_position_bias_table[idx].reshape(n, n, -1).permute(2, 0, 1)
            g = gate[:, None]  # nW, 1, N, N
            bias = bias[None] * g + fbias[None] * (1 - g)
        else:
            bias = bias[None].expand(nw, -1, -1, -1)
        logits = logits.reshape(bw // nw, nw, self.heads, n, n) + bias[None]
        if mask is not None:
            logits = logits + mask[None, :, None]
        attn = logits.reshape(bw, self.heads, n, n).softmax(-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(bw, n, c))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="none"))


def drop_path(x, p, training):
    if not training or p == 0:
        return x
    keep = torch.empty(x.shape[0], *([1] * (x.dim() - 1)), dtype=x.dtype).bernoulli_(1 - p)
    return x * keep / (1 - p)


class Block(nn.Module):
    def __init__(self, dim, heads, window, shifted, frag_bias, dpr):
        super().__init__()
        self.window = window
        self.shift = tuple(w // 2 for w in window) if shifted else (0, 0, 0)
        self.dpr = dpr
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads, window, frag_bias)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, 4 * dim)

    def forward(self, x):
        b, d, h, w, c = x.shape
        win, sh = clipped_window((d, h, w), self.window, self.shift)
        # pad D, H, W at the end to window multiples after norm1; mask and gate live on the padded grid
        dp, hp, wp = [-(-n // k) * k for n, k in zip((d, h, w), win)]
        y = F.pad(self.norm1(x), (0, 0, 0, wp - w, 0, hp - h, 0, dp - d))
        shifted = any(s > 0 for s in sh)
        if shifted:
            y = torch.roll(y, shifts=tuple(-s for s in sh), dims=(1, 2, 3))
        mask = shift_mask((dp, hp, wp), tuple(win), tuple(sh)) if shifted else None
        gate = fragment_gate((dp, hp, wp), tuple(win), tuple(sh), fragments=(1,) + tuple(win[1:])).to(x.dtype)
        y = self.attn(partition(y, win), None if mask is None else mask.to(x.dtype), gate)
        y = unpartition(y, win, b, dp, hp, wp)
        if shifted:
            y = torch.roll(y, shifts=sh, dims=(1, 2, 3))
        y = y[:, :d, :h, :w].contiguous()
        x = x + drop_path(y, self.dpr, self.training)
        return x + drop_path(self.mlp(self.norm2(x)), self.dpr, self.training)


class PatchMerging(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x):
        x = F.pad(x, (0, 0, 0, x.shape[3] % 2, 0, x.shape[2] % 2))  # odd H or W: one zero row/column
        x = torch.cat([x[:, :, 0::2, 0::2], x[:, :, 1::2, 0::2], x[:, :, 0::2, 1::2], x[:, :, 1::2, 1::2]], -1)
        return self.reduction(self.norm(x))


class Stage(nn.Module):
    def __init__(self, dim, depth, heads, window, frag_bias, dprs, merge):
        super().__init__()
        self.blocks = nn.ModuleList([Block(dim, heads, window, j % 2 == 1, frag_bias, dprs[j]) for j in range(depth)])
        self.downsample = PatchMerging(dim) if merge else None

    def forward(self, x):
        for blk in self.blocks:
            x = blk(x)
        return self.downsample(x) if self.downsample is not None else x


class PatchEmbed(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Conv3d(3, dim, kernel_size=(2, 4, 4), stride=(2, 4, 4))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        return self.norm(self.proj(x).permute(0, 2, 3, 4, 1))


class Swin(nn.Module):
    def __init__(self, embed_dim, depths, heads, window, frag_biases, drop_path_rate=0.1):
        super().__init__()
        self.patch_embed = PatchEmbed(embed_dim)
        dprs = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.layers = nn.ModuleList()
        k = 0
        for i, depth in enumerate(depths):
            self.layers.append(Stage(embed_dim * 2 ** i, depth, heads[i], window, frag_biases[i],
                                     dprs[k:k + depth], i < len(depths) - 1))
            k += depth
        self.norm = nn.LayerNorm(embed_dim * 2 ** (len(depths) - 1))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x, acts=None):
        x = self.patch_embed(x)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if acts is not None:
                acts[f"act.layers.{i}"] = x
        return self.norm(x)


class Head(nn.Module):
    def __init__(self, cin, hidden, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc_hid = nn.Conv3d(cin, hidden, 1)
        self.fc_last = nn.Conv3d(hidden, 1, 1)

    def forward(self, x):
        return self.fc_last(self.dropout(F.gelu(self.fc_hid(self.dropout(x)), approximate="none")))


class FastVQA(nn.Module):
    """state_dict names match the Swift parameter names (plus relative_position_index buffers)."""

    def __init__(self, embed_dim, depths, heads, window, frag_biases, head_hidden, dropout=0.5, drop_path_rate=0.1):
        super().__init__()
        self.backbone = Swin(embed_dim, depths, heads, window, frag_biases, drop_path_rate)
        self.vqa_head = Head(embed_dim * 2 ** (len(depths) - 1), head_hidden, dropout)

    def forward(self, x, acts=None):
        f = self.backbone(x, acts).permute(0, 4, 1, 2, 3)  # N, C, D, h, w
        if acts is not None:
            acts["act.features"] = f
        qmap = self.vqa_head(f)
        return qmap.mean(dim=(-3, -2, -1)).reshape(-1), qmap


def build_fixture(seed=0, n=4, t=4, size=32, dtype=torch.float32):
    torch.manual_seed(seed)
    model = FastVQA(**TINY, dropout=0.0, drop_path_rate=0.0).to(dtype)
    with torch.no_grad():  # non-zero fragment tables, so their gradients and the gate matter
        for name, p in model.named_parameters():
            if "fragment_position_bias_table" in name:
                p.copy_(torch.randn(p.shape).to(dtype) * 0.05)
            elif "relative_position_bias_table" in name:
                p.mul_(2.5)
    model.eval()
    gen = torch.Generator().manual_seed(seed + 1)
    x = clip_like_input(n, t, size, gen).to(dtype)
    # labels reversed against the score trend, so the rank loss is active
    y = (1.0 + 4.0 * torch.rand(n, generator=gen)).flip(0).to(dtype)
    out = {"input": x, "labels": y}
    out.update({"init." + k: p.detach().clone() for k, p in model.named_parameters()})
    acts = {}
    scores, qmap = model(x, acts)
    lp, lr_, lt = total_loss(scores, y)
    lt.backward()
    out.update({"out.scores": scores, "out.map": qmap, **acts, "loss.plcc": lp.reshape(1),
                "loss.rank": lr_.reshape(1), "loss.total": lt.reshape(1)})
    out.update({"grad." + k: p.grad.clone() for k, p in model.named_parameters()})
    # padded case: tokens 3x10x10 (window 2x4x4 pads D to 4, H/W to 12), odd 5x5 and 3x3 merges,
    # a clipped 3x3 window in stage 2
    model.zero_grad()
    xp = clip_like_input(2, 6, 40, gen).to(dtype)
    yp = torch.tensor([2.0, 3.5], dtype=dtype)
    pacts = {}
    pscores, pmap = model(xp, pacts)
    plp, plr, plt = total_loss(pscores, yp)
    plt.backward()
    out.update({"pad.input": xp, "pad.labels": yp, "pad.out.scores": pscores, "pad.out.map": pmap,
                "pad.act.features": pacts["act.features"], "pad.loss.total": plt.reshape(1)})
    out.update({"pad.grad." + k: p.grad.clone() for k, p in model.named_parameters()})
    # geometry oracles: a shifted 3-D window on a 4x8x8 grid
    out["geom.mask"] = shift_mask((4, 8, 8), (2, 4, 4), (1, 2, 2))
    out["geom.gate"] = fragment_gate((4, 8, 8), (2, 4, 4), (1, 2, 2))
    out["geom.index"] = relative_index((2, 4, 4)).to(dtype)
    out = {k: v.detach().to(dtype).contiguous() for k, v in out.items()}
    config = dict(TINY, seed=seed, N=n, T=t, H=size, W=size, dropout=0.0, drop_path=0.0, fragments="(1,)+window[1:]",
                  padded_case=dict(N=2, T=6, H=40, W=40))
    return out, config, model


def count(cfg):
    m = FastVQA(**cfg)
    return sum(p.numel() for p in m.parameters()), sum(p.numel() for n, p in m.named_parameters() if n.startswith("backbone."))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.join(here, "..", "..", "Tests", "EngineTests", "Fixtures", "fastvqa_reference.safetensors")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.normpath(default_out), help="fixture path")
    ap.add_argument("--save-pth", help="also save the tiny model as an official-style checkpoint "
                    "({'state_dict': ...} with fragments_backbone./vqa_head. names) for the converter test")
    ap.add_argument("--no-f64-check", action="store_true")
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    from safetensors.torch import save_file

    tensors, config, model = build_fixture()
    meta = {"config": json.dumps(config, sort_keys=True), "torch_version": torch.__version__,
            "generator": "scripts/reference/fastvqa.py", "dtype": "float32"}
    save_file(tensors, args.out, metadata=meta)
    print(f"wrote {args.out}: {len(tensors)} tensors, {os.path.getsize(args.out)} bytes")
    for k in ("out.scores", "labels", "loss.plcc", "loss.rank", "loss.total"):
        print(f"  {k:12s} {[round(float(a), 7) for a in tensors[k].reshape(-1)]}")
    for name, cfg in (("fast-vqa-b", FAST_VQA_B), ("fast-vqa-m", FAST_VQA_M)):
        total, bb = count(cfg)
        print(f"  {name}: {total} parameters ({bb} backbone)")
    if args.save_pth:
        sd = {("fragments_" + k if k.startswith("backbone.") else k): v for k, v in model.state_dict().items()}
        torch.save({"state_dict": sd}, args.save_pth)
        print(f"  saved {args.save_pth}")
    if not args.no_f64_check:
        ref64, _, _ = build_fixture(dtype=torch.float64)
        for group in ("out.", "act.", "loss.", "grad.", "pad."):
            keys = [k for k in tensors if k.startswith(group)]
            err = max((tensors[k].double() - ref64[k]).abs().max().item() for k in keys)
            scale = max(ref64[k].abs().max().item() for k in keys)
            print(f"    f32 vs f64 {group:8s} {err:.3g} / {scale:.3g} = {err / scale:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
