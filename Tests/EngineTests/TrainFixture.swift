// Loads Fixtures/train_fixture.json (PyTorch answers written by scripts/reference/train_fixture.py).

import Foundation
import XCTest

/// The parsed PyTorch fixture for losses and optimizers.
func loadTrainFixture() throws -> [String: Any] {
    let url = try XCTUnwrap(Bundle.module.url(forResource: "train_fixture", withExtension: "json", subdirectory: "Fixtures"),
                            "run scripts/reference/train_fixture.py (needs torch) to create the fixture")
    return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
}
