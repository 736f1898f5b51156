#!/usr/bin/env python3
"""PyTorch reference for vqa-mpi's `simplevqa` model and SimpleVQA's L1 + rank loss.

Running this file writes the parity fixture Tests/EngineTests/Fixtures/simplevqa_reference.safetensors
(two reduced configurations, ResNet-18 with base width 4 and ResNet-50 with base width 2, on 3 clips of
2 frames of 64x64). scripts/bench/torch_engine.py imports the model from here. Needs
torch==2.13.0+cpu, numpy, safetensors; torchvision is not needed: the ResNet below is written from
the architecture facts with torchvision's state_dict names.

Shapes: clips [N, 3, T, H, W] -> frames [N*T, 3, H, W] -> layer1..layer4 [N*T, C_i, H_i, W_i]
        -> mean and unbiased std over (H_i, W_i) of the pooled stages, concatenated
           (avg_a, std_a, avg_b, std_b, ...) [N*T, F] (+ motion [N, T, D] as [N*T, D])
        -> quality.0 Linear(F+D, hidden) -> quality.1 Linear(hidden, 1) -> [N, T] -> mean -> [N].
BatchNorm always uses the running statistics (eval mode), also while training.
"""
import argparse
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


class Block(nn.Module):
    """BasicBlock (two 3x3 convs) or Bottleneck (1x1, 3x3 with the stride, 1x1 x4), frozen BN."""

    def __init__(self, cin, planes, stride, bottleneck):
        super().__init__()
        cout = planes * (4 if bottleneck else 1)
        if bottleneck:
            specs = [(cin, planes, 1, 1), (planes, planes, 3, stride), (planes, cout, 1, 1)]
        else:
            specs = [(cin, planes, 3, stride), (planes, planes, 3, 1)]
        self.n = len(specs)
        for i, (a, b, k, s) in enumerate(specs):
            setattr(self, f"conv{i + 1}", nn.Conv2d(a, b, k, stride=s, padding=k // 2, bias=False))
            setattr(self, f"bn{i + 1}", nn.BatchNorm2d(b))
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = x
        for i in range(1, self.n + 1):
            h = getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(h))
            if i < self.n:
                h = F.relu(h)
        return F.relu(h + (self.downsample(x) if self.downsample is not None else x))


class SimpleVQA(nn.Module):
    def __init__(self, depth=50, width=64, pool_stages=(2, 3, 4), motion_dim=0, head_hidden=128):
        super().__init__()
        bottleneck = depth >= 50
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        cin = width
        chans = []
        for i, n in enumerate(BLOCKS[depth]):
            planes = width << i
            blocks = []
            for j in range(n):
                blocks.append(Block(cin, planes, 2 if (j == 0 and i > 0) else 1, bottleneck))
                cin = planes * (4 if bottleneck else 1)
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            chans.append(cin)
        self.pool_stages = tuple(sorted(pool_stages))
        self.motion_dim = motion_dim
        feat = sum(2 * chans[k - 1] for k in self.pool_stages) + motion_dim
        self.quality = nn.Sequential(nn.Linear(feat, head_hidden), nn.Linear(head_hidden, 1))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def train(self, mode=True):
        super().train(mode)
        for m in self.modules():  # frozen BatchNorm: running statistics always
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self

    def frame_scores(self, clips, motion=None, acts=None):
        n, c, t, h, w = clips.shape
        x = clips.permute(0, 2, 1, 3, 4).reshape(n * t, c, h, w)
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, stride=2, padding=1)
        parts = []
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
            if acts is not None:
                acts[f"act.layer{i}"] = x
            if i in self.pool_stages:
                flat = x.reshape(x.shape[0], x.shape[1], -1)
                parts += [flat.mean(dim=2), flat.std(dim=2)]  # torch.std: unbiased, as global_std_pool2d
        f = torch.cat(parts, dim=1)
        if self.motion_dim:
            f = torch.cat([f, motion.reshape(n * t, self.motion_dim)], dim=1)
        if acts is not None:
            acts["act.features"] = f
        return self.quality(f).reshape(n, t)

    def forward(self, clips, motion=None):
        return self.frame_scores(clips, motion).mean(dim=1)


