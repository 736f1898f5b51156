#!/usr/bin/env bash
# The paper's phenomenon on our synthetic data (issue #19; Yue et al., Figures 1–4): a model that
# over-fits its training set, the gap growing over epochs, the landscape as it grows, and what L2,
# augmentation, RWP and AWP do to both — from scratch and when fine-tuning a pre-trained model.
#
#   scripts/experiments/paper.sh [--quick|--smoke] --out DIR [--data DIR] [--np N]
#
# 1. synthesises (once; reused while the options are unchanged, DATA/*/stamp) a SMALL training set
#    of unique scenes (16 in quick/full; the default profile's four generators) with 48 held-out
#    scenes, a `shifted`-profile cross-dataset set, a larger pre-training set (foliage scenes with
#    both profiles' distortions, 4 versions per scene) and small foliage target sets;
# 2. over-fitting regime: trains fragnet (configs/paper.yaml: no dropout, no weight decay) under
#    `scripts/launch.sh -np N` with none, l2, aug (a quality-preserving flip and the TrivialAugment
#    set), rwp and awp at equal budgets and several seeds; per run the final weights are evaluated on
#    the training set (gap) and their sharpness measured (scripts/experiments/lib.sh, study_run);
#    the baseline's seed 1 keeps 4 epoch checkpoints for the landscape-over-epochs figure;
# 3. fine-tuning regime: pre-trains once on the larger set, then fine-tunes (--init-from,
#    linear_probe_epochs 2) on a small foliage target (16 scenes; cross-dataset: shifted-profile
#    foliage) with none, l2, rwp and awp;
# 4. landscapes (baseline at 4 epochs; each regulariser kind against the baseline, same directions),
#    gap curves, study tables, the flatness–gap Spearman correlation and AWP-vs-none permutation
#    p-values: DIR/results.md, DIR/summary.json and DIR/*.svg (scripts/experiments/paper_summary.py).
# A run that finished with the same command is kept, so an interrupted call resumes.
#
# Modes: --quick (5 settings: none and AWP with 6 seeds, l2, aug flip, rwp with 3; fine-tuning none vs AWP),
# full (default; 3 λ / 3 γ sweeps, the best AWP γ raised to 6 seeds, two fine-tuning targets),
# --smoke (tiny data, 1 seed, a few steps, every code path of full: checks the pipeline in about a
# minute; used by the tests).
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
prog=paper.sh

mode=full; out=""; data=""; np=2
while (($#)); do
  case "$1" in
    --quick) mode=quick; shift ;;
    --smoke) mode=smoke; shift ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --data) data="${2:?--data needs a directory}"; shift 2 ;;
    --np) np="${2:?--np needs a number}"; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$prog: unknown argument '$1'; valid: --quick --smoke --out DIR --data DIR --np N" >&2; exit 2 ;;
  esac
done
[[ -n "$out" ]] || { echo "$prog: --out DIR is required (where results.md, summary.json and the runs go)" >&2; exit 2; }
[[ "$np" =~ ^[1-9][0-9]*$ ]] || { echo "$prog: --np must be a positive integer, got '$np'" >&2; exit 2; }

bin="${VQA_MPI_BIN:-$here/.build/release/vqa-mpi}"
[[ -x "$bin" ]] || { echo "$prog: $bin is missing; build it with: swift build -c release" >&2; exit 1; }
export VQA_MPI_BIN="$bin"
launch=("$here/scripts/launch.sh" -np "$np")
config="$here/configs/paper.yaml"
source "$here/scripts/experiments/lib.sh"

