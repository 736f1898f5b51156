# Shell helpers shared by the cluster recipes (sourced, not run): resume detection and the Slurm
# requeue decision. Kept free of side effects so that the test suite can source and check them.
#   source cluster/lib.sh
#   vqa_resume_flag runs/lsvq          # prints --resume when runs/lsvq/last.safetensors exists
#   vqa_slurm_seconds 1-02:03:04       # 93784 (Slurm's [days-]hours:minutes:seconds forms)

# Prints `--resume` when OUT holds a checkpoint to continue from, nothing otherwise.
vqa_resume_flag() {
  local out="${1:?vqa_resume_flag: OUT directory missing}"
  if [[ -s "$out/last.safetensors" ]]; then printf '%s\n' --resume; fi
}

# Seconds in a Slurm time string: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS.
# UNLIMITED, NOT_SET and INVALID print -1 (no limit known).
vqa_slurm_seconds() {
  local t="${1:?vqa_slurm_seconds: time string missing}" days=0 rest h=0 m=0 s=0
  case "$t" in UNLIMITED|NOT_SET|INVALID|Partition_Limit) echo -1; return 0 ;; esac
  if [[ "$t" == *-* ]]; then
    days="${t%%-*}"; rest="${t#*-}"
    IFS=: read -r h m s <<<"$rest"
  else
    local parts; IFS=: read -r -a parts <<<"$t"
    case ${#parts[@]} in
      1) m="${parts[0]}" ;;
      2) m="${parts[0]}"; s="${parts[1]}" ;;
      3) h="${parts[0]}"; m="${parts[1]}"; s="${parts[2]}" ;;
      *) echo "vqa_slurm_seconds: cannot read time '$t'" >&2; return 2 ;;
    esac
  fi
  local v
  for v in "$days" "${h:-0}" "${m:-0}" "${s:-0}"; do
    [[ "$v" =~ ^[0-9]+$ ]] || { echo "vqa_slurm_seconds: cannot read time '$t'" >&2; return 2; }
  done
  echo $(( 10#$days * 86400 + 10#${h:-0} * 3600 + 10#${m:-0} * 60 + 10#${s:-0} ))
}

# Whether a finished training step should be requeued: it failed (STATUS != 0), a checkpoint
# exists in OUT, the job is close to its time limit (LEFT seconds <= WINDOW, LEFT >= 0) and fewer
# than MAX requeues happened (RESTARTS). Prints the reason; exit status 0 = requeue.
#   vqa_should_requeue STATUS OUT LEFT WINDOW RESTARTS MAX
vqa_should_requeue() {
  local status="$1" out="$2" left="$3" window="$4" restarts="$5" max="$6"
  if [[ "$status" == 0 ]]; then echo "training finished"; return 1; fi
  if [[ ! -s "$out/last.safetensors" ]]; then echo "failed (status $status) before any checkpoint in $out"; return 1; fi
  if (( left < 0 || left > window )); then
    echo "failed (status $status) with ${left}s left: not the time-limit signal, not requeued"; return 1
  fi
  if (( restarts >= max )); then echo "already requeued $restarts times (VQA_MAX_REQUEUES=$max)"; return 1; fi
  echo "stopped at the time limit (status $status, ${left}s left) with a checkpoint: requeue $((restarts + 1))/$max"
  return 0
}

# Total slots in an Open MPI hostfile (`NAME slots=N` lines; a line without slots counts 1;
# comments and blank lines are skipped). Kubeflow's MPIJob writes /etc/mpi/hostfile this way.
vqa_hostfile_slots() {
  local file="${1:?vqa_hostfile_slots: hostfile missing}" total=0 line host rest n
  [[ -r "$file" ]] || { echo "vqa_hostfile_slots: cannot read $file" >&2; return 1; }
  while IFS= read -r line || [[ -n "$line" ]]; do
    line="${line%%#*}"; read -r host rest <<<"$line"
    [[ -z "$host" ]] && continue
    n=1
    if [[ "$rest" =~ (^|[[:space:]])(slots|max_slots|max-slots)=([0-9]+) && "${BASH_REMATCH[2]}" == slots ]]; then n="${BASH_REMATCH[3]}"; fi
    total=$((total + n))
  done < "$file"
  echo "$total"
}
