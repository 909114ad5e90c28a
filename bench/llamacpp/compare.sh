#!/bin/sh
# Our checkpoints against llama.cpp on the same weights, machine and thread count, back to back:
#   bench/llamacpp/compare.sh FP32_DIR MXFP4_IDENTITY_DIR THREADS WORK_DIR
# FP32_DIR: an unquantized Llama checkpoint (e.g. from `wush make-model --like llama-3.2-1b --vocab 512`);
# MXFP4_IDENTITY_DIR: its `wush quantize --transform identity` (MXFP4) result. WORK_DIR receives the GGUF
# files and the npm packages (node-llama-cpp and its prebuilt linux-x64 CPU backend). Needs node and npm,
# and `./mvnw -B -DskipTests install` run before (bench/target/wush-bench.jar).
set -eu
# as bin/wush does: huge pages for the engine's large per-layer arrays (no effect on llama.cpp, which allocates once)
export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1}"
fp32="$1"; mxfp4="$2"; threads="$3"; work="$4"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mkdir -p "$work"
cd "$work"
[ -d node_modules/node-llama-cpp ] || npm install --no-audit --no-fund node-llama-cpp @node-llama-cpp/linux-x64
[ -f f32.gguf ] || node "$here/export-gguf.mjs" "$fp32" f32.gguf
[ -f mxfp4.gguf ] || node "$here/export-gguf.mjs" "$mxfp4" mxfp4.gguf
cp "$here/bench.mjs" .
echo "== llama.cpp (one process per model, for its peak memory)"
node bench.mjs --threads "$threads" f32=f32.gguf 2>&1 | grep -v '^\[node-llama-cpp\]'
node bench.mjs --threads "$threads" mxfp4=mxfp4.gguf 2>&1 | grep -v '^\[node-llama-cpp\]'
echo "== wush (DJL), same thread count"
"${JAVA_HOME:+$JAVA_HOME/bin/}java" --enable-native-access=ALL-UNNAMED -Dai.djl.offline=true -jar "$root/bench/target/wush-bench.jar" --quick --skip-layers \
    --skip-decode --threads "$threads" --models "fp32=$fp32,mxfp4-identity=$mxfp4" 2>&1 | grep -v WARN | sed -n '/^CPU:/p;/^whole checkpoints/,/^(ratios/p'
