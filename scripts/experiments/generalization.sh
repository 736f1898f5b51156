#!/usr/bin/env bash
# The regulariser study (issue #6): does AWP flatten the loss landscape and narrow the generalisation
# gap, compared with no regularisation, L2, augmentation and random weight perturbation?
#
#   scripts/experiments/generalization.sh [--quick|--smoke] [--out DIR] [--seeds N] [--data DIR] [--np N] [--only KINDS]
#
# 1. synthesises (once; reused while the synth options are unchanged, see DATA/stamp) a `default`
#    profile set with a held-out test split and a `shifted` profile test set;
# 2. trains fragnet (configs/study.yaml) under `scripts/launch.sh -np N` for every regularizer setting
#    and seed with the same epochs, batch, data and sampler: none, l2 (λ sweep), aug, rwp (γ sweep),
#    awp (γ sweep);
# 3. per run: evaluates the final checkpoint on the training set (the train side of the gap) and
#    measures sharpness on a fixed training subset (`vqa-mpi landscape`, EMA weights, the same
#    direction seed for every run);
# 4. overlays the 1-D landscapes of the best run of each kind (same directions), draws the runs'
#    gap curves (`vqa-mpi report`) and writes OUT/results.md (`vqa-mpi study-table`).
# A run directory that finished with the same command is skipped, so an interrupted study resumes.
#
# Modes: full (default; 12 settings), --quick (5 settings, 4×4 fragments, short budget: ≤ 20 min on 2 quiet cores),
# --smoke (2 settings, 1 seed, 2 steps, tiny data: checks the pipeline in seconds; used by the tests).
# --only none,awp keeps the settings of those kinds (a partial study, e.g. when time is short).
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"

mode=full; out=""; seeds=""; data=""; np=2; only=""
while (($#)); do
  case "$1" in
    --quick) mode=quick; shift ;;
    --smoke) mode=smoke; shift ;;
    --out) out="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --np) np="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "generalization.sh: unknown argument '$1'; valid: --quick --smoke --out DIR --seeds N --data DIR --np N --only KIND,KIND" >&2; exit 2 ;;
  esac
done
[[ -z "$seeds" || "$seeds" =~ ^[1-9][0-9]*$ ]] || { echo "generalization.sh: --seeds must be a positive integer, got '$seeds'" >&2; exit 2; }

bin="${VQA_MPI_BIN:-$here/.build/release/vqa-mpi}"
[[ -x "$bin" ]] || { echo "generalization.sh: $bin is missing; build it with: swift build -c release" >&2; exit 1; }
export VQA_MPI_BIN="$bin"
launch=("$here/scripts/launch.sh" -np "$np")
config="$here/configs/study.yaml"

# ---- the data of full and quick (smoke replaces it) ----------------------------------------------
# 60 scenes × 4 independently distorted versions of short (1 s, 24-frame) videos, 12 scenes held out
# whole; every training scene from one content generator (foliage: the whole frame is texture, so
# blur, noise and blocking show in any 32² fragment; with the profile's four generators fragnet
# stayed near chance, results-quick/diagnosis.md); 64 shifted-profile videos (other generators,
# geometry, frame rate and distortion mix) as the cross-dataset test. 64 + 24 one-scene-per-video
# clips learned nothing.
synth_train=(--videos 240 --versions 4 --frames 24 --test-fraction 0.2 --contents foliage); synth_shifted=(--videos 64 --frames 24)

