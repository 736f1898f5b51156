// Parsing YAML text into the value trees `TrainConfig.resolve` merges: maps with string keys, lists
// and scalars (Int, Double, Bool, String, ...). `Yams.load` traps when a map key is itself a map or a
// list (`{[a]: 1}`: a force-unwrap in its constructor, found by the config fuzzer), so the trees are
// built here from `Yams.compose`'s nodes, with the same scalar rules and `<<` merge keys.

import Yams

extension TrainConfig {
    /// The value tree of YAML `text` (nil for an empty document); `source` names the text in errors.
    static func yamlTree(_ text: String, source: String) throws -> Any? {
        guard let node = try Yams.compose(yaml: text) else { return nil }
        return try treeValue(node, source: source)
    }

    private static func treeValue(_ node: Node, source: String) throws -> Any {
        switch node {
        case .scalar:
            return Constructor.default.any(from: node)
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
                        throw DistError("\(source)\(line(key)): a '<<' merge key must name a map or a list of maps")
                    }
                    for m in maps.reversed() {
                        for (k, v) in try treeValue(m, source: source) as? [String: Any] ?? [:] { out[k] = v }
                    }
                } else if case .scalar(let name) = key {
                    explicit.append((name.string, try treeValue(value, source: source)))
                } else {
                    throw DistError("\(source)\(line(key)): a map key must be a plain name, not a \(key.mapping != nil ? "map" : "list"); write `name: value`")
                }
            }
            for (k, v) in explicit { out[k] = v }
            return out
        case .alias:
            // The parser replaces aliases by their anchored nodes before this runs.
            throw DistError("\(source)\(line(node)): an unresolved YAML alias; define the anchor (&name) before using it")
        }
    }

    private static func line(_ node: Node) -> String {
        node.mark.map { ", line \($0.line)" } ?? ""
    }
}
