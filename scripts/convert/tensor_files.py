"""Tensor files without PyTorch: safetensors and PyTorch's zip `.pth` format, read and written with
the Python standard library, tensors kept as raw little-endian bytes (so a conversion moves every
bit unchanged).

A tensor is (dtype, shape, data): dtype a safetensors name (F32, F64, F16, BF16, I64, I32, I16, I8,
U8, BOOL), shape a list of ints, data the C-contiguous bytes.

The .pth writer produces what `torch.save(obj)` produces for a dict of CPU tensors (zip archive
`archive/` with data.pkl, data/<n>, version, byteorder): `torch.load` reads it, also with
weights_only=True. The reader reads such files (contiguous or strided tensors of the dtypes above)
back; it is for our own files and plain state_dict checkpoints, not a general unpickler.
"""
import collections
import io
import json
import pickle
import struct
import zipfile

SIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
STORAGE = {"F32": "FloatStorage", "F64": "DoubleStorage", "F16": "HalfStorage", "BF16": "BFloat16Storage",
           "I64": "LongStorage", "I32": "IntStorage", "I16": "ShortStorage", "I8": "CharStorage",
           "U8": "ByteStorage", "BOOL": "BoolStorage"}
DTYPE_OF_STORAGE = {v: k for k, v in STORAGE.items()}


def numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


# --- safetensors -------------------------------------------------------------------------------

def read_safetensors(path):
    """(tensors {name: (dtype, shape, bytes)}, metadata {str: str})."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    out = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        if t["dtype"] not in SIZE:
            raise ValueError(f"{path}: tensor {name} has dtype {t['dtype']}, not one of {', '.join(SIZE)}")
        out[name] = (t["dtype"], list(t["shape"]), raw[base + a:base + b])
    return out, meta


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: (dtype, shape, bytes)} in sorted name order with string metadata."""
    header, offset, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        dtype, shape, data = tensors[name]
        if len(data) != numel(shape) * SIZE[dtype]:
            raise ValueError(f"{name}: {len(data)} bytes for shape {shape} of {dtype}")
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


# --- .pth writing: pickle protocol 2 opcodes for an OrderedDict of tensors ----------------------

class _Pickle:
    """Emits the pickle stream torch.save writes for an OrderedDict of tensors."""

    def __init__(self):
        self.out = io.BytesIO()
        self.memo = 0

    def op(self, b):
        self.out.write(b)

    def put(self):
        self.op(b"q" + bytes([self.memo]) if self.memo < 256 else b"r" + struct.pack("<I", self.memo))
        self.memo += 1

    def string(self, s):
        b = s.encode("utf-8")
        self.op(b"X" + struct.pack("<I", len(b)) + b)
        self.put()

    def int(self, v):
        if 0 <= v < 256:
            self.op(b"K" + bytes([v]))
        elif 0 <= v < 65536:
            self.op(b"M" + struct.pack("<H", v))
        elif -2**31 <= v < 2**31:
            self.op(b"J" + struct.pack("<i", v))
        else:
            raw = v.to_bytes((v.bit_length() + 8) // 8, "little", signed=True)
            self.op(b"\x8a" + bytes([len(raw)]) + raw)

    def ints(self, values):
        if not values:
            self.op(b")")
            return
        self.op(b"(")
        for v in values:
            self.int(v)
        self.op(b"t")
        self.put()

    def glob(self, module, name):
        self.op(b"c" + module.encode() + b"\n" + name.encode() + b"\n")
        self.put()

    def tensor(self, key, dtype, shape):
        # torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)
        self.glob("torch._utils", "_rebuild_tensor_v2")
        self.op(b"(")
        # the storage: persistent id ('storage', torch.<X>Storage, key, 'cpu', numel)
        self.op(b"(")
        self.string("storage")
        self.glob("torch", STORAGE[dtype])
        self.string(key)
        self.string("cpu")
        self.int(numel(shape))
        self.op(b"t")
        self.put()
        self.op(b"Q")
        self.int(0)
        self.ints(shape)
        stride, acc = [], 1
        for s in reversed(shape):
            stride.insert(0, acc)
            acc *= s
        self.ints(stride)
        self.op(b"\x89")  # requires_grad False
        self.glob("collections", "OrderedDict")
        self.op(b")R")
        self.put()
        self.op(b"t")
        self.put()
        self.op(b"R")
        self.put()


def write_pth(path, state_dict, wrap="state_dict"):
    """torch.save({wrap: OrderedDict(state_dict)}) (or the bare OrderedDict when wrap is None) for
    {name: (dtype, shape, bytes)}, tensors in the given order."""
    p = _Pickle()
    p.op(b"\x80\x02")
    if wrap is not None:
        p.op(b"}")
        p.put()
        p.string(wrap)
    p.glob("collections", "OrderedDict")
    p.op(b")R")
    p.put()
    items = list(state_dict.items())
    for start in range(0, len(items), 1000):  # SETITEMS batches, as pickle does
        p.op(b"(")
        for i, (name, (dtype, shape, _)) in enumerate(items[start:start + 1000], start=start):
            p.string(name)
            p.tensor(str(i), dtype, shape)
        p.op(b"u")
    if wrap is not None:
        p.op(b"s")
    p.op(b".")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", p.out.getvalue())
        z.writestr("archive/byteorder", "little")
        for i, (_, (_, _, data)) in enumerate(items):
            z.writestr(f"archive/data/{i}", data)
        z.writestr("archive/version", "3\n")


# --- .pth reading ------------------------------------------------------------------------------

class _Storage:
    def __init__(self, dtype, data):
        self.dtype, self.data = dtype, data


class _StorageType:
    def __init__(self, name):
        self.dtype = DTYPE_OF_STORAGE[name]


def _rebuild_tensor_v2(storage, offset, size, stride, *_):
    itemsize = SIZE[storage.dtype]
    size, stride = list(size), list(stride)
    contiguous, acc = [], 1
    for s in reversed(size):
        contiguous.insert(0, acc)
        acc *= s
    n = numel(size)
    if stride == contiguous or n <= 1:
        data = storage.data[offset * itemsize:(offset + n) * itemsize]
    else:  # gather a strided view element by element
        parts = []
        for flat in range(n):
            rem, pos = flat, offset
            for s, st in zip(reversed(size), reversed(stride)):
                rem, i = divmod(rem, s)
                pos += i * st
            parts.append(storage.data[pos * itemsize:(pos + 1) * itemsize])
        data = b"".join(parts)
    return (storage.dtype, size, data)


class _Unpickler(pickle.Unpickler):
    def __init__(self, stream, records):
        super().__init__(stream)
        self.records = records

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in DTYPE_OF_STORAGE:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"{module}.{name} is not a plain tensor dict element; load this file with torch")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, _n = pid
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        return _Storage(storage_type.dtype, self.records(key))


def read_pth(path):
    """The object torch.load would return, with tensors as (dtype, shape, bytes)."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise ValueError(f"{path}: not a zip-format .pth (no single data.pkl); load it with torch")
        prefix = pkl[0][:-len("data.pkl")]
        cache = {}

        def record(key):
            if key not in cache:
                cache[key] = z.read(f"{prefix}data/{key}")
            return cache[key]
        return _Unpickler(io.BytesIO(z.read(pkl[0])), record).load()
