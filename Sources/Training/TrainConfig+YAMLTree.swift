// Parsing YAML text into the value trees `TrainConfig.resolve` merges: maps with string keys, lists
// and scalars (Int, Double, Bool, String, ...). `Yams.load` traps when a map key is itself a map or a
// list (`{[a]: 1}`: a force-unwrap in its constructor, found by the config fuzzer), so the trees are
// built here from `Yams.compose`'s nodes, with the same scalar rules and `<<` merge keys.

import Yams
import Dist

extension TrainConfig {
    /// The value tree of YAML `text` (nil for an empty document); `source` names the text in errors.
    /// Text larger than a config or expanding through aliases past a bound is refused before parsing.
    static func yamlTree(_ text: String, source: String) throws -> Any? {
        try checkYAMLBounds(text, source: source)
        guard let node = try Yams.compose(yaml: text) else { return nil }
        return try treeValue(node, source: source)
    }

    private static func treeValue(_ node: Node, source: String) throws -> Any {
        switch node {
        case .scalar:
            return constructor.any(from: node)
        case .sequence(let items):
            return try items.map { try treeValue($0, source: source) }
        case .mapping(let pairs):
            var out: [String: Any] = [:]
            var explicit: [(String, Any)] = []
            for (key, value) in pairs {
                if case .scalar(let k) = key, k.string == "<<", k.style == .plain {
                    // `<<: *base` or `<<: [*a, *b]`: merged first, the first listed map winning; the
                    // map's own keys then override them.
                    let maps = value.mapping != nil ? [value] : Array(value.sequence ?? [])
                    guard !maps.isEmpty, maps.allSatisfy({ $0.mapping != nil }) else {
                        throw TrainingError("\(source)\(line(key))", "a '<<' merge key must name a map or a list of maps")
                    }
                    for m in maps.reversed() {
                        for (k, v) in try treeValue(m, source: source) as? [String: Any] ?? [:] { out[k] = v }
                    }
                } else if case .scalar(let name) = key {
                    explicit.append((name.string, try treeValue(value, source: source)))
                } else {
                    throw TrainingError("\(source)\(line(key))", "a map key must be a plain name, not a \(key.mapping != nil ? "map" : "list"); write `name: value`")
                }
            }
            for (k, v) in explicit { out[k] = v }
            return out
        case .alias:
            // The parser replaces aliases by their anchored nodes before this runs.
            throw TrainingError("\(source)\(line(node))", "an unresolved YAML alias; define the anchor (&name) before using it")
        }
    }

    /// Yams' default constructor with an overflow-safe integer rule.
    // Immutable after construction (its maps are lets), so sharing it across threads is safe.
    nonisolated(unsafe) private static let constructor: Constructor = {
        var scalars = Constructor.defaultScalarMap
        scalars[.int] = { integer($0.string) }
        return Constructor(scalars)
    }()

    /// A YAML 1.1 integer (`_` separators; 0x, 0b, 0o and leading-0 octal; base 60 `1:30`), or nil when
    /// it does not fit an Int (the text then stays a string, which the key's check reports). Yams' own
    /// rule traps on a base-60 overflow such as `922338023380142142:22` (found by the config fuzzer).
    static func integer(_ text: String) -> Int? {
        let signed = text.replacingOccurrences(of: "_", with: "")
        if signed == "0" { return 0 }
        let negative = signed.hasPrefix("-")
        let digits = signed.dropFirst(negative || signed.hasPrefix("+") ? 1 : 0)
        let sign = negative ? "-" : ""
        for (prefix, radix) in [("0x", 16), ("0b", 2), ("0o", 8), ("0", 8)] where digits.hasPrefix(prefix) {
            return Int(sign + digits.dropFirst(prefix.count), radix: radix)
        }
        guard digits.contains(":") else { return Int(signed) }
        var value = 0
        for part in digits.split(separator: ":", omittingEmptySubsequences: false) {
            guard let d = Int(part) else { return nil }
            let (shifted, o1) = value.multipliedReportingOverflow(by: 60)
            let (sum, o2) = shifted.addingReportingOverflow(d)
            if o1 || o2 { return nil }
            value = sum
        }
        return negative ? -value : value
    }

    private static func line(_ node: Node) -> String {
        node.mark.map { ", line \($0.line)" } ?? ""
    }
}