# ---- the budget of each mode (equal for every run inside a mode) -------------------------------
case "$mode" in
  full)
    epochs=12; batch=8; default_seeds=3
    sampler=(); lsamp=(--clip-len 8 --frame-interval 2 --fragments 7 --fsize 32 --clips 1)
    settings=("none" "l2 0.01" "l2 0.05" "l2 0.2" "aug" "rwp 0.005" "rwp 0.02" "rwp 0.05"
              "awp 0.001" "awp 0.005" "awp 0.02" "awp 0.05")
    sharp=(--subset 48 --directions 8 --hessian-iters 20); overlay_points=21; subset=48 ;;
  quick)
    # The demo's clip (configs/demo.yaml): FAST-VQA-M's 4×4 fragment grid and 2 frames, ≈ 1/6 of the
    # 7×7×8-frame cost, global batch 16; one sweep point per kind; validation every 6 epochs.
    # 18 epochs = 216 steps: ≈ 50 s per plain run on 2 quiet ranks (training, train-set eval, sharpness).
    epochs=18; batch=16; default_seeds=3
    sampler=(--set data.train.sampler.clip_len=2 --set data.train.sampler.fragments_h=4 --set data.train.sampler.fragments_w=4
             --set data.train.sampler.test_clips=1 --set train.eval_every=6)
    lsamp=(--clip-len 2 --frame-interval 2 --fragments 4 --fsize 32 --clips 1)
    settings=("none" "l2 0.1" "aug" "rwp 0.02" "awp 0.02")
    sharp=(--subset 24 --directions 4 --hessian-iters 6); overlay_points=11; subset=24 ;;
  smoke)
    synth_train=(--videos 8 --test-fraction 0.5 --width 64 --height 64 --frames 8); synth_shifted=(--videos 4 --width 64 --height 64 --frames 8)
    epochs=2; batch=4; default_seeds=1
    sampler=(--set data.train.sampler.clip_len=2 --set data.train.sampler.frame_interval=1 --set data.train.sampler.fragments_h=2
             --set data.train.sampler.fragments_w=2 --set data.train.sampler.test_clips=1)
    lsamp=(--clip-len 2 --frame-interval 1 --fragments 2 --fsize 32 --clips 1)
    settings=("none" "awp 0.02")
    sharp=(--subset 4 --directions 1 --hessian-iters 1); overlay_points=3; subset=4 ;;
esac
seeds="${seeds:-$default_seeds}"
if [[ -n "$only" ]]; then # keep the settings of the listed kinds (a partial study when time is short)
  kept=(); for st in "${settings[@]}"; do [[ ",$only," == *",${st%% *},"* ]] && kept+=("$st"); done
  (( ${#kept[@]} )) || { echo "generalization.sh: --only '$only' matches no setting; kinds: none, l2, aug, rwp, awp" >&2; exit 2; }
  settings=("${kept[@]}")
fi
out="${out:-$here/runs/study-$mode}"
data="${data:-$here/data/study/$mode}"
mkdir -p "$out" "$data"
out="$(cd "$out" && pwd)"; data="$(cd "$data" && pwd)"

start=$(date +%s)
prog=generalization.sh
source "$here/scripts/experiments/lib.sh"
load_sampler_start "$out/load.txt"
commands="$out/commands.txt"; : > "$commands"

# ---- 1. data (cached with a stamp of the synth options) ----------------------------------------
stamp="train: ${synth_train[*]} --seed 1 --profile default | shifted: ${synth_shifted[*]} --seed 2 --profile shifted --test-fraction 0"
if ! stamp_fresh "$data" "$stamp"; then
  say "synthesising $data ($mode)"
  rm -rf "$data/train" "$data/shifted" "$data/stamp"
  run "$data/synth.log" "$data/synth.err" "$bin" synth --out "$data/train" "${synth_train[@]}" --seed 1 --profile default --threads "$(nproc)"
  run "$data/synth-shifted.log" "$data/synth-shifted.err" "$bin" synth --out "$data/shifted" "${synth_shifted[@]}" --seed 2 --profile shifted --test-fraction 0 --threads "$(nproc)"
  echo "$stamp" > "$data/stamp"
else
  say "reusing $data (same synth options)"
fi
train_labels="$data/train/labels_train.txt"
common=(--config "$config" --epochs "$epochs" --batch-size "$batch"
        --set "data.train.labels=$train_labels" --set "data.train.data_root=$data/train"
        --set "data.val=[{name: test, labels: '$data/train/labels_test.txt', data_root: '$data/train'}, {name: shifted, labels: '$data/shifted/labels.txt', data_root: '$data/shifted'}]"
        "${sampler[@]}")

# ---- 2./3. training, train-set evaluation, sharpness per run -----------------------------------
run_dirs=(); run_seconds=(); trained_now=0
for setting in "${settings[@]}"; do
  read -r kind value <<< "$setting"
  case "$kind" in
    l2) args=(--regularizer l2 --set "regularization.l2.wd=$value"); label="λ=$value"; tag="l2-$value" ;;
    rwp|awp) args=(--regularizer "$kind" --gamma "$value"); label="γ=$value"; tag="$kind-$value" ;;
    *) args=(--regularizer "$kind"); label=""; tag="$kind" ;;
  esac
  for ((s = 1; s <= seeds; s++)); do
    dir="$out/runs/$tag-s$s"
    run_dirs+=("$dir")
    study_run "$dir" "$kind" "$label" "$s" "$train_labels" "$data/train" -- \
        "${launch[@]}" train "${common[@]}" "${args[@]}" --seed "$s" --out "$dir"
    trained_now=$((trained_now + study_trained))
  done
