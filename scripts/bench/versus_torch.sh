#!/usr/bin/env bash
# Our training step against PyTorch's, side by side on the same shapes and threads.
#
#   scripts/bench/versus_torch.sh --model fragnet|fast-vqa-b|fast-vqa-m|simplevqa [--rounds N] [--precision fp32]
#                                 [--awp] [--threads T] [--steps K] [--warmup W] [--batch B --frames F --size S]
#                                 [--python PY] [--venv DIR] [--out DIR]
#                                 [--official-repo DIR [--official-checkpoint as-built|off]]
#
# Each round runs `vqa-mpi bench engine --no-awp` (ours) and scripts/bench/torch_engine.py (PyTorch
# 2.13 CPU twins of the models, scripts/reference/) once each, alternating which goes first, both
# with T threads (default 2) and OMP_WAIT_POLICY=PASSIVE (libgomp's spinning barriers slow torch
# down on a shared machine). OPENBLAS_CORETYPE is left as the environment sets it (run with
# `env -u OPENBLAS_CORETYPE` or `OPENBLAS_CORETYPE=Haswell` to compare). Shapes default to the
# issue-20 table: fragnet 4×8×224², fast-vqa-b 1×32×224², fast-vqa-m 1×16×128², simplevqa
# (ResNet-50) 4×8×224². The raw JSON of every run goes to --out (default: a fresh /tmp directory) and
# to stderr; the last stdout line is one JSON object:
#   ours_step_ms, torch_step_ms   medians over rounds of each run's median step (forward, backward, AdamW)
#   ratio                         ours_step_ms / torch_step_ms (below 1: ours is faster)
#   ours_rss_mb, torch_rss_mb     largest peak RSS of any run
#   blas_core                     the OpenBLAS kernel set ours ran with; openblas_coretype the variable
#   loadavg                       /proc/loadavg before the first and after the last run
# With --awp, the two-pass AWP step is timed as well (ours_awp_step_ms, torch_awp_step_ms, awp_ratio).
# fast-vqa-b/-m, like for like: the twin (scripts/reference/fastvqa.py) implements only the official
# NON-adaptive window path, so against it ours runs with `--model-option adaptive_window=0` (the same
# attention: 4×4×4 windows for fast-vqa-m at 16×128², where the official default runs 2×2×2). With
# --official-repo DIR (or VQA_FASTVQA_REPO), a clone of VQAssessment/FAST-VQA-and-FasterVQA, the torch
# side is the OFFICIAL model instead and both run the official default (adaptive windows); the
# official backbones checkpoint every block (recompute in backward) as built — --official-checkpoint
# off turns that off. torch_implementation and ours_model_options in the JSON say which was run.
# PyTorch comes from --python, else VQA_TORCH_PYTHON, else the venv DIR (default .venv-bench in the
# repository), else python3 if it imports torch; with none of these, the script creates DIR and
# installs torch==2.13.0 (CPU wheel, download.pytorch.org) and numpy into it.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${VQA_MPI_BIN:-$here/.build/release/vqa-mpi}"
models="fragnet fast-vqa-b fast-vqa-m simplevqa"
usage="usage: versus_torch.sh --model ${models// /|} [--rounds N] [--precision fp32] [--awp] [--threads T] [--steps K] [--warmup W] [--batch B] [--frames F] [--size S] [--python PY] [--venv DIR] [--out DIR] [--official-repo DIR] [--official-checkpoint as-built|off]"
model=""; rounds=3; precision=fp32; awp=0; threads=2; steps=""; warmup=""; batch=""; frames=""; size=""
python="${VQA_TORCH_PYTHON:-}"; venv="$here/.venv-bench"; out=""
official_repo=""; official_checkpoint=as-built
while (($#)); do
  case "$1" in
    --model|--rounds|--precision|--threads|--steps|--warmup|--batch|--frames|--size|--python|--venv|--out|--official-repo|--official-checkpoint)
      (($# >= 2)) || { echo "versus_torch.sh: $1 needs a value; $usage" >&2; exit 2; }
      v="${1#--}"; v="${v//-/_}"; printf -v "$v" '%s' "$2"; shift 2 ;;
    --awp) awp=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "versus_torch.sh: unknown option '$1'; $usage" >&2; exit 2 ;;
  esac
done
[[ -n "$model" ]] || { echo "versus_torch.sh: --model is required (one of: $models); $usage" >&2; exit 2; }
[[ " $models " == *" $model "* ]] || { echo "versus_torch.sh: --model '$model' is not one of: $models" >&2; exit 2; }
[[ "$precision" == fp32 ]] || {
  echo "versus_torch.sh: --precision '$precision' is not supported; valid values: fp32 (bf16 is not implemented in the engine yet)" >&2; exit 2; }
case "$model" in
  fragnet) d=(4 8 224 3 2) ;;      # batch frames size steps warmup
  fast-vqa-b) d=(1 32 224 1 1) ;;
  fast-vqa-m) d=(1 16 128 3 1) ;;
  simplevqa) d=(4 8 224 1 1) ;;
