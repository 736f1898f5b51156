#!/usr/bin/env python3
"""Checks fragnet_reference.safetensors against the README formulas, in float64 numpy (no torch).

An independent oracle for what fragnet.py wrote: the FAST-VQA losses and their gradient (ties
case: max(r) tied between pairs, split evenly), the AWP perturbation, and AdamW steps rebuilt from
the stored gradients. Exit status 1 on any mismatch. Usage: check_fixture.py [fixture path]
"""
import json
import os
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file


def losses(p, y):
    """(plcc, rank, total) in float64."""
    zp = (p - p.mean()) / (p.std() + 1e-8)
    zy = (y - y.mean()) / (y.std() + 1e-8)
    rho = (zp * zy).mean()
    lp = (((zp - zy) ** 2).mean() / 4 + ((rho * zp - zy) ** 2).mean() / 4) / 2
    r = np.maximum((p[:, None] - p[None, :]) * np.sign(y[None, :] - y[:, None]), 0)
    n = len(p)
    lr = r.sum() / n / (n - 1) / (1 + r.max())
    return lp, lr, lp + 0.3 * lr


def loss_grad(p, y):
    """d total / d p: central differences for the smooth PLCC part, exact for the rank part."""
    h = 1e-6
    g = np.zeros_like(p)
    for i in range(len(p)):
        e = np.zeros_like(p)
        e[i] = h
        g[i] = (losses(p + e, y)[0] - losses(p - e, y)[0]) / (2 * h)
    s = np.sign(y[None, :] - y[:, None])
    r = np.maximum((p[:, None] - p[None, :]) * s, 0)
    n, total, top = len(p), r.sum(), r.max()
    on = (r > 0) * s                          # relu'(0) = 0
    d_sum = on.sum(1) - on.sum(0)
    w = (r == top) / (r == top).sum() * s     # gradient of max split evenly over tied maxima
    d_max = w.sum(1) - w.sum(0)
    return g + 0.3 * (d_sum * (1 + top) - total * d_max) / (1 + top) ** 2 / n / (n - 1)


def awp(w, g, gamma, eps=1e-6):
    gn = np.linalg.norm(g)
    if gn == 0:
        return w.copy()
    d = gamma * g / (gn + eps) * (np.linalg.norm(w) + eps)
    return np.clip(w + d, w - gamma * np.abs(w), w + gamma * np.abs(w))


def adamw(w, g, m, v, lr, step, wd, b1=0.9, b2=0.999, eps=1e-8):
    w = w * (1 - lr * wd)
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    mh, vh = m / (1 - b1 ** step), v / (1 - b2 ** step)
    return w - lr * mh / (np.sqrt(vh) + eps), m, v


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "..", "..", "Tests", "EngineTests", "Fixtures", "fragnet_reference.safetensors")
    f = {k: v.astype(np.float64) for k, v in load_file(path).items()}
    with safe_open(path, "np") as h:
        cfg = json.loads(h.metadata()["config"])
    names = [k[len("init."):] for k in f if k.startswith("init.")]
    failures = []

    def expect(label, got, want, tol):
        err = float(np.max(np.abs(np.asarray(got) - np.asarray(want))))
        status = "ok " if err <= tol else "BAD"
        if err > tol:
            failures.append(label)
        print(f"{status} {label:34s} max|diff| {err:.3g} (tol {tol:g})")

    for pre, pred, lab in (("loss.", "out.scores", "labels"), ("ties.", "ties.pred", "ties.labels")):
        got = losses(f[pred], f[lab])
        for i, part in enumerate(("plcc", "rank", "total")):
            expect(pre + part, got[i], f[pre + part][0], 2e-6)
    expect("ties.grad", loss_grad(f["ties.pred"], f["ties.labels"]), f["ties.grad"], 1e-6)
    expect("out.scores = mean(out.map)", f["out.map"].reshape(cfg["N"], -1).mean(1), f["out.scores"], 1e-7)

    gamma = cfg["awp_gamma"]
    pert = {n: awp(f["init." + n], f["grad." + n], gamma) if n.endswith("weight") else f["init." + n]
            for n in names}
    expect("awp.perturbed.*", max(np.abs(pert[n] - f["awp.perturbed." + n]).max() for n in names), 0, 1e-6)

    def lr_of(n):
        return cfg["lr_backbone"] if n.startswith(("stem.", "stages.")) else cfg["lr_head"]

    # fc_last.bias has a zero true gradient (both losses ignore a common shift of the scores), so
    # its float32 gradient is rounding noise that Adam normalises into a ~lr step: compared apart.
    noisy = "head.fc_last.bias"
    after, step_errs = {}, []
    for n in names:
        w, _, _ = adamw(f["init." + n], f["awp.grad." + n], 0, 0, lr_of(n), 1, cfg["weight_decay"])
        after[n] = w
    expect("awp.after.* (not fc_last.bias)",
           max(np.abs(after[n] - f["awp.after." + n]).max() for n in names if n != noisy), 0, 1e-6)
    for n in names:
        w, _, _ = adamw(f["init." + n], f["grad." + n], 0, 0, lr_of(n), 1, cfg["weight_decay"])
        step_errs.append(np.abs(w - f["adamw1." + n]).max() if n != noisy else 0)
    expect("adamw1.* (not fc_last.bias)", max(step_errs), 0, 1e-6)
    expect("|grad.head.fc_last.bias| (true 0)", f["grad." + noisy], 0, 1e-4)
    expect("fc_last.bias Adam steps <= lr", np.abs(f["adamw1." + noisy] - f["init." + noisy]),
           0, 1.01 * cfg["lr_head"])
    print("fixture check:", "FAILED " + ", ".join(failures) if failures else "all ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
