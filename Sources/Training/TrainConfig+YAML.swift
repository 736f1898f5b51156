// Resolving a TrainConfig: defaults ← YAML file ← `--set a.b.c=v` overrides ← CLI flags.
//
// Every layer is a tree of YAML values (maps with snake_case keys). Each key is checked against the
// defaults' tree before anything runs: an unknown key names its level and lists the valid keys.
// `model.options` and `loss` are free-form maps (validated by the model and loss parsers).

import Foundation
import Yams
import Engine
import Dist

extension TrainConfig {
    /// The resolved configuration and its YAML text (what `--dry-run` prints and checkpoints store).
    public struct Resolved: Sendable {
        public var config: TrainConfig
        public var yaml: String
    }

    /// Paths whose children are free-form.
    static let freeForm: Set<String> = ["model.options", "loss"]

    /// Resolves defaults, then `yaml` (file contents; `source` names it in errors), then each
    /// `key=value` of `sets`, then `flags` (dotted key → YAML value), validating as it goes.
    public static func resolve(yaml: String? = nil, source: String = "config", sets: [String] = [],
                               flags: [(String, Any)] = []) throws -> Resolved {
        let tree = try resolvedTree(yaml: yaml, source: source, sets: sets, flags: flags)
        let config = try decode(tree)
        try config.validate()
        return Resolved(config: config, yaml: try Yams.serialize(node: typedNode(tree, quotingStrings: true)))
    }

    /// The merged and checked tree of `resolve`, before decoding.
    static func resolvedTree(yaml: String?, source: String, sets: [String], flags: [(String, Any)]) throws -> Any {
        var tree = try defaultTree()
        if let text = yaml {
            let loaded: Any?
            do { loaded = try yamlTree(text, source: source) } catch let e as TrainingError { throw e } catch {
                throw TrainingError("\(source)", "not valid YAML (\(error)); fix the syntax")
            }
            if let l = loaded {
                guard l is [String: Any] else { throw TrainingError("\(source)", "the top level must be a map of sections") }
                tree = try merge(tree, l, path: "", source: source)
            }
        }
        for s in sets {
            guard let eq = s.firstIndex(of: "="), eq != s.startIndex else {
                throw TrainingError("--set '\(s)'", "expected key=value, e.g. --set train.epochs=3")
            }
            let key = String(s[..<eq]), raw = String(s[s.index(after: eq)...])
            tree = try set(tree, key: key, raw: raw, source: "--set \(key)")
        }
        for (key, value) in flags {
            tree = try set(tree, key: key, value: value, source: "flag for \(key)")
        }
        return tree
    }

    /// Reads a YAML file and resolves it (see `resolve`).
    public static func load(path: String?, sets: [String] = [], flags: [(String, Any)] = []) throws -> Resolved {
        var text: String? = nil
        if let p = path {
            if let size = (try? FileManager.default.attributesOfItem(atPath: p))?[.size] as? Int, size > maxYAMLBytes {
                throw TrainingError("\(p)", "the config file is \(size) bytes, more than a config may be (\(maxYAMLBytes)); pass the YAML config, not data")
            }
            guard let data = FileManager.default.contents(atPath: p), let t = String(data: data, encoding: .utf8) else {
                throw TrainingError("\(p)", "cannot read the config file; check the path")
            }
            text = t
        }
        return try resolve(yaml: text, source: path ?? "config", sets: sets, flags: flags)
    }

    /// Parses the YAML stored in a checkpoint's metadata back into a config.
    public static func fromStoredYAML(_ text: String, source: String) throws -> TrainConfig {
        let config = try decode(try resolvedTree(yaml: text, source: source, sets: [], flags: []))
        try config.validate()
        return config
    }

    /// The defaults as a snake_case tree.
    static func defaultTree() throws -> Any {
        try defaults.get()
    }

    // `TrainConfig()` and `ValSet()` are constants, so their trees are built once (encoding them through
    // YAML text took most of a `resolve` call). Immutable after initialisation: a tree of value types
    // (maps, lists, scalars) is safe to read from any thread.
    nonisolated(unsafe) private static let defaults = Result<Any, Error> { try tree(of: TrainConfig()) }
    nonisolated(unsafe) private static let valSetDefaults = Result<Any, Error> { try tree(of: ValSet()) }

    static func tree<T: Encodable>(of value: T) throws -> Any {
        let text = try YAMLEncoder().encode(value)
        return convertKeys(try Yams.load(yaml: text) ?? [String: Any](), toSnake: true, path: "")
    }

