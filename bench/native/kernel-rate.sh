#!/bin/sh
# Builds bench/native/kernel_rate.c and runs it on the CPU kernels of this checkout (build them first:
# ./mvnw -B -DskipTests install), pinned to one core when taskset is installed. Arguments go to kernel_rate.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
lib="$here/../../extension/target/classes/dev/wush/kernel/linux-x86_64/libwushkernels.so"
[ -f "$lib" ] || { echo "kernel-rate.sh: $lib not found: run ./mvnw -B -DskipTests install first" >&2; exit 2; }
out="$here/../target/kernel_rate"
mkdir -p "$(dirname "$out")"
cc -O2 -std=gnu11 -Wall -Werror -o "$out" "$here/kernel_rate.c" -ldl -lm
grep -m1 'model name' /proc/cpuinfo
if command -v taskset >/dev/null 2>&1; then exec taskset -c 0 "$out" "$lib" "$@"; else exec "$out" "$lib" "$@"; fi
