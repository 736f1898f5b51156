import XCTest
@testable import Dist
@testable import Training

final class TrainConfigFiniteTests: XCTestCase {
    /// NaN and infinite reals are rejected before any work, naming the key (found by reading the
    /// config fuzzer's harness: a bare `< 0` test lets NaN through).
    func testNonFiniteRealsAreRejectedNamingTheKey() throws {
        let cases = [("optimizer: {lr: .nan}", "optimizer.lr"),
                     ("regularization: {kind: awp, awp: {gamma: .inf}}", "regularization.awp.gamma"),
                     ("loss: {plcc: 1, rank: -0.3}", "loss.rank"),
                     ("optimizer: {betas: [0.9, 1.5]}", "optimizer.betas")]
        for (yaml, key) in cases {
            XCTAssertThrowsError(try TrainConfig.resolve(yaml: yaml, source: "t.yaml"), yaml) { error in
                XCTAssertTrue("\(error)".contains(key), "\(yaml): \(error)")
            }
        }
        XCTAssertNoThrow(try TrainConfig.resolve(yaml: "optimizer: {lr: 0.002}", source: "t.yaml"))
    }
}
