"""Shared pieces of the dataset preparation scripts (scripts/prepare/*.py).

Every script turns a dataset's official metadata into vqa-mpi label files in the FAST-VQA format
that `vqa-mpi train --train-labels/--val-labels` and `vqa-mpi check-dataset` read
(Sources/Media/Load/Labels.swift):

    relative/path.mp4, -1, -1, MOS

paths relative to --data-root (default: --out), duration and fps unknown (-1). Entries whose file
is missing under --videos are reported and left out; more than --max-missing of them (a share)
stops the script, because that usually means a wrong --videos directory.

Python 3 standard library only (LIVE-VQC's .mat additionally needs scipy.io).
"""

import argparse
import csv
import os
import random
import re
import sys
import xml.etree.ElementTree as ET
import zipfile


def parser(description, metadata_help, default_fraction=0.2):
    """The command-line options every preparation script shares."""
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--metadata", required=True, help=metadata_help)
    p.add_argument("--videos", required=True, help="directory holding the dataset's video (or image) files; searched recursively")
    p.add_argument("--out", required=True, help="directory for the label files (created if missing)")
    p.add_argument("--data-root", help="directory the label paths are relative to (default: --out); pass the same to train/check-dataset")
    p.add_argument("--seed", type=int, default=0, help="seed of the random train/test split (default 0)")
    p.add_argument("--test-fraction", type=float, default=default_fraction,
                   help=f"share of entries in the random test split (default {default_fraction})")
    p.add_argument("--max-missing", type=float, default=0.05,
                   help="largest share of listed files allowed to be missing before the script fails (default 0.05)")
    return p


def check_args(args):
    """Validates the shared options; exits with a message naming the option."""
    if not 0.0 < args.test_fraction < 1.0:
        fail(f"--test-fraction must be in (0, 1), got {args.test_fraction}")
    if not 0.0 <= args.max_missing <= 1.0:
        fail(f"--max-missing must be in [0, 1], got {args.max_missing}")
    if not os.path.isfile(args.metadata):
        fail(f"--metadata {args.metadata}: no such file")
    if not os.path.isdir(args.videos):
        fail(f"--videos {args.videos}: no such directory")
    if args.data_root is None:
        args.data_root = args.out


def fail(message):
    """Prints `prepare: message` to stderr and exits with status 2."""
    print(f"prepare: {message}", file=sys.stderr)
    sys.exit(2)


