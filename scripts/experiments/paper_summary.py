#!/usr/bin/env python3
"""The numbers and figures of scripts/experiments/paper.sh (issue #19) from its run directories.

  paper_summary.py best-awp OUT/overfit            prints the awp tag (awp-G) with the best mean final
                                                   in-domain test SRCC over seeds 1-3
  paper_summary.py summarize OUT --minutes M --targets "small ..." --header HEADER.md
                                                   writes OUT/summary.json, OUT/results.md,
                                                   OUT/fig1ab-curves.svg, OUT/flatness-gap.svg

Each run directory holds study.json ({"kind", "setting", "seed"}), metrics.jsonl (one line per epoch:
train.srcc, val.<set>.{ema,raw}.{srcc,plcc}), eval-train.json (`vqa-mpi eval --json` of the final
weights on the training set) and sharpness/sharpness.json (`vqa-mpi landscape`), as written by
scripts/experiments/lib.sh's study_run. The per-setting tables come from `vqa-mpi study-table`
(OUT/overfit-table.md, OUT/finetune-<target>-table.md); this file adds what it does not compute:
AWP vs none with p-values, the flatness-gap correlation, mean +- band curves over seeds, summary.json.
p-values: exact two-sided permutation test of the difference of means (the convention of
`vqa-mpi study-table`, Reports/Study+Permutation.swift); Spearman p: scipy.stats.spearmanr.
"""
import argparse
import itertools
import json
import math
import os
import re
import sys


