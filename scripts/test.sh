#!/usr/bin/env bash
# Runs the whole test suite: system set-up if needed, release build, XCTest (release, with
# @testable), and the Python-side checks. Usage: scripts/test.sh [swift test --filter args...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# No Open MPI settings are exported here: the tests' one mpirun command line (Tests/TestSupport,
# MPIRun) carries them, and every spawned program starts without inherited OMPI_*/PMIX_*/SLURM_*.
# Numeric code is 10-100x slower in debug: build and test in release with @testable imports.
swift build -c release -Xswiftc -enable-testing
swift build -c release -Xswiftc -enable-testing --build-tests
export VQA_MPI_BIN="$PWD/.build/release/vqa-mpi"
swift test -c release -Xswiftc -enable-testing --skip-build --disable-swift-testing "$@"
# Fuzz the input parsers briefly (labels, config, safetensors; 10 s each on the committed seed
# corpus). scripts/fuzz.sh prints a "skipped" line where the toolchain has no libFuzzer.
if [ $# -eq 0 ]; then bash scripts/fuzz.sh --time 10; fi
