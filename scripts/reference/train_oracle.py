#!/usr/bin/env python3
"""Training oracle: replays a `vqa-mpi train --dump-batches FILE` run of fragnet in PyTorch.

The dump holds exactly what our trainer fed the model (every rank's normalised clips and labels per
step), the starting weights, and per step our scheduled LR, training loss and global predictions
(layout: Sources/Dist/Trainer+Dump.swift). This script builds the PyTorch twin of fragnet
(fragnet.py, same parameter names) from the starting weights and trains it on the same batches,
in the same order, with an independently written FAST-VQA warm-up + cosine schedule, AdamW with
the backbone/head groups, the PLCC + rank loss on the global batch, and AWP when the run used it;
then compares step by step: LR, loss, the step's SRCC, and each epoch's train SRCC (the trainer's
metric: all the epoch's global predictions against their labels).

    python3 scripts/reference/train_oracle.py --dump runs/x/batches.safetensors [--out oracle.json]

Needs torch (torch==2.13.0+cpu), numpy, safetensors, scipy, PyYAML. The run must use dropout 0
(model.options.dropout=0: dropout masks cannot be replayed) and regularizer none, l2 or awp.
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import yaml
from safetensors import safe_open
from scipy.stats import spearmanr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fragnet import FragNet, make_adamw, plcc_loss, rank_loss, awp_perturb, awp_restore  # noqa: E402


def rank_path(path, r):
    """The file rank r wrote (Trainer+Dump.swift BatchDump.rankPath)."""
    if r == 0:
        return path
    stem, ext = os.path.splitext(path)
    return f"{stem}.rank{r}{ext}" if ext else f"{path}.rank{r}"


def load_dump(path):
    """Returns (meta, steps list of (x [G,...], y [G], index [G]), rank-0 tensors)."""
    with safe_open(path, "np") as f:
        meta = f.metadata()
        r0 = {k: f.get_tensor(k) for k in f.keys()}
    world = int(meta["world_size"])
    ranks = [r0]
    for r in range(1, world):
        with safe_open(rank_path(path, r), "np") as f:
            ranks.append({k: f.get_tensor(k) for k in f.keys()})
    steps = []
    for s in range(len(r0["count"])):
        xs, ys, ids = [], [], []
        for t in ranks:
            n = int(t["count"][s])
            xs.append(t["x"][s, :n]); ys.append(t["labels"][s, :n]); ids.append(t["index"][s, :n])
        steps.append((np.concatenate(xs), np.concatenate(ys), np.concatenate(ids)))
    return meta, steps, r0


def fastvqa_lr(base, it, warmup, max_iter):
    """FAST-VQA's LambdaLR: it/warmup during warm-up, then 0.5(1 + cos(pi (it - warmup)/max_iter))."""
    if warmup > 0 and it <= warmup:
        return base * it / warmup
    return base * 0.5 * (1 + math.cos(math.pi * (it - warmup) / max_iter))


