import XCTest
@testable import Media

final class AugmentTests: XCTestCase {
    func randomFrame(width: Int, height: Int, seed: UInt64) -> RGBFrame {
        var rng = MediaRNG(seed: seed, purpose: .test)
        return RGBFrame(width: width, height: height, pixels: (0..<(width * height * 3)).map { _ in UInt8(rng.nextInt(below: 256)) })
    }

    func pixel(_ f: RGBFrame, _ x: Int, _ y: Int) -> [UInt8] {
        Array(f.pixels[((y * f.width + x) * 3)..<((y * f.width + x) * 3 + 3)])
    }

    func testFlipTwiceIsIdentityAndFlipMirrorsColumns() {
        let original = randomFrame(width: 7, height: 5, seed: 1)
        var f = original
        PixelOps.flipHorizontal(&f)
        for y in 0..<5 { for x in 0..<7 { XCTAssertEqual(pixel(f, x, y), pixel(original, 6 - x, y)) } }
        PixelOps.flipHorizontal(&f)
        XCTAssertEqual(f, original)
    }

    func testOneDrawPerClipAppliesTheSameOpToEveryFrame() throws {
        var config = try AugmentConfig(names: ["hflip", "random_resized_crop", "trivial_augment"])
        config.flipProbability = 1
        var augmenter = Augmenter(config: config)
        let a = randomFrame(width: 40, height: 30, seed: 2), b = randomFrame(width: 40, height: 30, seed: 3)
        for key in 0..<20 {
            var rng = MediaRNG(seed: 9, index: key, purpose: .augment)
            let plan = augmenter.draw(width: 40, height: 30, rng: &rng)
            XCTAssertEqual(plan.steps.count, 3)
            var clip = [a, b, a, b]
            augmenter.apply(plan, to: &clip)
            XCTAssertEqual(clip[0], clip[2]); XCTAssertEqual(clip[1], clip[3])
            var single = [b]
            augmenter.apply(plan, to: &single)
            XCTAssertEqual(single[0], clip[1], "the plan must not depend on the clip it is applied to")
            var again = MediaRNG(seed: 9, index: key, purpose: .augment)
            XCTAssertEqual(augmenter.draw(width: 40, height: 30, rng: &again), plan)
        }
    }