# ---- data and budgets per mode ---------------------------------------------------------------------
# Over-fitting set: 16 unique scenes (one version each: content can be memorised, as in a small UGC
# set) from the default profile's four generators; with foliage scenes only (the study's set) the
# memorisation was slower and seed-dependent (train SRCC 0.35–0.93; results-paper/probes.md).
# Fine-tuning regime: pre-training and targets from the foliage generator only. With every generator
# (both profiles, 384 videos) fragnet from scratch did not learn a transferable quality feature within
# any budget we could afford: lr 1.5e-3 collapsed to a constant prediction by step 380, lr 5e-4 swung
# between test SRCC 0.41 and −0.14 with train SRCC ≤ 0.15 (docs/paper-study.md); generator statistics
# outweigh the distortions (scripts/experiments/results-quick/diagnosis.md). Foliage is learnable.
ft_contents=foliage
case "$mode" in
  full|quick)
    synth_overfit=(--videos 64 --versions 1 --frames 16 --test-fraction 0.75)   # 16 train, 48 test
    synth_shifted=(--videos 48 --frames 16)
    synth_target=(--videos 64 --versions 1 --frames 16 --test-fraction 0.75)                       # foliage, default: 16 / 48
    synth_target_shifted=(--videos 48 --frames 16)                                                  # foliage, shifted profile
    synth_target2=(--videos 64 --versions 1 --frames 16 --test-fraction 0.75)                      # foliage, shifted profile: 16 / 48
    lsamp=(--clip-len 2 --frame-interval 2 --fragments 4 --fsize 32 --clips 1)
    epochs=200; batch=8; pt_batch=16; pt_lr=5e-4; ft_epochs=40; ft_lr=5e-4; lp_epochs=2; sampler=() ;;&
  full)
    synth_pretrain=(--videos 1024 --versions 4 --frames 16 --test-fraction 0)                      # per profile
    pt_epochs=12
    settings=("none - 6" "l2 0.05 3" "l2 0.2 3" "l2 1 3" "aug flip 3" "aug ta 3"
              "rwp 0.005 3" "rwp 0.02 3" "rwp 0.05 3" "awp 0.005 3" "awp 0.02 3" "awp 0.05 3")
    ft_settings=("none - 6" "l2 0.2 3" "rwp 0.001 3" "awp 0.001 6" "awp 0.005 3")
    targets=(small shifted-split)
    sharp=(--subset 0 --directions 8 --hessian-iters 20); points=21; method_seeds=3 ;;
  quick)
    synth_pretrain=(--videos 192 --versions 4 --frames 16 --test-fraction 0)
    pt_epochs=24
    settings=("none - 6" "l2 0.2 3" "aug flip 3" "rwp 0.02 3" "awp 0.02 6")
    # Fine-tuning AWP γ 0.001: one seed each (probe, docs/paper-study.md) gave target SRCC 0.16 at
    # γ 0.02 (the from-scratch γ destroys the pre-trained features), 0.32 at 0.005, 0.44 at 0.001
    # (none: 0.44).
    ft_settings=("none - 6" "awp 0.001 6")
    targets=(small)
    sharp=(--subset 0 --directions 4 --hessian-iters 6); points=11; method_seeds=1 ;;
  smoke)
    small=(--width 64 --height 64 --frames 6)
    synth_overfit=(--videos 8 --versions 1 --test-fraction 0.5 "${small[@]}")
    synth_shifted=(--videos 4 "${small[@]}")
    synth_pretrain=(--videos 4 --versions 2 --test-fraction 0 "${small[@]}")
    synth_target2=(--videos 8 --versions 1 --test-fraction 0.5 "${small[@]}")
    synth_target=(--videos 8 --versions 1 --test-fraction 0.5 "${small[@]}"); synth_target_shifted=(--videos 4 "${small[@]}")
    lsamp=(--clip-len 2 --frame-interval 1 --fragments 2 --fsize 32 --clips 1)
    sampler=(--set data.train.sampler.frame_interval=1 --set data.train.sampler.fragments_h=2 --set data.train.sampler.fragments_w=2)
    epochs=4; batch=4; pt_batch=4; pt_epochs=1; pt_lr=5e-4; ft_epochs=2; ft_lr=5e-4; lp_epochs=1
    # Every code path of the full mode at one seed: two AWP γ (the better one gets a second seed),
    # the TrivialAugment set, both fine-tuning targets.
    settings=("none - 1" "aug ta 1" "awp 0.02 1" "awp 0.05 1")
    ft_settings=("none - 1" "awp 0.02 1")
    targets=(small shifted-split)
    sharp=(--subset 0 --directions 1 --hessian-iters 1); points=3; method_seeds=1 ;;