esac
batch="${batch:-${d[0]}}"; frames="${frames:-${d[1]}}"; size="${size:-${d[2]}}"; steps="${steps:-${d[3]}}"; warmup="${warmup:-${d[4]}}"
for v in rounds threads steps warmup batch frames size; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "versus_torch.sh: --$v must be a whole number, got '${!v}'" >&2; exit 2; }
done
((rounds >= 1 && threads >= 1 && steps >= 1 && batch >= 1)) || { echo "versus_torch.sh: --rounds, --threads, --steps and --batch must be ≥ 1" >&2; exit 2; }
[[ "$official_checkpoint" == as-built || "$official_checkpoint" == off ]] || {
  echo "versus_torch.sh: --official-checkpoint '$official_checkpoint' is not one of: as-built off" >&2; exit 2; }
ours_opts=(); torch_opts=(); implementation=twin
if [[ "$model" == fast-vqa-* ]]; then
  official_repo="${official_repo:-${VQA_FASTVQA_REPO:-}}"  # the variable applies to fast-vqa-b/-m only
  if [[ -n "$official_repo" ]]; then
    [[ -f "$official_repo/fastvqa/models/__init__.py" ]] || {
      echo "versus_torch.sh: --official-repo (or VQA_FASTVQA_REPO) '$official_repo' has no fastvqa/models/__init__.py; clone https://github.com/VQAssessment/FAST-VQA-and-FasterVQA and pass its directory" >&2; exit 2; }
    torch_opts=(--official-repo "$official_repo" --official-checkpoint "$official_checkpoint"); implementation=official
  else
    ours_opts=(--model-option adaptive_window=0)
  fi
elif [[ -n "$official_repo" ]]; then
  echo "versus_torch.sh: --official-repo applies to fast-vqa-b and fast-vqa-m only, not $model" >&2; exit 2
fi
[[ -x "$bin" ]] || { echo "versus_torch.sh: $bin is missing; build it with: swift build -c release (or set VQA_MPI_BIN)" >&2; exit 1; }

# PyTorch: the first python that imports torch, else a fresh venv with the CPU wheel.
has_torch() { "$1" -c "import torch, numpy" >/dev/null 2>&1; }
if [[ -n "$python" ]]; then
  has_torch "$python" || { echo "versus_torch.sh: $python cannot import torch and numpy; install them (pip install torch==2.13.0 numpy --index-url https://download.pytorch.org/whl/cpu --extra-index-url https://pypi.org/simple) or drop --python/VQA_TORCH_PYTHON to let the script make $venv" >&2; exit 1; }
elif [[ -x "$venv/bin/python" ]] && has_torch "$venv/bin/python"; then
  python="$venv/bin/python"
elif command -v python3 >/dev/null && has_torch python3; then
  python=python3
