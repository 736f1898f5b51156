#!/usr/bin/env python3
"""Writes the committed seed corpus of the fuzz targets (Fuzz/corpus/<target>/).

Run from the repository root: python3 Fuzz/make_corpus.py. Deterministic; small files only.
labels: one option byte (see Fuzz/Sources/fuzz-labels) then a label file in each accepted form.
config: the repository's configs/*.yaml plus small configs with `--set` overrides after NUL bytes.
safetensors: files laid out by hand here (struct + json, independent of the Swift writer),
including a vqa-mpi checkpoint with its FNV-1a checksum.
"""
import json, os, shutil, struct, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def labels():
    fast = "4542323058.mp4, 8.008, 29.97002997002997, 3.22\nyfcc-batch1/747.mp4, -1, -1, 67.75\n"
    put("labels", "fastvqa-konvid", b"\x00" + fast.encode())
    put("labels", "fastvqa-root", b"\x04" + ("# LSVQ style\r\n" + fast.replace("\n", "\r\n")).encode())
    put("labels", "fastvqa-forced", b"\x01" + b"\"a, b.mp4\", -1, 30, 1.5\n\n/abs/c.mp4, 10, -1, 2\n")
    koniq = ("image_name,c1,c2,c3,c4,c5,c_total,MOS,SD,MOS_zscore\n"
             "10004473376.jpg,0,0,25,73,7,105,3.828571429,0.527278,77.38364813\n"
             "10007357496.jpg,0,3,45,47,1,96,3.479166667,0.5817,68.63551413\n")
    put("labels", "csv-koniq", b"\x00" + koniq.encode())
    put("labels", "csv-explicit", b"\x08" + b"\xef\xbb\xbfName,MOS\n\"say \"\"hi\"\".mp4\", 2\nv.mp4,4.5\n")
    put("labels", "csv-forced", b"\x06" + b"video_name, dmos, extra\n x.mp4 , 1e-3, \"\"\n")
    put("labels", "latin1", b"\x00" + "caf\xe9.mp4, -1, -1, 3\n".encode("latin-1"))


def configs():
    for name in sorted(os.listdir(os.path.join(ROOT, "configs"))):
        if name.endswith(".yaml"):
            shutil.copyfile(os.path.join(ROOT, "configs", name), os.path.join(OUT, "config", name))
    put("config", "sets", "train: {epochs: 3}\n\0regularization.kind=rwp\0regularization.rwp.select=ndim\0loss.rank=0")
    put("config", "val-list", "data:\n  val:\n    - {name: a, labels: a.txt, data_root: /d}\n"
        "model: {name: fast-vqa-b, options: {head_hidden: 8}}\n\0data.train.sampler.clip_len=16")
    put("config", "anchors", "regularization:\n  kind: rwp\n  awp: &p {gamma: 1.0e-3, every: 2}\n  rwp: *p\n")
    put("config", "empty", "")
    # Doubles with 17 significant digits must survive the stored YAML exactly (a fuzz finding).
    put("config", "digits", "optimizer: {lr: 0.12345678901234568}\nregularization: {rwp: {gamma: 2.92233720368547758070e-2}}\n")
    # Regressions: inputs that once crashed the target (they must now be rejected with an error).
    put("config", "regress-list-as-map-key", "{[a]: 1}")
    put("config", "regress-base60-overflow", "train: {epochs: 922338023380142142:22}\n")
    put("config", "regress-merge-and-map-key", "optimizer:\n  <<: [{kind: sgd, lr: 0.01}, {wd: 0.1}]\n  lr: 0.02\n"
        "train:\n  ? {a: b}\n  : 3\n")
    # "Billion laughs": 9 levels of 9 aliases, 9^9 values once expanded (took 3.6 GB and a SIGABRT).
    put("config", "regress-alias-bomb", alias_bomb())


def alias_bomb():
    """A ~550-byte YAML alias bomb: level k is a list of nine aliases of level k-1."""
    names = "abcdefghi"
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, cur in zip(names, names[1:]):
        lines.append(f"{cur}: &{cur} [" + ",".join(["*" + prev] * 9) + "]")
    return "\n".join(lines) + "\n"


def safetensors(tensors, metadata=None, pad=True):
    """tensors: list of (name, dtype, shape, bytes) in data order."""
    header, offset, data = {}, 0, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def fnv1a(tensors, metadata=None):
    """Checkpoint.checksum: FNV-1a 64 over name, dtype, shape (8 bytes LE each), data; name order;
    then (format /2) each metadata entry but `checksum`: key length (8 bytes LE), key, value length,
    value; key order."""
    h = 0xcbf29ce484222325
    def mix(bs):
        nonlocal h
        for b in bs:
            h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    for name, dtype, shape, raw in sorted(tensors):
        mix(name.encode()); mix(dtype.encode())
        for d in shape:
            mix(struct.pack("<q", d))
        mix(raw)
    for key in sorted(metadata or {}):
        if key != "checksum":
            for text in (key, metadata[key]):
                mix(struct.pack("<q", len(text.encode()))); mix(text.encode())
    return format(h, "x")


def safetensors_seeds():
    f32 = struct.pack("<6f", 1, -2, 0.5, 3, 1e-3, 7)
    put("safetensors", "f32", safetensors([("w", "F32", [2, 3], f32)]))
    put("safetensors", "mixed", safetensors([
        ("a.bias", "F64", [2], struct.pack("<2d", 1.5, -0.25)),
        ("b.idx", "I64", [1], struct.pack("<q", 42)),
        ("c.half", "BF16", [2], b"\x80\x3f\x00\x40"),
        ("d.mask", "BOOL", [3], b"\x01\x00\x01"),
        ("e.empty", "F32", [0, 4], b""),
        ("f.scalar", "I32", [], struct.pack("<i", -7)),
    ], metadata={"note": "caf\u00e9 \"q\"\n", "format": "pt"}))
    put("safetensors", "unpadded", safetensors([("x", "U8", [4], b"\x00\x01\x02\xff")], pad=False))
    put("safetensors", "empty", safetensors([], metadata={}))
    ts = [("head.weight", "F32", [1, 2], struct.pack("<2f", 0.1, 0.2)),
          ("ema.head.weight", "F32", [1, 2], struct.pack("<2f", 0.1, 0.2)),
          ("optim.m", "F32", [2], struct.pack("<2f", 0, 0))]
    meta = {"format": "vqa-mpi-checkpoint/2", "model": "fragnet", "config": "train: {epochs: 1}\n",
            "epoch": "1", "step": "3", "optimizer_steps": "3", "seed": "42", "sampler_epoch": "1",
            "sampler_step": "0", "best_metric": "0.5", "best_epoch": "1", "model_options": "{\"width\":\"8\"}",
            "calibration": "{\"b1\":5,\"b2\":1,\"b3\":0.5,\"b4\":0.2}"}
    put("safetensors", "checkpoint", safetensors(sorted(ts), metadata=dict(meta, checksum=fnv1a(ts, meta))))
    # Format /1 (still read): the checksum covers the tensors only.
    v1 = dict(meta, format="vqa-mpi-checkpoint/1", checksum=fnv1a(ts))
    put("safetensors", "checkpoint-v1", safetensors(sorted(ts), metadata=v1))


if __name__ == "__main__":
    for t in ("labels", "config", "safetensors"):
        shutil.rmtree(os.path.join(OUT, t), ignore_errors=True)
        os.makedirs(os.path.join(OUT, t))
    labels(); configs(); safetensors_seeds()
    sys.exit(0)
