#!/bin/sh
# Builds the CUDA kernels with nvcc (run by the Maven profile "cuda", which activates when nvcc is found).
#   build.sh lib  NVCC CUDA_SRC CLASSES_DIR             -> CLASSES_DIR/dev/wush/kernel/linux-x86_64/libwushcuda.so
#   build.sh test NVCC CUDA_SRC TEST_SRC CLASSES_DIR OUT -> OUT/wush_cuda_test and OUT/wush_cuda_bench (linked to the
#                                                           library above; the benchmark loads cuBLAS at run time)
# The library links the CUDA runtime statically: at run time it needs only the NVIDIA driver (libcuda.so).
# WUSH_CUDA_ARCHS overrides the architectures (nvcc -gencode arguments, space-separated).
set -eu
mode="$1"; nvcc="$2"; src="$3"
rules="$src/../native" # wush_fp4.h, the quantization rules shared with the CPU kernels
archs="${WUSH_CUDA_ARCHS:-arch=compute_80,code=sm_80 arch=compute_90,code=sm_90 arch=compute_120a,code=sm_120a arch=compute_121a,code=sm_121a arch=compute_90,code=compute_90}"
gencode=""
names=""
for a in $archs; do
  gencode="$gencode -gencode $a"
  names="$names ${a##*=}"
done
names="${names# }"
flags="-I$rules -O3 -std=c++17 -lineinfo -Xcompiler -fPIC,-ffp-contract=off,-Wall -Werror all-warnings -cudart static"
case "$mode" in
lib)
  out="$4/dev/wush/kernel/linux-x86_64"
  lib="$out/libwushcuda.so"
  if [ -f "$lib" ] && [ "$lib" -nt "$src/wush_cuda.cu" ] && [ "$lib" -nt "$rules/wush_fp4.h" ] \
     && [ "$lib" -nt "$src/wush_cuda.h" ] && [ "$lib" -nt "$src/wush_fp4mma.h" ] && [ "$lib" -nt "$src/wush_unpack.h" ] && [ "$lib" -nt "$0" ]; then
    exit 0
  fi
  mkdir -p "$out"
  echo "[wush] nvcc: CUDA kernels for $names"
  # shellcheck disable=SC2086
  "$nvcc" $flags $gencode -shared -DWUSH_CUDA_ARCHS="\"$names\"" -o "$lib.tmp" "$src/wush_cuda.cu"
  mv "$lib.tmp" "$lib"
  echo "[wush] CUDA kernels: $lib"
  ;;
test)
  testsrc="$4"; libdir="$5/dev/wush/kernel/linux-x86_64"; out="$6"
  mkdir -p "$out"
  # the test only calls the library: host code, one architecture is enough for its own (empty) device part
  # shellcheck disable=SC2086
  "$nvcc" $flags -I"$src" -I"$testsrc" -o "$out/wush_cuda_test.tmp" "$testsrc/wush_cuda_test.cu" -L"$libdir" -lwushcuda \
    -Xlinker -rpath,'$ORIGIN/../classes/dev/wush/kernel/linux-x86_64' -ldl
  mv "$out/wush_cuda_test.tmp" "$out/wush_cuda_test"
  # shellcheck disable=SC2086
  "$nvcc" $flags -I"$src" -I"$testsrc" -o "$out/wush_cuda_bench.tmp" "$testsrc/wush_cuda_bench.cu" -L"$libdir" -lwushcuda \
    -Xlinker -rpath,'$ORIGIN/../classes/dev/wush/kernel/linux-x86_64' -ldl
  mv "$out/wush_cuda_bench.tmp" "$out/wush_cuda_bench"
  echo "[wush] CUDA kernel tests: $out/wush_cuda_test, benchmark: $out/wush_cuda_bench"
  ;;
*)
  echo "build.sh: unknown mode $mode" >&2
  exit 2
  ;;
esac