    /// Decodes a resolved tree; `viaYAML` forces the Yams path (the tests compare both).
    static func decode(_ tree: Any, viaYAML: Bool = false) throws -> TrainConfig {
        let camel = convertKeys(tree, toSnake: false, path: "")
        do {
            // `merge` has given every scalar its default's type, so JSON carries the tree exactly; JSONDecoder
            // is several times faster than YAMLDecoder. JSON has no non-finite numbers: such a tree (which
            // `validate` then rejects with the key's name) goes through Yams.
            if !viaYAML && isFinite(camel) {
                return try JSONDecoder().decode(TrainConfig.self, from: try JSONSerialization.data(withJSONObject: camel))
            }
            return try YAMLDecoder().decode(TrainConfig.self, from: try typedNode(camel))
        } catch let e as DecodingError {
            throw TrainingError("config", "\(describe(e))")
        }
    }

    /// True when no number in the tree is NaN or infinite.
    static func isFinite(_ value: Any) -> Bool {
        switch value {
        case let m as [String: Any]: return m.values.allSatisfy(isFinite)
        case let l as [Any]: return l.allSatisfy(isFinite)
        case let d as Double: return d.isFinite
        default: return true
        }
    }

    /// The tree as a Yams node with explicit tags and sorted keys. Decoded directly (no per-scalar tag
    /// resolution) or, with `quotingStrings` (strings that would read back as another type are quoted),
    /// serialised as the stored YAML. Doubles are written in their shortest exact form: Yams' own
    /// representation keeps 15 digits, so a stored config could resolve to another one (config fuzzer).
    static func typedNode(_ value: Any, quotingStrings: Bool = false) throws -> Node {
        switch value {
        case let m as [String: Any]:
            return Node(try m.sorted { $0.key < $1.key }.map {
                (quotingStrings ? Node.scalar($0.key.represented()) : Node($0.key, Tag(.str)), try typedNode($0.value, quotingStrings: quotingStrings))
            }, Tag(.map))
        case let l as [Any]:
            return Node(try l.map { try typedNode($0, quotingStrings: quotingStrings) }, Tag(.seq))
        case let b as Bool:
            return Node(b ? "true" : "false", Tag(.bool))
        case let i as Int:
            return Node(String(i), Tag(.int))
        case let d as Double:
            // Yams' spelling of the non-finite values; `validate` rejects them with the key's name.
            let text = d.isNaN ? ".nan" : d.isInfinite ? (d < 0 ? "-.inf" : ".inf") : "\(d)"
            return Node(text, Tag(.float))
        case let s as String:
            return quotingStrings ? Node.scalar(s.represented()) : Node(s, Tag(.str))
        default:
            throw TrainingError("config", "the value '\(value)' is not a YAML scalar, list or map; write a number, string, true/false, list or map")
        }
    }

    static func describe(_ e: DecodingError) -> String {
        func path(_ c: [CodingKey]) -> String { c.map { $0.intValue.map(String.init) ?? snake($0.stringValue) }.joined(separator: ".") }
        switch e {
        case .typeMismatch(let t, let c): return "\(path(c.codingPath)): expected a value of type \(t) (\(c.debugDescription))"
        case .valueNotFound(let t, let c): return "\(path(c.codingPath)): missing value of type \(t)"
        case .keyNotFound(let k, let c): return "\(path(c.codingPath)): missing key \(snake(k.stringValue))"
        case .dataCorrupted(let c):
            let where_ = path(c.codingPath)
            return (where_.isEmpty ? "" : where_ + ": ") + (c.underlyingError.map { "\($0)" } ?? c.debugDescription)
        @unknown default: return "\(e)"
        }
    }