done
for d in "${run_dirs[@]}"; do run_seconds+=("$(cat "$d/seconds" 2>/dev/null || echo 0)"); done

# ---- 4. figures and the table -------------------------------------------------------------------
say "figures and results.md"
mapfile -t best < <("$bin" study-table "${run_dirs[@]}" --best-runs)
rm -rf "$out/landscape"; mkdir -p "$out/landscape/checkpoints"
overlay=(); best_dirs=()
for line in "${best[@]}"; do
  d="${line#*$'\t'}"; name="$(basename "$d")"
  ln -s "$d/last.safetensors" "$out/landscape/checkpoints/$name.safetensors"
  overlay+=(--checkpoint "$out/landscape/checkpoints/$name.safetensors"); best_dirs+=("$d")
done
run "$out/landscape/landscape.log" "$out/landscape/landscape.err" "${launch[@]}" landscape "${overlay[@]}" --ema \
    --labels "$train_labels" --data-root "$data/train" --seed 7 --points "$overlay_points" --range -1:1 \
    --directions 0 --hessian-iters 0 --subset "$subset" "${lsamp[@]}" \
    --out "$out/landscape"
run "$out/report-best.txt" "$out/report-best.err" "$bin" report "${best_dirs[@]}" --out "$out/gap-curves.svg"
run "$out/report-all.txt" "$out/report-all.err" "$bin" report "${run_dirs[@]}" --out "$out/gap-curves-all.svg"

end=$(date +%s); wall=$((end - start))
load_sampler_stop "$out/load.txt"
per_run=$(printf '%s\n' "${run_seconds[@]}" | awk '{ s += $1; n++ } END { printf "%.0f", n ? s / n : 0 }')
{
  echo "# Regulariser study ($mode)"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))."
  echo
  echo "- **Wall time of this call**: $((wall / 60)) min $((wall % 60)) s for ${#run_dirs[@]} runs ($trained_now trained by this call, the others kept from earlier calls; mean $per_run s per run: train + train-set eval + sharpness) on $np MPI ranks."
  echo "- **Machine load** (1-min load average on $(nproc) cores, sampled every 20 s): mean $load_mean, max $load_max; at the start $load_start."
  echo "- **Budget** (every run): $epochs epochs, global batch $batch, the same data; settings: $(printf '%s; ' "${settings[@]}")seeds 1–$seeds."
  echo "- **Data**: \`$data\` — ${synth_train[*]} (\`default\` profile, seed 1) and ${synth_shifted[*]} (\`shifted\` profile, seed 2)."
  echo "- **Sharpness**: \`vqa-mpi landscape --ema --seed 7 ${sharp[*]} --radius 0.05\` on the final checkpoint, training labels."
  echo "- **Figures**: [1-D landscapes of the best run of each kind](landscape/landscape.svg) (same directions), [gap curves of those runs](gap-curves.svg), [all runs](gap-curves-all.svg)."
  echo "- **Commands**: every command in [commands.txt](commands.txt); per run:"
  echo
  echo '```'
  echo "scripts/launch.sh -np $np train --config configs/study.yaml --epochs $epochs --batch-size $batch --set data...=DATA --regularizer KIND [--gamma G | --set regularization.l2.wd=λ] --seed S --out RUN"
  echo "scripts/launch.sh -np $np eval --checkpoint RUN/last.safetensors --labels DATA/train/labels_train.txt --json > RUN/eval-train.json"
  echo "scripts/launch.sh -np $np landscape --checkpoint RUN/last.safetensors --ema --labels DATA/train/labels_train.txt --seed 7 --points 1 --range 0:1 ${sharp[*]} ${lsamp[*]} --out RUN/sharpness"
  echo "vqa-mpi study-table RUN... --out results.md"
  echo '```'
} > "$out/header.md"
run "$out/study-table.txt" "$out/study-table.err" "$bin" study-table "${run_dirs[@]}" --header "$out/header.md" --out "$out/results.md"
cat "$out/study-table.txt"
say "wall time ${wall}s; results in $out/results.md"
