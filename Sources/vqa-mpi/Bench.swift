// `vqa-mpi bench ...`: speed figures as JSON, each with its raw baseline measured in the same run.

import ArgumentParser

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure speed against raw baselines (sgemm, ffmpeg decode, MPI_Allreduce).",
        subcommands: [BenchSgemm.self, BenchConv.self, BenchDecode.self, BenchAllreduce.self, BenchStep.self, BenchEngine.self]
    )
}
