// The sample index an evaluation draw is keyed by: a hash of the file's name, so a file's clips
// (and so its score) do not depend on its position in a list, on its neighbours, or on how the
// entries are sharded over ranks. Training keeps the entry index (the epoch permutation already
// decorrelates it from the list order).

/// Stable keys for the sampler's random streams.
public enum SampleKey {
    /// A non-negative index derived from the last path component of `path` (64-bit FNV-1a of its
    /// UTF-8 bytes, top bit cleared): `a/b/clip.mp4` and `/data/clip.mp4` get the same key.
    public static func evaluation(path: String) -> Int {
        let name = path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return Int(truncatingIfNeeded: h & 0x7fff_ffff_ffff_ffff)
    }
}
