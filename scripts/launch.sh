#!/usr/bin/env bash
# Launches vqa-mpi under mpirun with the settings measured fastest on our nodes.
#
#   scripts/launch.sh -np 2 train --config configs/demo.yaml ...
#   scripts/launch.sh -np 16 --hostfile cluster/hostfile train ...
#   VQA_THREADS=8 scripts/launch.sh -np 4 --hostfile hosts --npernode 2 train ...   # one rank per socket
#
# Launcher options come first, then the vqa-mpi subcommand and its arguments:
#   -np|-n N, --hostfile|--machinefile F, -H|--host LIST, --npernode N, --map-by SPEC,
#   --bind-to WHAT, --rank-by SPEC, --oversubscribe, --report-bindings, --display-map,
#   -x NAME (forward one more variable), --mca KEY VALUE (any other Open MPI setting).
#
# - shared-memory transport without CMA single-copy (vader, `btl_vader_single_copy_mechanism none`):
#   40 MB all-reduce 16 ms -> ~5 ms on a 2-core VM; TCP between nodes. VQA_MPI_BTL replaces the
#   transport list (e.g. `self,vader,openib` or `self,vader,tcp`); VQA_MPI_TCP_IF restricts MPI and
#   Open MPI's out-of-band channel to these interfaces or subnets (`eth0`, `10.0.0.0/8`), needed when
#   nodes have docker/virtual bridges that are not routable between them;
# - GLIBC_TUNABLES keeps large buffers mapped (fresh pages cost ~1.7 us per 4 KiB here);
# - one OpenBLAS thread per rank unless VQA_THREADS says otherwise; with VQA_THREADS=T > 1 (one
#   rank per socket) each rank is given T cores (`--map-by slot:PE=T --bind-to core`) unless
#   --map-by/--bind-to are passed; T = 1 keeps Open MPI's default (one rank bound per core);
# - SIGTERM/SIGINT to this script (Slurm's --signal=B:..., Kubernetes, Ctrl-C) reach every rank at
#   once: the script relays them to mpirun as SIGUSR2/SIGUSR1, which Open MPI forwards to every rank
#   (remote ones too) without tearing the job down, and vqa-mpi treats as SIGTERM/SIGINT (checkpoint
#   at the next step, exit 143/130, the "stopped: preempted" line still printed). After
#   VQA_TERM_GRACE seconds (default 45) without an end the script terminates mpirun; a second signal
#   is relayed again and ends the ranks at once. mpirun runs in its own session, so a terminal's
#   Ctrl-C reaches only this script. Open MPI's own odls_base_sigkill_timeout is NOT the grace: in
#   4.1 mpirun sleeps it twice (SIGCONT, sleep, SIGTERM, sleep, SIGKILL) after ANY rank fails, even
#   when every rank has already exited, so it stays at 1 s and a failed or killed rank ends the job
#   in seconds;
# - root is allowed (containers); above the local core count with no hostfile, --oversubscribe.
#   With a hostfile (--hostfile, -H, or one given by the environment as in Kubeflow's MPIJob:
#   OMPI_MCA_orte_default_hostfile) or inside a Slurm allocation, Open MPI's slots decide;
# - every variable a rank needs is forwarded with -x (OpenBLAS, glibc, PATH, LD_LIBRARY_PATH and
#   every VQA_* variable), so remote hosts see the same settings.
# VQA_LAUNCH_PRINT=1 prints the mpirun command (one argument per line) instead of running it.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${VQA_MPI_BIN:-$here/.build/release/vqa-mpi}"
usage="usage: scripts/launch.sh [-np N] [--hostfile F] [--map-by S] [--bind-to W] [-x VAR] [--mca K V] SUBCOMMAND [ARGS...]"

