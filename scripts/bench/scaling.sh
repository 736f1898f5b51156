#!/usr/bin/env bash
# 2-rank scaling of the data-parallel step, measured in interleaved rounds, with its baselines.
#
#   scripts/bench/scaling.sh [--rounds 5] [--steps 20] [--np 2] [--sgemm 0] [--profile] [--out DIR] [-- BENCH_STEP_ARGS...]
#
# Each round runs, in alternating order, `bench step` at np=1 and at np=N (the latter with
# --independent: the same per-rank work, every rank alone at once, interleaved in blocks inside
# the same run), and, with --sgemm K > 0, K pairs of raw single-thread sgemm runs: one alone on
# core 0, then two at once on cores 0 and 1. It prints /proc/loadavg and the figures per round,
# then the medians over rounds:
#   scaling      samples_per_s(np=N) / (N × samples_per_s(np=1))          (issue #4's figure)
#   ceiling      independent_samples_per_s(np=N run) / (N × samples_per_s(np=1)): what the machine
#                allows when the ranks never talk (memory/cache contention, frequency, noise)
#   vs_indep     samples_per_s / independent_samples_per_s of the same np=N run (what we lose to
#                the collectives: straggler wait + their own cost)
#   compute1/N   compute ms per step (step without collectives) at np=1 and the slowest rank at np=N;
#   indepN       the slowest rank's median step alone (independent blocks); stepN the np=N step
#   cpu1/N/I     process CPU ms per step at np=1, np=N (slowest rank) and independent: unlike wall
#                times, these do not grow when other processes share the cores (time slicing), only
#                when the work itself gets slower (cache/memory contention) or spins
#   floor/wait   collective_floor_ms / straggler_wait_ms of the np=N run; comm_share its exposed share
#   sgemm_pair   mean GFLOP/s of two concurrent sgemm runs / one alone
# --profile adds `--profile` to both runs and prints, per op kind, the median ms per step (forward +
# backward) at np=1, in the np=N data-parallel steps and in the independent steps, and their ratios
# to np=1 (rank 0's profile): which op slows down when the ranks run at once.
# Default bench args: --model fragnet --batch-per-rank 2 --threads 1. JSON lines are kept in --out.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${VQA_MPI_BIN:-$here/.build/release/vqa-mpi}"
rounds=5; steps=20; np=2; sgemm=0; out=""; extra=(); profile=()
while (($#)); do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --np) np="$2"; shift 2 ;;
    --sgemm) sgemm="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --profile) profile=(--profile); shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "scaling.sh: unknown option '$1'; usage: scaling.sh [--rounds N] [--steps N] [--np N] [--sgemm K] [--out DIR] [-- BENCH_STEP_ARGS...]" >&2; exit 2 ;;
  esac
done
for v in rounds steps np sgemm; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "scaling.sh: --$v must be a whole number, got '${!v}'" >&2; exit 2; }
done
((rounds >= 1 && np >= 2)) || { echo "scaling.sh: need --rounds ≥ 1 and --np ≥ 2" >&2; exit 2; }
[[ -x "$bin" ]] || { echo "scaling.sh: $bin is missing; build it with: swift build -c release (or set VQA_MPI_BIN)" >&2; exit 1; }
((${#extra[@]})) || extra=(--model fragnet --batch-per-rank 2 --threads 1)
out="${out:-$(mktemp -d /tmp/vqa-scaling.XXXXXX)}"
mkdir -p "$out"
export VQA_MPI_BIN="$bin"
# The same allocator settings as the ranks get from launch.sh.
export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.mmap_threshold=2000000000:glibc.malloc.trim_threshold=4000000000}"

step() { # np, extra flags...
  local n="$1"; shift
  "$here/scripts/launch.sh" -np "$n" bench step "${extra[@]}" --steps "$steps" "${profile[@]}" --json "$@" | tail -n 1
}
sgemm_gflops() { # core
  taskset -c "$1" "$bin" bench sgemm --threads 1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["sgemm_gflops"])'
}

for ((r = 1; r <= rounds; r++)); do
  load="$(cat /proc/loadavg)"
  if ((r % 2)); then
    one="$(step 1)"; many="$(step "$np" --independent)"
  else
    many="$(step "$np" --independent)"; one="$(step 1)"
  fi
  pairs=()
  for ((k = 0; k < sgemm; k++)); do
    solo="$(sgemm_gflops 0)"
    a="$(mktemp)"; b="$(mktemp)"
    sgemm_gflops 0 >"$a" & pa=$!
    sgemm_gflops 1 >"$b" & pb=$!
    wait "$pa" "$pb"
    pairs+=("$solo,$(cat "$a"),$(cat "$b")")
    rm -f "$a" "$b"
  done
  printf '{"round": %d, "loadavg": "%s", "np1": %s, "npN": %s, "sgemm": "%s"}\n' \
    "$r" "$load" "$one" "$many" "${pairs[*]:-}" >>"$out/rounds.jsonl"
done

python3 - "$out/rounds.jsonl" "$np" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[2])
def med(xs): return statistics.median(xs) if xs else float("nan")
table = []
for row in rows:
    a, b = row["np1"], row["npN"]
    slowest = max(p["compute_ms"] for p in b["per_rank"])
    cpuN = max(p["process_cpu_ms"] for p in b["per_rank"])
    cpuI = max(p["independent_process_cpu_ms"] for p in b["per_rank"])
    pairs = [tuple(map(float, p.split(","))) for p in row["sgemm"].split()]
    table.append(dict(
        round=row["round"], load=row["loadavg"].split()[0],
        np1=a["samples_per_s"], npN=b["samples_per_s"],
        scaling=b["samples_per_s"] / (n * a["samples_per_s"]),
        ceiling=b["independent_samples_per_s"] / (n * a["samples_per_s"]),
        vs_indep=b["scaling_vs_independent"],
        compute1=a["compute_ms"], computeN=slowest, indepN=b["independent_step_ms"], stepN=b["step_ms"],
        cpu1=a["process_cpu_ms"], cpuN=cpuN, cpuI=cpuI,
        floor=b["collective_floor_ms"], wait=b["straggler_wait_ms"], comm_share=b["comm_share"],
        sgemm_pair=med([(x + y) / 2 / s for s, x, y in pairs]) if pairs else float("nan")))
