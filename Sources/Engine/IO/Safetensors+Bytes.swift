// A safetensors file as bytes in memory: the same layout `write(to:)` puts on disk (8-byte
// little-endian header length, space-padded JSON header, tensor data in sorted name order).
// Used to round-trip files without touching the disk (fuzzing, tests, sending over the wire).

extension SafetensorsFile {
    /// The whole file as bytes, laid out exactly as `write(to:)` writes it.
    public func serialized() -> [UInt8] {
        precondition(tensors.keys.allSatisfy { $0 != "__metadata__" }, "safetensors: a tensor may not be called __metadata__")
        let (head, order) = header()
        var out: [UInt8] = []
        out.reserveCapacity(8 + head.count + order.reduce(0) { $0 + tensors[$1]!.data.count })
        let length = UInt64(head.count)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: length >> (8 * UInt64(i)))) }
        out += head
        for name in order { out += tensors[name]!.data }
        return out
    }
}