esac
landscape_epochs=($((epochs / 4)) $((epochs / 2)) $((3 * epochs / 4)) "$epochs")

data="${data:-$here/data/paper/$mode}"
mkdir -p "$out" "$data"
out="$(cd "$out" && pwd)"; data="$(cd "$data" && pwd)"
start=$(date +%s)
phase_start=$start; phases=()
phase_done() { # phase_done NAME: the wall seconds since the previous phase ended, for results.md
  local now; now=$(date +%s); phases+=("$1 $((now - phase_start)) s"); phase_start=$now
}
load_sampler_start "$out/load.txt"
commands="$out/commands.txt"; : > "$commands"

# ---- 1. data (each set cached with a stamp of its synth options) -----------------------------------
synth_set() { # synth_set NAME SEED PROFILE ARGS...: DATA/NAME, re-made only when the options changed
  local name="$1" seed="$2" profile="$3"; shift 3
  local stamp="$* --seed $seed --profile $profile"
  if stamp_fresh "$data/$name" "$stamp"; then say "reusing $data/$name"; return 0; fi
  say "synthesising $data/$name"
  rm -rf "${data:?}/$name"; mkdir -p "$data/$name"
  run "$data/$name.log" "$data/$name.err" "$bin" synth --out "$data/$name" "$@" --seed "$seed" --profile "$profile" --threads "$(nproc)"
  echo "$stamp" > "$data/$name/stamp"
}
synth_set overfit 1 default "${synth_overfit[@]}"
synth_set shifted 2 shifted "${synth_shifted[@]}" --test-fraction 0
synth_set pretrain-default 11 default "${synth_pretrain[@]}" --contents "$ft_contents"
synth_set pretrain-shifted 12 shifted "${synth_pretrain[@]}" --contents "$ft_contents"
synth_set target 4 default "${synth_target[@]}" --contents "$ft_contents"
synth_set target-shifted 5 shifted "${synth_target_shifted[@]}" --contents "$ft_contents" --test-fraction 0
[[ " ${targets[*]} " == *" shifted-split "* ]] && synth_set target2 3 shifted "${synth_target2[@]}" --contents "$ft_contents"
# The pre-training set: both profiles in one label file (paths relative to DATA).
{ sed 's|^|pretrain-default/|' "$data/pretrain-default/labels.txt"; sed 's|^|pretrain-shifted/|' "$data/pretrain-shifted/labels.txt"; } > "$data/pretrain-labels.txt"
phase_done synthesis

val_sets() { # val_sets TEST_LABELS TEST_ROOT SHIFTED_LABELS SHIFTED_ROOT: the data.val override
  echo "data.val=[{name: test, labels: '$1', data_root: '$2'}, {name: shifted, labels: '$3', data_root: '$4'}]"
}
reg_args() { # reg_args KIND VALUE: sets args, label and tag of one regulariser setting
  case "$1" in
    l2) args=(--regularizer l2 --set "regularization.l2.wd=$2"); label="λ=$2"; tag="l2-$2" ;;
    rwp|awp) args=(--regularizer "$1" --gamma "$2"); label="γ=$2"; tag="$1-$2" ;;
    aug) case "$2" in
           flip) args=(--regularizer aug --set "regularization.aug.names=[hflip]"); label="flip" ;;
           ta) args=(--regularizer aug --set "regularization.aug.names=[hflip, trivial_augment]"); label="flip+TrivialAugment" ;;
         esac; tag="aug-$2" ;;
    *) args=(--regularizer "$1"); label=""; tag="$1" ;;
  esac
}
trained_now=0

