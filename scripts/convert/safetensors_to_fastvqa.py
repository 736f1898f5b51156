#!/usr/bin/env python3
"""Converts a vqa-mpi fast-vqa-b / fast-vqa-m checkpoint to a FAST-VQA `.pth` the official code loads.

The way back of fastvqa_to_safetensors.py (its name mapping inverted):
  backbone.X -> fragments_backbone.X      vqa_head.X -> vqa_head.X
plus every attention block's `relative_position_index` buffer (part of the official model's
state_dict, recomputed from the window size: 8x7x7 for fast-vqa-b, 4x4x4 for fast-vqa-m, or the
checkpoint's `window` model option). The output is {"state_dict": OrderedDict(...)}, what the
official `vqa.py` reads with `evaluator.load_state_dict(torch.load(path)["state_dict"])` (strict)
into DiViDeAddEvaluator(backbone_size="swin_tiny_grpb" (b) / "swin_tiny_grpb_m" (m),
backbone_preserve_keys="fragments", divide_head=False). Tensors keep their bytes (float32).

--weights ema (default when the checkpoint has EMA weights) or raw picks which copy is written.
No PyTorch is needed for the .pth (scripts/convert/tensor_files.py writes the zip format).

--onnx OUT.onnx additionally exports the official model with these weights to ONNX; it needs
PyTorch, the onnx and onnxscript packages and a checkout of the official repository (--fastvqa-repo DIR, github.com/VQAssessment/
FAST-VQA-and-FasterVQA), builds its DiViDeAddEvaluator, loads the .pth with strict=True and
traces a [1, 3, T, H, W] fragment input (T x H x W from --onnx-input, default 32x224x224).

  safetensors_to_fastvqa.py runs/lsvq/best.safetensors FAST_VQA_B_ours.pth [--weights raw]
  safetensors_to_fastvqa.py best.safetensors out.pth --onnx out.onnx --fastvqa-repo ../FAST-VQA-and-FasterVQA
"""
import argparse
import collections
import json
import os
import re
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tensor_files as tf  # noqa: E402

WINDOWS = {"fast-vqa-b": (8, 7, 7), "fast-vqa-m": (4, 4, 4)}
BACKBONES = {"fast-vqa-b": "swin_tiny_grpb", "fast-vqa-m": "swin_tiny_grpb_m"}
TABLE = re.compile(r"^fragments_backbone\.layers\.(\d+)\.blocks\.(\d+)\.attn\.relative_position_bias_table$")


def fail(message):
    print(f"safetensors_to_fastvqa: {message}", file=sys.stderr)
    sys.exit(2)


def relative_position_index(window):
    """The Video Swin window's pair-wise relative position index, [N, N] int64 bytes (N = wd·wh·ww)."""
    wd, wh, ww = window
    coords = [(d, h, w) for d in range(wd) for h in range(wh) for w in range(ww)]
    out = []
    for a in coords:
        for b in coords:
            rd, rh, rw = a[0] - b[0] + wd - 1, a[1] - b[1] + wh - 1, a[2] - b[2] + ww - 1
            out.append(rd * (2 * wh - 1) * (2 * ww - 1) + rh * (2 * ww - 1) + rw)
    n = len(coords)
    return ("I64", [n, n], struct.pack(f"<{n * n}q", *out))


def natural(name):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def convert(tensors, meta, weights):
    """(official state_dict {name: tensor}, model name, which weights were taken)."""
    model = meta.get("model", "")
    if model not in WINDOWS:
        fail(f"the checkpoint's model is '{model or 'unknown (no metadata)'}'; only fast-vqa-b and fast-vqa-m map to the official FAST-VQA code")
    options = json.loads(meta.get("model_options", "{}") or "{}")
    window = WINDOWS[model]
    if "window" in options:
        w = options["window"]
        window = tuple(int(x) for x in (w.split(",") if isinstance(w, str) else w))
    has_ema = any(k.startswith("ema.") for k in tensors)
    if weights == "ema" and not has_ema:
        fail("the checkpoint has no EMA weights (trained with train.ema 0); pass --weights raw")
    use_ema = weights == "ema" or (weights == "auto" and has_ema)
    prefix = "ema." if use_ema else ""
    out = {}
    for k, v in tensors.items():
        if use_ema != k.startswith("ema.") or k.startswith("optim."):
            continue
        name = k[len(prefix):]
        if name.startswith("backbone."):
            out["fragments_backbone." + name[len("backbone."):]] = v
        elif name.startswith("vqa_head."):
            out[name] = v
        else:
            fail(f"tensor {k} has no place in the official model (expected backbone.* and vqa_head.*)")
    if not any(k.startswith("fragments_backbone.") for k in out) or not any(k.startswith("vqa_head.") for k in out):
        fail("no backbone.* or vqa_head.* tensors; is this a fast-vqa checkpoint written by vqa-mpi train?")
    index = relative_position_index(window)
    for k in list(out):
        m = TABLE.match(k)
        if m:
            rows = (2 * window[0] - 1) * (2 * window[1] - 1) * (2 * window[2] - 1)
            if out[k][1][0] != rows:
                fail(f"{k} has {out[k][1][0]} rows, the window {window} needs {rows}; pass the right model/window")
            out[k.replace("relative_position_bias_table", "relative_position_index")] = index
    ordered = collections.OrderedDict((k, out[k]) for k in sorted(out, key=natural))
    return ordered, model, "ema" if use_ema else "raw"


