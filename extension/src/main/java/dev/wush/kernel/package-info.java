/** Packed FP4 layers and their CPU kernels (native AVX2/AVX-512 VNNI through FFM, with a Java fallback), the kernels' thread pool and the fused decode attention. */
package dev.wush.kernel;
