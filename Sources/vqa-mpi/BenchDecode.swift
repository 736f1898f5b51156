// `vqa-mpi bench decode`: our decode loop (all frames, without and with RGB24 conversion) against
// the installed ffmpeg CLI decoding the same file to the null muxer, in the same run.

import ArgumentParser
import Engine
import Foundation
import Media

struct BenchDecode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode and sampling speed (frames/s) against `ffmpeg -threads N -i FILE -f null -`.",
        discussion: """
        decode_fps: frames decoded per second (all frames, no RGB); rgb_fps: the same with RGB24 \
        conversion of every frame; ffmpeg_fps: the ffmpeg CLI decoding the file to the null muxer. \
        sample_fps_train / sample_fps_test: source frames the decoder produced per second while \
        writing FAST-VQA-B fragment samples (train: 1 clip of 32 frames at interval 2; test: 4 clips), \
        each sample from a freshly opened file as the loader does, i.e. decoded frames (including \
        the ones decoded only to reach a needed frame) divided by the wall time of open + decode + \
        sampling. clip_fps_*: clip frames written per second (clips·32 per sample). \
        sample_ratio_* = sample_fps_* / ffmpeg_fps. Every figure is the best of --repeats runs.
        """
    )

    @Option(help: "Video file to decode.") var input: String
    @Option(help: "Decoder threads (ours and ffmpeg's).") var threads = 1
    @Option(help: "Runs per measurement; the best is reported.") var repeats = 3
    @Option(name: .customLong("train-samples"), help: "Training samples (different random clips) per sampling run.")
    var trainSamples = 8
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        if threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        if trainSamples < 1 { throw ValidationError("--train-samples must be at least 1, got \(trainSamples)") }
        if repeats < 1 { throw ValidationError("--repeats must be at least 1, got \(repeats)") }
    }

    func run() throws {
        // Measurements are interleaved (ours, ours+RGB, ffmpeg, repeat) so that all three see the
        // same machine load; each reports its best run. Wall time is the headline (ffmpeg's rtime);
        // CPU time (user+sys) is reported too, as it is steadier on a shared machine.
        var frames = 0
        var decode = Timing(), rgb = Timing(), ffmpeg = Timing()
        var train = SampleRun(), test = SampleRun()
        let sampler = try FragmentSampler(config: .fastVQAB)
        let trainShape = sampler.shape(train: true), testShape = sampler.shape(train: false)
        var out = [Float](repeating: 0, count: max(trainShape.floatsPerSample, testShape.floatsPerSample))
        for _ in 0..<repeats {
            try out.withUnsafeMutableBufferPointer { buf in
                train.keepBest(try sampleRun(sampler, train: true, samples: trainSamples, into: buf.baseAddress!))
                test.keepBest(try sampleRun(sampler, train: false, samples: 1, into: buf.baseAddress!))
            }
            for toRGB in [false, true] {
                let dec = try VideoDecoder(path: input, threads: threads)
                let (t0, c0) = (Clock.now(), cpuSeconds())
                frames = try dec.decodeAll(toRGB: toRGB)
                let t = Timing(wall: Clock.now() - t0, cpu: cpuSeconds() - c0)
                if toRGB { rgb.keepBest(t) } else { decode.keepBest(t) }
            }
            ffmpeg.keepBest(try ffmpegRun())
        }
        let n = Double(frames)
        let info = try probe(path: input)
        let ffFPS = n / ffmpeg.wall
        if json {
            let obj: [String: Any] = [
                "sample_fps_train": train.fps, "sample_fps_test": test.fps,
                "clip_fps_train": train.clipFPS, "clip_fps_test": test.clipFPS,
                "sample_ratio_train": train.fps / ffFPS, "sample_ratio_test": test.fps / ffFPS,
                "train_samples": trainSamples,
                "decode_fps": n / decode.wall, "rgb_fps": n / rgb.wall, "ffmpeg_fps": n / ffmpeg.wall,
                "ratio": ffmpeg.wall / decode.wall, "rgb_ratio": ffmpeg.wall / rgb.wall,
                "decode_cpu_fps": n / decode.cpu, "rgb_cpu_fps": n / rgb.cpu, "ffmpeg_cpu_fps": n / ffmpeg.cpu,
                "cpu_ratio": ffmpeg.cpu / decode.cpu,
                "frames": frames, "threads": threads, "repeats": repeats, "input": input,
                "width": info.width, "height": info.height, "codec": info.codec,
            ]
            let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("\(input): \(info.width)x\(info.height) \(info.codec), \(frames) frames, \(threads) thread(s), best of \(repeats)")
            print(String(format: "wall: decode %.0f fps, decode+RGB24 %.0f fps, ffmpeg CLI %.0f fps, ratio %.3f (RGB %.3f)",
                         n / decode.wall, n / rgb.wall, n / ffmpeg.wall, ffmpeg.wall / decode.wall, ffmpeg.wall / rgb.wall))
            print(String(format: "cpu:  decode %.0f fps, decode+RGB24 %.0f fps, ffmpeg CLI %.0f fps, ratio %.3f",
                         n / decode.cpu, n / rgb.cpu, n / ffmpeg.cpu, ffmpeg.cpu / decode.cpu))
            for (name, r) in [("train", train), ("test", test)] {
                print(String(format: "sample %@: %.0f decoded frames/s (ratio to ffmpeg %.3f), %.0f clip frames/s",
                             name, r.fps, r.fps / ffFPS, r.clipFPS))
            }
        }
    }

    /// Wall and CPU seconds of one run; `keepBest` keeps the smallest of each.
    struct Timing {
        var wall = Double.infinity, cpu = Double.infinity
        mutating func keepBest(_ t: Timing) { wall = min(wall, t.wall); cpu = min(cpu, t.cpu) }
    }

    /// Decoded source frames, clip frames written and wall seconds of one sampling run.
    struct SampleRun {
        var decoded = 0, clipFrames = 0, wall = Double.infinity
        var fps: Double { Double(decoded) / wall }
        var clipFPS: Double { Double(clipFrames) / wall }
        mutating func keepBest(_ r: SampleRun) { if r.wall < wall { self = r } }
    }

    /// `samples` FAST-VQA-B samples (sample indices 0..<samples), each from a fresh decoder.
    private func sampleRun(_ sampler: FragmentSampler, train: Bool, samples: Int,
                           into: UnsafeMutablePointer<Float>) throws -> SampleRun {
        var run = SampleRun()
        let t0 = Clock.now()
        for s in 0..<samples {
            let dec = try VideoDecoder(path: input, threads: threads)
            try sampler.sample(reader: dec, sampleIndex: s, epoch: 0, seed: 0, train: train, into: into)
            run.decoded += dec.stats.framesDecoded
            let shape = sampler.shape(train: train)
            run.clipFrames += shape.clips * shape.frames
        }
        run.wall = Clock.now() - t0
        return run
    }

    /// User + system CPU seconds of this process so far.
    private func cpuSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// One `ffmpeg -benchmark -threads N -i FILE -f null -` run: its rtime and utime+stime.
    private func ffmpegRun() throws -> Timing {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ffmpeg", "-hide_banner", "-nostdin", "-benchmark", "-threads", "\(threads)",
                       "-i", input, "-an", "-f", "null", "-"]
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw ValidationError("ffmpeg failed on \(input) (status \(p.terminationStatus)); is the ffmpeg CLI installed? \(text.suffix(300))")
        }
        // "bench: utime=0.190s stime=0.010s rtime=0.201s"
        func field(_ name: String) throws -> Double {
            guard let r = text.range(of: name + "="),
                  let v = Double(text[r.upperBound...].prefix { $0.isNumber || $0 == "." }) else {
                throw ValidationError("could not find '\(name)=' in ffmpeg -benchmark output: \(text.suffix(300))")
            }
            return v
        }
        return Timing(wall: try field("rtime"), cpu: try field("utime") + field("stime"))
    }
}