def normalise(name):
    """Column-name key: lower case, letters and digits only ('MOS full' -> 'mosfull')."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def read_csv(path):
    """Rows of a CSV with a header as dicts keyed by normalised column names.

    Rows shorter than the header get None for the missing columns (LSVQ's file has such rows);
    a UTF-8 byte-order mark and Latin-1 text are accepted.
    """
    raw = open(path, "rb").read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    reader = csv.reader(text.splitlines())
    try:
        header = next(reader)
    except StopIteration:
        fail(f"{path}: empty file")
    keys = [normalise(h) for h in header]
    rows = []
    for fields in reader:
        if not any(f.strip() for f in fields):
            continue
        rows.append({k: (fields[i].strip() if i < len(fields) else None) for i, k in enumerate(keys)})
    return header, rows


XLSX_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
XLSX_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


def xlsx_column_index(ref):
    """0-based column of a cell reference ('B7' -> 1, 'AA3' -> 26)."""
    n = 0
    for ch in ref:
        if not ch.isalpha():
            break
        n = n * 26 + (ord(ch.upper()) - ord("A") + 1)
    return n - 1


def read_xlsx(path, sheet):
    """Rows of the sheet named `sheet` of an .xlsx workbook as read_csv returns them (header,
    dicts keyed by normalised names); the standard library's zipfile and XML parser only.
    Shared strings, inline strings, numbers and booleans are read; empty cells are ''."""
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        fail(f"{path}: not an .xlsx workbook ({e}); pass the official .xlsx or a CSV export")
    with z:
        try:
            book = ET.fromstring(z.read("xl/workbook.xml"))
            rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        except KeyError as e:
            fail(f"{path}: not an .xlsx workbook (no {e.args[0]})")
        sheets = {s.get("name"): s.get(XLSX_REL + "id") for s in book.iter(XLSX_MAIN + "sheet")}
        if sheet not in sheets:
            fail(f"{path}: no sheet named '{sheet}' (sheets: {', '.join(sheets)}); is this the right workbook?")
        target = next((r.get("Target") for r in rels if r.get("Id") == sheets[sheet]), None)
        if target is None:
            fail(f"{path}: sheet '{sheet}' has no part in xl/_rels/workbook.xml.rels")
        part = target.lstrip("/") if target.startswith("/") else "xl/" + target
        shared = []
        if "xl/sharedStrings.xml" in z.namelist():
            for si in ET.fromstring(z.read("xl/sharedStrings.xml")).iter(XLSX_MAIN + "si"):
                shared.append("".join(t.text or "" for t in si.iter(XLSX_MAIN + "t")))
        table = []
        for row in ET.fromstring(z.read(part)).iter(XLSX_MAIN + "row"):
            cells = {}
            for i, c in enumerate(row.iter(XLSX_MAIN + "c")):
                col = xlsx_column_index(c.get("r")) if c.get("r") else i
                kind, v = c.get("t"), c.find(XLSX_MAIN + "v")
                if kind == "s":
                    text = shared[int(v.text)] if v is not None else ""
                elif kind == "inlineStr":
                    text = "".join(t.text or "" for t in c.iter(XLSX_MAIN + "t"))
                else:
                    text = v.text if v is not None and v.text is not None else ""
                cells[col] = text.strip()
            width = max(cells) + 1 if cells else 0
            table.append([cells.get(k, "") for k in range(width)])
    if not table:
        fail(f"{path}: sheet '{sheet}' is empty")
    header = table[0]
    keys = [normalise(h) for h in header]
    rows = [{k: (fields[i] if i < len(fields) else "") for i, k in enumerate(keys)}
            for fields in table[1:] if any(f for f in fields)]
    return header, rows


def column(header, path, *names):
    """The normalised key of the first column of `names` present in `header`, else exit with the
    columns that exist."""
    present = {normalise(h) for h in header}
    for n in names:
        if normalise(n) in present:
            return normalise(n)
    fail(f"{path}: none of the columns {', '.join(names)} in the header "
         f"(columns: {', '.join(header)}); is this the right metadata file?")


def number(text, what, where):
    """A finite float from metadata text, else exit naming the row."""
    try:
        v = float(text)
    except (TypeError, ValueError):
        fail(f"{where}: {what} '{text}' is not a number")
    if v != v or v in (float("inf"), float("-inf")):
        fail(f"{where}: {what} '{text}' is not finite")
    return v


class FileIndex:
    """Every file under a directory, found by relative path, by name and by name without extension."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.by_name = {}
        self.by_stem = {}
        for dirpath, _, files in os.walk(self.root, followlinks=True):
            for f in files:
                full = os.path.join(dirpath, f)
                self.by_name.setdefault(f, []).append(full)
                self.by_stem.setdefault(os.path.splitext(f)[0], []).append(full)

    def find(self, *candidates, stem=None):
        """Absolute path of the first candidate that exists (a path relative to the root, or a bare
        file name found anywhere below it); else a unique file whose name without extension is
        `stem`; else None."""
        for c in candidates:
            if not c:
                continue
            p = os.path.join(self.root, c)
            if os.path.isfile(p):
                return p
            hits = self.by_name.get(os.path.basename(c), [])
            if len(hits) == 1:
                return hits[0]
        if stem is not None:
            hits = self.by_stem.get(stem, [])
            if len(hits) == 1:
                return hits[0]
        return None


def resolve(entries, index, args):
    """Keeps the entries whose file exists: each entry is (key, mos, candidates, stem); returns
    [(relative path, mos, key)] and reports the missing ones (exits past --max-missing)."""
    found, missing = [], []
    for key, mos, candidates, stem in entries:
        path = index.find(*candidates, stem=stem)
        if path is None:
            missing.append(candidates[0] if candidates else key)
        else:
            found.append((os.path.relpath(path, os.path.abspath(args.data_root)), mos, key))
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        print(f"prepare: warning: {len(missing)} of {len(entries)} listed files not found under {args.videos}: {shown}",
              file=sys.stderr)
    if not found:
        fail(f"none of the {len(entries)} listed files is under {args.videos}; check --videos")
    if len(missing) > args.max_missing * len(entries):
        fail(f"{len(missing)} of {len(entries)} files missing (more than --max-missing {args.max_missing}); "
             f"check --videos or raise --max-missing")
    for rel, _, _ in found:
        if rel.startswith(".."):
            fail(f"{rel} is outside --data-root {args.data_root}; put the videos below the data root")
    return found, len(missing)


def random_split(items, seed, test_fraction):
    """(train, test): a seeded shuffle, the first round(n·fraction) entries (at least one) to test,
    each part in the input order."""
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    n_test = min(len(items) - 1, max(1, round(len(items) * test_fraction)))
    test = set(order[:n_test])
    return [x for i, x in enumerate(items) if i not in test], [x for i, x in enumerate(items) if i in test]


def quote(path):
    """A label-file field: double-quoted when it holds a comma, a quote or edge spaces."""
    if "," in path or '"' in path or path != path.strip():
        return '"' + path.replace('"', '""') + '"'
    return path


def write_labels(path, items):
    """Writes `relative/path, -1, -1, MOS` lines (repr keeps every digit of the MOS)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for rel, mos, _ in items:
            f.write(f"{quote(rel)}, -1, -1, {mos!r}\n")


def summarise(dataset, args, splits, missing, note=""):
    """Writes every split's label file and prints the summary and the next command."""
    print(f"{dataset}: {sum(len(v) for v in splits.values())} entries ({missing} missing files left out){note}")
    first = None
    for name, items in splits.items():
        out = os.path.join(args.out, name)
        write_labels(out, items)
        first = first or out
        scores = [m for _, m, _ in items]
        rng = f", MOS {min(scores):.3f}–{max(scores):.3f}" if scores else ""
        print(f"  {out}: {len(items)} entries{rng}")
    print("next: check that every file decodes, then train:")
    for name in splits:
        print(f"  vqa-mpi check-dataset --labels {os.path.join(args.out, name)} --data-root {args.data_root}")
    print(f"  (train/val paths are relative to --data-root {args.data_root})")
    if "labels.txt" in splits:
        print(f"  repeated random splits of the whole set: vqa-mpi split --labels {os.path.join(args.out, 'labels.txt')} "
              f"--out {os.path.join(args.out, 'splits')} --ratio 0.8 --seed 0 --repeats 10")
