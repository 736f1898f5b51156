#!/usr/bin/env python3
"""Convert SimpleVQA's SlowFast feature folders into vqa-mpi motion features (docs/motion-features.md).

SimpleVQA's extractor writes, per video, SRC/<video>/feature_<k>_slow_feature.npy (2048 values) and
feature_<k>_fast_feature.npy (256 values) for chunks k = 0, 1, ...; <video> is the file name with or
without its extension depending on the script. This writes OUT/<relative path>.npy, float32
[chunks, 2304] = [slow, fast] per chunk, for every entry of a FAST-VQA label file
(`relative/path.mp4, duration, fps, MOS`) or a CSV label file whose first column is the path.

usage: simplevqa_motion_to_npy.py SRC_DIR LABELS OUT_DIR
"""
import os
import sys

import numpy as np


def label_paths(labels):
    paths = []
    with open(labels, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            first = line.split(",")[0].strip().strip('"')
            if first.lower() in ("name", "filename", "file_name", "file", "video", "video_name"):
                continue  # a CSV header
            paths.append(first)
    return paths


def feature_dir(src, rel):
    base = os.path.basename(rel)
    for cand in (rel, os.path.splitext(rel)[0], base, os.path.splitext(base)[0]):
        d = os.path.join(src, cand)
        if os.path.isfile(os.path.join(d, "feature_0_slow_feature.npy")):
            return d
    return None


def convert(src, rel):
    d = feature_dir(src, rel)
    if d is None:
        raise FileNotFoundError(f"no SRC/<video>/feature_0_slow_feature.npy for {rel} under {src}")
    rows = []
    k = 0
    while os.path.isfile(os.path.join(d, f"feature_{k}_slow_feature.npy")):
        slow = np.load(os.path.join(d, f"feature_{k}_slow_feature.npy")).reshape(-1)
        fast = np.load(os.path.join(d, f"feature_{k}_fast_feature.npy")).reshape(-1)
        rows.append(np.concatenate([slow, fast]).astype(np.float32))
        k += 1
    return np.ascontiguousarray(np.stack(rows))


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__)
    src, labels, out = argv[1:]
    failed = 0
    paths = label_paths(labels)
    for rel in paths:
        try:
            a = convert(src, rel)
        except (OSError, ValueError) as e:
            print(f"{rel}: {e}", file=sys.stderr)
            failed += 1
            continue
        dst = os.path.join(out, rel + ".npy")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        np.save(dst, a)
    print(f"wrote {len(paths) - failed} of {len(paths)} videos' features to {out}" + (f"; {failed} failed" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
