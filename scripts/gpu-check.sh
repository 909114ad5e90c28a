#!/bin/sh
# The GPU checks of the CUDA kernels, on a machine with an NVIDIA GPU, from the repository root, after
# scripts/gpu-bundle.sh filled .device/ on the build machine (carry .device there). Writes logs to $OUT
# (or .device/out) and exits non-zero when a check fails:
#   1. the C++ tests with --require-device (GPU against the CPU kernels: bit-exact quantization, products
#      within 1e-3 relative), then under compute-sanitizer memcheck, racecheck, synccheck and initcheck;
#   2. the Java tests through FFM on device buffers (CudaKernelsTest, -Dwush.cuda.require=true);
#   3. the benchmark table (wush_cuda_bench) against cuBLAS BF16 and a device-to-device copy.
set -u
cd "$(dirname "$0")/../.device"
out="${OUT:-$PWD/out}"
mkdir -p "$out"
[ -d jre ] || tar -xJf jre.tar.xz
cpu=classes/dev/wush/kernel/linux-x86_64/libwushkernels.so
status=0
run() { # name command...
  name="$1"; shift
  echo "== $name"
  if "$@" >"$out/$name.log" 2>&1; then echo "   ok"; else echo "   FAILED (exit $?)"; status=1; fi
  tail -n 5 "$out/$name.log"
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/device.txt" 2>&1
cat "$out/device.txt"
run cpp-tests ./cuda/wush_cuda_test "$cpu" --require-device
sanitizer="$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)"
for tool in memcheck racecheck synccheck initcheck; do
  run "sanitizer-$tool" "$sanitizer" --tool "$tool" --error-exitcode 1 ./cuda/wush_cuda_test "$cpu" --require-device
done
run java-tests jre/bin/java --enable-native-access=ALL-UNNAMED -Dwush.cuda.require=true \
  -jar junit-platform-console-standalone-*.jar execute --disable-banner --details=summary --fail-if-no-tests \
  -cp "classes:test-classes:$(ls lib/*.jar | tr '\n' ':')" --select-class dev.wush.kernel.cuda.CudaKernelsTest
if [ -z "${WUSH_CUBLAS:-}" ]; then
  WUSH_CUBLAS="$(python3 -c 'import nvidia.cublas, os; print(os.path.join(list(nvidia.cublas.__path__)[0], "lib", "libcublas.so.13"))' 2>/dev/null \
    || find / -name 'libcublas.so.1*' -not -path '*/proc/*' 2>/dev/null | head -n 1)"
  export WUSH_CUBLAS
fi
run bench ./cuda/wush_cuda_bench
cat "$out/bench.log"
exit $status
