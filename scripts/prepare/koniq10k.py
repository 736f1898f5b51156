#!/usr/bin/env python3
"""KonIQ-10k -> vqa-mpi label files (labels_train.txt, labels_test.txt, and labels_val.txt when
the metadata has the official validation set).

Metadata: koniq10k_scores_and_distributions.csv (image_name, c1..c5, c_total, MOS (1-5), SD,
MOS_zscore) or koniq10k_distributions_sets.csv, which adds the official `set` column
(training / validation / test: 7058 / 1000 / 2015 images). With a `set` column that split is
used; otherwise a random one (--seed). --score zscore uses MOS_zscore (0-100) instead of MOS.
Images: 1024x768/<image_name> (or 512x384/) below --videos. Each image is a one-frame video for
vqa-mpi (configs/koniq-10k.yaml).

  python3 scripts/prepare/koniq10k.py --metadata data/koniq10k/koniq10k_distributions_sets.csv \\
      --videos data/koniq10k/1024x768 --out data/koniq10k
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prepare_common as pc  # noqa: E402

SETS = {"training": "labels_train.txt", "train": "labels_train.txt",
        "validation": "labels_val.txt", "val": "labels_val.txt", "test": "labels_test.txt"}


def main():
    p = pc.parser(__doc__.splitlines()[0], "koniq10k_scores_and_distributions.csv or koniq10k_distributions_sets.csv")
    p.add_argument("--score", choices=["mos", "zscore"], default="mos", help="MOS (1-5, default) or MOS_zscore (0-100)")
    args = p.parse_args()
    pc.check_args(args)
    header, rows = pc.read_csv(args.metadata)
    name = pc.column(header, args.metadata, "image_name", "image", "name")
    score = pc.column(header, args.metadata, *(["MOS_zscore"] if args.score == "zscore" else ["MOS"]))
    has_set = pc.normalise("set") in map(pc.normalise, header)
    entries, sets = [], {}
    for i, r in enumerate(rows, start=2):
        n = r[name]
        if not n:
            pc.fail(f"{args.metadata}: line {i}: empty {name}")
        if has_set:
            s = (r.get("set") or "").strip().lower()
            if s not in SETS:
                pc.fail(f"{args.metadata}: line {i}: set '{r.get('set')}' is not one of training, validation, test")
            sets[n] = SETS[s]
        entries.append((n, pc.number(r[score], score, f"{args.metadata}: line {i}"), [n], None))
    found, missing = pc.resolve(entries, pc.FileIndex(args.videos), args)
    if has_set:
        splits = {f: [x for x in found if sets[x[2]] == f] for f in ("labels_train.txt", "labels_val.txt", "labels_test.txt")}
        splits = {f: v for f, v in splits.items() if v}
        note = "; official split (set column)"
    else:
        train, test = pc.random_split(found, args.seed, args.test_fraction)
        splits = {"labels_train.txt": train, "labels_test.txt": test}
        note = f"; random split, seed {args.seed}, test fraction {args.test_fraction}"
    pc.summarise("KonIQ-10k", args, splits, missing, note)


if __name__ == "__main__":
    main()
