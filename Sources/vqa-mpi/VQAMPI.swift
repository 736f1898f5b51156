// The root command: it only lists the subcommands.

import ArgumentParser
import Synth

@main
struct VQAMPI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vqa-mpi",
        abstract: "Train and evaluate video quality assessment models data-parallel over MPI, with AWP.",
        subcommands: [Train.self, Eval.self, Score.self, SynthCommand.self, CheckDataset.self, LandscapeCommand.self, ReportCommand.self, StudyTableCommand.self, Bench.self]
    )
}
