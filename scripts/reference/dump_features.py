#!/usr/bin/env python3
"""Checks a `vqa-mpi train --dump-batches` dump against the decoded videos, outside our pipeline.

1. Content and alignment: for the first --match samples, every 32x32 fragment of the dumped clip
   (de-normalised to 0-255) is searched for in the frames of the video its `index` names, decoded
   by the ffmpeg CLI, at every position of its grid cell. A fragment must match its own video
   (mean |difference| well under one grey level) and match the other versions of the same scene
   (the neighbouring entries) clearly worse.
2. Signal: 4 hand features per sample (log Laplacian energy, log gradient energy, their difference,
   log patch std; grey level, averaged over the fragments) computed (a) from the dumped fragments
   and (b) from 16 random 32x32 patches of one frame of the decoded video. Prints each feature's
   SRCC with the dumped labels and the SRCC of a least-squares fit on all 4 under 5-fold
   cross-validation grouped by scene (entry index // --versions), for (a) and (b): if (a) is much
   weaker than (b), the sampler or normalisation loses the signal.

    python3 scripts/reference/dump_features.py --dump FILE --labels LABELS --data-root DIR [--versions 4]
"""
import argparse
import os
import subprocess
import sys

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_oracle import load_dump  # noqa: E402

MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)


def read_labels(path, root):
    out = []
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        f = [v.strip() for v in line.split(",")]
        out.append((os.path.join(root, f[0]), float(f[-1])))
    return out


def decode(path):
    """All frames as uint8 [F, H, W, 3] via the ffmpeg CLI (rgb24)."""
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                            "stream=width,height", "-of", "csv=p=0", path], capture_output=True, text=True, check=True)
    w, h = (int(v) for v in probe.stdout.strip().split(",")[:2])
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def grey(rgb):
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def patch_features(g):
    """[P, 32, 32] grey patches -> 4 features (means over patches)."""
    lap = g[:, 1:-1, 1:-1] * 4 - g[:, :-2, 1:-1] - g[:, 2:, 1:-1] - g[:, 1:-1, :-2] - g[:, 1:-1, 2:]
    gx, gy = np.diff(g, axis=2)[:, :-1, :], np.diff(g, axis=1)[:, :, :-1]
    le = np.log(np.mean(lap ** 2, axis=(1, 2)) + 1e-3)
    ge = np.log(np.mean(gx ** 2 + gy ** 2, axis=(1, 2)) + 1e-3)
    sd = np.log(np.std(g, axis=(1, 2)) + 1e-3)
    return np.array([le.mean(), ge.mean(), (le - ge).mean(), sd.mean()])


def fragments(sample, fh, fw, size):
    """Dumped sample [clips, 3, T, H, W] -> de-normalised grey fragments [clips*T*fh*fw, size, size] and RGB."""
    rgb = sample.transpose(0, 2, 3, 4, 1) * STD + MEAN  # [clips, T, H, W, 3]
    c, t, h, w, _ = rgb.shape
    r = rgb.reshape(c * t, fh, size, fw, size, 3).transpose(0, 1, 3, 2, 4, 5).reshape(-1, size, size, 3)
    return grey(r), r


def cv_srcc(feats, labels, groups, folds=5):
    """5-fold CV grouped by scene: least squares on standardised features, SRCC of pooled predictions."""
    ug = np.unique(groups)
    rng = np.random.default_rng(0)
    rng.shuffle(ug)
    pred = np.zeros(len(labels))
    for k in range(folds):
        test = np.isin(groups, ug[k::folds])
        mu, sd = feats[~test].mean(0), feats[~test].std(0) + 1e-9
        a = np.c_[(feats[~test] - mu) / sd, np.ones((~test).sum())]
        coef = np.linalg.lstsq(a, labels[~test], rcond=None)[0]
        pred[test] = np.c_[(feats[test] - mu) / sd, np.ones(test.sum())] @ coef
    return spearmanr(pred, labels)[0]