    /// Merges `over` onto `base`, rejecting keys `base` does not have (outside free-form maps).
    static func merge(_ base: Any, _ over: Any, path: String, source: String) throws -> Any {
        if freeForm.contains(path) {
            guard let m = over as? [String: Any] else { throw TrainingError("\(source)", "\(path) must be a map") }
            var out = base as? [String: Any] ?? [:]
            for (k, v) in m {
                if path == "loss" {
                    if LossKind(rawValue: k) == nil {
                        throw TrainingError(source, "loss.\(k): invalid loss name '\(k)'; valid values: \(names(LossKind.self))")
                    }
                    guard let d = (v as? Double) ?? (v as? Int).map(Double.init) else {
                        throw TrainingError("\(source)", "loss.\(k) must be a number (the loss weight), got '\(v)'")
                    }
                    out[k] = d
                } else {
                    out[k] = "\(v)"
                }
            }
            return out
        }
        if let b = base as? [String: Any] {
            guard let o = over as? [String: Any] else {
                throw TrainingError("\(source)", "\(path.isEmpty ? "top level" : path) must be a map with keys: \(b.keys.sorted().joined(separator: ", "))")
            }
            var out = b
            for (k, v) in o {
                let p = path.isEmpty ? k : "\(path).\(k)"
                guard let bv = b[k] else {
                    throw TrainingError("\(source)", "unknown key '\(p)'; valid keys\(path.isEmpty ? "" : " under \(path)"): \(b.keys.sorted().joined(separator: ", "))")
                }
                out[k] = try merge(bv, v, path: p, source: source)
            }
            return out
        }
        if path == "data.val" {
            guard let list = over as? [Any] else { throw TrainingError("\(source)", "data.val must be a list of {name, labels, data_root}") }
            let item = try valSetDefaults.get()
            return try list.enumerated().map { try merge(item, $0.element, path: "data.val[\($0.offset)]", source: source) }
        }
        if let b = base as? [Any] {
            guard let l = over as? [Any] else { throw TrainingError("\(source)", "\(path) must be a list") }
            // Items take the type of the default's items (a list of numbers or of names).
            guard let first = b.first else { return l }
            return try l.enumerated().map { try merge(first, $0.element, path: "\(path)[\($0.offset)]", source: source) }
        }
        if over is [String: Any] || over is [Any] { throw TrainingError("\(source)", "\(path) must be a single value, not a map or list") }
        if path == "train.micro_batch" { return try microBatchValue(over, source: source) }
        if base is String {
            let name = "\(over)"
            if let valid = choices[path], !valid.contains(name) {
                throw TrainingError(source, "\(path): invalid value '\(name)'; valid values: \(valid.joined(separator: ", "))")
            }
            return name
        }
        if base is Bool {
            guard let b = over as? Bool else { throw TrainingError("\(source)", "\(path) must be true or false, got '\(over)'") }
            return b
        }
        if base is Int {
            guard let i = over as? Int else { throw TrainingError("\(source)", "\(path) must be an integer, got '\(over)'") }
            return i
        }
        if base is Double {
            if let d = over as? Double { return d }
            if let i = over as? Int { return Double(i) }
            throw TrainingError("\(source)", "\(path) must be a number, got '\(over)'")
        }
        return over
    }

    /// Sets dotted `key` to the YAML scalar/list `raw` (strings stay strings where the default is one).
    static func set(_ tree: Any, key: String, raw: String, source: String) throws -> Any {
        let parsed: Any = (try? yamlTree(raw, source: source)).flatMap { $0 } ?? raw
        return try set(tree, key: key, value: parsed, rawString: raw, source: source)
    }

    static func set(_ tree: Any, key: String, value: Any, rawString: String? = nil, source: String) throws -> Any {
        var nested: Any = value
        let parts = key.split(separator: ".").map(String.init)
        if parts.isEmpty { throw TrainingError("\(source)", "empty key") }
        // Find the default at the key to keep strings as typed.
        var cursor: Any? = tree
        for p in parts { cursor = (cursor as? [String: Any])?[p] }
        if cursor is String, let r = rawString { nested = r }
        for p in parts.reversed() { nested = [p: nested] }
        return try merge(tree, nested, path: "", source: source)
    }

    static func snake(_ s: String) -> String {
        var out = ""
        for ch in s {
            if ch.isUppercase { out += "_" + ch.lowercased() } else { out.append(ch) }
        }
        return out
    }

    static func camel(_ s: String) -> String {
        let parts = s.split(separator: "_", omittingEmptySubsequences: false)
        guard let first = parts.first else { return s }
        return String(first) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// Renames map keys between the Swift (camelCase) and YAML (snake_case) forms, except in free-form maps.
    static func convertKeys(_ value: Any, toSnake: Bool, path: String) -> Any {
        if freeForm.contains(path) { return value }
        if let m = value as? [String: Any] {
            var out: [String: Any] = [:]
            for (k, v) in m {
                let yamlKey = toSnake ? snake(k) : k
                let p = path.isEmpty ? yamlKey : "\(path).\(yamlKey)"
                out[toSnake ? snake(k) : camel(k)] = convertKeys(v, toSnake: toSnake, path: p)
            }
            return out
        }
        if let l = value as? [Any] { return l.map { convertKeys($0, toSnake: toSnake, path: path + "[]") } }
        return value
    }
}
