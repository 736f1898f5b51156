#!/usr/bin/env python3
"""LSVQ -> vqa-mpi label files with the official splits: labels_train.txt (LSVQ train),
labels_test.txt (LSVQ test) and labels_1080p.txt (LSVQ test-1080p), the files configs/lsvq.yaml
expects.

Metadata: labels_train_test.csv (columns name, ..., mos, ..., is_test; is_test marks the test
videos) and, for the 1080p test set, labels_test_1080p.csv (--metadata-1080p). `name` is the video
path without extension (e.g. yfcc-batch1/1234); rows may be shorter than the header (only the
columns up to mos are needed). Without an is_test column the split is random (--seed).
Videos: <name>.mp4 below --videos.

  python3 scripts/prepare/lsvq.py --metadata data/LSVQ/labels_train_test.csv \\
      --metadata-1080p data/LSVQ/labels_test_1080p.csv --videos data/LSVQ --out data/LSVQ
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prepare_common as pc  # noqa: E402

TRUE = {"true", "1", "yes", "t", "y", "1.0"}
FALSE = {"false", "0", "no", "f", "n", "0.0", ""}


def entries_of(path, with_split):
    """[(name, mos, candidates, stem, is_test or None)] from one LSVQ label CSV."""
    header, rows = pc.read_csv(path)
    name = pc.column(header, path, "name", "video_name", "video")
    mos = pc.column(header, path, "mos")
    is_test = pc.normalise("is_test") if with_split and pc.normalise("is_test") in map(pc.normalise, header) else None
    out = []
    for i, r in enumerate(rows, start=2):
        n = r.get(name)
        if not n:
            pc.fail(f"{path}: line {i}: empty {name}")
        flag = None
        if is_test:
            text = (r.get(is_test) or "").strip().lower()
            if text not in TRUE | FALSE:
                pc.fail(f"{path}: line {i}: is_test '{r.get(is_test)}' is neither true nor false")
            flag = text in TRUE
        stem = n[:-4] if n.lower().endswith(".mp4") else n
        out.append((n, pc.number(r.get(mos), "mos", f"{path}: line {i}"), [stem + ".mp4", n], None, flag))
    return out, is_test is not None


def main():
    p = pc.parser(__doc__.splitlines()[0], "labels_train_test.csv (train and test, is_test column)")
    p.add_argument("--metadata-1080p", help="labels_test_1080p.csv (the LSVQ test-1080p set)")
    args = p.parse_args()
    pc.check_args(args)
    if args.metadata_1080p and not os.path.isfile(args.metadata_1080p):
        pc.fail(f"--metadata-1080p {args.metadata_1080p}: no such file")
    index = pc.FileIndex(args.videos)
    rows, official = entries_of(args.metadata, with_split=True)
    flags = {r[0]: r[4] for r in rows}
    found, missing = pc.resolve([r[:4] for r in rows], index, args)
    if official:
        train = [x for x in found if not flags[x[2]]]
        test = [x for x in found if flags[x[2]]]
        note = "; official split (is_test)"
    else:
        print(f"prepare: warning: {args.metadata} has no is_test column: random split, seed {args.seed}", file=sys.stderr)
        train, test = pc.random_split(found, args.seed, args.test_fraction)
        note = f"; random split, seed {args.seed}"
    splits = {"labels_train.txt": train, "labels_test.txt": test}
    if args.metadata_1080p:
        rows_1080p, _ = entries_of(args.metadata_1080p, with_split=False)
        found_1080p, missing_1080p = pc.resolve([r[:4] for r in rows_1080p], index, args)
        splits["labels_1080p.txt"] = found_1080p
        missing += missing_1080p
    pc.summarise("LSVQ", args, splits, missing, note)


if __name__ == "__main__":
    main()