    func testUnknownNamesAreRejectedWithTheValidList() {
        XCTAssertThrowsError(try AugmentConfig(names: ["hflip", "blur"])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("'blur'"), text)
            for name in ["hflip", "random_resized_crop", "trivial_augment"] { XCTAssertTrue(text.contains(name), text) }
        }
        XCTAssertThrowsError(try JSONDecoder().decode(AugmentConfig.self, from: Data(#"{"trivialOps": ["rotate", "zoom"]}"#.utf8))) {
            XCTAssertTrue("\($0)".contains("shear_x"))
        }
        XCTAssertEqual(try AugmentConfig(names: ["Random-Resized-Crop"]).ops, [.randomResizedCrop])
    }

    func testTrivialAugmentWideMagnitudes() {
        XCTAssertEqual(Augmenter.magnitude(.posterize, bin: 0, bins: 31), 8)
        XCTAssertEqual(Augmenter.magnitude(.posterize, bin: 30, bins: 31), 2)
        XCTAssertEqual(Augmenter.magnitude(.posterize, bin: 15, bins: 31), 5)
        XCTAssertEqual(Augmenter.magnitude(.solarize, bin: 0, bins: 31), 255)
        XCTAssertEqual(Augmenter.magnitude(.solarize, bin: 30, bins: 31), 0)
        XCTAssertEqual(Augmenter.magnitude(.rotate, bin: 30, bins: 31), 135, accuracy: 1e-12)
        XCTAssertEqual(Augmenter.magnitude(.translateX, bin: 15, bins: 31), 16, accuracy: 1e-12)
        XCTAssertEqual(Augmenter.magnitude(.brightness, bin: 30, bins: 31), 0.99, accuracy: 1e-12)
        XCTAssertTrue(Augmenter.signed(.shearY)); XCTAssertFalse(Augmenter.signed(.solarize))
    }

    func testColourOpsFollowTorchvisionUInt8Semantics() {
        var scratch: [UInt8] = []
        let base = RGBFrame(width: 2, height: 1, pixels: [100, 200, 10, 0, 130, 255])
        var f = base
        PixelOps.trivial(.brightness, magnitude: 0.5, frame: &f, scratch: &scratch)
        XCTAssertEqual(f.pixels, [150, 255, 15, 0, 195, 255])
        f = base
        PixelOps.trivial(.solarize, magnitude: 128, frame: &f, scratch: &scratch)
        XCTAssertEqual(f.pixels, [100, 55, 10, 0, 125, 0])
        f = base
        PixelOps.trivial(.posterize, magnitude: 4, frame: &f, scratch: &scratch)
        XCTAssertEqual(f.pixels, [96, 192, 0, 0, 128, 240])
        f = base
        // Saturation 0 gives grey trunc(0.2989 R + 0.587 G + 0.114 B).
        PixelOps.trivial(.saturation, magnitude: -1, frame: &f, scratch: &scratch)
        XCTAssertEqual(f.pixels, [148, 148, 148, 105, 105, 105])
        f = base
        PixelOps.trivial(.autocontrast, magnitude: 0, frame: &f, scratch: &scratch)
        XCTAssertEqual(f.pixels, [255, 255, 0, 0, 0, 255])
        // Equalize (torchvision): step = (N − count of the top level) // 255, lut[v] = (pixels below v
        // + step/2) // step. 4 levels × 100 pixels: step 1, levels → 0, 100, 200, 255 (clamped 300).
        var e = RGBFrame(width: 400, height: 1, pixels: (0..<400).flatMap { [UInt8(10 * ($0 / 100)), 7, 7] })
        PixelOps.trivial(.equalize, magnitude: 0, frame: &e, scratch: &scratch)
        XCTAssertEqual(Set(e.pixels.enumerated().filter { $0.offset % 3 == 0 }.map(\.element)), [0, 100, 200, 255])
        XCTAssertEqual(pixel(e, 150, 0)[0], 100)
        XCTAssertEqual(pixel(e, 150, 0)[1], 7, "a one-level channel is left alone")
    }

    func testGeometricOpsMoveAndFillWithZero() {
        var scratch: [UInt8] = []
        let f = randomFrame(width: 9, height: 6, seed: 4)
        var t = f
        PixelOps.trivial(.translateX, magnitude: 3.7, frame: &t, scratch: &scratch)
        for y in 0..<6 {
            for x in 0..<9 { XCTAssertEqual(pixel(t, x, y), x < 3 ? [0, 0, 0] : pixel(f, x - 3, y)) }
        }
        var r = f
        PixelOps.trivial(.rotate, magnitude: 0, frame: &r, scratch: &scratch)
        XCTAssertEqual(r, f)
        var s = f
        PixelOps.trivial(.shearY, magnitude: 0, frame: &s, scratch: &scratch)
        XCTAssertEqual(s, f)
        // 180° about the centre maps (x, y) to (w−1−x, h−1−y).
        var half = f
        PixelOps.trivial(.rotate, magnitude: 180, frame: &half, scratch: &scratch)
        for y in 0..<6 { for x in 0..<9 { XCTAssertEqual(pixel(half, x, y), pixel(f, 8 - x, 5 - y)) } }
    }

    func testRandomResizedCropStaysInsideTheFrameAndKeepsItsSize() throws {
        let config = try AugmentConfig(names: ["random_resized_crop"])
        var augmenter = Augmenter(config: config)
        for k in 0..<200 {
            var rng = MediaRNG(seed: 5, index: k, purpose: .augment)
            let r = augmenter.cropRect(width: 64, height: 48, rng: &rng)
            XCTAssertTrue(r.x >= 0 && r.y >= 0 && r.x + r.width <= 64 && r.y + r.height <= 48, "\(r)")
            let area = Double(r.width * r.height) / Double(64 * 48)
            XCTAssertTrue(area > 0.35 && area <= 1.0, "area \(area)")
        }
        var f = SyntheticReader.frame(index: 0, width: 64, height: 48, pattern: .gradient)
        augmenter.apply(.crop(PixelRect(x: 16, y: 8, width: 32, height: 24)), to: &f)
        XCTAssertEqual(f.width, 64); XCTAssertEqual(f.height, 48)
        // Upscaling a linear ramp by 2 stays linear: x = 16 + (X + 0.5)/2 − 0.5, rounded.
        XCTAssertEqual(pixel(f, 20, 10)[0], UInt8((16 + 10.25 - 0.5).rounded()))
        XCTAssertEqual(pixel(f, 20, 10)[1], UInt8((8 + 5.25 - 0.5).rounded()))
    }
}
