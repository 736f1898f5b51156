// simplevqa construction facts: parameter counts against torchvision's ResNets, FLOPs against the
// published ResNet-50 figure, options and the registry.

import XCTest
@testable import Engine

final class SimpleVQATests: XCTestCase {
    /// Trainable parameters (everything but the frozen BN statistics).
    func trainable(_ m: SimpleVQA) -> Int {
        m.parameters.infos.filter { $0.group != OptimizerConfig.frozenGroup }.reduce(0) { $0 + $1.count }
    }

    func testParameterCountsMatchTorchvisionResNets() throws {
        // torchvision resnet50: 25,557,032 parameters incl. fc 2048·1000 + 1000; resnet18: 11,689,512 incl. fc 512·1000 + 1000.
        let r50 = try SimpleVQA(seed: 1)
        let head50 = 7168 * 128 + 128 + 128 + 1
        XCTAssertEqual(r50.config.spatialDim, 7168)
        XCTAssertEqual(trainable(r50), 25_557_032 - 2_049_000 + head50)
        XCTAssertEqual(r50.parameters.parameterCount - trainable(r50), 2 * 26_560, "running mean + var of every BN channel")
        let r18 = try SimpleVQA(config: .init(options: ["depth": "18", "pool_stages": "1,2,3,4", "motion_dim": "2304"]), seed: 1)
        XCTAssertEqual(r18.config.spatialDim, 2 * (64 + 128 + 256 + 512))
        XCTAssertEqual(trainable(r18), 11_689_512 - 513_000 + (1920 + 2304) * 128 + 128 + 128 + 1)
        XCTAssertEqual(r50.headParameters.map { r50.parameters.infos[$0].name },
                       ["quality.0.weight", "quality.0.bias", "quality.1.weight", "quality.1.bias"])
        XCTAssertNil(r50.parameters.index(of: "layer4.2.downsample.0.weight"), "only the first block of a stage downsamples")
        XCTAssertNotNil(r50.parameters.index(of: "layer4.0.downsample.1.running_var"))
        XCTAssertNotNil(r50.parameters.index(of: "layer3.5.bn3.weight"))
    }

    func testForwardFlopsMatchThePublishedResNet50Figure() throws {
        // torchvision lists ResNet-50 at 4.09 GMACs for 224² (convs; fc adds 0.002).
        let m = try SimpleVQA(seed: 1)
        let convs = m.forwardFlops(frames: 1, height: 224, width: 224) - 2 * (7168 * 128 + 128)
        XCTAssertEqual(convs / 2e9, 4.09, accuracy: 0.02)
        XCTAssertEqual(m.forwardFlops(frames: 8, height: 448, width: 448) / m.forwardFlops(frames: 1, height: 224, width: 224), 32, accuracy: 0.1)
    }

    func testOptionsAndRegistry() throws {
        XCTAssertEqual(try ModelKind.parse("simplevqa"), .simpleVQA)
        XCTAssertEqual(try ModelKind.simpleVQA.make(seed: 1, options: ["depth": "18"]).name, "simplevqa")
        XCTAssertThrowsError(try SimpleVQA.Config(options: ["depth": "20"])) { XCTAssert("\($0)".contains("valid depths: 18, 34, 50, 101, 152")) }
        XCTAssertThrowsError(try SimpleVQA.Config(options: ["layers": "3"])) { XCTAssert("\($0)".contains("valid options: depth, width")) }
        XCTAssertThrowsError(try SimpleVQA.Config(options: ["pool_stages": "0,5"])) { XCTAssert("\($0)".contains("pool_stages")) }
        XCTAssertEqual(try SimpleVQA.Config(options: ["pool_stages": "4,2,2"]).poolStages, [2, 4])
    }
}
