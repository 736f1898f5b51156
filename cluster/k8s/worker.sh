#!/usr/bin/env bash
# MPIJob worker: fresh ssh host keys for this pod, then sshd. The launcher's mpirun reaches it
# with the key pair the MPI operator mounts at /root/.ssh (sshAuthMountPath).
# On SIGTERM (pod deletion) the ranks on this pod get their own SIGTERM from the launcher's
# mpirun; this script keeps the container alive until they have exited (checkpoint written), at
# most VQA_TERM_GRACE + 30 s, because the container ends, ranks included, when this process does.
set -uo pipefail
ssh-keygen -A -q
mkdir -p /run/sshd
/usr/sbin/sshd -D -e &
sshd=$!

ranks_running() {
  local comm
  for comm in /proc/[0-9]*/comm; do
    [[ "$(cat "$comm" 2>/dev/null)" == vqa-mpi ]] && return 0
  done
  return 1
}

on_term() {
  local deadline=$((SECONDS + ${VQA_TERM_GRACE:-45} + 30))
  while ranks_running && ((SECONDS < deadline)); do sleep 1; done
  kill -TERM "$sshd" 2>/dev/null
  wait "$sshd"
  exit 0
}
trap on_term TERM INT
wait "$sshd"
