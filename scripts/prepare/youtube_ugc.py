#!/usr/bin/env python3
"""YouTube-UGC -> vqa-mpi label files (labels_train.txt, labels_test.txt).

Metadata: original_videos_MOS_for_YouTube_UGC_dataset.xlsx as shipped (sheets readme, MOS and
diff2): the sheet named by --sheet (default MOS) is read directly with the standard library; a CSV
export of that sheet works too. Columns used: vid (e.g. Animation_1080P-05f8) and MOS full (1-5;
"MOSfull"/"MOS_full" spellings accepted); category and the per-chunk MOS columns are ignored. A row
whose MOS full is empty (the videos without a full-length rating) is skipped and counted.
Videos: <vid>.mkv (original), .mp4 or any file named <vid>.* or <vid>_*.* below --videos
(category/resolution subdirectories are searched).
YouTube-UGC has no official split: a random one, fixed by --seed; for the paper's repeated 80/20
protocol see `vqa-mpi split` in docs/datasets.md.

  python3 scripts/prepare/youtube_ugc.py --metadata original_videos_MOS_for_YouTube_UGC_dataset.xlsx \\
      --videos data/YouTube-UGC/original_videos --out data/YouTube-UGC
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prepare_common as pc  # noqa: E402


def main():
    p = pc.parser(__doc__.splitlines()[0], "original_videos_MOS_for_YouTube_UGC_dataset.xlsx (or a CSV export of its MOS sheet)")
    p.add_argument("--sheet", default="MOS", help="sheet of the .xlsx to read (default MOS; the workbook also has readme and diff2)")
    args = p.parse_args()
    pc.check_args(args)
    if args.metadata.lower().endswith(".xls"):
        pc.fail(f"{args.metadata}: the old binary .xls format is not read; pass the official .xlsx or a CSV export")
    if args.metadata.lower().endswith(".xlsx"):
        header, rows = pc.read_xlsx(args.metadata, args.sheet)
        where = f"{args.metadata} sheet {args.sheet}"
    else:
        header, rows = pc.read_csv(args.metadata)
        where = args.metadata
    vid = pc.column(header, where, "vid", "video", "filename")
    mos = pc.column(header, where, "MOS full", "MOSFull", "mos")
    index = pc.FileIndex(args.videos)
    entries, unrated = [], []
    for i, r in enumerate(rows, start=2):
        v = r[vid]
        if not v:
            continue  # summary rows below the table in some exports
        if not (r.get(mos) or "").strip():
            unrated.append(v)
            continue
        score = pc.number(r[mos], "MOS full", f"{where}: row {i}")
        prefixed = [n for n in index.by_name if n.startswith(v + "_")]
        candidates = [f"{v}.mkv", f"{v}.mp4", v] + (prefixed if len(prefixed) == 1 else [])
        entries.append((v, score, candidates, v))
    if unrated:
        shown = ", ".join(unrated[:5]) + (" ..." if len(unrated) > 5 else "")
        print(f"prepare: {len(unrated)} row(s) of {where} have no MOS full and are skipped: {shown}", file=sys.stderr)
    if not entries:
        pc.fail(f"{where}: no row has a MOS full value")
    found, missing = pc.resolve(entries, index, args)
    train, test = pc.random_split(found, args.seed, args.test_fraction)
    pc.summarise("YouTube-UGC", args, {"labels.txt": found, "labels_train.txt": train, "labels_test.txt": test}, missing,
                 f"; {len(unrated)} without MOS full skipped; random split, seed {args.seed}, test fraction {args.test_fraction}")


if __name__ == "__main__":
    main()
