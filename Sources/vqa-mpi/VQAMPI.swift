// The root command: it only lists the subcommands (and answers --version, VersionInfo).

import ArgumentParser
import Foundation
import Synth

@main
struct VQAMPI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vqa-mpi",
        abstract: "Train and evaluate video quality assessment models data-parallel over MPI, with AWP.",
        discussion: "vqa-mpi --version prints the version, the git commit and the linked OpenMPI, OpenBLAS and FFmpeg versions.",
        subcommands: [Train.self, Eval.self, Score.self, SynthCommand.self, CheckDataset.self, SplitCommand.self, LandscapeCommand.self, ReportCommand.self, StudyTableCommand.self, Bench.self]
    )

    /// `vqa-mpi --version` before argument parsing (the version text asks the linked libraries,
    /// which no other command should pay for); everything else goes to ArgumentParser.
    static func main() {
        if CommandLine.arguments.dropFirst().elementsEqual(["--version"]) {
            print(VersionInfo.text())
            Self.exit(withError: nil)
        }
        main(nil)
    }
}
