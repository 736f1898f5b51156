#!/usr/bin/env bash
# Runs the whole test suite: system set-up if needed, release build, XCTest (release, with
# @testable), and the Python-side checks. Usage: scripts/test.sh [swift test --filter args...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl="self,vader" OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_rmaps_base_oversubscribe=1
# Numeric code is 10-100x slower in debug: build and test in release with @testable imports.
swift build -c release -Xswiftc -enable-testing
swift build -c release -Xswiftc -enable-testing --build-tests
export VQA_MPI_BIN="$PWD/.build/release/vqa-mpi"
swift test -c release -Xswiftc -enable-testing --skip-build --disable-swift-testing "$@"
# Fuzz the input parsers briefly (labels, config, safetensors; 10 s each on the committed seed
# corpus). scripts/fuzz.sh prints a "skipped" line where the toolchain has no libFuzzer.
if [ $# -eq 0 ]; then bash scripts/fuzz.sh --time 10; fi