def export_onnx(pth, model, repo, onnx_path, shape):
    try:
        import torch
        import onnx  # noqa: F401 - the exporter writes through it
        import onnxscript  # noqa: F401 - torch.export-based exporter
    except ImportError as e:
        fail(f"--onnx needs PyTorch, onnx and onnxscript (pip install torch onnx onnxscript): {e}; the .pth was written without them")
    if not repo or not os.path.isdir(os.path.join(repo, "fastvqa")):
        fail("--onnx needs --fastvqa-repo DIR, a checkout of github.com/VQAssessment/FAST-VQA-and-FasterVQA (holding fastvqa/)")
    sys.path.insert(0, os.path.abspath(repo))
    from fastvqa.models import DiViDeAddEvaluator  # the official model
    net = DiViDeAddEvaluator(backbone_size=BACKBONES[model], backbone_preserve_keys="fragments",
                             backbone={"fragments": {"checkpoint": False, "pretrained": None}}, divide_head=False,
                             vqa_head={"in_channels": 768, "hidden_channels": 64})
    net.load_state_dict(torch.load(pth, map_location="cpu")["state_dict"], strict=True)
    net.eval()
    # The official blocks use gradient checkpointing by default, which tracing cannot follow;
    # it changes no value, so it is switched off for the export.
    for module in net.modules():
        if hasattr(module, "use_checkpoint"):
            module.use_checkpoint = False

    class Scorer(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m({"fragments": x}, inference=True).mean((1, 2, 3, 4))

    t, h, w = shape
    # The torch.export-based exporter: the TorchScript one (dynamo=False) fails on the official
    # Swin's window masks (an internal shape-inference assert in torch 2.13).
    torch.onnx.export(Scorer(net), (torch.zeros(1, 3, t, h, w),), onnx_path, input_names=["fragments"], output_names=["score"],
                      opset_version=18, dynamo=True)
    print(f"wrote {onnx_path}: the official {model} with these weights, input [1, 3, {t}, {h}, {w}]")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[1:]))
    ap.add_argument("input", help="vqa-mpi checkpoint (.safetensors) of a fast-vqa-b or fast-vqa-m model")
    ap.add_argument("output", help="FAST-VQA .pth to write")
    ap.add_argument("--weights", choices=["auto", "ema", "raw"], default="auto",
                    help="EMA or raw weights (auto: EMA when the checkpoint has them)")
    ap.add_argument("--onnx", help="also export the official model with these weights to this .onnx (needs torch, --fastvqa-repo)")
    ap.add_argument("--fastvqa-repo", help="checkout of the official FAST-VQA repository (for --onnx)")
    ap.add_argument("--onnx-input", default="32x224x224", help="T x H x W of the traced fragment input (default 32x224x224)")
    args = ap.parse_args()
    if not os.path.isfile(args.input):
        fail(f"{args.input}: no such file")
    try:
        tensors, meta = tf.read_safetensors(args.input)
    except (ValueError, json.JSONDecodeError) as e:
        fail(f"{args.input}: not a safetensors file ({e})")
    state, model, which = convert(tensors, meta, args.weights)
    tmp = args.output + ".tmp"
    tf.write_pth(tmp, state)
    os.replace(tmp, args.output)
    n = sum(tf.numel(s) for d, s, _ in state.values() if d != "I64")
    print(f"wrote {args.output}: {model}, {which} weights, {len(state)} entries ({n} parameters); "
          f"official: DiViDeAddEvaluator(backbone_size='{BACKBONES[model]}', backbone_preserve_keys='fragments', divide_head=False)")
    if args.onnx:
        try:
            shape = tuple(int(x) for x in args.onnx_input.lower().split("x"))
            assert len(shape) == 3
        except (ValueError, AssertionError):
            fail(f"--onnx-input {args.onnx_input}: expected TxHxW, e.g. 32x224x224")
        export_onnx(args.output, model, args.fastvqa_repo, args.onnx, shape)
    return 0


if __name__ == "__main__":
    sys.exit(main())
