#!/usr/bin/env python3
"""Converts a torchvision ResNet or a SimpleVQA PyTorch checkpoint to vqa-mpi's `simplevqa` names.

Inputs (`torch.load`): a torchvision ResNet state_dict (e.g. resnet50-19c8e357.pth / resnet50-0676ba61.pth),
a SimpleVQA UGC_BVQA_model state_dict, or a dict holding either under "state_dict" or "model".
Name mapping (vqa-mpi keeps torchvision's names):
  module.X                   -> X          (nn.DataParallel prefix)
  conv1.*, bn1.*, layerI.J.* -> unchanged  (BN running_mean/running_var are kept: frozen statistics)
  quality.0.*, quality.1.*   -> unchanged  (SimpleVQA's regressor; absent in ImageNet weights)
  fc.*, *.num_batches_tracked -> dropped   (ImageNet classifier, BN step counter)
Every kept tensor is written as float32. Usage:
  resnet_to_safetensors.py IN.pth OUT.safetensors
Then: vqa-mpi train --model simplevqa --model-option depth=50 ... --init-from OUT.safetensors
"""
import argparse
import json
import re
import sys

import torch
from safetensors.torch import save_file

KEEP = re.compile(r"^(conv1\.weight|bn1\.\w+|layer[1-4]\.\d+\.(conv\d|bn\d|downsample\.[01])\.\w+|quality\.[01]\.(weight|bias))$")
DROP = re.compile(r"(^fc\.|num_batches_tracked$)")


def state_dict_of(obj):
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if key in obj and isinstance(obj[key], dict):
                return obj[key]
        return obj
    raise SystemExit("input is not a state_dict or a checkpoint dict")


def convert(sd):
    out, dropped = {}, []
    for name, t in sd.items():
        name = name[len("module."):] if name.startswith("module.") else name
        if DROP.search(name):
            dropped.append(name)
            continue
        if not KEEP.match(name):
            raise SystemExit(f"unexpected tensor '{name}': not a torchvision ResNet / SimpleVQA name; "
                             "is this checkpoint of another model?")
        out[name] = t.detach().to(torch.float32).contiguous()
    return out, dropped


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input")
    ap.add_argument("output")
    args = ap.parse_args()
    sd = state_dict_of(torch.load(args.input, map_location="cpu", weights_only=True))
    out, dropped = convert(sd)
    bottleneck = any(k.endswith("conv3.weight") for k in out)
    per_stage = [len({k.split(".")[1] for k in out if k.startswith(f"layer{i}.")}) for i in range(1, 5)]
    depth = {(False, (2, 2, 2, 2)): 18, (False, (3, 4, 6, 3)): 34, (True, (3, 4, 6, 3)): 50,
             (True, (3, 4, 23, 3)): 101, (True, (3, 8, 36, 3)): 152}.get((bottleneck, tuple(per_stage)))
    meta = {"source": args.input, "converter": "scripts/convert/resnet_to_safetensors.py",
            "depth": str(depth), "dropped": json.dumps(dropped)}
    save_file(out, args.output, metadata=meta)
    print(f"wrote {args.output}: {len(out)} tensors ({sum(t.numel() for t in out.values())} floats), "
          f"depth {depth} (blocks per stage {per_stage}), width {out['conv1.weight'].shape[0]}, dropped {len(dropped)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
