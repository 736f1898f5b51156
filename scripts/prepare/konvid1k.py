#!/usr/bin/env python3
"""KoNViD-1k -> vqa-mpi label files (labels_train.txt, labels_test.txt).

Metadata: KoNViD_1k_attributes.csv (or KoNViD_1k_mos.csv) from the dataset's metadata archive:
a header with flickr_id and MOS (1-5); the attributes file may also name each video in file_name.
Videos: KoNViD_1k_videos/<flickr_id>.mp4 (older releases: the file_name column's name).
KoNViD-1k has no official split: a random one, fixed by --seed (FAST-VQA reports the mean over
several 80/20 splits: run with --seed 0..9 into different --out directories).

  python3 scripts/prepare/konvid1k.py --metadata KoNViD_1k_metadata/KoNViD_1k_attributes.csv \\
      --videos data/KoNViD_1k/KoNViD_1k_videos --out data/KoNViD_1k
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prepare_common as pc  # noqa: E402


def main():
    args = pc.parser(__doc__.splitlines()[0], "KoNViD_1k_attributes.csv or KoNViD_1k_mos.csv").parse_args()
    pc.check_args(args)
    header, rows = pc.read_csv(args.metadata)
    ident = pc.column(header, args.metadata, "flickr_id", "video_id", "id")
    mos = pc.column(header, args.metadata, "MOS", "mos")
    name = pc.normalise("file_name") if pc.normalise("file_name") in map(pc.normalise, header) else None
    entries = []
    for i, r in enumerate(rows, start=2):
        vid = r[ident]
        if not vid:
            pc.fail(f"{args.metadata}: line {i}: empty {ident}")
        candidates = [f"{vid}.mp4"] + ([r[name]] if name and r.get(name) else [])
        entries.append((vid, pc.number(r[mos], "MOS", f"{args.metadata}: line {i}"), candidates, vid))
    found, missing = pc.resolve(entries, pc.FileIndex(args.videos), args)
    train, test = pc.random_split(found, args.seed, args.test_fraction)
    pc.summarise("KoNViD-1k", args, {"labels.txt": found, "labels_train.txt": train, "labels_test.txt": test}, missing,
                 f"; random split, seed {args.seed}, test fraction {args.test_fraction}")


if __name__ == "__main__":
    main()
