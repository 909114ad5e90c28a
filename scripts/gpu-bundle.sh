#!/bin/sh
# Packs what the GPU checks need into .device/ (git-ignored), for a GPU machine that has the NVIDIA driver,
# CUDA and Python but no Java or Maven: a jlinked JRE (.tar.xz), the extension's classes and test classes
# (with libwushkernels.so and libwushcuda.so), their test classpath without DJL's native jars, the JUnit
# console launcher, and the C++ test and benchmark binaries. About 35 MB.
# Then, on the GPU machine, from the repository root:  sh scripts/gpu-check.sh
set -eu
cd "$(dirname "$0")/.."
JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export JAVA_HOME
junit="${JUNIT_CONSOLE_VERSION:-1.13.4}"
./mvnw -q -B -DskipTests install -pl extension -am
rm -rf .device
mkdir -p .device/lib .device/cuda
./mvnw -q -B -pl extension dependency:copy-dependencies -DincludeScope=test \
  -DexcludeArtifactIds=pytorch-native-cpu,pytorch-jni,tokenizers \
  -DexcludeGroupIds=org.junit.jupiter,org.junit.platform,org.opentest4j,org.apiguardian -DoutputDirectory="$PWD/.device/lib"
./mvnw -q -B dependency:copy -Dartifact="org.junit.platform:junit-platform-console-standalone:$junit" \
  -DoutputDirectory="$PWD/.device"
cp -r extension/target/classes .device/classes
cp -r extension/target/test-classes .device/test-classes
cp extension/target/cuda/wush_cuda_test extension/target/cuda/wush_cuda_bench .device/cuda/
"$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,jdk.unsupported,java.management,java.xml \
  --strip-debug --no-man-pages --no-header-files --output .device/jre
tar -C .device -cJf .device/jre.tar.xz jre
rm -rf .device/jre
du -sh .device
