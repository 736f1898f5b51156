// swift-tools-version:6.0
import PackageDescription
import Foundation

// Engine's numeric kernels are compiled for x86-64-v3 (AVX2, FMA, BMI2: x86-64 CPUs since 2013-2015)
// on x86-64 hosts: its SIMD loops run twice as wide as on the x86-64 baseline (SSE2). Set
// VQA_MPI_BASELINE_CPU=1 when building for an older CPU.
let engineSettings: [SwiftSetting] = {
    #if arch(x86_64)
    if ProcessInfo.processInfo.environment["VQA_MPI_BASELINE_CPU"] == nil {
        return [.unsafeFlags(["-Xcc", "-march=x86-64-v3"])]
    }
    #endif
    return []
}()

let package = Package(
    name: "vqa-mpi",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vqa-mpi", targets: ["vqa-mpi"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Media", targets: ["Media"]),
        .library(name: "Dist", targets: ["Dist"]),
        .library(name: "Synth", targets: ["Synth"]),
        .library(name: "Reports", targets: ["Reports"]),
        .library(name: "Training", targets: ["Training"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // C modules: system libraries via pkg-config, plus shims for macros Swift cannot import.
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "CMPIShim", dependencies: ["CMPI"], path: "Sources/CMPIShim"),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CFFmpeg", path: "Sources/CFFmpeg",
                       pkgConfig: "libavformat libavcodec libavutil libswscale",
                       providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "libswscale-dev"])]),
        .target(name: "CFFmpegShim", dependencies: ["CFFmpeg"], path: "Sources/CFFmpegShim"),

        // Swift modules. Arrows point down only:
        //   vqa-mpi -> Training -> {Dist, Reports} -> {Engine, Media} -> C modules;  Synth -> Media.
        .target(name: "Engine", dependencies: ["COpenBLAS"], path: "Sources/Engine", swiftSettings: engineSettings),
        .target(name: "Media", dependencies: ["CFFmpeg", "CFFmpegShim"], path: "Sources/Media"),
        .target(name: "Synth", dependencies: ["Media", "CFFmpeg", "CFFmpegShim"], path: "Sources/Synth"),
        .target(name: "Dist", dependencies: ["Engine", "Media", "CMPI", "CMPIShim"], path: "Sources/Dist"),
        .target(name: "Reports", dependencies: [], path: "Sources/Reports"),
        .target(name: "Training", dependencies: ["Dist", "Reports", "Engine", "Media", .product(name: "Yams", package: "Yams")],
                path: "Sources/Training"),
        .executableTarget(name: "vqa-mpi",
                          dependencies: ["Training", "Dist", "Reports", "Synth", "Engine", "Media",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                         .product(name: "Yams", package: "Yams")],
                          path: "Sources/vqa-mpi"),

        // Tests: one target per module, each depending on the module it tests (and what it needs to
        // build that module's inputs), plus TestSupport (process runner, binary and tool lookup,
        // the mpirun command line, temporary directories), which only test targets use.
        .target(name: "TestSupport", dependencies: [], path: "Tests/TestSupport"),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "TestSupport"], path: "Tests/EngineTests",
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "MediaTests", dependencies: ["Media", "TestSupport"], path: "Tests/MediaTests"),
        .testTarget(name: "SynthTests", dependencies: ["Synth", "Media", "TestSupport"], path: "Tests/SynthTests"),
        .testTarget(name: "DistTests", dependencies: ["Dist", "Engine", "TestSupport"], path: "Tests/DistTests"),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Dist", "Engine", "Media", "Synth", "TestSupport",
                                                         .product(name: "Yams", package: "Yams")], path: "Tests/TrainingTests"),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "TestSupport"], path: "Tests/ReportsTests"),
        .testTarget(name: "CLITests", dependencies: ["TestSupport", .product(name: "Yams", package: "Yams")], path: "Tests/CLITests"),
    ]
)