def build_model(meta, start):
    opts = json.loads(meta["model_options"])
    widths = tuple(int(v) for v in opts.get("widths", "24,48,96,192").split(","))
    dropout = float(opts.get("dropout", 0.5))
    if dropout != 0:
        raise SystemExit(f"train_oracle: the run used dropout {dropout}; dropout masks cannot be replayed. "
                         "Dump a run with --set model.options.dropout=0")
    model = FragNet(widths, int(opts.get("head_hidden", 64)), int(opts.get("groups", 4)), 0.0,
                    norm=opts.get("norm", "group"))
    state = model.state_dict()
    missing = [k for k in state if "start." + k not in start]
    if missing:
        raise SystemExit(f"train_oracle: the dump lacks start weights for {missing[:4]}; model options differ?")
    model.load_state_dict({k: torch.from_numpy(start["start." + k].copy()) for k in state})
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dump", required=True, help="rank 0's dump file (other ranks' files are found next to it)")
    ap.add_argument("--out", help="write the per-step comparison as JSON here")
    ap.add_argument("--every", type=int, default=12, help="print every N-th step")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    meta, steps, r0 = load_dump(args.dump)
    cfg = yaml.safe_load(meta["config"])
    if meta["model"] != "fragnet":
        raise SystemExit(f"train_oracle: model {meta['model']} is not supported (fragnet only)")
    start = {k: v for k, v in r0.items() if k.startswith("start.")}
    model = build_model(meta, start)
    model.train()
    o = cfg["optimizer"]
    # PyYAML (YAML 1.1) reads exponents without a dot, e.g. 1e-08, as strings.
    for k in ("lr", "wd", "eps", "backbone_lr_mult", "clip_norm"):
        if k in o:
            o[k] = float(o[k])
    o["betas"] = [float(b) for b in o["betas"]]
    if o["kind"] != "adamw":
        raise SystemExit(f"train_oracle: optimizer {o['kind']} is not supported (adamw only)")
    reg = cfg["regularization"]["kind"]
    if reg not in ("none", "l2", "awp"):
        raise SystemExit(f"train_oracle: regularizer {reg} is not supported (none, l2, awp; rwp/aug draw random numbers)")
    wd = float(cfg["regularization"]["l2"]["wd"]) if reg == "l2" else o["wd"]
    opt = make_adamw(model, o["lr"], o["backbone_lr_mult"], wd, tuple(o["betas"]), o["eps"])
    mults = [o["backbone_lr_mult"], 1.0]
    weights = {k: float(v) for k, v in cfg["loss"].items()}
    extra = set(weights) - {"plcc", "rank"}
    if extra:
        raise SystemExit(f"train_oracle: loss terms {sorted(extra)} are not supported (plcc, rank)")
    clip = float(o.get("clip_norm", 0) or 0)
    spe = int(meta["steps_per_epoch"])
    epochs = int(cfg["train"]["epochs"])
    warmup = int(cfg["schedule"]["warmup_epochs"] * spe)
    constant = cfg["schedule"]["kind"] == "constant"
    gamma = float(cfg["regularization"]["awp"]["gamma"]) if reg == "awp" else None

    def loss_of(p, y):
        return weights.get("plcc", 0) * plcc_loss(p, y) + weights.get("rank", 0) * rank_loss(p, y)

    rows = []
    print(f"{len(steps)} steps of {len(steps[0][1])} clips, {spe} steps/epoch, regularizer {reg}, "
          f"lr {o['lr']} (backbone x{o['backbone_lr_mult']}), wd {wd}, loss {weights}")
    print(f"{'step':>5} {'lr ours':>10} {'lr torch':>10} {'loss ours':>10} {'loss torch':>10} {'srcc ours':>9} {'srcc torch':>10}")
    for s, (x, y, _) in enumerate(steps):
        lr = o["lr"] if constant else fastvqa_lr(o["lr"], s, warmup, epochs * spe)
        for g, m in zip(opt.param_groups, mults):
            g["lr"] = lr * m
        xt = torch.from_numpy(x.reshape(-1, *x.shape[2:]))  # clips of one sample are consecutive
        clips = x.shape[1]
        yt = torch.from_numpy(np.repeat(y, clips))
        opt.zero_grad(set_to_none=False)
        pred, _ = model(xt)
        loss = loss_of(pred, yt)
        loss.backward()
        if gamma is not None:
            backup = awp_perturb(model, gamma)
            opt.zero_grad(set_to_none=False)
            loss_of(model(xt)[0], yt).backward()
            awp_restore(model, backup)
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        ours_pred = r0["global_pred"][s][: len(yt)]
        p = pred.detach().numpy()
        rows.append(dict(step=s, epoch=s // spe, lr_ours=float(r0["lr"][s]), lr_torch=lr,
                         loss_ours=float(r0["loss"][s]), loss_torch=float(loss.detach()),
                         srcc_ours=float(spearmanr(ours_pred, yt.numpy())[0]), srcc_torch=float(spearmanr(p, yt.numpy())[0]),
                         pred_ours=ours_pred.tolist(), pred_torch=p.tolist(), labels=yt.numpy().tolist(),
                         label_match=bool(np.array_equal(r0["global_label"][s][: len(yt)], yt.numpy()))))
        r = rows[-1]
        if s % args.every == 0 or s == len(steps) - 1:
            print(f"{s:5d} {r['lr_ours']:10.3e} {r['lr_torch']:10.3e} {r['loss_ours']:10.5f} {r['loss_torch']:10.5f} "
                  f"{r['srcc_ours']:9.3f} {r['srcc_torch']:10.3f}")
    # The first step starts from identical weights: its loss must agree to float32 rounding.
    first = abs(rows[0]["loss_ours"] - rows[0]["loss_torch"])
    lr_err = max(abs(r["lr_ours"] - r["lr_torch"]) for r in rows)
    print(f"step 0 loss |ours - torch| = {first:.2e}; max LR difference {lr_err:.2e}; "
          f"labels identical in every step: {all(r['label_match'] for r in rows)}")
    print(f"{'epoch':>5} {'loss ours':>10} {'loss torch':>10} {'train SRCC ours':>16} {'train SRCC torch':>17}")
    summary = []
    for e in sorted({r["epoch"] for r in rows}):
        rs = [r for r in rows if r["epoch"] == e]
        lab = np.concatenate([r["labels"] for r in rs])
        so = spearmanr(np.concatenate([r["pred_ours"] for r in rs]), lab)[0]
        st = spearmanr(np.concatenate([r["pred_torch"] for r in rs]), lab)[0]
        lo, lt = np.mean([r["loss_ours"] for r in rs]), np.mean([r["loss_torch"] for r in rs])
        summary.append(dict(epoch=e + 1, loss_ours=lo, loss_torch=lt, train_srcc_ours=so, train_srcc_torch=st))
        print(f"{e + 1:5d} {lo:10.4f} {lt:10.4f} {so:16.3f} {st:17.3f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(dict(steps=[{k: v for k, v in r.items() if not k.startswith(("pred", "labels"))} for r in rows],
                           epochs=summary, step0_loss_diff=first, max_lr_diff=lr_err), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