# ---- 2. over-fitting regime ---------------------------------------------------------------------------
ov="$data/overfit"
overfit_common=(--config "$config" --epochs "$epochs" --batch-size "$batch"
  --set "data.train.labels=$ov/labels_train.txt" --set "data.train.data_root=$ov" --set "train.eval_every=$((epochs / 6 > 0 ? epochs / 6 : 1))"
  --set "$(val_sets "$ov/labels_test.txt" "$ov" "$data/shifted/labels.txt" "$data/shifted")" "${sampler[@]}")
overfit_run() { # overfit_run KIND VALUE SEED
  reg_args "$1" "$2"
  local dir="$out/overfit/$tag-s$3" extra=()
  [[ "$tag" == none && "$3" == 1 ]] && extra=(--set train.keep_epochs=true --set "train.save_every=$((epochs / 4))")   # the landscape over epochs
  overfit_dirs+=("$dir")
  study_run "$dir" "$1" "$label" "$3" "$ov/labels_train.txt" "$ov" -- \
      "${launch[@]}" train "${overfit_common[@]}" "${args[@]}" "${extra[@]}" --seed "$3" --out "$dir"
  trained_now=$((trained_now + study_trained))
  if ((${#extra[@]})); then # keep only the epochs the figure shows
    for f in "$dir"/epoch-*.safetensors; do
      [[ -e "$f" ]] || continue
      local e=$((10#$(basename "$f" .safetensors | cut -c7-)))
      [[ " ${landscape_epochs[*]} " == *" $e "* ]] || rm -f "$f"
    done
  fi
}
overfit_dirs=()
for st in "${settings[@]}"; do
  read -r kind value seeds <<< "$st"
  for ((s = 1; s <= seeds; s++)); do overfit_run "$kind" "$value" "$s"; done
done
if [[ "$mode" != quick ]]; then # the best AWP γ (mean final in-domain SRCC over seeds 1–3) gets 6 seeds (smoke: 2)
  best_awp="$(python3 "$here/scripts/experiments/paper_summary.py" best-awp "$out/overfit")"
  first=4; last=6; [[ "$mode" == smoke ]] && first=2 && last=2
  for ((s = first; s <= last; s++)); do overfit_run awp "${best_awp#awp-}" "$s"; done
fi

phase_done "over-fitting runs"

# ---- 2b. a second method trained alike (Fig. 1d): SimpleVQA's ResNet-18 at a quarter width, same data,
# clip, optimizer and budget; its config is configs/paper.yaml with the model section swapped.
methods_config="$out/paper-simplevqa.yaml"
python3 - "$config" "$methods_config" <<'PY'
import sys
text = open(sys.argv[1]).read()
i, j = text.index("\nmodel:\n"), text.index("\ndata:\n")
model = '\nmodel:\n  name: simplevqa\n  options: {depth: "18", width: "16", head_hidden: "64"}'
open(sys.argv[2] + ".tmp", "w").write(text[:i] + model + text[j:])
PY
mv "$methods_config.tmp" "$methods_config"
methods_dirs=()
for ((s = 1; s <= method_seeds; s++)); do
  dir="$out/methods/simplevqa-s$s"; methods_dirs+=("$dir")
  study_run "$dir" none "simplevqa-18" "$s" "$ov/labels_train.txt" "$ov" -- \
      "${launch[@]}" train --config "$methods_config" "${overfit_common[@]:2}" --regularizer none --seed "$s" --out "$dir"
  trained_now=$((trained_now + study_trained))
done

phase_done "second method"

# ---- 3. fine-tuning regime ----------------------------------------------------------------------------
pt="$out/pretrain"
tg="$data/target"
pt_cmd=("${launch[@]}" train --config "$config" --epochs "$pt_epochs" --batch-size "$pt_batch" --set "optimizer.lr=$pt_lr"
  --set "data.train.labels=$data/pretrain-labels.txt" --set "data.train.data_root=$data" --set "train.eval_every=$((pt_epochs / 4 > 0 ? pt_epochs / 4 : 1))"
  --set "$(val_sets "$tg/labels_test.txt" "$tg" "$data/target-shifted/labels.txt" "$data/target-shifted")" "${sampler[@]}"
  --regularizer none --seed 1 --out "$pt")
pt_key="$(printf '%q ' "${pt_cmd[@]}")"
if [[ -f "$pt/done" && "$(cat "$pt/done")" == "$pt_key" ]]; then
  say "pre-training: done before, kept"; echo "$pt_key # kept" >> "$commands"
else
  rm -rf "$pt"; say "pre-training on $(wc -l < "$data/pretrain-labels.txt") videos"
  t0=$(date +%s); run "$out/pretrain.log" "$out/pretrain.err" "${pt_cmd[@]}"; trained_now=$((trained_now + 1))
  echo $(( $(date +%s) - t0 )) > "$pt/seconds"; echo "$pt_key" > "$pt/done"
fi
phase_done pre-training
ft_dirs=()
for target in "${targets[@]}"; do
  case "$target" in
    small) tr="$tg"; val="$(val_sets "$tg/labels_test.txt" "$tg" "$data/target-shifted/labels.txt" "$data/target-shifted")" ;;
    shifted-split) tr="$data/target2"; val="$(val_sets "$tr/labels_test.txt" "$tr" "$tg/labels_test.txt" "$tg")" ;;
  esac
  ft_common=(--config "$config" --init-from "$pt/last.safetensors" --epochs "$ft_epochs" --batch-size "$batch"
    --set "optimizer.lr=$ft_lr" --set "train.linear_probe_epochs=$lp_epochs" --set "train.eval_every=$((ft_epochs / 4 > 0 ? ft_epochs / 4 : 1))"
    --set "data.train.labels=$tr/labels_train.txt" --set "data.train.data_root=$tr" --set "$val" "${sampler[@]}")
  for st in "${ft_settings[@]}"; do
    read -r kind value seeds <<< "$st"
    reg_args "$kind" "$value"
    for ((s = 1; s <= seeds; s++)); do
      dir="$out/finetune-$target/$tag-s$s"; ft_dirs+=("$dir")
      study_run "$dir" "$kind" "$label" "$s" "$tr/labels_train.txt" "$tr" -- \
          "${launch[@]}" train "${ft_common[@]}" "${args[@]}" --seed "$s" --out "$dir"
      trained_now=$((trained_now + study_trained))
    done
  done
done

phase_done fine-tuning

# ---- 4. landscapes, curves, tables, summary --------------------------------------------------------------
say "landscapes, figures, results.md"
landscape() { # landscape NAME CHECKPOINT...: 1-D landscapes on the training set, same directions (seed 7)
  local name="$1"; shift
  local dir="$out/$name" ck=() f
  rm -rf "$dir"; mkdir -p "$dir/checkpoints"
  for f in "$@"; do # links named after the run (the curve labels)
    local link="$dir/checkpoints/$(basename "$(dirname "$f")")$(basename "$f" .safetensors | sed 's/^last$//; s/^epoch-/-epoch-/').safetensors"
    ln -s "$f" "$link"; ck+=(--checkpoint "$link")
  done
  run "$dir/landscape.log" "$dir/landscape.err" "${launch[@]}" landscape "${ck[@]}" --ema \
      --labels "$ov/labels_train.txt" --data-root "$ov" --seed 7 --points "$points" --range -1:1 \
      --directions 0 --hessian-iters 0 --subset 0 "${lsamp[@]}" --out "$dir"
}
epoch_files=(); for e in "${landscape_epochs[@]}"; do epoch_files+=("$out/overfit/none-s1/$(printf 'epoch-%03d' "$e").safetensors"); done
landscape fig1c-epochs "${epoch_files[@]}"
landscape fig1d-methods "$out/overfit/none-s1/last.safetensors" "$out/methods/simplevqa-s1/last.safetensors"
for kind in l2 aug rwp awp; do
  ck=("$out/overfit/none-s1/last.safetensors")
  for d in "${overfit_dirs[@]}"; do [[ "$(basename "$d")" == "$kind"-*-s1 ]] && ck+=("$d/last.safetensors"); done
  (( ${#ck[@]} > 1 )) && landscape "fig2-$kind" "${ck[@]}"
done
run "$out/report-overfit.txt" "$out/report-overfit.err" "$bin" report "${overfit_dirs[@]}" --out "$out/gap-curves-all.svg"

phase_done "landscapes and gap curves"
end=$(date +%s); wall=$((end - start))
load_sampler_stop "$out/load.txt"
run "$out/overfit-table.txt" "$out/overfit-table.err" "$bin" study-table "${overfit_dirs[@]}" --out "$out/overfit-table.md"
for target in "${targets[@]}"; do
  t_dirs=(); for d in "${ft_dirs[@]}"; do [[ "$d" == "$out/finetune-$target/"* ]] && t_dirs+=("$d"); done
  run "$out/finetune-$target-table.txt" "$out/finetune-$target-table.err" "$bin" study-table "${t_dirs[@]}" --out "$out/finetune-$target-table.md"
done
{
  echo "- **Mode**: $mode; $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $np MPI ranks."
  echo "- **Wall time of this call**: $((wall / 60)) min $((wall % 60)) s ($trained_now runs trained by this call, the others kept from earlier calls)."
  echo "- **Where the time went** (wall, this call): $(printf '%s; ' "${phases[@]}")"
  echo "- **Machine load** (1-min load average, sampled every 20 s): mean $load_mean, max $load_max; at the start $load_start."
  echo "- **Over-fitting data**: \`synth ${synth_overfit[*]} --seed 1\` (training split = the small training set, test split = held-out scenes); cross-dataset: \`synth ${synth_shifted[*]} --seed 2 --profile shifted\`."
  echo "- **Over-fitting budget** (every run): configs/paper.yaml, $epochs epochs, global batch $batch; settings (kind value seeds): $(printf '%s; ' "${settings[@]}")"
  echo "- **Pre-training**: \`synth ${synth_pretrain[*]} --contents $ft_contents\` in each profile (seeds 11, 12), $pt_epochs epochs, lr $pt_lr, global batch $pt_batch, seed 1; targets: \`synth ${synth_target[*]} --contents $ft_contents --seed 4\` (small; cross-dataset \`synth ${synth_target_shifted[*]} --contents $ft_contents --seed 5 --profile shifted\`); fine-tuning: \`--init-from pretrain/last.safetensors\`, $ft_epochs epochs, lr $ft_lr, linear_probe_epochs $lp_epochs, targets: ${targets[*]}; settings: $(printf '%s; ' "${ft_settings[@]}")"
  echo "- **Sharpness** per run: \`vqa-mpi landscape --ema --seed 7 ${sharp[*]} --radius 0.05\` on the final checkpoint, training labels. Landscapes: \`--points $points --range -1:1 --seed 7\`, EMA weights, whole training set."
  echo "- **Commands**: every command of this call in [commands.txt](commands.txt)."
} > "$out/header.md"
python3 "$here/scripts/experiments/paper_summary.py" summarize "$out" --minutes "$(awk -v w="$wall" 'BEGIN { printf "%.1f", w / 60 }')" \
    --targets "${targets[*]}" --header "$out/header.md" --phases "$(printf '%s; ' "${phases[@]}")"
say "wall time ${wall}s; results in $out/results.md and $out/summary.json"
