// swift-tools-version:6.0
// libFuzzer targets for the input parsers of vqa-mpi (issue #8). Build and run with
// scripts/fuzz.sh; every target must be compiled with `-sanitize=fuzzer` (which links libFuzzer) and
// `-parse-as-library` (each target's @main runs libFuzzer's driver).
import PackageDescription

let package = Package(
    name: "vqa-mpi-fuzz",
    dependencies: [.package(path: "vqa-mpi")],
    targets: [
        .target(name: "CFuzzDriver", path: "Sources/CFuzzDriver"),
        // Label files (FAST-VQA lists and CSV with a header) and the splits built from them.
        .executableTarget(name: "fuzz-labels", dependencies: ["CFuzzDriver", .product(name: "Media", package: "vqa-mpi")],
                          path: "Sources/fuzz-labels"),
        // Training configs: YAML text plus `--set key=value` overrides.
        .executableTarget(name: "fuzz-config", dependencies: ["CFuzzDriver", .product(name: "Training", package: "vqa-mpi"),
                                                                   .product(name: "Dist", package: "vqa-mpi")],
                          path: "Sources/fuzz-config"),
        // safetensors bytes, then the checkpoint metadata/checksum checks.
        .executableTarget(name: "fuzz-safetensors", dependencies: ["CFuzzDriver", .product(name: "Engine", package: "vqa-mpi"),
                                                                   .product(name: "Training", package: "vqa-mpi"),
                                                                   .product(name: "Dist", package: "vqa-mpi")],
                          path: "Sources/fuzz-safetensors"),
    ]
)