def l1_rank_loss(pred, labels, hard=1.0):
    """SimpleVQA utils.py L1RankLoss (l1_w = rank_w = 1, use_margin False): returns (l1, rank, total)."""
    l1 = F.l1_loss(pred, labels)
    n = pred.numel()
    p = pred.unsqueeze(0).repeat(n, 1)
    y = labels.unsqueeze(0).repeat(n, 1)
    gap = y - y.t()
    masks = torch.sign(gap)
    hard_mask = ((gap.abs() < hard) & (gap.abs() > 0)).to(pred.dtype)
    rank = (hard_mask * F.relu(-masks * (p - p.t()))).sum() / (hard_mask.sum() + 1e-8)
    return l1, rank, l1 + rank


CONFIGS = {
    "r18": dict(depth=18, width=4, pool_stages=(1, 2, 3, 4), motion_dim=4, head_hidden=16),
    "r50": dict(depth=50, width=2, pool_stages=(2, 3, 4), motion_dim=0, head_hidden=128),
}


def build_fixture(dtype=torch.float32):
    torch.manual_seed(0)
    clips = torch.randn(3, 3, 2, 64, 64)
    motion = torch.randn(3, 2, 4)
    labels = torch.tensor([3.2, 3.9, 2.5])  # gaps 0.7, 0.7, 1.4: four ordered pairs below 1
    out = {"input": clips, "motion": motion, "labels": labels}
    for key, cfg in CONFIGS.items():
        torch.manual_seed(1 if key == "r18" else 2)
        model = SimpleVQA(**cfg)
        with torch.no_grad():  # non-trivial frozen statistics and affine parameters
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.2, 0.2)
                    m.running_var.uniform_(0.5, 1.5)
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)
            for m in model.modules():  # a small last BN per residual branch keeps 16 blocks' activations O(1)
                if isinstance(m, Block):
                    getattr(m, f"bn{m.n}").weight.uniform_(0.1, 0.3)
        state = {k: v.clone() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
        for k, v in state.items():
            out[f"{key}.init.{k}"] = v.float()
        model = model.to(dtype).train()
        acts = {}
        fs = model.frame_scores(clips.to(dtype), motion.to(dtype) if cfg["motion_dim"] else None, acts)
        pred = fs.mean(dim=1)
        l1, rank, total = l1_rank_loss(pred, labels.to(dtype))
        total.backward()
        out[f"{key}.out.frame_scores"] = fs.detach()
        out[f"{key}.out.scores"] = pred.detach()
        out[f"{key}.out.features"] = acts["act.features"].detach()
        out[f"{key}.loss.l1"] = l1.detach().reshape(1)
        out[f"{key}.loss.rank"] = rank.detach().reshape(1)
        out[f"{key}.loss.total"] = total.detach().reshape(1)
        for name, prm in model.named_parameters():
            out[f"{key}.grad.{name}"] = prm.grad.detach()
    return {k: v.to(dtype).contiguous() for k, v in out.items()}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.join(here, "..", "..", "Tests", "EngineTests", "Fixtures", "simplevqa_reference.safetensors")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.normpath(default_out), help="fixture path")
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    from safetensors.torch import load_file, save_file

    tensors = build_fixture()
    meta = {"config": json.dumps({k: {**v, "pool_stages": list(v["pool_stages"])} for k, v in CONFIGS.items()}, sort_keys=True),
            "torch_version": torch.__version__, "generator": "scripts/reference/simplevqa.py", "dtype": "float32"}
    save_file(tensors, args.out, metadata=meta)
    back = load_file(args.out)
    for key in CONFIGS:
        n = sum(v.numel() for k, v in back.items() if k.startswith(f"{key}.init."))
        print(f"{key}: {n} stored parameters+statistics, scores {[round(float(a), 6) for a in back[f'{key}.out.scores']]}, "
              f"l1 {float(back[f'{key}.loss.l1']):.6f} rank {float(back[f'{key}.loss.rank']):.6f}")
    print(f"wrote {args.out}: {len(back)} tensors, {os.path.getsize(args.out)} bytes, torch {torch.__version__}")
    ref64 = build_fixture(torch.float64)
    print("float32 fixture vs the same computation in float64 (max |diff| / max |ref| per group):")
    for group in ("out.", "loss.", "grad."):
        for key in CONFIGS:
            keys = [k for k in back if k.startswith(f"{key}.{group}")]
            worst = max(((back[k].double() - ref64[k].double()).abs().max().item() /
                         max(ref64[k].abs().max().item(), 1e-6), k) for k in keys)
            print(f"  {key}.{group:6s} worst {worst[0]:.3g} ({worst[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
