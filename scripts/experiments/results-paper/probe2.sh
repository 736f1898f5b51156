#!/usr/bin/env bash
# Second probe round (probes.md): one over-fitting run of configs/paper.yaml as paper.sh --quick makes
# it, then `vqa-mpi eval` of its final EMA weights on the training labels; appends one line to probes.txt.
#   probe2.sh NAME SEED EPOCHS [extra train args, e.g. --set optimizer.lr=1.5e-3]
# DATA: the quick over-fitting set (synth --videos 64 --versions 1 --frames 16 --test-fraction 0.75 --seed 1);
# SHIFTED: synth --videos 48 --frames 16 --test-fraction 0 --seed 2 --profile shifted.
set -euo pipefail
here="$(cd "$(dirname "$0")/../../.." && pwd)"
export VQA_MPI_BIN="${VQA_MPI_BIN:-$here/.build/release/vqa-mpi}"
work="${WORK:-/tmp/paper-probes}"; ov="${DATA:-$work/data/overfit}"; sh="${SHIFTED:-$work/data/shifted}"
name=$1 seed=$2 ep=$3; shift 3
mkdir -p "$work/runs"; rm -rf "${work:?}/runs/$name"; cd "$work"
s=$(date +%s)
( time "$here/scripts/launch.sh" -np 2 train --config "$here/configs/paper.yaml" --epochs "$ep" --batch-size 8 \
    --set "data.train.labels=$ov/labels_train.txt" --set "data.train.data_root=$ov" --set "train.eval_every=$((ep / 6))" \
    --set "data.val=[{name: test, labels: '$ov/labels_test.txt', data_root: '$ov'}, {name: shifted, labels: '$sh/labels.txt', data_root: '$sh'}]" \
    --regularizer none --seed "$seed" --out "runs/$name" "$@" > "runs-$name.log" 2>&1 ) 2> "time-$name.txt"
"$here/scripts/launch.sh" -np 2 eval --checkpoint "runs/$name/last.safetensors" --labels "$ov/labels_train.txt" --data-root "$ov" --json > "ev-$name.json" 2>/dev/null
echo "$name $(( $(date +%s) - s ))s train=$(python3 -c "import json;print(round(json.load(open('ev-$name.json'))['srcc'],3))") $(grep -E '^epoch' "runs-$name.log" | tail -1 | grep -o 'test srcc [-0-9.]*') $(tr '\n' ' ' < "time-$name.txt")" >> probes.txt
