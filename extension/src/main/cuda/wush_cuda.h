/*
 * C API of the CUDA FP4 kernels (libwushcuda.so), called from Java through FFM
 * (dev.wush.kernel.cuda.CudaFp4Kernels) and from the C++ tests and benchmark.
 *
 * Layouts are those of the CPU kernels (src/main/native/wush_kernels.c and dev.wush.kernel.Fp4Kernels):
 * activations (rows, p) float32 row-major; E2M1 codes two per byte, activation codes in the standard
 * layout (element 2k in the low nibble), weight codes in the split-nibble layout (per 32 elements, byte i
 * holds element i low and element 16 + i high); one scale byte per group of d (32 MXFP4, 16 NVFP4);
 * transforms per block transposed, tt[j*d + k] = T[k][j], tstride floats apart (0: shared, NULL: identity).
 *
 * Every pointer to data is a device pointer; stream is a cudaStream_t (NULL: the legacy default stream),
 * typically the current stream of the caller's framework. Every function returns 0 or an error status:
 * a cudaError_t, or one of the WUSH_CUDA_E_* codes below; wush_cuda_error_string names it. Kernels are
 * launched asynchronously on the stream: errors of the kernel's execution surface at the next
 * synchronizing call.
 */
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WUSH_CUDA_ABI 2
#define WUSH_CUDA_E_ARGUMENT (-1)    /* a size or format argument out of range */
#define WUSH_CUDA_E_UNSUPPORTED (-2) /* no kernel for these sizes on this device */

/* What a scale code means in the products (the formats' block scales without their constant factor). */
#define WUSH_CUDA_SCALE_E8M0 0 /* MXFP4: 2^(code − 127), per 32 elements */
#define WUSH_CUDA_SCALE_E4M3 1 /* NVFP4: the E4M3 value of the code, per 16 elements */

int32_t wush_cuda_abi_version(void);
const char *wush_cuda_error_string(int32_t status);

int32_t wush_cuda_device_count(int32_t *count);
/* Compute capability and name (NUL-terminated, at most name_len bytes) of a device. */
int32_t wush_cuda_device_info(int32_t device, int32_t *major, int32_t *minor, char *name, int32_t name_len);
int32_t wush_cuda_set_device(int32_t device);
/* The architectures this library has machine code for, e.g. "sm_90 sm_100a sm_120a". */
const char *wush_cuda_compiled_archs(void);

int32_t wush_cuda_malloc(void **ptr, int64_t bytes);
int32_t wush_cuda_free(void *ptr);
/* kind: 1 host to device, 2 device to host, 3 device to device; returns once the copy is done. */
int32_t wush_cuda_copy(void *dst, const void *src, int64_t bytes, int32_t kind, void *stream);
int32_t wush_cuda_memset(void *ptr, int32_t value, int64_t bytes, void *stream);
int32_t wush_cuda_stream_synchronize(void *stream);
/* Stream-ordered allocation (the device's memory pool): usable by work queued on the stream after it. */
int32_t wush_cuda_malloc_async(void **ptr, int64_t bytes, void *stream);
int32_t wush_cuda_free_async(void *ptr, void *stream);
/* rows rows of width bytes from src (spitch bytes apart) to dst (dpitch apart), device to device, queued on the stream. */
int32_t wush_cuda_copy_rows(void *dst, int64_t dpitch, const void *src, int64_t spitch, int64_t width, int64_t rows,
                            void *stream);

/* y[r] = x[r] · Tᵀ block by block, all rows; fp32 in order, bit-identical to the CPU kernels. */
int32_t wush_cuda_transform_rows(void *stream, const float *x, int64_t rows, int32_t p, int32_t d, const float *tt,
                                 int64_t tstride, float *y);

/*
 * Fused transform and quantization of activations (rows, p) to codes (rows, p/2) and scale codes (rows, p/d).
 * rule: 0 MXFP4, 1 MXFP4 (OCP), 2 NVFP4 with global scale; scale_lut: device, the 256 scale values.
 * exact = 1: block products on the CUDA cores, in order: codes bit-identical to the CPU kernels.
 * exact = 0: block products on the tensor cores (three TF32 products, about float32 accuracy, another
 * summation order): codes equal to the exact ones except for values within rounding of a code boundary.
 */
int32_t wush_cuda_quantize_rows(void *stream, const float *x, int64_t rows, int32_t p, int32_t d, const float *tt,
                                int64_t tstride, int32_t rule, float global, const float *scale_lut, uint8_t *codes,
                                uint8_t *scales, int32_t exact);

/*
 * W4A4: y[r*ldy + o] = alpha · Σ_k a[r,k]·w[o,k] for r < rows, o < out, float32 accumulation, where an element's
 * value is its E2M1 value times the scale of its block of d, read as scale_type says (one format for both
 * operands); alpha holds the rest of the scales (1/3² for the official MXFP4 rule, the NVFP4 global scales).
 * p must be a multiple of 32. Up to 4 rows run a memory-bound GEMV (exact dp4a group dots); more rows a tile
 * GEMM: on sm_120a/sm_121a devices the block-scaled FP4 tensor cores (MXFP4 with E8M0 per 32, NVFP4 with E4M3
 * per 16; checked against the BF16 kernel on first use), elsewhere FP4 tiles unpacked to BF16 tensor cores.
 */
int32_t wush_cuda_gemm_w4a4(void *stream, const uint8_t *a_codes, const uint8_t *a_scales, int32_t rows,
                            const uint8_t *w_codes, const uint8_t *w_scales, int64_t out, int32_t p, int32_t d,
                            int32_t scale_type, float alpha, float *y, int64_t ldy);

/* W4A16: as wush_cuda_gemm_w4a4 with float activations x (rows, p) (already transformed); a GEMV per 4 rows. */
int32_t wush_cuda_gemv_w4a16(void *stream, const float *x, int32_t rows, const uint8_t *w_codes,
                             const uint8_t *w_scales, int64_t out, int32_t p, int32_t d, int32_t scale_type,
                             float alpha, float *y, int64_t ldy);

/* Which kernel wush_cuda_gemm_w4a4 runs for these sizes on the current device: "gemv-dp4a", "tc-fp4-mma", "tc-bf16-wmma". */
const char *wush_cuda_gemm_kernel_name(int32_t rows, int32_t p, int32_t d, int32_t scale_type);

/* The kernel the calling thread's last successful wush_cuda_gemm_w4a4 launched (names as above; "none" before any). */
const char *wush_cuda_last_gemm_kernel(void);

/* Whether the FP4 tensor-core GEMM runs on the current device, and if not why (checks it on first call). */
const char *wush_cuda_fp4_mma_status(void);

#ifdef __cplusplus
}
#endif
