#!/usr/bin/env bash
# Collects what a built vqa-mpi needs at run time, for the container's runtime stage:
#   DEST/runtime-packages.txt  the Debian packages owning its shared libraries (one per line)
#   DEST/lib/                  copies of the libraries no package owns (the Swift runtime that
#                              came with the toolchain tarball: libswiftCore, libFoundation, ...)
#
#   cluster/runtime-deps.sh .build/release/vqa-mpi /opt/vqa-mpi
#
# Deriving the list from `ldd` keeps the runtime stage in step with scripts/setup.sh: whatever
# -dev package setup.sh adds, the library the binary links against brings its runtime package.
set -euo pipefail
bin="${1:?usage: cluster/runtime-deps.sh BINARY DEST}"
dest="${2:?usage: cluster/runtime-deps.sh BINARY DEST}"
[[ -x "$bin" ]] || { echo "runtime-deps.sh: $bin is not an executable; build it first" >&2; exit 1; }
mkdir -p "$dest/lib"
libs=$(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3}')
if ldd "$bin" | grep -q "not found"; then
  echo "runtime-deps.sh: $bin has unresolved libraries:" >&2; ldd "$bin" | grep "not found" >&2; exit 1
fi
# One dpkg query for every library under each name it may be registered with (usrmerge moved
# /lib to /usr/lib; dpkg knows the path the package shipped).
declare -A owner=()
candidates=()
for lib in $libs; do
  candidates+=("$lib" "$(realpath "$lib")" "/usr$lib" "${lib#/usr}")
done
while IFS= read -r line; do
  pkg="${line%%: *}"; path="${line#*: }"
  owner["$path"]="${pkg%%:*}"
done < <(dpkg -S "${candidates[@]}" 2>/dev/null || true)
packages=(); copied=0
for lib in $libs; do
  found=""
  for c in "$lib" "$(realpath "$lib")" "/usr$lib" "${lib#/usr}"; do
    if [[ -n "${owner[$c]:-}" ]]; then found="${owner[$c]}"; break; fi
  done
  if [[ -n "$found" ]]; then
    packages+=("$found")
  else
    cp -L "$lib" "$dest/lib/"; copied=$((copied + 1))
  fi
done
printf '%s\n' "${packages[@]}" | sort -u > "$dest/runtime-packages.txt"
echo "runtime-deps.sh: $(wc -l < "$dest/runtime-packages.txt") packages -> $dest/runtime-packages.txt; $copied unpackaged libraries -> $dest/lib"
