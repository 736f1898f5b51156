#!/usr/bin/env python3
"""Writes Tests/EngineTests/Fixtures/metrics_fixture.json: scipy's SRCC, PLCC, KRCC (tau-b),
RMSE, FAST-VQA's linear rescale, and a VQEG 4-parameter logistic fit (scipy.optimize.curve_fit,
Levenberg-Marquardt from b1=max y, b2=min y, b3=mean x, b4=std x) on a few fixed vectors; the
same fit with both limits bounded to the label range (curve_fit with bounds, method 'trf') on a
well-posed and a degenerate case; and scipy's results on inputs holding a NaN (nan_policy
'propagate', the default: every correlation is NaN).

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


def bounded_case(name, x, y):
    """The logistic fit with b1, b2 in [min y, max y] (scipy's bounded least squares), and the
    unbounded one for contrast."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    p0 = [np.max(y), np.min(y), np.mean(x), np.std(x)]
    free, _ = optimize.curve_fit(logistic, x, y, p0=p0, maxfev=100000)
    lo = [np.min(y), np.min(y), -np.inf, 1e-9]
    hi = [np.max(y), np.max(y), np.inf, np.inf]
    params, _ = optimize.curve_fit(logistic, x, y, p0=p0, bounds=(lo, hi), maxfev=100000,
                                   xtol=1e-15, ftol=1e-15, gtol=1e-15)
    fitted = logistic(x, *params)
    return {"name": name, "predictions": x.tolist(), "labels": y.tolist(),
            "unbounded_params": [float(v) for v in free],
            "params": [float(v) for v in params], "fitted": fitted.tolist(),
            "cost": float(np.sum((fitted - y) ** 2))}


def nan_case(name, x, y):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    def num(v):
        return None if np.isnan(v) else float(v)
    return {"name": name, "predictions": [num(v) for v in x], "labels": [num(v) for v in y],
            "srcc": num(stats.spearmanr(x, y)[0]), "plcc": num(stats.pearsonr(x, y)[0]),
            "krcc": num(stats.kendalltau(x, y, variant="b")[0])}


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
    bounded = [bounded_case("logistic_n50", x, y)]
    brng = np.random.default_rng(7)
    xe = np.sort(brng.uniform(0.0, 1.0, 40))
    ye = np.clip(1.2 + 4.7 * (np.exp(4 * xe) - 1) / (np.exp(4) - 1) + brng.normal(0.0, 0.05, 40), 1.2, 5.9)
    bounded.append(bounded_case("exponential_n40", xe, ye))
    nan = np.nan
    nans = [nan_case("nan_prediction", [nan, 1, 2, 3], [1, 2, 3, 4]),
            nan_case("nan_label", [1, 2, 3, 4, 5], [2, 1, nan, 4, 5]),
            nan_case("nan_both", [nan, 2, 3, 4], [1, 2, 3, nan])]
    path = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "EngineTests", "Fixtures",
                        "metrics_fixture.json")
    with open(path, "w") as f:
        json.dump({"generator": "scripts/reference/metrics_fixture.py", "cases": cases,
                   "bounded_cases": bounded, "nan_cases": nans}, f, indent=1)
        f.write("\n")
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