def best_match(frag, frames, cell_y, cell_x, cell_h, cell_w, size):
    """Smallest mean |frag - crop| over frames and positions inside the cell."""
    best = np.inf
    ys = range(cell_y, min(cell_y + max(cell_h - size, 0), frames.shape[1] - size) + 1)
    xs = range(cell_x, min(cell_x + max(cell_w - size, 0), frames.shape[2] - size) + 1)
    for f in frames:
        win = np.lib.stride_tricks.sliding_window_view(f, (size, size, 3))[:, :, 0]  # [Y, X, s, s, 3]
        sub = win[ys.start:ys.stop, xs.start:xs.stop]
        d = np.abs(sub - frag).mean(axis=(2, 3, 4))
        best = min(best, d.min())
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dump", required=True)
    ap.add_argument("--labels", required=True, help="the run's training label file")
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--versions", type=int, default=4, help="consecutive entries per scene (synth --versions)")
    ap.add_argument("--fragments", type=int, default=4, help="fragments per side")
    ap.add_argument("--fsize", type=int, default=32)
    ap.add_argument("--match", type=int, default=6, help="samples to check pixel by pixel")
    args = ap.parse_args()
    meta, steps, _ = load_dump(args.dump)
    entries = read_labels(args.labels, args.data_root)
    n_frag, size = args.fragments, args.fsize

    # 1. content and alignment
    x0, y0, i0 = steps[0]
    label_ok = all(abs(entries[int(i)][1] - float(y)) < 1e-4 for _, ys, ids in steps for i, y in zip(ids, ys))
    print(f"labels: every dumped label equals the label file's MOS of its index: {label_ok}")
    for k in range(min(args.match, len(i0))):
        idx = int(i0[k])
        _, rgb = fragments(x0[k], n_frag, n_frag, size)
        own = decode(entries[idx][0]).astype(np.float32)
        other_idx = idx + 1 if (idx + 1) // args.versions == idx // args.versions and idx + 1 < len(entries) else idx - 1
        other = decode(entries[other_idx][0]).astype(np.float32)
        h, w = own.shape[1:3]
        ch, cw = h // n_frag, w // n_frag
        d_own, d_other = [], []
        for j in range(min(4, len(rgb))):  # first frame's first fragments
            gi, gj = (j // n_frag) % n_frag, j % n_frag
            d_own.append(best_match(rgb[j], own, gi * ch, gj * cw, ch, cw, size))
            d_other.append(best_match(rgb[j], other, gi * ch, gj * cw, ch, cw, size))
        print(f"sample {k} (entry {idx}, {os.path.basename(entries[idx][0])}): best mean |diff| own video "
              f"{np.mean(d_own):.3f}, other version {os.path.basename(entries[other_idx][0])} {np.mean(d_other):.3f}")

    # 2. signal: dumped fragments vs patches of the decoded videos
    seen = {}
    for x, ys, ids in steps:
        for k, i in enumerate(ids):
            if int(i) not in seen:
                g, _ = fragments(x[k], n_frag, n_frag, size)
                seen[int(i)] = (patch_features(g), float(ys[k]))
    idx = np.array(sorted(seen))
    fa = np.array([seen[i][0] for i in idx]); lab = np.array([seen[i][1] for i in idx])
    rng = np.random.default_rng(1)
    fb = []
    for i in idx:
        v = decode(entries[i][0])
        f = grey(v[rng.integers(len(v))].astype(np.float32))
        ys = rng.integers(0, f.shape[0] - size + 1, 16); xs = rng.integers(0, f.shape[1] - size + 1, 16)
        fb.append(patch_features(np.stack([f[a:a + size, b:b + size] for a, b in zip(ys, xs)])))
    fb = np.array(fb)
    groups = idx // args.versions
    names = ["log lap", "log grad", "lap-grad", "log std"]
    print(f"{len(idx)} distinct entries; feature SRCC with the labels (dumped fragments | decoded-video patches):")
    for j, nm in enumerate(names):
        print(f"  {nm:9s} {spearmanr(fa[:, j], lab)[0]:+.3f} | {spearmanr(fb[:, j], lab)[0]:+.3f}")
    print(f"  linear fit, 5-fold CV by scene: {cv_srcc(fa, lab, groups):.3f} | {cv_srcc(fb, lab, groups):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
