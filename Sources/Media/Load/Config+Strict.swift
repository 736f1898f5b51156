// Strict decoding for YAML/JSON configs: a key the config does not know (a typo, a snake_case
// spelling, a setting of another tool) is an error naming the key and listing the valid ones,
// raised while decoding, before any work starts.

/// Any string key, for listing the keys an object holds.
struct AnyCodingKey: CodingKey {
    let stringValue: String
    let intValue: Int? = nil
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

/// Throws a MediaError (file label `what`) when the object being decoded holds a key not in
/// `valid`; the message names each unknown key, where it sits, a likely intended key, and the
/// valid keys.
func rejectUnknownKeys(_ decoder: Decoder, valid: [String], what: String) throws {
    let c = try decoder.container(keyedBy: AnyCodingKey.self)
    let unknown = c.allKeys.map(\.stringValue).filter { !valid.contains($0) }.sorted()
    guard !unknown.isEmpty else { return }
    func squash(_ s: String) -> String { s.lowercased().filter { $0 != "_" && $0 != "-" } }
    let named = unknown.map { key -> String in
        if let hint = valid.first(where: { squash($0) == squash(key) }) { return "'\(key)' (did you mean '\(hint)'?)" }
        return "'\(key)'"
    }
    let path = decoder.codingPath.map(\.stringValue).joined(separator: ".")
    throw MediaError(what, "unknown key\(unknown.count == 1 ? "" : "s") \(named.joined(separator: ", "))"
                     + (path.isEmpty ? "" : " in '\(path)'") + "; valid keys: \(valid.joined(separator: ", "))")
}