cols = ["round", "load", "np1", "npN", "scaling", "ceiling", "vs_indep", "compute1", "computeN", "indepN", "stepN",
        "cpu1", "cpuN", "cpuI", "floor", "wait", "comm_share", "sgemm_pair"]
fmt = lambda v: v if isinstance(v, str) else (str(v) if isinstance(v, int) else f"{v:.3f}")
print("  ".join(f"{c:>10}" for c in cols))
for t in table: print("  ".join(f"{fmt(t[c]):>10}" for c in cols))
print("  ".join(f"{'median' if c == 'round' else fmt(med([float(t[c]) for t in table])):>10}" for c in cols))
print(f"(np={n}; JSON lines in {sys.argv[1]})")
if all("profile" in row["np1"] and "profile" in row["npN"] for row in rows):
    def ms(entries, prefix=""):
        return {e["op"]: e[prefix + "forward_ms"] + e[prefix + "backward_ms"] for e in entries if prefix + "forward_ms" in e}
    ops = [e["op"] for e in rows[0]["np1"]["profile"]]
    print(f"\n{'op (ms/step, rank 0)':<28}{'np1':>10}{'npN':>10}{'indep':>10}{'npN/np1':>10}{'indep/np1':>10}")
    for op in ops:
        one = med([ms(r["np1"]["profile"]).get(op, float("nan")) for r in rows])
        dp = med([ms(r["npN"]["profile"]).get(op, float("nan")) for r in rows])
        ind = med([ms(r["npN"]["profile"], "independent_").get(op, float("nan")) for r in rows])
        print(f"{op:<28}{one:>10.2f}{dp:>10.2f}{ind:>10.2f}{dp / one:>10.3f}{ind / one:>10.3f}")
EOF
