#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/, with AddressSanitizer) and runs each on a scratch copy of
# its committed seed corpus (Fuzz/corpus/<target>/, never grown by this script) with its dictionary.
#
# Usage: scripts/fuzz.sh [--time SECONDS] [--runs N] [--no-asan] [TARGET...]
#   TARGET: labels, config, safetensors (default: all). --time bounds each target's run (default 60
#   unless --runs is given); --runs stops after N executions. --no-asan builds with libFuzzer's
#   instrumentation only (-sanitize=fuzzer; about 2x the executions per second of the ASan build,
#   for long runs; separate build directory Fuzz/.build-noasan). FUZZ_SCRATCH=DIR keeps the scratch
#   corpora, logs and crash inputs there (default: a new /tmp/vqa-fuzz.XXXXXX).
# Prints per target: executions, exec/s, coverage (edges) and features, new corpus units, time;
# exits non-zero if any target crashed, printing the crash input's path (replay it with
# `.../fuzz-TARGET CRASH_FILE`). Exits 0 with a "skipped" line where the toolchain lacks libFuzzer.
set -euo pipefail
cd "$(dirname "$0")/.."

time_limit="" runs="" targets=() sanitizers="fuzzer,address" scratch_path=()
while [ $# -gt 0 ]; do
    case "$1" in
        --time) time_limit="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --no-asan) sanitizers="fuzzer"; scratch_path=(--scratch-path Fuzz/.build-noasan); shift ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        labels|config|safetensors) targets+=("$1"); shift ;;
        *) echo "fuzz.sh: unknown argument '$1' (targets: labels, config, safetensors; options: --time S, --runs N, --no-asan)" >&2; exit 2 ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=(labels config safetensors)
[ -n "$time_limit" ] || { [ -n "$runs" ] && time_limit=0 || time_limit=60; }

# libFuzzer ships with the Swift toolchain on Linux (clang runtime) and links with its ld.lld.
swiftc_bin="$(readlink -f "$(command -v swiftc)")"
toolchain_bin="$(dirname "$swiftc_bin")"
libfuzzer="$(ls "$toolchain_bin"/../lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null | head -1 || true)"
if [ -z "$libfuzzer" ] || [ ! -x "$toolchain_bin/ld.lld" ]; then
    echo "fuzz: skipped (no libclang_rt.fuzzer or ld.lld next to $swiftc_bin; the toolchain cannot build -sanitize=fuzzer)"
    exit 0
fi

scratch="${FUZZ_SCRATCH:-$(mktemp -d /tmp/vqa-fuzz.XXXXXX)}"
mkdir -p "$scratch"
# SwiftPM links executables with main=<module>_main, which clashes with libFuzzer's main under the
# default gold linker; ld.lld lets the defsym win (each target's @main runs libFuzzer's driver).
printf '{"schemaVersion": "1.0", "linker": {"path": "%s"}}\n' "$toolchain_bin/ld.lld" > "$scratch/toolset.json"
build=(swift build --package-path Fuzz "${scratch_path[@]}" -c release -Xswiftc -sanitize="$sanitizers" -Xswiftc -parse-as-library
       --toolset "$scratch/toolset.json")
start=$(date +%s)
bin="$("${build[@]}" --show-bin-path)"
# vqa-mpi is a path dependency of the Fuzz package: SwiftPM keeps its build plan (and so the list of
# vqa-mpi's source files) until a manifest changes, so a new source file would be missed. Plan afresh.
rm -f "$(dirname "$(dirname "$bin")")/release.yaml" "$bin/description.json"
for t in "${targets[@]}"; do
    if ! log=$("${build[@]}" --product "fuzz-$t" 2>&1); then
        grep -E "error" <<<"$log" | head -20 || true
        echo "fuzz: building fuzz-$t failed"; exit 1
    fi
    grep -E "warning: " <<<"$log" | grep -v "Cannot export local symbol" || true
done
echo "fuzz: built ${targets[*]} (-sanitize=$sanitizers) in $(( $(date +%s) - start )) s ($bin)"

# ASan records a stack trace for every allocation by default: with Yams' many small allocations that
# took ~20% of the config target's time. Without it a report still has the crash stack; replay the crash
# input with ASAN_OPTIONS=malloc_context_size=30 for allocation stacks too.
export ASAN_OPTIONS="${ASAN_OPTIONS:-malloc_context_size=0}"
# Swift's runtime backtracer would take a trap's SIGILL before libFuzzer, which then writes no crash input.
export SWIFT_BACKTRACE=enable=no
status=0
for t in "${targets[@]}"; do
    exe="$bin/fuzz-$t"
    [ -x "$exe" ] || { echo "fuzz: $t: build failed ($exe missing)"; status=1; continue; }
    dir="$scratch/$t"
    rm -rf "$dir"; mkdir -p "$dir/corpus" "$dir/artifacts"
    cp Fuzz/corpus/"$t"/* "$dir/corpus/"
    seeds=$(ls "$dir/corpus" | wc -l)
    args=("$dir/corpus" -dict="Fuzz/dict/$t.dict" -max_total_time="$time_limit" -timeout=10 -rss_limit_mb=2048
          -max_len=8192 -artifact_prefix="$dir/artifacts/" -print_final_stats=1)
    [ -n "$runs" ] && args+=(-runs="$runs")
    t0=$(date +%s)
    rc=0; "$exe" "${args[@]}" > "$dir/log" 2>&1 || rc=$?
    secs=$(( $(date +%s) - t0 ))
    stat() { grep -m1 "stat::$1:" "$dir/log" | awk '{print $2}'; }
    last=$(grep -E "^#[0-9]+" "$dir/log" | tail -1 || true)
    cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last"); ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
    corp=$(ls "$dir/corpus" | wc -l)
    crashes=$(ls "$dir/artifacts" | wc -l)
    printf 'fuzz: %-12s executions %s, %s exec/s, cov %s, ft %s, corpus %s -> %s files, %s s, crashes %s\n' \
        "$t" "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" "${cov:-?}" "${ft:-?}" "$seeds" "$corp" "$secs" "$crashes"
    if [ "$rc" -ne 0 ] || [ "$crashes" -gt 0 ]; then
        status=1
        echo "fuzz: $t FAILED (exit $rc); log: $dir/log"
        grep -E "ERROR|Fatal error|fatal error|SUMMARY" "$dir/log" | head -5 || true
        for f in "$dir"/artifacts/*; do [ -e "$f" ] && echo "fuzz: $t crash input: $f"; done
    fi
done
exit $status
