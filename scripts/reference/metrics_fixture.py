#!/usr/bin/env python3
"""Writes Tests/EngineTests/Fixtures/metrics_fixture.json: scipy's SRCC, PLCC, KRCC (tau-b),
RMSE, FAST-VQA's linear rescale, and a VQEG 4-parameter logistic fit (scipy.optimize.curve_fit,
Levenberg-Marquardt from b1=max y, b2=min y, b3=mean x, b4=std x) on a few fixed vectors.

Usage: python3 scripts/reference/metrics_fixture.py   (needs numpy and scipy only)
"""
import json
import os

import numpy as np
from scipy import optimize, stats


def logistic(x, b1, b2, b3, b4):
    return (b1 - b2) / (1 + np.exp(-(x - b3) / np.abs(b4))) + b2


def rescale(pr, gt):
    return (pr - np.mean(pr)) / np.std(pr) * np.std(gt) + np.mean(gt)


def case(name, x, y):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    out = {
        "name": name,
        "predictions": x.tolist(),
        "labels": y.tolist(),
        "srcc": float(stats.spearmanr(x, y)[0]),
        "plcc": float(stats.pearsonr(x, y)[0]),
        "krcc": float(stats.kendalltau(x, y, variant="b")[0]),
        "rmse": float(np.sqrt(np.mean((x - y) ** 2))),
        "rescaled": rescale(x, y).tolist(),
        "rmse_rescaled": float(np.sqrt(np.mean((rescale(x, y) - y) ** 2))),
    }
    p0 = [np.max(y), np.min(y), np.mean(x), np.std(x)]
    params, _ = optimize.curve_fit(logistic, x, y, p0=p0, maxfev=100000, xtol=1e-14, ftol=1e-14, gtol=1e-14)
    fitted = logistic(x, *params)
    out["logistic"] = {
        "params": [float(v) for v in params],
        "fitted": fitted.tolist(),
        "plcc": float(stats.pearsonr(fitted, y)[0]),
        "rmse": float(np.sqrt(np.mean((fitted - y) ** 2))),
        "cost": float(np.sum((fitted - y) ** 2)),
    }
    return out


def main():
    rng = np.random.default_rng(20240923)
    cases = []
    cases.append(case("ties_n7",
                      [1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 5.0],
                      [1.5, 1.0, 2.5, 2.5, 4.0, 3.0, 4.5]))
    cases.append(case("n7",
                      [0.31, -0.12, 0.77, 0.05, 0.52, -0.40, 0.90],
                      [3.1, 2.0, 4.3, 2.6, 3.9, 1.9, 4.4]))
    x = rng.normal(0.0, 1.0, 50)
    y = 1.2 + 3.3 / (1 + np.exp(-(x - 0.2) / 0.6)) + rng.normal(0.0, 0.25, 50)
    cases.append(case("logistic_n50", x, y))
    xr = np.round(rng.normal(0.5, 0.2, 50), 1)
    yr = np.round(20 + 60 * xr + rng.normal(0.0, 8.0, 50), 0)
    cases.append(case("rounded_ties_n50", xr, yr))
    xc = 0.731 + 1e-6 * rng.normal(0.0, 1.0, 30)
    yc = 3.0 + 0.8 * (xc - 0.731) / 1e-6 + rng.normal(0.0, 0.3, 30)
    cases.append(case("nearly_constant_n30", xc, yc))
    path = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "EngineTests", "Fixtures",
                        "metrics_fixture.json")
    with open(path, "w") as f:
        json.dump({"generator": "scripts/reference/metrics_fixture.py", "cases": cases}, f, indent=1)
        f.write("\n")
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
