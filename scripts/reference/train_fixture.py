#!/usr/bin/env python3
"""Writes Tests/EngineTests/Fixtures/train_fixture.json with PyTorch's answers for
(1) the FAST-VQA batch losses (plcc_loss, rank_loss) and their autograd gradients, in float64,
    on batches with label ties, prediction ties, ties at the maximum and constant predictions;
(2) several torch.optim steps (SGD+Nesterov, Adam, AdamW) on two tensors in two parameter groups.

Needs torch (CI never does; the JSON is committed):
  python3 -m venv --system-site-packages /tmp/torchenv
  /tmp/torchenv/bin/pip install 'torch==2.13.0+cpu' --index-url https://download.pytorch.org/whl/cpu
  /tmp/torchenv/bin/python scripts/reference/train_fixture.py
"""
import json
import os

import numpy as np
import torch


def fast_plcc(pred, label):
    # FAST-VQA plcc_loss semantics: population std with 1e-8 added to it, rho kept in the graph.
    sp, mp = torch.std_mean(pred, unbiased=False)
    a = (pred - mp) / (sp + 1e-8)
    sl, ml = torch.std_mean(label, unbiased=False)
    b = (label - ml) / (sl + 1e-8)
    rho = torch.mean(a * b)
    return (torch.nn.functional.mse_loss(a, b) / 4 + torch.nn.functional.mse_loss(rho * a, b) / 4) / 2


def fast_rank(pred, label):
    # FAST-VQA rank_loss semantics on [N, 1] columns: the 1 + max scale stays in the graph.
    n = pred.shape[0]
    r = torch.relu((pred - pred.t()) * torch.sign(label.t() - label))
    return torch.sum(r) / n / (n - 1) / (1 + torch.max(r))


def loss_case(name, pred, label):
    p = torch.tensor(pred, dtype=torch.float64).unsqueeze(-1).requires_grad_(True)
    y = torch.tensor(label, dtype=torch.float64).unsqueeze(-1)
    out = {"name": name, "predictions": pred, "labels": label}
    for key, fn in (("plcc", fast_plcc), ("rank", fast_rank)):
        p.grad = None
        loss = fn(p, y)
        loss.backward()
        out[key] = {"loss": loss.item(), "gradient": p.grad.squeeze(-1).tolist()}
    return out


def optimizer_case(kind, steps=6):
    rng = np.random.default_rng(7)
    w_backbone = rng.uniform(-1, 1, (3, 5)).astype(np.float32)
    w_head = rng.uniform(-1, 1, (7,)).astype(np.float32)
    grads = [[rng.uniform(-0.5, 0.5, w.shape).astype(np.float32) for w in (w_backbone, w_head)] for _ in range(steps)]
    lrs = [1e-2 * (0.5 + 0.1 * t) for t in range(steps)]
    pb = torch.nn.Parameter(torch.tensor(w_backbone))
    ph = torch.nn.Parameter(torch.tensor(w_head))
    wd = {"sgd": 0.01, "adam": 0.01, "adamw": 0.05}[kind]
    groups = [{"params": [pb], "lr": lrs[0] * 0.1, "weight_decay": wd},
              {"params": [ph], "lr": lrs[0], "weight_decay": 0.0}]
    if kind == "sgd":
        opt = torch.optim.SGD(groups, lr=lrs[0], momentum=0.9, nesterov=True)
    elif kind == "adam":
        opt = torch.optim.Adam(groups, lr=lrs[0])
    else:
        opt = torch.optim.AdamW(groups, lr=lrs[0])
    for t in range(steps):
        opt.param_groups[0]["lr"] = lrs[t] * 0.1
        opt.param_groups[1]["lr"] = lrs[t]
        pb.grad = torch.tensor(grads[t][0])
        ph.grad = torch.tensor(grads[t][1])
        opt.step()
    return {
        "kind": kind, "weight_decay": wd, "lrs": lrs,
        "initial": [w_backbone.ravel().tolist(), w_head.tolist()],
        "grads": [[g[0].ravel().tolist(), g[1].tolist()] for g in grads],
        "final": [pb.detach().numpy().ravel().tolist(), ph.detach().numpy().tolist()],
    }


def main():
    labels = [3.0, 1.5, 4.2, 3.0, 2.2, 1.5, 4.9, 0.7]
    preds = [0.31, -0.42, 0.95, 0.12, -0.05, 0.27, 0.64, -0.88]
    tied = list(preds)
    tied[3] = tied[0]
    losses = [
        loss_case("label_ties", preds, labels),
        loss_case("prediction_ties", [0.5, 0.5, 0.9, -0.2, 0.5, 0.1, 0.9, 0.0], labels),
        loss_case("tied_on_tied_labels", tied, labels),
        loss_case("ties_at_max", [0.5, 0.5, 0.2], [1.0, 2.0, 3.0]),
        loss_case("reversed", [3.0, 2.0, 1.0], [1.0, 2.0, 3.0]),
        loss_case("constant_predictions", [0.5, 0.5, 0.5, 0.5], [1.0, 2.0, 3.0, 4.0]),
        loss_case("pair", [0.2, 0.7], [4.0, 1.0]),
    ]
    optimizers = [optimizer_case(k) for k in ("sgd", "adam", "adamw")]
    path = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "EngineTests", "Fixtures", "train_fixture.json")
    with open(path, "w") as f:
        json.dump({"generator": "scripts/reference/train_fixture.py", "torch": torch.__version__,
                   "losses": losses, "optimizers": optimizers}, f, indent=1)
        f.write("\n")
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
