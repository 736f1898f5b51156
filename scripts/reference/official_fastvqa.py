#!/usr/bin/env python3
"""Parity fixture for fast-vqa-b / fast-vqa-m written by the OFFICIAL FAST-VQA code.

Imports `fastvqa.models` from a local clone of VQAssessment/FAST-VQA-and-FasterVQA (never copied
into this repository), builds each model exactly as its option file does
(`DiViDeAddEvaluator(**opt["model"]["args"])`), fills it with deterministic weights, saves them as an
official-style checkpoint `{"state_dict": ...}`, converts that file with OUR converter
(scripts/convert/fastvqa_to_safetensors.py, run as a user would) and checks that the converted
tensors are exactly the weights vqa-mpi generates for the same names. Then it runs the official
backbone and head (eval mode: no dropout or drop path, the official default forward, i.e.
`adaptive_window_size=True`) and writes Tests/EngineTests/Fixtures/official_fastvqa.safetensors.

Weights and input are not stored (fast-vqa-b has 28 M parameters, a 32x224x224 clip 4.8 M
values): both sides generate them from the tensor name (`det` below; Swift twin in
Tests/EngineTests/OfficialFastVQAParityTests.swift). Stored per case (prefix `<case>.`):
  score [N], map [N,1,D,h,w], stage.{0..3} and features: every `stride`-th value of the stage
  output flattened channel-last [N,D,H,W,C] (+ `.stride` [1], `.mean`/`.std` [1] of the whole
  tensor), grad.<name> for a few parameters (d sum(score) / d param).
Usage: official_fastvqa.py --official-repo PATH [--out FILE] [--cases b32,b20,m16] [--f64 b20,m16]
"""
import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))

# name -> (option file, frames, size): the option file's clip (fast-b: 32 frames of 7x7 fragments of
# 32 px; fast-m: 16 frames of 4x4 fragments) and fast-vqa-b at a non-default size (20x160x160).
CASES = {
    "b32": ("options/fast/fast-b.yml", 32, 224),
    "b20": ("options/fast/fast-b.yml", 20, 160),
    "m16": ("options/fast/fast-m.yml", 16, 128),
}
GRADS = [
    "backbone.patch_embed.proj.bias",
    "backbone.layers.0.blocks.1.attn.relative_position_bias_table",
    "backbone.layers.0.blocks.1.attn.fragment_position_bias_table",
    "backbone.layers.1.blocks.0.attn.qkv.bias",
    "backbone.layers.3.blocks.1.norm2.weight",
    "backbone.norm.weight",
    "vqa_head.fc_last.weight",
]
SAMPLES = 4096
GOLDEN = 0x9E3779B97F4A7C15
MASK64 = (1 << 64) - 1


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001B3) & MASK64
    return h


def det(name, shape):
    """Deterministic float32 values for tensor `name` (our name) of `shape`.

    u_i = (splitmix64(fnv1a64(name) + (i+1)*golden) >> 40) * 2^-23 - 1 in [-1, 1) (exact), then
    float32(a*u + b) computed in float64: layer-norm-like 1-D weights a=0.2, b=1; biases a=0.02;
    bias tables a=0.1 (fragment tables non-zero, so the gate matters); 'input' a=1; other weights
    a=1/sqrt(fan_in).
    """
    n = int(np.prod(shape)) if len(shape) else 1
    i = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = np.uint64(fnv1a64(name)) + i * np.uint64(GOLDEN)
        z = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float64) * 2.0 ** -23 - 1.0
    if name == "input":
        a, b = 1.0, 0.0
    elif name.endswith("position_bias_table"):
        a, b = 0.1, 0.0
    elif name.endswith(".bias"):
        a, b = 0.02, 0.0
    elif len(shape) == 1:
        a, b = 0.2, 1.0
    else:
        a, b = 1.0 / math.sqrt(int(np.prod(shape[1:]))), 0.0
    return torch.from_numpy((a * u + b).astype(np.float32).reshape(shape))


def our_name(official):
    """vqa-mpi's name of an official DiViDeAddEvaluator key (written here, independent of the converter)."""
    return "backbone." + official[len("fragments_backbone."):] if official.startswith("fragments_backbone.") else official


