#!/usr/bin/env bash
# MPIJob launcher: waits until every worker in the operator's hostfile resolves, then starts the
# training with scripts/launch.sh over all slots, adding --resume when OUT already holds a
# checkpoint (a restarted launcher continues the run instead of starting over).
#
#   cluster/k8s/launcher.sh --config configs/lsvq.yaml --out /runs/lsvq [more train arguments]
#
# VQA_THREADS (cores per rank: the worker's cpu / slotsPerWorker), VQA_TERM_GRACE, VQA_MPI_BTL and
# VQA_MPI_TCP_IF are passed on to launch.sh; VQA_BIND_TO (default none) to mpirun's --bind-to.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
source "$here/cluster/lib.sh"
hostfile="${OMPI_MCA_orte_default_hostfile:-/etc/mpi/hostfile}"
[[ -r "$hostfile" ]] || { echo "launcher.sh: no hostfile at $hostfile; run inside an MPIJob or set OMPI_MCA_orte_default_hostfile" >&2; exit 2; }
out=""; prev=""
for a in "$@"; do [[ "$prev" == --out ]] && out="$a"; prev="$a"; done
[[ -n "$out" ]] || { echo "launcher.sh: pass --out DIR (on the shared volume)" >&2; exit 2; }
for host in $(awk '!/^[[:space:]]*(#|$)/ {print $1}' "$hostfile"); do
  for try in $(seq 1 60); do
    getent hosts "$host" > /dev/null && break
    [[ "$try" == 60 ]] && { echo "launcher.sh: worker $host does not resolve after 120 s" >&2; exit 1; }
    sleep 2
  done
done
np="$(vqa_hostfile_slots "$hostfile")"
mkdir -p "$out"
resume=()
if [[ -n "$(vqa_resume_flag "$out")" ]]; then resume=(--resume); echo "launcher.sh: resuming from $out/last.safetensors"; fi
# Pods rarely expose whole sockets: no binding unless VQA_BIND_TO asks (core, socket, ...).
exec "$here/scripts/launch.sh" -np "$np" --hostfile "$hostfile" --bind-to "${VQA_BIND_TO:-none}" train "$@" "${resume[@]}"
