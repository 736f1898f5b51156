// libFuzzer target: safetensors bytes → SafetensorsFile.parse → checkpoint checks.
//
// SafetensorsError is the expected outcome for bad input; anything else is a crash. Properties
// checked on success: re-serialising the parsed file and parsing again gives the same file, and
// re-serialising that gives the same bytes (the writer's layout is canonical); every tensor's
// data has shape × dtype bytes and its typed accessors work; the checkpoint verification
// (format tag, checksum, metadata fields) and the finite-weights check either accept the file or
// throw a TrainingError; the verification accepts it once sealed (format tag set, checksum recomputed)
// and rejects it again once any metadata entry changes.

import CFuzzDriver
import Foundation
import Training
import Dist
import Engine

@main
enum FuzzSafetensors {
    static func main() {
        exit(fuzz_run(CommandLine.argc, CommandLine.unsafeArgv) { data, size in fuzzSafetensors(data, size) })
    }
}

/// One libFuzzer input: 0 whatever the outcome; a broken property traps.
func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let file: SafetensorsFile
    do {
        file = try SafetensorsFile.parse(bytes, path: "fuzz.safetensors")
    } catch is SafetensorsError {
        return 0
    } catch {
        fatalError("SafetensorsFile.parse threw a non-SafetensorsError: \(error)")
    }
    for (name, t) in file.tensors {
        precondition(name != "__metadata__" && t.shape.allSatisfy { $0 >= 0 } && t.count * t.dtype.size == t.data.count,
                     "tensor \(name) is inconsistent")
        switch t.dtype {
        case .F32: precondition((try? t.floats())?.count == t.count, "floats() of \(name)")
        case .F64: precondition((try? t.doubles())?.count == t.count, "doubles() of \(name)")
        case .I64: precondition((try? t.int64s())?.count == t.count, "int64s() of \(name)")
        default: precondition((try? t.floats()) == nil, "floats() of a \(t.dtype) tensor")
        }
    }
    let out = file.serialized()
    do {
        let again = try SafetensorsFile.parse(out, path: "reserialized")
        precondition(again == file, "re-serialised file parses to another file")
        precondition(again.serialized() == out, "serialisation is not canonical")
    } catch {
        fatalError("re-serialised file does not parse: \(error)")
    }
    do { _ = try Checkpoint.info(of: file, path: "fuzz.safetensors") } catch is TrainingError {} catch {
        fatalError("Checkpoint.info threw a non-TrainingError: \(error)")
    }
    do { try Checkpoint.checkFinite(file, path: "fuzz.safetensors") } catch is TrainingError {} catch {
        fatalError("Checkpoint.checkFinite threw a non-TrainingError: \(error)")
    }
    let fixed = Checkpoint.sealed(file)
    do { _ = try Checkpoint.info(of: fixed, path: "fixed.safetensors") } catch {
        fatalError("Checkpoint.info rejects a file with the right format and checksum: \(error)")
    }
    // The checksum covers the metadata: changing any entry but the checksum itself is caught.
    if let key = fixed.metadata.keys.sorted().first(where: { $0 != "checksum" }) {
        var changed = fixed
        changed.metadata[key] = fixed.metadata[key]! + "x"
        precondition((try? Checkpoint.info(of: changed, path: "changed.safetensors")) == nil,
                     "a changed metadata entry '\(key)' passes the checksum")
    }
    return 0
}