def install_import_shims():
    """The official package imports timm, torchvision.ops and clip at module level for code paths
    these models never run (other backbones, RoI heads). When they are not installed, stand-ins
    provide the names: trunc_normal_ (init only; every weight is overwritten), DropPath (identity in
    eval mode, as timm's), register_model, roi_pool/roi_align and clip (never called)."""
    try:
        import timm.models.layers  # noqa: F401
        import torchvision.ops  # noqa: F401
        import clip  # noqa: F401
        return []
    except ImportError:
        pass

    class DropPath(nn.Module):
        def __init__(self, p=0.0):
            super().__init__()
            self.p = p

        def forward(self, x):
            if not self.training or self.p == 0:
                return x
            keep = torch.rand((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype) >= self.p
            return x * keep / (1 - self.p)

    def unused(*_a, **_k):
        raise RuntimeError("stand-in called: this code path is not part of fast-vqa-b/m")

    mods = {}
    for name in ("timm", "timm.models", "timm.models.layers", "timm.models.registry", "torchvision",
                 "torchvision.ops", "clip"):
        if name not in sys.modules:
            mods[name] = types.ModuleType(name)
    if "timm.models.layers" in mods:
        mods["timm.models.layers"].trunc_normal_ = nn.init.trunc_normal_
        mods["timm.models.layers"].DropPath = DropPath
        mods["timm.models.registry"].register_model = lambda f: f
    if "torchvision.ops" in mods:
        mods["torchvision.ops"].roi_pool = unused
        mods["torchvision.ops"].roi_align = unused
    sys.modules.update(mods)
    return sorted(mods)


def load_official(repo):
    """The official `fastvqa.models` package, loaded from the clone without its dataset imports."""
    path = os.path.join(repo, "fastvqa", "models")
    spec = importlib.util.spec_from_file_location("official_fastvqa_models", os.path.join(path, "__init__.py"),
                                                  submodule_search_locations=[path])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def build(models, repo, option):
    import yaml
    with open(os.path.join(repo, option)) as f:
        opt = yaml.safe_load(f)
    sys.stdout, saved = open(os.devnull, "w"), sys.stdout  # the official constructors print
    try:
        model = models.DiViDeAddEvaluator(**opt["model"]["args"])
    finally:
        sys.stdout.close()
        sys.stdout = saved
    return model, opt["model"]["args"]


def fill(model):
    """Deterministic weights for every parameter (buffers such as relative_position_index kept)."""
    names = [n for n, _ in model.named_parameters()]
    sd = model.state_dict()
    for n in names:
        sd[n] = det(our_name(n), tuple(sd[n].shape))
    model.load_state_dict(sd, strict=True)
    return [our_name(n) for n in names]


def check_converter(model, names):
    """Saves {'state_dict': ...}, converts it with our converter, compares with det() by name."""
    from safetensors.torch import load_file
    with tempfile.TemporaryDirectory() as d:
        pth, out = os.path.join(d, "official.pth"), os.path.join(d, "converted.safetensors")
        torch.save({"state_dict": model.state_dict()}, pth)
        conv = os.path.join(ROOT, "scripts", "convert", "fastvqa_to_safetensors.py")
        subprocess.run([sys.executable, conv, pth, out], check=True, stdout=subprocess.DEVNULL)
        got = load_file(out)
    assert sorted(got) == sorted(names), f"converter names differ: {sorted(set(got) ^ set(names))[:5]}"
    for n in names:
        assert torch.equal(got[n], det(n, tuple(got[n].shape))), f"converted {n} differs from the generated weights"
    return len(names), sum(v.numel() for v in got.values())


def sample(x, stride=None):
    """x flattened channel-last; every stride-th value (odd stride, ~SAMPLES values)."""
    flat = x.detach().reshape(-1)
    if stride is None:
        stride = max(1, flat.numel() // SAMPLES) | 1
    return flat[::stride].clone(), stride


def run_case(models, repo, key, dtype=torch.float32):
    option, frames, size = CASES[key]
    torch.manual_seed(0)
    model, args = build(models, repo, option)
    names = fill(model)
    conv = check_converter(model, names) if dtype == torch.float32 else None
    model = model.to(dtype).eval()
    backbone, head = model.fragments_backbone, model.vqa_head
    x = det("input", (1, 3, frames, size, size)).to(dtype)
    stages = []
    hooks = [layer.register_forward_hook(lambda m, i, o: stages.append(o)) for layer in backbone.layers]
    sys.stdout, saved = open(os.devnull, "w"), sys.stdout  # get_adaptive_window_size prints
    try:
        feat = backbone(x)  # official default forward: adaptive_window_size=True
        qmap = head(feat)
    finally:
        sys.stdout.close()
        sys.stdout = saved
    for h in hooks:
        h.remove()
    score = qmap.mean(dim=(1, 2, 3, 4))
    params = dict(model.named_parameters())
    wanted = [n for n in GRADS if (("fragments_" + n) if n.startswith("backbone.") else n) in params]
    tensors = [params[("fragments_" + n) if n.startswith("backbone.") else n] for n in wanted]
    model.zero_grad(set_to_none=True)
    score.sum().backward()  # .backward(), not autograd.grad: the official blocks use reentrant checkpointing
    grads = [p.grad for p in tensors]
    out = {"score": score.detach(), "map": qmap.detach()}
    for i, s in enumerate(stages + [feat]):
        tag = f"stage.{i}" if i < len(stages) else "features"
        cl = s.permute(0, 2, 3, 4, 1).contiguous()  # [N, C, D, H, W] -> channel-last
        v, stride = sample(cl)
        out[tag] = v
        out[f"{tag}.stride"] = torch.tensor([float(stride)])
        out[f"{tag}.mean"] = cl.double().mean().reshape(1)
        out[f"{tag}.std"] = cl.double().std().reshape(1)
        out[f"{tag}.shape"] = torch.tensor([float(d) for d in cl.shape])
    for n, g in zip(wanted, grads):
        out[f"grad.{n}"] = g
    window = models.swin_backbone.get_adaptive_window_size(tuple(backbone.window_size), tuple(x.shape[2:]),
                                                          tuple(backbone.base_x_size))
    info = dict(option=option, frames=frames, size=size, batch=1, backbone_size=args["backbone_size"],
                window=list(backbone.window_size), base_x_size=list(backbone.base_x_size),
                adaptive_window=list(window), grads=wanted, names=names, converter=conv)
    return {k: v.detach().to(torch.float32).contiguous() for k, v in out.items()}, info


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--official-repo", required=True, help="local clone of VQAssessment/FAST-VQA-and-FasterVQA")
    ap.add_argument("--out", default=os.path.join(ROOT, "Tests", "EngineTests", "Fixtures", "official_fastvqa.safetensors"))
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--f64", default="", help="cases to rerun in float64, printing the float32 gap (e.g. b20,m16)")
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    shims = install_import_shims()
    models = load_official(args.official_repo)
    commit = subprocess.run(["git", "-C", args.official_repo, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    from safetensors.torch import save_file
    tensors, meta = {}, {}
    for key in args.cases.split(","):
        t, info = run_case(models, args.official_repo, key)
        tensors.update({f"{key}.{k}": v for k, v in t.items()})
        meta[key] = json.dumps(info)
        print(f"{key}: {info['option']} {info['frames']}x{info['size']}^2 window {info['window']} -> "
              f"{info['adaptive_window']}; score {t['score'].tolist()}; converter checked "
              f"{info['converter'][0]} tensors / {info['converter'][1]} values")
        if key in args.f64.split(","):
            t64, _ = run_case(models, args.official_repo, key, dtype=torch.float64)
            for k in sorted(t):
                if k.endswith((".stride", ".shape")):
                    continue
                scale = t64[k].abs().max().item() or 1.0
                print(f"    f32 vs f64 {k:70s} {(t[k].double() - t64[k].double()).abs().max().item() / scale:.2e}")
    meta.update(official_commit=commit, official_repo="VQAssessment/FAST-VQA-and-FasterVQA",
                generator="scripts/reference/official_fastvqa.py", torch_version=torch.__version__,
                import_shims=",".join(shims))
    save_file(tensors, args.out, metadata=meta)
    print(f"wrote {args.out}: {len(tensors)} tensors, {os.path.getsize(args.out)} bytes, official commit {commit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
