#!/usr/bin/env python3
"""YouTube-UGC -> vqa-mpi label files (labels_train.txt, labels_test.txt).

Metadata: original_videos_MOS_for_YouTube_UGC_dataset.xlsx, exported to CSV (openpyxl is not a
dependency): open it in LibreOffice or Excel, select the sheet with the `vid` and `MOS full`
columns, "Save as" CSV (UTF-8, comma separated); or
`libreoffice --headless --convert-to csv original_videos_MOS_for_YouTube_UGC_dataset.xlsx`
(converts the first sheet). Columns used: vid (e.g. Animation_1080P-05f8) and MOS full (1-5;
"MOSfull"/"MOS_full" spellings accepted); the per-chunk MOS columns are ignored.
Videos: <vid>.mkv (original), .mp4 or any file named <vid>.* or <vid>_*.* below --videos
(category/resolution subdirectories are searched).
YouTube-UGC has no official split: a random one, fixed by --seed.

  python3 scripts/prepare/youtube_ugc.py --metadata original_videos_MOS_for_YouTube_UGC_dataset.csv \\
      --videos data/YouTube-UGC/original_videos --out data/YouTube-UGC
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prepare_common as pc  # noqa: E402


def main():
    args = pc.parser(__doc__.splitlines()[0], "CSV export of original_videos_MOS_for_YouTube_UGC_dataset.xlsx").parse_args()
    pc.check_args(args)
    if args.metadata.lower().endswith((".xlsx", ".xls")):
        pc.fail(f"{args.metadata}: export the spreadsheet to CSV first (see --help); xlsx is not read directly")
    header, rows = pc.read_csv(args.metadata)
    vid = pc.column(header, args.metadata, "vid", "video", "filename")
    mos = pc.column(header, args.metadata, "MOS full", "MOSFull", "mos")
    index = pc.FileIndex(args.videos)
    entries = []
    for i, r in enumerate(rows, start=2):
        v = r[vid]
        if not v:
            continue  # summary rows below the table in some exports
        score = pc.number(r[mos], "MOS full", f"{args.metadata}: line {i}")
        prefixed = [n for n in index.by_name if n.startswith(v + "_")]
        candidates = [f"{v}.mkv", f"{v}.mp4", v] + (prefixed if len(prefixed) == 1 else [])
        entries.append((v, score, candidates, v))
    found, missing = pc.resolve(entries, index, args)
    train, test = pc.random_split(found, args.seed, args.test_fraction)
    pc.summarise("YouTube-UGC", args, {"labels_train.txt": train, "labels_test.txt": test}, missing,
                 f"; random split, seed {args.seed}, test fraction {args.test_fraction}")


if __name__ == "__main__":
    main()
