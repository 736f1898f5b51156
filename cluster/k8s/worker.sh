#!/usr/bin/env bash
# MPIJob worker: fresh ssh host keys for this pod, then sshd in the foreground. The launcher's
# mpirun reaches it with the key pair the MPI operator mounts at /root/.ssh (sshAuthMountPath).
set -euo pipefail
ssh-keygen -A -q
mkdir -p /run/sshd
exec /usr/sbin/sshd -D -e