def finite(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def mean(xs):
    xs = [x for x in xs if finite(x)]
    return sum(xs) / len(xs) if xs else None


def std(xs):
    xs = [x for x in xs if finite(x)]
    if len(xs) < 2:
        return None
    m = sum(xs) / len(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def permutation_p(a, b, limit=2_000_000):
    """Two-sided exact permutation p of mean(a) - mean(b); None when not computable."""
    a = [x for x in a if finite(x)]
    b = [x for x in b if finite(x)]
    if not a or not b or math.comb(len(a) + len(b), len(a)) > limit:
        return None
    pooled, n = a + b, len(a)
    total = sum(pooled)

    def stat(s):
        return s / n - (total - s) / (len(pooled) - n)

    observed = stat(sum(a))
    tol = abs(observed) * 100 * sys.float_info.epsilon
    less = greater = count = 0
    for pick in itertools.combinations(range(len(pooled)), n):
        t = stat(sum(pooled[i] for i in pick))
        less += t <= observed + tol
        greater += t >= observed - tol
        count += 1
    return min(1.0, 2 * min(less, greater) / count)


def spearman(x, y):
    pairs = [(a, b) for a, b in zip(x, y) if finite(a) and finite(b)]
    if len(pairs) < 3:
        return None, None, len(pairs)
    from scipy.stats import spearmanr
    r = spearmanr([p[0] for p in pairs], [p[1] for p in pairs])
    rho, p = float(r.statistic), float(r.pvalue)
    return (rho if math.isfinite(rho) else None), (p if math.isfinite(p) else None), len(pairs)


def val(row, name, metric="srcc"):
    v = (row.get("val") or {}).get(name) or {}
    v = v.get("ema", v)
    x = v.get(metric)
    return x if finite(x) else None


def load_run(d):
    study = json.load(open(os.path.join(d, "study.json")))
    rows = [json.loads(line) for line in open(os.path.join(d, "metrics.jsonl")) if line.strip()]
    rows = [r for r in rows if r.get("complete", True)]
    validated = [r for r in rows if r.get("val")]
    last = validated[-1] if validated else {}
    run = {"dir": d, "name": os.path.basename(d), "kind": study["kind"], "setting": study.get("setting", ""),
           "seed": study["seed"], "tag": re.sub(r"-s\d+$", "", os.path.basename(d))}
    run["test_srcc"], run["test_plcc"] = val(last, "test"), val(last, "test", "plcc")
    run["shifted_srcc"], run["shifted_plcc"] = val(last, "shifted"), val(last, "shifted", "plcc")
    run["train_srcc"] = None
    ev = os.path.join(d, "eval-train.json")
    if os.path.exists(ev):
        lines = [line for line in open(ev) if line.strip().startswith("{")]
        if lines:
            x = json.loads(lines[-1]).get("srcc")
            run["train_srcc"] = x if finite(x) else None
    run["gap"] = run["train_srcc"] - run["test_srcc"] if finite(run["train_srcc"]) and finite(run["test_srcc"]) else None
    run["sharpness_mean"] = run["hessian_top"] = None
    sj = os.path.join(d, "sharpness", "sharpness.json")
    if os.path.exists(sj):
        c = (json.load(open(sj)).get("checkpoints") or [{}])[0]
        run["sharpness_mean"] = c.get("meanRise") if finite(c.get("meanRise")) else None
        hs = c.get("hessian") or {}
        # λ_max is the top (largest algebraic) eigenvalue; files written before it was separated
        # hold only plain power iteration's largest-magnitude eigenvalue, which is λ_max when positive.
        h = hs["top"] if "top" in hs else (hs.get("eigenvalue") if finite(hs.get("eigenvalue")) and hs["eigenvalue"] > 0 else None)
        run["hessian_top"] = h if finite(h) else None
    # Curves: validated epochs, the trainer's running train SRCC (no dropout) and the EMA test SRCC.
    run["curve"] = [(r["epoch"], (r.get("train") or {}).get("srcc"), val(r, "test")) for r in validated]
    return run


def load_group(path):
    if not os.path.isdir(path):
        return []
    dirs = sorted(os.path.join(path, n) for n in os.listdir(path))
    return [load_run(d) for d in dirs if os.path.exists(os.path.join(d, "done"))]


def by_tag(runs):
    """Runs grouped by setting tag, `none` first, then in directory order."""
    out = {}
    for r in sorted(runs, key=lambda r: r["tag"] != "none"):
        out.setdefault(r["tag"], []).append(r)
    return out


def best_awp(runs):
    """The awp tag with the best mean final in-domain SRCC over seeds 1-3 (None without awp runs)."""
    scores = {t: mean(r["test_srcc"] for r in rs if r["seed"] <= 3) for t, rs in by_tag(runs).items() if t.startswith("awp-")}
    scores = {t: s for t, s in scores.items() if s is not None}
    return max(scores, key=scores.get) if scores else None


def fmt(x, d=3):
    return "–" if x is None else f"{x:.{d}f}"


def pm(xs, d=3):
    m, s = mean(xs), std(xs)
    return fmt(m, d) + ("" if s is None else f" ± {s:.{d}f}")


# ---- SVG ---------------------------------------------------------------------------------------------
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def svg_plot(path, title, xlabel, ylabel, series, scatter=False):
    """series: [(label, [(x, y, lo, hi)])]; lo/hi draw a band (None: no band)."""
    W, H, L, R, T, B = 640, 400, 60, 170, 36, 46
    pts = [p for _, s in series for p in s if finite(p[1])]
    xs = [p[0] for p in pts] or [0, 1]
    ys = [v for p in pts for v in (p[1], p[2], p[3]) if finite(v)] or [0, 1]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 == x0: x0, x1 = x0 - 1, x1 + 1
    if y1 == y0: y0, y1 = y0 - 0.1, y1 + 0.1
    pad = (y1 - y0) * 0.05
    y0, y1 = y0 - pad, y1 + pad

    def X(x): return L + (x - x0) / (x1 - x0) * (W - L - R)
    def Y(y): return H - B - (y - y0) / (y1 - y0) * (H - T - B)

    e = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
         f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>',
         f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>',
         f'<text x="{(L + W - R) / 2}" y="{H - 10}" text-anchor="middle">{xlabel}</text>',
         f'<text x="14" y="{(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 14 {(T + H - B) / 2})">{ylabel}</text>']
    for i in range(5):
        yv, xv = y0 + (y1 - y0) * i / 4, x0 + (x1 - x0) * i / 4
        e.append(f'<text x="{L - 6}" y="{Y(yv) + 4:.1f}" text-anchor="end">{yv:.2f}</text>')
        e.append(f'<line x1="{L}" y1="{Y(yv):.1f}" x2="{W - R}" y2="{Y(yv):.1f}" stroke="#eee"/>')
        e.append(f'<text x="{X(xv):.1f}" y="{H - B + 16}" text-anchor="middle">{xv:.3g}</text>')
    for k, (label, s) in enumerate(series):
        c = COLORS[k % len(COLORS)]
        s = [p for p in s if finite(p[1])]
        band = [p for p in s if finite(p[2]) and finite(p[3])]
        if len(band) > 1 and not scatter:
            poly = [(X(p[0]), Y(p[3])) for p in band] + [(X(p[0]), Y(p[2])) for p in reversed(band)]
            e.append(f'<polygon points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in poly)}" fill="{c}" fill-opacity="0.18" stroke="none"/>')
        if scatter:
            e += [f'<circle cx="{X(p[0]):.1f}" cy="{Y(p[1]):.1f}" r="4" fill="{c}"/>' for p in s]
        elif s:
            e.append(f'<polyline points="{" ".join(f"{X(p[0]):.1f},{Y(p[1]):.1f}" for p in s)}" fill="none" stroke="{c}" stroke-width="2"/>')
        e.append(f'<rect x="{W - R + 12}" y="{T + 18 * k}" width="12" height="12" fill="{c}"/>')
        e.append(f'<text x="{W - R + 30}" y="{T + 18 * k + 10}">{label}</text>')
    e.append("</svg>")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(e) + "\n")
    os.replace(tmp, path)


