#!/usr/bin/env bash
# Launches vqa-mpi under mpirun with the settings measured fastest on our nodes.
#
#   scripts/launch.sh -np 2 train --config configs/demo.yaml ...
#   scripts/launch.sh -np 16 --hostfile cluster/hostfile train ...
#
# - shared-memory transport without CMA single-copy (vader, `btl_vader_single_copy_mechanism none`):
#   40 MB all-reduce 16 ms -> ~5 ms on a 2-core VM; TCP between nodes (override with VQA_MPI_BTL);
# - GLIBC_TUNABLES keeps large buffers mapped (fresh pages cost ~1.7 us per 4 KiB here);
# - one OpenBLAS thread per rank unless VQA_THREADS says otherwise (ranks are bound to cores);
# - root is allowed (containers), and more ranks than cores with --oversubscribe-if-needed.
# Every variable a rank needs is forwarded with -x, so remote hosts see the same settings.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${VQA_MPI_BIN:-$here/.build/release/vqa-mpi}"
[[ -x "$bin" ]] || { echo "launch.sh: $bin is missing; build it with: swift build -c release" >&2; exit 1; }

np=1; mpi_args=(); args=()
while (($#)); do
  case "$1" in
    -np|-n) np="$2"; mpi_args+=(-np "$2"); shift 2 ;;
    --hostfile|-H|--host|--map-by|--bind-to) mpi_args+=("$1" "$2"); shift 2 ;;
    --oversubscribe) mpi_args+=("$1"); shift ;;
    *) args+=("$1"); shift ;;
  esac
done
(( ${#args[@]} )) || { echo "usage: scripts/launch.sh -np N [--hostfile F] SUBCOMMAND [ARGS...]" >&2; exit 2; }

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.mmap_threshold=2000000000:glibc.malloc.trim_threshold=4000000000}"
export OPENBLAS_NUM_THREADS="${VQA_THREADS:-1}"
cores=$(nproc)
extra=()
if [[ " ${mpi_args[*]} " != *" --hostfile "* && "$np" -gt "$cores" ]]; then extra+=(--oversubscribe); fi
forward=(-x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM -x GLIBC_TUNABLES -x OPENBLAS_NUM_THREADS)
for v in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE PATH LD_LIBRARY_PATH; do [[ -n "${!v:-}" ]] && forward+=(-x "$v"); done
exec mpirun "${mpi_args[@]}" "${extra[@]}" \
  --mca btl "${VQA_MPI_BTL:-self,vader,tcp}" --mca btl_vader_single_copy_mechanism none \
  "${forward[@]}" "$bin" "${args[@]}"
