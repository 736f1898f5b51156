#!/usr/bin/env python3
"""KonIQ-10k -> vqa-mpi label files (labels_train.txt, labels_test.txt, and labels_val.txt when
the metadata has the official validation set).

Two metadata files exist, with different MOS scales:
  koniq10k_distributions_sets.csv (the KonIQ project's metadata/): image_name, c1..c5 (shares of
    the ratings 1..5, fractions), c_total, MOS (0-100: the rescaled z-score MOS), SD, set
    (training / validation / test: 7058 / 1000 / 2015 images). No MOS_zscore column.
  koniq10k_scores_and_distributions.csv (the database download): image_name, c1..c5 (rating
    counts), c_total, MOS (1-5), SD, MOS_zscore (0-100). No set column.
--score picks the scale written to the label files, the same for both files:
  mos100 (default) the 0-100 MOS KonIQ publishes results on: the sets file's MOS, the scores
          file's MOS_zscore; `zscore` is accepted as another name for it.
  mos5    the 1-5 mean rating: the scores file's MOS, or sum(k * c_k) / sum(c_k) of the sets
          file's c1..c5 (the same value).
With a `set` column that split is used; otherwise a random one (--seed).
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
SCORES = {"mos100": "mos100", "zscore": "mos100", "mos5": "mos5"}


def score_of(header, path, scale):
    """A function row -> score on `scale` (mos100 or mos5) for this metadata file, and a note
    naming the source column."""
    keys = set(map(pc.normalise, header))
    if scale == "mos100":
        if "moszscore" in keys:
            return (lambda r, where: pc.number(r["moszscore"], "MOS_zscore", where)), "MOS_zscore (0-100)"
        if "set" in keys and "mos" in keys:
            return (lambda r, where: pc.number(r["mos"], "MOS", where)), "MOS (0-100)"
        pc.fail(f"{path}: no 0-100 MOS: neither MOS_zscore nor the sets file's MOS is in the header "
                f"(columns: {', '.join(header)}); pass --score mos5")
    counts = [pc.normalise(f"c{k}") for k in range(1, 6)]
    if "moszscore" in keys and "mos" in keys:  # scores file: MOS is already the 1-5 mean
        return (lambda r, where: pc.number(r["mos"], "MOS", where)), "MOS (1-5)"
    if all(c in keys for c in counts):
        def mean(r, where):
            c = [pc.number(r[k], k, where) for k in counts]
            if sum(c) <= 0:
                pc.fail(f"{where}: c1..c5 sum to {sum(c)}; cannot form the 1-5 mean")
            return sum((k + 1) * v for k, v in enumerate(c)) / sum(c)
        return mean, "sum(k * c_k) of c1..c5 (1-5)"
    pc.fail(f"{path}: no 1-5 MOS: neither MOS with MOS_zscore nor c1..c5 in the header "
            f"(columns: {', '.join(header)}); pass --score mos100")


def main():
    p = pc.parser(__doc__.splitlines()[0], "koniq10k_distributions_sets.csv or koniq10k_scores_and_distributions.csv")
    p.add_argument("--score", default="mos100", metavar="{mos100,mos5,zscore}",
                   help="MOS scale written: mos100 (0-100, default; zscore is the same) or mos5 (1-5); see the description")
    args = p.parse_args()
    if args.score not in SCORES:
        pc.fail(f"--score {args.score}: invalid value; valid values: mos100 (0-100, default), mos5 (1-5), zscore (= mos100)")
    pc.check_args(args)
    header, rows = pc.read_csv(args.metadata)
    name = pc.column(header, args.metadata, "image_name", "image", "name")
    score, source = score_of(header, args.metadata, SCORES[args.score])
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
        entries.append((n, score(r, f"{args.metadata}: line {i}"), [n], None))
    found, missing = pc.resolve(entries, pc.FileIndex(args.videos), args)
    if has_set:
        splits = {f: [x for x in found if sets[x[2]] == f] for f in ("labels_train.txt", "labels_val.txt", "labels_test.txt")}
        splits = {f: v for f, v in splits.items() if v}
        note = "; official split (set column)"
    else:
        train, test = pc.random_split(found, args.seed, args.test_fraction)
        splits = {"labels_train.txt": train, "labels_test.txt": test}
        note = f"; random split, seed {args.seed}, test fraction {args.test_fraction}"
    pc.summarise("KonIQ-10k", args, splits, missing, f"{note}; score: {source}")


if __name__ == "__main__":
    main()
