#!/usr/bin/env bash
# The README's first command: set up, build, synthesise a training set and a distribution-shifted
# test set, train fragnet with AWP on 2 MPI ranks (configs/demo.yaml), evaluate the final model on
# both test sets, print their SRCC/PLCC and how long it all took. Data goes to data/demo, the run to
# runs/demo (both git-ignored). Synthesis + training + evaluation took about 8 minutes on 2 cores at
# load average ≈ 4 (measured figures in the README).
#
# Idempotent: the synthesised sets are kept between runs and re-made only when their options or the
# generator's sources change (data/demo/synth.stamp records both).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
# The same flags as scripts/test.sh, so running the tests and then the demo builds once.
swift build -c release -Xswiftc -enable-testing
BIN=.build/release/vqa-mpi

start=$(date +%s)
now() { date +%s; }
# Training set (default profile's distortions on foliage scenes; 20% of the scenes held out as the
# in-distribution test set) and the shifted test set (other content, portrait size, frame rate and
# distortion mix): why these sizes and the one content generator, see configs/demo.yaml.
TRAIN_SYNTH=(--videos 240 --versions 4 --seed 1 --frames 24 --test-fraction 0.2 --contents foliage)
SHIFT_SYNTH=(--videos 64 --seed 2 --profile shifted --frames 24 --test-fraction 0)
stamp="train: ${TRAIN_SYNTH[*]} | shifted: ${SHIFT_SYNTH[*]} | generator: $(cat Sources/Media/Synth/Synth*.swift | sha256sum | cut -c1-16)"
if [ "$(cat data/demo/synth.stamp 2>/dev/null)" != "$stamp" ]; then
  echo "== synthesising the training set (default profile) and a shifted test set"
  rm -rf data/demo
  "$BIN" synth --out data/demo/train "${TRAIN_SYNTH[@]}" --threads 2
  "$BIN" synth --out data/demo/shifted "${SHIFT_SYNTH[@]}" --threads 2
  echo "$stamp" > data/demo/synth.stamp
else
  echo "== re-using the synthesised sets in data/demo (same options and generator)"
fi
synthesised=$(now)

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
MPI=(mpirun -np 2 --mca btl self,vader --mca btl_vader_single_copy_mechanism none
     -x OPENBLAS_NUM_THREADS -x GLIBC_TUNABLES=glibc.malloc.mmap_threshold=2000000000:glibc.malloc.trim_threshold=4000000000)

echo "== training fragnet with AWP on 2 ranks (configs/demo.yaml)"
rm -rf runs/demo
"${MPI[@]}" "$BIN" train --config configs/demo.yaml --out runs/demo
trained=$(now)

# The final weights (EMA), not best.safetensors: "best" is picked on the synthetic test set, which
# would make that set's figures optimistic. Neither test set influences the model evaluated here.
echo "== evaluating runs/demo/last.safetensors"
results=()
for set in "synthetic test:data/demo/train/labels_test.txt:data/demo/train" "shifted test:data/demo/shifted/labels.txt:data/demo/shifted"; do
  IFS=: read -r name labels root <<< "$set"
  json=$("${MPI[@]}" "$BIN" eval --checkpoint runs/demo/last.safetensors --labels "$labels" --data-root "$root" --json)
  results+=("$(python3 -c 'import json, sys; r = json.loads(sys.argv[2]); print("  %-15s %3d videos   SRCC %.3f   PLCC %.3f" % (sys.argv[1], r["n"], r["srcc"], r["plcc"]))' "$name" "$json")")
done
evaluated=$(now)

mmss() { printf '%d min %02d s' $(($1 / 60)) $(($1 % 60)); }
echo
echo "== result: fragnet trained from scratch with AWP on the synthetic training set, final EMA weights"
printf '%s\n' "${results[@]}"
echo "   (synthetic test: held-out videos of the training distribution; shifted test: other content,"
echo "    portrait frames, 30 fps and a different distortion mix, never seen in training)"
echo "== demo took $(mmss $((evaluated - start))) after the build: synthesis $(mmss $((synthesised - start))),"
echo "   training $(mmss $((trained - synthesised))), evaluation $(mmss $((evaluated - trained))); load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== learning curves in runs/demo/curves.svg, per-epoch metrics in runs/demo/metrics.jsonl,"
echo "   checkpoints in runs/demo/*.safetensors; score any video with:"
echo "   $BIN score --checkpoint runs/demo/last.safetensors data/demo/shifted/videos"
