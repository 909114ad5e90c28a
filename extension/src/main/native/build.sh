#!/bin/sh
# Compiles the packed FP4 kernels into the jar's classes: build.sh SOURCE_DIR CLASSES_DIR.
# Where there is no gcc, or the platform is not Linux x86-64, it says so and the jar carries no native
# library: the kernels then run on the Java fallback (dev.wush.kernel.JavaFp4Kernels).
set -eu
src="$1"
out="$2/dev/wush/kernel/linux-x86_64"
lib="$out/libwushkernels.so"
platform="$(uname -s)/$(uname -m)"
if [ "$platform" != "Linux/x86_64" ]; then
  echo "[wush] native kernels are built for Linux/x86_64 only, not $platform: the Java fallback will be used"
  exit 0
fi
cc="${CC:-gcc}"
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "[wush] WARNING: $cc not found, native kernels not built: the Java fallback will be used"
  exit 0
fi
if [ -f "$lib" ] && [ "$lib" -nt "$src/wush_kernels.c" ] && [ "$lib" -nt "$src/wush_fp4.h" ] && [ "$lib" -nt "$src/wush_attention.c" ] && [ "$lib" -nt "$0" ]; then
  exit 0
fi
mkdir -p "$out"
# -ffp-contract=off: no fused multiply-adds behind our back, so the transform matches the Java fallback bit for bit
"$cc" -std=gnu11 -O3 -fPIC -shared -ffp-contract=off -fno-math-errno -Wall -Wextra -Werror \
  -o "$lib.tmp" "$src/wush_kernels.c" "$src/wush_attention.c" -lm
mv "$lib.tmp" "$lib"
echo "[wush] native kernels: $lib"
