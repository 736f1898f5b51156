// Bounding a YAML document before Yams builds its tree. An alias bomb ("billion laughs": each level
// a list of aliases of the level before) is a few hundred bytes that expand to billions of nodes once
// the aliases are followed — by Yams' duplicate-key hashing, by `treeValue` and by the serialiser —
// which took 3.6 GB and a SIGABRT. This pre-pass reads libyaml's event stream (the parser Yams
// itself uses) once, in time linear in the text, and counts the nodes of the document with every
// alias counted at the full size of its anchored node; past `maxYAMLNodes` the text is refused.

import CYaml
import Foundation
import Dist

extension TrainConfig {
    /// The largest YAML text a config may be (bytes); configs are a few KB.
    static let maxYAMLBytes = 1 << 20
    /// The most nodes a YAML document may expand to, aliases followed; configs have a few hundred.
    static let maxYAMLNodes = 100_000

    /// Refuses `text` when it is larger than `maxYAMLBytes` or expands to more than `maxYAMLNodes`
    /// nodes with its aliases followed; `source` names it in the error. Syntax errors are left to Yams.
    static func checkYAMLBounds(_ text: String, source: String) throws {
        let bytes = text.utf8.count
        if bytes > maxYAMLBytes {
            throw TrainingError("\(source)", "the YAML text is \(bytes) bytes, more than a config may be (\(maxYAMLBytes)); pass the config file, not data")
        }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw TrainingError("\(source)", "cannot start the YAML parser (out of memory)") }
        defer { yaml_parser_delete(&parser) }
        let utf8 = Array(text.utf8)
        try utf8.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var counter = YAMLNodeCounter(limit: maxYAMLNodes)
            while true {
                var event = yaml_event_t()
                // A syntax error: Yams reports it with its line and column.
                guard yaml_parser_parse(&parser, &event) == 1 else { return }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { return }
                if counter.add(event) { continue }
                throw TrainingError("\(source)", "the YAML expands to more than \(maxYAMLNodes) values once its \(counter.aliases) aliases (*name) are followed (an alias bomb?); a config has a few hundred: write the values out or use fewer aliases")
            }
        }
    }
}

/// Node counts of a libyaml event stream with aliases expanded: each open collection's running size
/// and the expanded size of every anchor defined so far.
struct YAMLNodeCounter {
    let limit: Int
    private var open: [(size: Int, anchor: String?)] = []
    private var anchors: [String: Int] = [:]
    private var total = 0
    /// Aliases seen so far.
    private(set) var aliases = 0

    init(limit: Int) { self.limit = limit }

    /// Counts one event; false once the document has grown past `limit`.
    mutating func add(_ event: yaml_event_t) -> Bool {
        switch event.type {
        case YAML_SCALAR_EVENT:
            return finish(size: 1, anchor: Self.name(event.data.scalar.anchor))
        case YAML_ALIAS_EVENT:
            aliases += 1
            // An undefined alias counts as one node; Yams rejects it with its position.
            return finish(size: Self.name(event.data.alias.anchor).flatMap { anchors[$0] } ?? 1, anchor: nil)
        case YAML_SEQUENCE_START_EVENT:
            open.append((1, Self.name(event.data.sequence_start.anchor)))
            return true
        case YAML_MAPPING_START_EVENT:
            open.append((1, Self.name(event.data.mapping_start.anchor)))
            return true
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let done = open.popLast() else { return true }
            return finish(size: done.size, anchor: done.anchor)
        default:
            return true
        }
    }

    /// Adds a completed node of `size` to its parent (or the document total) and records its anchor.
    private mutating func finish(size: Int, anchor: String?) -> Bool {
        if let a = anchor { anchors[a] = size }
        if open.isEmpty {
            total = min(total + size, limit + 1)
            return total <= limit
        }
        open[open.count - 1].size = min(open[open.count - 1].size + size, limit + 1)
        return open[open.count - 1].size <= limit
    }

    private static func name(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        p.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
    }
}
