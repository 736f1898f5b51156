#!/usr/bin/env python3
"""LIVE-VQC -> vqa-mpi label files (labels_train.txt, labels_test.txt).

Metadata: data.mat shipped with the database: `video_list` (a cell array of file names such as
A001.mp4) and `mos` (0-100), one row per video in the same order. Read with scipy.io.loadmat
(scipy comes with scripts/setup.sh).
Videos: the Video/ directory of the database (585 .mp4 files).
LIVE-VQC has no official split: a random one, fixed by --seed.

  python3 scripts/prepare/live_vqc.py --metadata data/LIVE-VQC/data.mat \\
      --videos data/LIVE-VQC/Video --out data/LIVE-VQC
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prepare_common as pc  # noqa: E402


def strings(cell):
    """Flattens a loadmat cell array (nested object arrays / 1-element string arrays) to str."""
    import numpy as np
    out = []
    for item in np.asarray(cell, dtype=object).ravel():
        while isinstance(item, np.ndarray):
            if item.size != 1 and item.dtype.kind not in "US":
                pc.fail(f"video_list holds an array of {item.size} values where a file name was expected")
            item = item.ravel()[0] if item.size else ""
        out.append(str(item).strip())
    return out


def main():
    args = pc.parser(__doc__.splitlines()[0], "data.mat with video_list and mos").parse_args()
    pc.check_args(args)
    try:
        from scipy.io import loadmat
    except ImportError:
        pc.fail("reading data.mat needs scipy: python3 -m pip install scipy (scripts/setup.sh installs it)")
    try:
        mat = loadmat(args.metadata)
    except Exception as e:  # scipy raises several types for non-MAT or v7.3 (HDF5) files
        pc.fail(f"{args.metadata}: not a readable MAT file ({e}); a MATLAB v7.3 file must be re-saved with save(..., '-v7')")
    for key in ("video_list", "mos"):
        if key not in mat:
            pc.fail(f"{args.metadata}: no variable '{key}' (variables: {', '.join(k for k in mat if not k.startswith('__'))})")
    names = strings(mat["video_list"])
    scores = [float(v) for v in mat["mos"].ravel()]
    if len(names) != len(scores):
        pc.fail(f"{args.metadata}: video_list has {len(names)} names but mos has {len(scores)} scores")
    entries = []
    for i, (n, m) in enumerate(zip(names, scores)):
        if not n:
            pc.fail(f"{args.metadata}: video_list entry {i + 1} is empty")
        entries.append((n, pc.number(m, "mos", f"{args.metadata}: entry {i + 1}"), [n, os.path.join("Video", n)],
                        os.path.splitext(n)[0]))
    found, missing = pc.resolve(entries, pc.FileIndex(args.videos), args)
    train, test = pc.random_split(found, args.seed, args.test_fraction)
    pc.summarise("LIVE-VQC", args, {"labels.txt": found, "labels_train.txt": train, "labels_test.txt": test}, missing,
                 f"; random split, seed {args.seed}, test fraction {args.test_fraction}")


if __name__ == "__main__":
    main()
