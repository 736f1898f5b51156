#!/usr/bin/env python3
"""Converts a FAST-VQA or Kinetics Video Swin-T PyTorch checkpoint to vqa-mpi's safetensors names.

Inputs (`torch.load`): a dict with the weights under "state_dict" (FAST-VQA releases, mmaction
Kinetics-400 Swin-T), "model", or the state_dict itself. Name mapping:
  fragments_backbone.X  -> backbone.X     (FAST-VQA DiViDeAddEvaluator)
  backbone.X            -> backbone.X     (FAST-VQA BaseEvaluator, mmaction recognizers)
  vqa_head.X / fragments_head.X -> vqa_head.X
  cls_head.*, *.relative_position_index, *.attn_mask -> dropped (classifier head, buffers)
With --init-fragment-tables, a checkpoint without fragment_position_bias_table (Kinetics Swin-T)
gets one copied from the relative table of the same block in stages listed by --fragment-stages,
as FAST-VQA does when it starts from Kinetics weights.
Every kept tensor is written as float32. Without PyTorch installed, zip-format .pth files of
float32 tensors (the official releases, and safetensors_to_fastvqa.py's output) are read with
scripts/convert/tensor_files.py instead, bytes unchanged. Usage:
  fastvqa_to_safetensors.py IN.pth OUT.safetensors [--init-fragment-tables] [--fragment-stages 0,1,2]
"""
import argparse
import json
import os
import re
import sys

try:
    import torch
    from safetensors.torch import save_file
except ImportError:  # the plain path below needs neither
    torch = None
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tensor_files as tf  # noqa: E402

DROP = re.compile(r"(relative_position_index|attn_mask)$")


def state_dict_of(obj):
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if key in obj and isinstance(obj[key], dict):
                return obj[key]
        if all(torch.is_tensor(v) for v in obj.values()):
            return obj
    raise SystemExit("no state_dict found: expected a dict with 'state_dict' or 'model', or a tensor dict")


def rename(name):
    """Our name for an upstream key, or None to drop it."""
    if DROP.search(name) or name.startswith("cls_head."):
        return None
    for old, new in (("module.", ""),):
        if name.startswith(old):
            name = new + name[len(old):]
    if name.startswith("fragments_backbone."):
        return "backbone." + name[len("fragments_backbone."):]
    if name.startswith("backbone."):
        return name
    if name.startswith("fragments_head."):
        return "vqa_head." + name[len("fragments_head."):]
    if name.startswith("vqa_head."):
        return name
    return None


def _renamed(items, value, clone, init_fragment_tables, fragment_stages):
    """Our names for (official key, tensor) items, `value` converting each tensor; optionally every
    fragment stage's relative table copied (`clone`) to its fragment table. Returns (tensors, dropped keys)."""
    out, dropped = {}, []
    for k, v in items:
        nk = rename(k)
        if nk is None:
            dropped.append(k)
            continue
        if nk in out:
            raise SystemExit(f"two checkpoint keys map to {nk}; pass a single-branch checkpoint")
        out[nk] = value(k, v)
    if init_fragment_tables:
        for k in list(out):
            m = re.match(r"backbone\.layers\.(\d+)\.blocks\.\d+\.attn\.relative_position_bias_table$", k)
            if m and int(m.group(1)) in fragment_stages:
                out.setdefault(k.replace("relative_position_bias_table", "fragment_position_bias_table"), clone(out[k]))
    return out, dropped


def convert(sd, init_fragment_tables=False, fragment_stages=(0, 1, 2)):
    return _renamed(((k, v) for k, v in sd.items() if torch.is_tensor(v)),
                    lambda k, v: v.detach().to(torch.float32).contiguous(), lambda v: v.clone(),
                    init_fragment_tables, fragment_stages)


def convert_plain(obj, init_fragment_tables=False, fragment_stages=(0, 1, 2)):
    """convert() for tensor_files.read_pth's (dtype, shape, bytes) tensors (no PyTorch)."""
    sd = None
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                sd = obj[key]
                break
        if sd is None and all(isinstance(v, tuple) for v in obj.values()):
            sd = obj
    if sd is None:
        raise SystemExit("no state_dict found: expected a dict with 'state_dict' or 'model', or a tensor dict")

    def f32(k, v):
        if v[0] != "F32":
            raise SystemExit(f"{k} is {v[0]}, not float32: install PyTorch to convert it (torch casts it)")
        return v
    return _renamed(sd.items(), f32, lambda v: v, init_fragment_tables, fragment_stages)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--init-fragment-tables", action="store_true")
    ap.add_argument("--fragment-stages", default="0,1,2")
    args = ap.parse_args()
    stages = tuple(int(s) for s in args.fragment_stages.split(",") if s)
    meta = {"source": args.input, "converter": "scripts/convert/fastvqa_to_safetensors.py"}
    if torch is not None:
        sd = state_dict_of(torch.load(args.input, map_location="cpu", weights_only=False))
        out, dropped = convert(sd, args.init_fragment_tables, stages)
        if not out:
            raise SystemExit(f"{args.input}: no backbone./fragments_backbone./vqa_head. tensors found")
        save_file(out, args.output, metadata={**meta, "dropped": json.dumps(dropped)})
        n = sum(v.numel() for v in out.values())
    else:
        try:
            obj = tf.read_pth(args.input)
        except Exception as e:  # noqa: BLE001 - any unreadable file gets the same advice
            raise SystemExit(f"{args.input}: cannot read without PyTorch ({e}); install torch")
        out, dropped = convert_plain(obj, args.init_fragment_tables, stages)
        if not out:
            raise SystemExit(f"{args.input}: no backbone./fragments_backbone./vqa_head. tensors found")
        tf.write_safetensors(args.output, out, metadata={**meta, "dropped": json.dumps(dropped)})
        n = sum(tf.numel(v[1]) for v in out.values())
    print(f"wrote {args.output}: {len(out)} tensors, {n} parameters; dropped {len(dropped)} keys")
    return 0


if __name__ == "__main__":
    sys.exit(main())
