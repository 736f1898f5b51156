// Writing one label / CSV field so that Labels.parse reads it back: decided and escaped per Unicode
// scalar, never per Character — a quote or comma followed by a combining mark is one Character in
// Swift, so Character-level `contains` and `replacingOccurrences` miss it (found by fuzz-labels).

extension Labels {
    /// `s` as one CSV / FAST-VQA label field: double-quoted (inner quotes doubled) when it holds a
    /// comma, quote, CR or LF scalar, or begins or ends with whitespace; else unchanged.
    public static func quotedField(_ s: String) -> String {
        let scalars = s.unicodeScalars
        let special = scalars.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }
        let edge = (scalars.first?.properties.isWhitespace ?? false) || (scalars.last?.properties.isWhitespace ?? false)
        guard special || edge else { return s }
        var out = String.UnicodeScalarView()
        out.append("\"")
        for c in scalars {
            out.append(c)
            if c == "\"" { out.append("\"") }
        }
        out.append("\"")
        return String(out)
    }
}