def curve_series(runs, label):
    """Mean +- std over seeds per validated epoch of train SRCC, test SRCC and the gap."""
    epochs = sorted({e for r in runs for e, _, _ in r["curve"]})
    out = {"train": [], "test": [], "gap": []}
    for e in epochs:
        pts = [(t, v) for r in runs for ep, t, v in r["curve"] if ep == e]
        for key, xs in (("train", [t for t, _ in pts]), ("test", [v for _, v in pts]),
                        ("gap", [t - v for t, v in pts if finite(t) and finite(v)])):
            m, s = mean(xs), std(xs) or 0.0
            out[key].append((e, m, None if m is None else m - s, None if m is None else m + s))
    return [(f"{label} {k}", v) for k, v in out.items()]


# ---- summarize -----------------------------------------------------------------------------------------
def group_stats(runs, keys):
    return {k: mean(r[k] for r in runs) for k in keys}


def summarize(args):
    out = args.out
    overfit = load_group(os.path.join(out, "overfit"))
    tags = by_tag(overfit)
    none = tags.get("none", [])
    awp_tag = best_awp(overfit)
    awp = tags.get(awp_tag, []) if awp_tag else []
    keys = ["train_srcc", "test_srcc", "shifted_srcc", "gap"]
    summary = {"minutes": args.minutes, "mode_runs": len(overfit)}
    phases = [p.strip().rsplit(" ", 2) for p in args.phases.split(";") if p.strip()]
    if phases:
        summary["phase_seconds"] = {name: int(sec) for name, sec, _ in phases}
    summary["overfit"] = {"none": {**group_stats(none, keys), "seeds": len(none)},
                          "awp": {**group_stats(awp, keys), "seeds": len(awp),
                                  "gamma": float(awp_tag[4:]) if awp_tag else None}}
    summary["overfit"]["reached"] = bool(
        finite(summary["overfit"]["none"]["train_srcc"]) and finite(summary["overfit"]["none"]["gap"])
        and summary["overfit"]["none"]["train_srcc"] >= 0.9 and summary["overfit"]["none"]["gap"] >= 0.2)

    def delta(k):
        a, b = mean(r[k] for r in awp), mean(r[k] for r in none)
        return a - b if finite(a) and finite(b) else None

    def p(k):
        return permutation_p([r[k] for r in awp], [r[k] for r in none])

    summary["awp_vs_none"] = {"test_srcc_delta": delta("test_srcc"), "shifted_srcc_delta": delta("shifted_srcc"),
                              "gap_delta": delta("gap"), "p_test": p("test_srcc"), "p_shifted": p("shifted_srcc"),
                              "p_gap": p("gap")}
    corr = {}
    for m in ("sharpness_mean", "hessian_top"):
        rho, pv, n = spearman([r[m] for r in overfit], [r["gap"] for r in overfit])
        corr[m] = {"measure": m, "spearman": rho, "p": pv, "runs": n}
    summary["flatness_gap_correlation"] = corr["sharpness_mean"]
    summary["flatness_gap_correlation_all"] = list(corr.values())
    # Gap growth of the baseline: mean gap at the first and last validated epoch.
    cs = curve_series(none, "none")
    gap_curve = [p for label, s in cs if label.endswith("gap") for p in s]
    summary["overfit"]["none"]["gap_first_epoch"] = gap_curve[0][1] if gap_curve else None
    summary["overfit"]["none"]["gap_last_epoch"] = gap_curve[-1][1] if gap_curve else None

    # Fig. 1d: a second method trained alike; fragnet's row is the baseline's seeds of the same count.
    methods = by_tag(load_group(os.path.join(out, "methods")))
    mkeys = ["train_srcc", "test_srcc", "gap", "sharpness_mean", "hessian_top"]
    summary["methods"] = {"fragnet": {**group_stats(none, mkeys), "seeds": len(none)}}
    for tag, rs in methods.items():
        summary["methods"][tag] = {**group_stats(rs, mkeys), "seeds": len(rs)}

    targets = args.targets.split()
    ft_all = {}
    for t in targets:
        ft = by_tag(load_group(os.path.join(out, f"finetune-{t}")))
        fn, fa_tag = ft.get("none", []), best_awp([r for rs in ft.values() for r in rs])
        fa = ft.get(fa_tag, []) if fa_tag else []
        ft_all[t] = {"none": {"target_srcc": mean(r["test_srcc"] for r in fn), "shifted_srcc": mean(r["shifted_srcc"] for r in fn),
                              "gap": mean(r["gap"] for r in fn), "sharpness_mean": mean(r["sharpness_mean"] for r in fn), "seeds": len(fn)},
                     "awp": {"target_srcc": mean(r["test_srcc"] for r in fa), "shifted_srcc": mean(r["shifted_srcc"] for r in fa),
                             "gap": mean(r["gap"] for r in fa), "sharpness_mean": mean(r["sharpness_mean"] for r in fa), "seeds": len(fa),
                             "gamma": float(fa_tag[4:]) if fa_tag else None},
                     "p_target": permutation_p([r["test_srcc"] for r in fa], [r["test_srcc"] for r in fn]),
                     "p_shifted": permutation_p([r["shifted_srcc"] for r in fa], [r["shifted_srcc"] for r in fn]),
                     "p_gap": permutation_p([r["gap"] for r in fa], [r["gap"] for r in fn])}
    first = ft_all.get(targets[0], {"none": {}, "awp": {}, "p_target": None, "p_shifted": None}) if targets else {}
    summary["finetune"] = {**first, "target": targets[0] if targets else None, "targets": ft_all}
    pt_metrics = os.path.join(out, "pretrain", "metrics.jsonl")
    if os.path.exists(pt_metrics):
        rows = [json.loads(x) for x in open(pt_metrics) if x.strip()]
        last = [r for r in rows if r.get("val")][-1:] or [{}]
        summary["pretrain"] = {"test_srcc": val(last[0], "test"), "shifted_srcc": val(last[0], "shifted")}

    # Figures.
    series = cs + (curve_series(awp, awp_tag) if awp else [])
    svg_plot(os.path.join(out, "fig1ab-curves.svg"), "Train / test SRCC and gap per epoch (mean ± std over seeds)",
             "epoch", "SRCC", series)
    scatter = [(f"{tag}", [(r["sharpness_mean"], r["gap"], None, None) for r in rs if finite(r["sharpness_mean"])])
               for tag, rs in tags.items()]
    svg_plot(os.path.join(out, "flatness-gap.svg"), "Gap vs sharpness, every over-fitting run",
             "sharpness (mean loss rise at ρ = 0.05)", "gap (train − test SRCC)", scatter, scatter=True)

    tmp = os.path.join(out, "summary.json.tmp")
    with open(tmp, "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    os.replace(tmp, os.path.join(out, "summary.json"))
    write_results(out, args, summary, overfit, tags, none, awp, awp_tag, corr, targets, ft_all)


def write_results(out, args, s, overfit, tags, none, awp, awp_tag, corr, targets, ft_all):
    o, a = s["overfit"]["none"], s["awp_vs_none"]
    L = ["# The paper's phenomenon on synthetic data (scripts/experiments/paper.sh)", ""]
    L += open(args.header).read().rstrip().splitlines() if args.header and os.path.exists(args.header) else []
    L += ["", "## Over-fitting regime", "",
          f"Baseline (`none`, {o['seeds']} seeds): train-set SRCC {fmt(o['train_srcc'])}, held-out test {fmt(o['test_srcc'])}, "
          f"shifted {fmt(o['shifted_srcc'])}, gap {fmt(o['gap'])} (target: train ≥ 0.9 and gap ≥ 0.2: "
          f"{'reached' if s['overfit']['reached'] else 'NOT reached'}). Mean gap of the trainer's running train SRCC "
          f"and the test SRCC: {fmt(o['gap_first_epoch'])} at the first validated epoch, {fmt(o['gap_last_epoch'])} at the last.", "",
          "Figures: [train/test SRCC and gap per epoch, mean ± std over seeds (Fig. 1a/b)](fig1ab-curves.svg), "
          "[every run's curves](gap-curves-all.svg), [baseline landscape at 4 epochs (Fig. 1c)](fig1c-epochs/landscape.svg), "
          + ("[fragnet vs SimpleVQA-18 trained alike (Fig. 1d)](fig1d-methods/landscape.svg), "
             if os.path.exists(os.path.join(out, "fig1d-methods", "landscape.svg")) else "")
          + ", ".join(f"[{k} vs none (Fig. 2)](fig2-{k}/landscape.svg)" for k in ("l2", "aug", "rwp", "awp")
                      if os.path.exists(os.path.join(out, f"fig2-{k}", "landscape.svg")))
          + ", [gap vs sharpness](flatness-gap.svg).", "",
          "| setting | seeds | train SRCC | test SRCC | test PLCC | shifted SRCC | shifted PLCC | gap | sharpness | λ_max | p test vs none | p shifted | p gap |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for tag, rs in tags.items():
        pv = ["–"] * 3 if tag == "none" else [fmt(permutation_p([r[k] for r in rs], [r[k] for r in none]), 2)
                                             for k in ("test_srcc", "shifted_srcc", "gap")]
        L.append(f"| {tag} | {len(rs)} | " + " | ".join(pm([r[k] for r in rs]) for k in
                 ("train_srcc", "test_srcc", "test_plcc", "shifted_srcc", "shifted_plcc", "gap"))
                 + f" | {pm([r['sharpness_mean'] for r in rs], 4)} | {pm([r['hessian_top'] for r in rs], 2)} | " + " | ".join(pv) + " |")
    L += ["", f"**AWP ({awp_tag or '–'}) vs none**: Δ test SRCC {fmt(a['test_srcc_delta'])} (p {fmt(a['p_test'], 2)}), "
          f"Δ shifted SRCC {fmt(a['shifted_srcc_delta'])} (p {fmt(a['p_shifted'], 2)}), Δ gap {fmt(a['gap_delta'])} (p {fmt(a['p_gap'], 2)}).", "",
          "**Flatness–gap correlation** (Spearman over every over-fitting run): " + "; ".join(
              f"{c['measure']}: ρ {fmt(c['spearman'])} (p {fmt(c['p'], 3)}, {c['runs']} runs)" for c in corr.values()) + ".", ""]
    if len(s.get("methods", {})) > 1:
        L += ["**Two methods trained alike** (Fig. 1d; same data, clip, optimizer, budget, no regulariser; "
              "fragnet = the `none` runs above):", "",
              "| method | seeds | train SRCC | test SRCC | gap | sharpness | λ_max |", "|---|---|---|---|---|---|---|"]
        for name, m in s["methods"].items():
            L.append(f"| {name} | {m['seeds']} | {fmt(m['train_srcc'])} | {fmt(m['test_srcc'])} | {fmt(m['gap'])} | "
                     f"{fmt(m['sharpness_mean'], 4)} | {fmt(m['hessian_top'], 2)} |")
        L += [""]
    L += ["## Fine-tuning regime", ""]
    if "pretrain" in s:
        L += [f"Pre-trained model before fine-tuning (no training on the target): in-domain test SRCC {fmt(s['pretrain']['test_srcc'])}, shifted {fmt(s['pretrain']['shifted_srcc'])}.", ""]
    L += ["| target | setting | seeds | target SRCC | cross-dataset SRCC | gap | sharpness |", "|---|---|---|---|---|---|---|"]
    for t in targets:
        for tag, rs in by_tag(load_group(os.path.join(out, f"finetune-{t}"))).items():
            L.append(f"| {t} | {tag} | {len(rs)} | {pm([r['test_srcc'] for r in rs])} | {pm([r['shifted_srcc'] for r in rs])} | "
                     f"{pm([r['gap'] for r in rs])} | {pm([r['sharpness_mean'] for r in rs], 4)} |")
        f = ft_all[t]
        L.append(f"| {t} | p (best AWP vs none) | | {fmt(f['p_target'], 2)} | {fmt(f['p_shifted'], 2)} | {fmt(f['p_gap'], 2)} | |")
    L += ["", "p: exact two-sided permutation test of the difference of means over seeds (as `vqa-mpi study-table`); "
          "with 6 + 6 seeds the smallest possible p is 0.0022, with 3 + 6 0.024. Gap: SRCC of the final EMA weights on the "
          "training set (`vqa-mpi eval`) minus held-out test SRCC. Curves use the trainer's running train SRCC.", "",
          "## Per-setting tables (`vqa-mpi study-table`)", ""]
    for name in ["overfit-table.md"] + [f"finetune-{t}-table.md" for t in targets]:
        path = os.path.join(out, name)
        if os.path.exists(path):
            L += [f"### {name[:-9]}", ""] + ["##" + ln if ln.startswith("#") else ln for ln in open(path).read().rstrip().splitlines()] + [""]
    tmp = os.path.join(out, "results.md.tmp")
    with open(tmp, "w") as f:
        f.write("\n".join(L) + "\n")
    os.replace(tmp, os.path.join(out, "results.md"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("best-awp")
    b.add_argument("dir")
    m = sub.add_parser("summarize")
    m.add_argument("out")
    m.add_argument("--minutes", type=float, required=True)
    m.add_argument("--targets", default="small")
    m.add_argument("--header")
    m.add_argument("--phases", default="", help="'NAME SECONDS s; ...' wall time per phase")
    args = ap.parse_args()
    if args.cmd == "best-awp":
        tag = best_awp(load_group(args.dir))
        if tag is None:
            sys.exit(f"paper_summary.py: no finished awp runs under {args.dir}")
        print(tag)
    else:
        summarize(args)


if __name__ == "__main__":
    main()