np=1; mpi_args=(); args=(); hostfile=0; placement=0; oversubscribe=0; extra_vars=()
need() { (($1 >= 2)) || { echo "launch.sh: $2 needs a value; $usage" >&2; exit 2; }; }
while (($#)); do
  case "$1" in
    -np|-n) need $# "$1"; np="$2"; mpi_args+=(-np "$2"); shift 2 ;;
    --hostfile|--machinefile|-H|--host) need $# "$1"; hostfile=1; mpi_args+=("$1" "$2"); shift 2 ;;
    --map-by|--bind-to) need $# "$1"; placement=1; mpi_args+=("$1" "$2"); shift 2 ;;
    --npernode|--rank-by) need $# "$1"; mpi_args+=("$1" "$2"); shift 2 ;;
    --oversubscribe) oversubscribe=1; mpi_args+=("$1"); shift ;;
    --report-bindings|--display-map) mpi_args+=("$1"); shift ;;
    -x) need $# "$1"; extra_vars+=("$2"); shift 2 ;;
    --mca) (($# >= 3)) || { echo "launch.sh: --mca needs KEY VALUE; $usage" >&2; exit 2; }
           mpi_args+=(--mca "$2" "$3"); shift 3 ;;
    --) shift; args=("$@"); break ;;
    -*) echo "launch.sh: unknown launcher option '$1' (launcher options go before the subcommand); $usage" >&2; exit 2 ;;
    *) args=("$@"); break ;;
  esac
done
(( ${#args[@]} )) || { echo "$usage" >&2; exit 2; }
[[ "$np" =~ ^[1-9][0-9]*$ ]] || { echo "launch.sh: -np must be a positive integer, got '$np'" >&2; exit 2; }
threads="${VQA_THREADS:-1}"
[[ "$threads" =~ ^[1-9][0-9]*$ ]] || { echo "launch.sh: VQA_THREADS must be a positive integer, got '$threads'" >&2; exit 2; }
grace="${VQA_TERM_GRACE:-45}"
[[ "$grace" =~ ^[0-9]+$ ]] || { echo "launch.sh: VQA_TERM_GRACE must be whole seconds, got '$grace'" >&2; exit 2; }
if [[ "${VQA_LAUNCH_PRINT:-0}" != 1 && ! -x "$bin" ]]; then
  echo "launch.sh: $bin is missing; build it with: swift build -c release (or set VQA_MPI_BIN)" >&2; exit 1
fi

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.mmap_threshold=2000000000:glibc.malloc.trim_threshold=4000000000}"
export OPENBLAS_NUM_THREADS="$threads"

# Where the slots come from: an explicit or environment hostfile, or a Slurm allocation.
if [[ -n "${OMPI_MCA_orte_default_hostfile:-}" || -n "${SLURM_JOB_ID:-}" ]]; then hostfile=1; fi
extra=()
if ((hostfile == 0 && oversubscribe == 0)) && (( np > $(nproc) )); then extra+=(--oversubscribe); oversubscribe=1; fi
if ((threads > 1 && placement == 0 && oversubscribe == 0)); then extra+=(--map-by "slot:PE=$threads" --bind-to core); fi
transport=(--mca btl "${VQA_MPI_BTL:-self,vader,tcp}" --mca btl_vader_single_copy_mechanism none)
if [[ -n "${VQA_MPI_TCP_IF:-}" ]]; then
  transport+=(--mca btl_tcp_if_include "$VQA_MPI_TCP_IF" --mca oob_tcp_if_include "$VQA_MPI_TCP_IF")
fi

forward=(-x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM -x GLIBC_TUNABLES -x OPENBLAS_NUM_THREADS)
for v in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE PATH LD_LIBRARY_PATH $(compgen -e | grep '^VQA_' || true); do
  [[ -n "${!v:-}" ]] && forward+=(-x "$v")
done
for v in "${extra_vars[@]}"; do forward+=(-x "$v"); done

cmd=(mpirun "${mpi_args[@]}" "${extra[@]}" "${transport[@]}"
     --mca odls_base_sigkill_timeout 1 "${forward[@]}" "$bin" "${args[@]}")
if [[ "${VQA_LAUNCH_PRINT:-0}" == 1 ]]; then printf '%s\n' "${cmd[@]}"; exit 0; fi

# mpirun in the background (its own session), signals relayed, its exit status returned.
setsid "${cmd[@]}" &
child=$!
deadline=0
relay() {  # $1: the signal for mpirun to forward to the ranks
  kill -s "$1" "$child" 2>/dev/null || true
  ((deadline > 0)) || deadline=$((SECONDS + grace))
}
trap 'relay USR2' TERM
trap 'relay USR1' INT
while kill -0 "$child" 2>/dev/null; do
  if ((deadline > 0 && SECONDS >= deadline)); then
    echo "launch.sh: the ranks did not stop within VQA_TERM_GRACE=${grace}s; terminating mpirun" >&2
    kill -s TERM "$child" 2>/dev/null || true; deadline=-1
  fi
  sleep 0.2
done
status=0
wait "$child" || status=$?
exit "$status"
