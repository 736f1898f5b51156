#!/usr/bin/env bash
# probe.sh NAME DATA EPOCHS [extra train args...]
set -euo pipefail
here=/work/wt-paper
export VQA_MPI_BIN=${VQA_MPI_BIN:-/work/main/.build/release/vqa-mpi}
name=$1 data=$2 epochs=$3; shift 3
out=/tmp/pp/runs/$name; rm -rf "$out"; mkdir -p "$(dirname "$out")"
t0=$(date +%s)
"$here/scripts/launch.sh" -np 2 train --config "$here/configs/study.yaml" --epochs "$epochs" --batch-size ${BATCH:-16} \
  --set "data.train.labels=$data/labels_train.txt" --set "data.train.data_root=$data" \
  --set "data.val=[{name: test, labels: '$data/labels_test.txt', data_root: '$data'}, {name: shifted, labels: '/tmp/pp/sh/labels.txt', data_root: '/tmp/pp/sh'}]" \
  --set data.train.sampler.clip_len=2 --set data.train.sampler.fragments_h=4 --set data.train.sampler.fragments_w=4 --set data.train.sampler.test_clips=1 \
  --regularizer none --seed ${SEED:-1} --out "$out" "$@" > "$out.log" 2> "$out.err"
"$here/scripts/launch.sh" -np 2 eval --checkpoint "$out/last.safetensors" --labels "$data/labels_train.txt" --data-root "$data" --json > "$out.evaltrain" 2>>"$out.err"
t1=$(date +%s)
python3 - "$out" "$out.evaltrain" $((t1-t0)) "$*" <<'PY'
import json,sys
out,ev,secs,args=sys.argv[1:]
rows=[json.loads(l) for l in open(out+"/metrics.jsonl")]
tr=json.loads(open(ev).read().strip().splitlines()[-1])["srcc"]
def g(r,s):
    v=r.get("val",{}).get(s,{}); v=v.get("ema",v); return v.get("srcc")
curve=[(r.get("epoch"), round(r["train"]["srcc"],2), round(g(r,"test"),2)) for r in rows if r.get("val")]
last=rows[-1]
print(f"{out.split('/')[-1]}: {secs}s train(eval)={tr:.3f} test={g(last,'test'):.3f} shifted={g(last,'shifted'):.3f} args={args}")
print("  curve(epoch,train_srcc,test):", curve)
PY