else
  echo "versus_torch.sh: no python with torch found; installing torch==2.13.0 (CPU) and numpy into $venv" >&2
  python3 -m venv "$venv" || { echo "versus_torch.sh: python3 -m venv $venv failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
  if ! "$venv/bin/pip" install -q torch==2.13.0 numpy --index-url https://download.pytorch.org/whl/cpu --extra-index-url https://pypi.org/simple; then
    echo "versus_torch.sh: installing torch into $venv failed: is https://download.pytorch.org/whl/cpu reachable (proxy, offline machine)? Install torch==2.13.0+cpu and numpy into any python and pass it with --python" >&2
    exit 1
  fi
  python="$venv/bin/python"
fi

out="${out:-$(mktemp -d /tmp/vqa-versus-torch.XXXXXX)}"
mkdir -p "$out"
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS="$threads"
shape=(--batch "$batch" --frames "$frames" --size "$size" --threads "$threads" --steps "$steps" --warmup "$warmup")
awp_ours=(--no-awp); awp_torch=()
((awp)) && { awp_ours=(); awp_torch=(--awp); }
run_ours() { "$bin" bench engine --model "$model" "${ours_opts[@]}" "${shape[@]}" "${awp_ours[@]}" --json | tail -n 1; }
run_torch() { "$python" "$here/scripts/bench/torch_engine.py" --model "$model" "${torch_opts[@]}" "${shape[@]}" "${awp_torch[@]}" | tail -n 1; }
load_before="$(cat /proc/loadavg)"
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then o="$(run_ours)"; t="$(run_torch)"; else t="$(run_torch)"; o="$(run_ours)"; fi
  echo "$o" >>"$out/ours.jsonl"; echo "$t" >>"$out/torch.jsonl"
  printf 'round %d ours: %s\nround %d torch: %s\n' "$r" "$o" "$r" "$t" >&2
done
load_after="$(cat /proc/loadavg)"

python3 - "$out" "$model" "$batch" "$frames" "$size" "$threads" "$rounds" "$precision" "$load_before" "$load_after" "${OPENBLAS_CORETYPE-unset}" \
  "$implementation" "$official_checkpoint" "${ours_opts[*]}" <<'EOF'
import json, statistics, sys
out, model, batch, frames, size, threads, rounds, precision, before, after, coretype, impl, ckpt, opts = sys.argv[1:]
ours = [json.loads(l) for l in open(f"{out}/ours.jsonl")]
torch = [json.loads(l) for l in open(f"{out}/torch.jsonl")]
med = lambda rows, k: statistics.median(r[k] for r in rows)
o, t = med(ours, "step_ms"), med(torch, "step_ms")
res = {"bench": "versus_torch", "model": model, "batch": int(batch), "frames": int(frames), "size": int(size),
       "threads": int(threads), "precision": precision, "rounds": int(rounds),
       "ours_step_ms": round(o, 2), "torch_step_ms": round(t, 2), "ratio": round(o / t, 4),
       "ours_step_ms_all": [r["step_ms"] for r in ours], "torch_step_ms_all": [r["step_ms"] for r in torch],
       "ours_rss_mb": max(r["peak_rss_mb"] for r in ours), "torch_rss_mb": max(r["peak_rss_mb"] for r in torch),
       "ours_allocs_per_step": max(r["allocs_per_step"] for r in ours),
       "blas_core": ours[0]["blas_core"], "openblas_coretype": coretype, "torch": torch[0]["torch"],
       "omp_wait_policy": torch[0]["omp_wait_policy"], "loadavg": [before, after], "raw": out,
       "torch_implementation": impl, "official_checkpoint": ckpt if impl == "official" else None,
       "ours_model_options": opts.replace("--model-option ", "").split() if opts else []}
if all(r.get("awp_step_ms") is not None for r in ours + torch):
    oa, ta = med(ours, "awp_step_ms"), med(torch, "awp_step_ms")
    res.update(ours_awp_step_ms=round(oa, 2), torch_awp_step_ms=round(ta, 2), awp_ratio=round(oa / ta, 4))
print(json.dumps(res))
EOF
