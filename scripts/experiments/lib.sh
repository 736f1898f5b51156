# Shell functions shared by the study scripts (generalization.sh, paper.sh); sourced, not run.
#
# The caller sets: prog (its name, for messages), bin (the vqa-mpi binary), launch (array: the
# scripts/launch.sh command with -np), commands (the file every command is logged to), and for
# study_run the arrays sharp (landscape sharpness flags) and lsamp (landscape sampler flags).

say() { echo "[$(date +%H:%M:%S)] $*"; }

run() { # logs the command, runs it with stdout to $1 and stderr to $2; on failure shows the error
  local so="$1" se="$2"; shift 2
  printf '%q ' "$@" >> "$commands"; echo >> "$commands"
  if ! "$@" > "$so" 2> "$se"; then
    echo "$prog: this command failed (stdout $so, stderr $se):" >&2; printf '%q ' "$@" >&2; echo >&2
    tail -n 20 "$se" >&2; return 1
  fi
}

load_sampler_start() { # one 1-minute load average every 20 s into $1 (stopped by load_sampler_stop or on exit)
  load_start=$(cut -d' ' -f1-3 /proc/loadavg)
  ( while true; do echo "$(date +%s) $(cut -d' ' -f1 /proc/loadavg)"; sleep 20; done ) > "$1" &
  sampler_pid=$!
  trap 'kill "$sampler_pid" 2>/dev/null || true' EXIT
}

load_sampler_stop() { # stops the sampler; sets load_mean and load_max from its file $1
  kill "$sampler_pid" 2>/dev/null || true
  load_mean=$(awk '{ s += $2; n++ } END { if (n) printf "%.1f", s / n; else print "n/a" }' "$1")
  load_max=$(awk 'BEGIN { m = 0 } { if ($2 > m) m = $2 } END { printf "%.1f", m }' "$1")
}

stamp_fresh() { # true when directory $1 was made with stamp $2 (synthesis options unchanged)
  [[ -f "$1/stamp" && "$(cat "$1/stamp")" == "$2" ]]
}

# study_run DIR KIND LABEL SEED TRAIN_LABELS DATA_ROOT -- TRAIN_COMMAND...
# One study run: trains (TRAIN_COMMAND must write to DIR), evaluates the final checkpoint on the
# training set (eval-train.json, the train side of the gap) and measures sharpness on it
# (DIR/sharpness, EMA weights, direction seed 7). A DIR that finished with the same command is kept.
# Sets study_trained=1 when it trained, 0 when it kept the run.
study_run() {
  local dir="$1" kind="$2" label="$3" seed="$4" labels="$5" root="$6"; shift 7
  local key t0
  key="$(printf '%q ' "$@") | ${sharp[*]} ${lsamp[*]}"
  study_trained=0
  if [[ -f "$dir/done" && "$(cat "$dir/done")" == "$key" ]]; then
    say "$(basename "$dir"): done before, kept"; printf '%q ' "$@" >> "$commands"; echo " # kept" >> "$commands"; return 0
  fi
  rm -rf "$dir"; mkdir -p "$dir"
  printf '{"kind": "%s", "setting": "%s", "seed": %d}\n' "$kind" "$label" "$seed" > "$dir/study.json"
  t0=$(date +%s)
  say "$(basename "$dir"): training"
  run "$dir/train.log" "$dir/train.err" "$@"
  run "$dir/eval-train.json" "$dir/eval-train.err" "${launch[@]}" eval --checkpoint "$dir/last.safetensors" \
      --labels "$labels" --data-root "$root" --json
  run "$dir/landscape.log" "$dir/landscape.err" "${launch[@]}" landscape --checkpoint "$dir/last.safetensors" --ema \
      --labels "$labels" --data-root "$root" --seed 7 --points 1 --range 0:1 "${sharp[@]}" "${lsamp[@]}" \
      --out "$dir/sharpness"
  echo $(( $(date +%s) - t0 )) > "$dir/seconds"; study_trained=1
  echo "$key" > "$dir/done"
  say "$(basename "$dir") ($(cat "$dir/seconds") s): $(grep -E '(^|Z )epoch [0-9]+/' "$dir/train.log" | tail -n 1 | sed -E 's/^[0-9T:-]+Z //' | cut -c1-170)"
}
