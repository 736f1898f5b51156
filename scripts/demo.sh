#!/usr/bin/env bash
# The README's first command: set up, build, synthesise a small training set and a distribution-
# shifted test set, train fragnet with AWP on 2 MPI ranks (configs/demo.yaml), evaluate on both
# test sets and say where the curves are. Data goes to data/demo, the run to runs/demo (git-ignored).
# Takes under 10 minutes on 2 cores after the build.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
swift build -c release
BIN=.build/release/vqa-mpi

if [ ! -f data/demo/train/labels_train.txt ]; then
  echo "== synthesising the training set (default profile) and a shifted test set"
  "$BIN" synth --out data/demo/train --videos 64 --seed 1 --threads 2
  "$BIN" synth --out data/demo/shifted --videos 16 --seed 2 --profile shifted --test-fraction 0 --threads 2
fi

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
MPI=(mpirun -np 2 --mca btl self,vader --mca btl_vader_single_copy_mechanism none
     -x OPENBLAS_NUM_THREADS -x GLIBC_TUNABLES=glibc.malloc.mmap_threshold=2000000000:glibc.malloc.trim_threshold=4000000000)

echo "== training fragnet with AWP on 2 ranks (configs/demo.yaml)"
rm -rf runs/demo
"${MPI[@]}" "$BIN" train --config configs/demo.yaml --out runs/demo

echo "== evaluating runs/demo/best.safetensors"
for set in "synthetic test:data/demo/train/labels_test.txt:data/demo/train" "shifted test:data/demo/shifted/labels.txt:data/demo/shifted"; do
  IFS=: read -r name labels root <<< "$set"
  echo "-- $name"
  "${MPI[@]}" "$BIN" eval --checkpoint runs/demo/best.safetensors --labels "$labels" --data-root "$root"
done

echo "== done: learning curves in runs/demo/curves.svg, per-epoch metrics in runs/demo/metrics.jsonl,"
echo "   checkpoints in runs/demo/*.safetensors; score any video with:"
echo "   $BIN score --checkpoint runs/demo/best.safetensors data/demo/shifted/videos"
