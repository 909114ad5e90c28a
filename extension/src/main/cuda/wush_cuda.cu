/*
 * CUDA kernels for WUSH-quantized linear layers: the GPU side of the CPU kernels in
 * src/main/native/wush_kernels.c, on the same layouts (see wush_cuda.h).
 *
 *   (a) quantize_exact_kernel / quantize_tc_kernel: fused per-block transform + MXFP4/NVFP4 quantization
 *       of activations, one pass over them; the tensor-core variant does the d×d block products with
 *       WMMA TF32 (three products per element pair for about float32 accuracy).
 *   (b) gemm_tc_kernel: packed W4A4 GEMM; 128×128 output tiles, FP4 tiles unpacked in shared memory to
 *       BF16 (E2M1 × scale base is exact in BF16), BF16 tensor cores (WMMA), float32 accumulation.
 *   (c) gemv_w4a4_kernel / gemv_w4a16_kernel: memory-bound decode products, one warp per output
 *       feature, 16-byte coalesced weight loads; W4A4 does exact integer group dots with dp4a.
 */
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <mma.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mutex>
#include <vector>

#include "wush_cuda.h"
#include "wush_fp4.h"
#include "wush_fp4mma.h"
#include "wush_unpack.h"

#ifndef WUSH_CUDA_ARCHS
#define WUSH_CUDA_ARCHS "unknown"
#endif

using namespace nvcuda;

static_assert(WUSH_CUDA_SCALE_E8M0 == WUSH_SCALE_E8M0 && WUSH_CUDA_SCALE_E4M3 == WUSH_SCALE_E4M3, "scale types");

namespace {

constexpr unsigned FULL_MASK = 0xFFFFFFFFu;

/* ---------- helpers ---------- */

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}

__device__ __forceinline__ float e2m1_value(int code) {
    const float mag[8] = WUSH_E2M1_VALUES;
    float v = 0;
#pragma unroll
    for (int i = 0; i < 8; i++) v = (code & 7) == i ? mag[i] : v; /* selects, no indexed local array */
    return (code & 8) ? -v : v;
}

/* A device attribute of the current device, read once per device (the launchers ask on every call). */
int device_attribute(cudaDeviceAttr attr, int fallback, int (&cache)[64]) {
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) return fallback;
    if (cache[dev] == 0) {
        int n = 0;
        cache[dev] = cudaDeviceGetAttribute(&n, attr, dev) == cudaSuccess && n > 0 ? n : fallback;
    }
    return cache[dev];
}

int sm_count() {
    static int cache[64];
    return device_attribute(cudaDevAttrMultiProcessorCount, 132, cache);
}

int smem_optin() {
    static int cache[64];
    return device_attribute(cudaDevAttrMaxSharedMemoryPerBlockOptin, 48 * 1024, cache);
}

int32_t launched() {
    return (int32_t) cudaGetLastError();
}

/* ---------- (a) transform and quantize activations ---------- */

__global__ void transform_exact_kernel(const float *__restrict__ x, int64_t rows, int p, int d, const float *__restrict__ tt,
                                       int64_t tstride, float *__restrict__ y) {
    int blocks = p / d;
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < rows * blocks; i += (int64_t) gridDim.x * blockDim.x) {
        int64_t r = i / blocks;
        int b = (int) (i % blocks);
        const float *t = tt == nullptr ? nullptr : tt + b * tstride;
        float v[32];
        wush_transform_block(x + r * p + (int64_t) b * d, t, d, v);
        for (int k = 0; k < d; k++) y[r * p + (int64_t) b * d + k] = v[k];
    }
}

/* One thread per (row, block): the CPU kernels' arithmetic, in the same order. */
__global__ void quantize_exact_kernel(const float *__restrict__ x, int64_t rows, int p, int d, const float *__restrict__ tt,
                                      int64_t tstride, int rule, float global, const float *__restrict__ lut,
                                      uint8_t *__restrict__ codes, uint8_t *__restrict__ scales) {
    __shared__ float slut[256];
    for (int i = threadIdx.x; i < 256; i += blockDim.x) slut[i] = lut[i];
    __syncthreads();
    int blocks = p / d;
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < rows * blocks; i += (int64_t) gridDim.x * blockDim.x) {
        int64_t r = i / blocks;
        int b = (int) (i % blocks);
        const float *t = tt == nullptr ? nullptr : tt + b * tstride;
        float v[32];
        uint8_t c[16];
        wush_transform_block(x + r * p + (int64_t) b * d, t, d, v);
        int sc = wush_quantize_group(v, d, rule, global, slut, c);
        uint8_t *out = codes + (r * p + (int64_t) b * d) / 2;
        for (int k = 0; k < d / 2; k++) out[k] = c[k];
        scales[r * blocks + b] = (uint8_t) sc;
    }
}

/* x ≈ hi + lo, both TF32, for the three-product (about float32) tensor-core sum. */
template <typename Frag>
__device__ __forceinline__ void split_tf32(Frag &hi, Frag &lo) {
#pragma unroll
    for (int i = 0; i < hi.num_elements; i++) {
        float v = hi.x[i];
        float h = wmma::__float_to_tf32(v);
        hi.x[i] = h;
        lo.x[i] = wmma::__float_to_tf32(v - h);
    }
}

/*
 * Tensor-core variant: a CTA of 4 warps takes 64 rows of one block b; each warp multiplies its 16×D
 * activation tile by Tᵀ (D×D, in shared memory) with TF32 WMMA, puts the result back in shared memory and
 * quantizes it, two lanes per row.
 */
template <int D>
__global__ void __launch_bounds__(128) quantize_tc_kernel(const float *__restrict__ x, int64_t rows, int p,
                                                          const float *__restrict__ tt, int64_t tstride, int rule,
                                                          float global, const float *__restrict__ lut,
                                                          uint8_t *__restrict__ codes, uint8_t *__restrict__ scales) {
    constexpr int LD = D + 8;
    __shared__ __align__(32) float xs[64 * LD];
    __shared__ __align__(32) float ts[D * LD];
    __shared__ float slut[256];
    const int b = blockIdx.x;
    const int64_t r0 = (int64_t) blockIdx.y * 64;
    const int blocks = p / D;
    const float *t = tt + b * tstride;
    for (int i = threadIdx.x; i < 256; i += 128) slut[i] = lut[i];
    for (int i = threadIdx.x; i < D * D; i += 128) ts[(i / D) * LD + i % D] = t[i];
    for (int i = threadIdx.x; i < 64 * D / 4; i += 128) {
        int r = i / (D / 4), c4 = i % (D / 4);
        float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
        if (r0 + r < rows) v = *reinterpret_cast<const float4 *>(x + (r0 + r) * p + (int64_t) b * D + 4 * c4);
        *reinterpret_cast<float4 *>(xs + r * LD + 4 * c4) = v;
    }
    __syncthreads();
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    float *xw = xs + warp * 16 * LD;
    wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[D / 16];
#pragma unroll
    for (int n = 0; n < D / 16; n++) wmma::fill_fragment(acc[n], 0.0f);
#pragma unroll
    for (int k = 0; k < D; k += 8) {
        wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> a_hi, a_lo;
        wmma::load_matrix_sync(a_hi, xw + k, LD);
        split_tf32(a_hi, a_lo);
#pragma unroll
        for (int n = 0; n < D / 16; n++) {
            wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> b_hi, b_lo;
            wmma::load_matrix_sync(b_hi, ts + k * LD + 16 * n, LD);
            split_tf32(b_hi, b_lo);
            wmma::mma_sync(acc[n], a_lo, b_hi, acc[n]);
            wmma::mma_sync(acc[n], a_hi, b_lo, acc[n]);
            wmma::mma_sync(acc[n], a_hi, b_hi, acc[n]);
        }
    }
    __syncwarp();
#pragma unroll
    for (int n = 0; n < D / 16; n++) wmma::store_matrix_sync(xw + 16 * n, acc[n], LD, wmma::mem_row_major);
    __syncwarp();
    const int rr = lane >> 1, half = lane & 1;
    const float *y = xw + rr * LD + half * (D / 2);
    int nan = 0;
    float amax = wush_absmax(y, D / 2, &nan);
    float other = __shfl_xor_sync(FULL_MASK, amax, 1);
    nan |= __shfl_xor_sync(FULL_MASK, nan, 1);
    amax = other > amax ? other : amax;
    const int sc = wush_scale_code(nan ? NAN : amax, rule, global);
    const int64_t r = r0 + warp * 16 + rr;
    if (r < rows) {
        uint32_t packed[D / 16];
        wush_encode_words(y, D / 2, slut[sc], packed);
        uint8_t *out = codes + (r * p + (int64_t) b * D + half * (D / 2)) / 2;
        if (D == 32) {
            *reinterpret_cast<uint2 *>(out) = make_uint2(packed[0], packed[D / 16 - 1]);
        } else {
            *reinterpret_cast<uint32_t *>(out) = packed[0];
        }
        if (half == 0) scales[r * blocks + b] = (uint8_t) sc;
    }
}

/* ---------- (b) W4A4 tensor-core GEMM ---------- */

/*
 * The K loop of the tile GEMMs, two shared-memory stages: load(k) fetches step k's bytes into registers,
 * store(buf) writes them to stage buf, compute(buf) runs the tensor cores on stage buf; step k + 1 is loaded
 * while step k is computed.
 */
template <typename Load, typename Store, typename Compute>
__device__ __forceinline__ void two_stage_k_loop(int steps, Load load, Store store, Compute compute) {
    load(0);
    store(0);
    __syncthreads();
    for (int k = 0; k < steps; k++) {
        const int buf = k & 1;
        if (k + 1 < steps) load(k + 1);
        compute(buf);
        if (k + 1 < steps) store(buf ^ 1);
        __syncthreads();
    }
}

struct ToBf16 {
    __host__ __device__ __nv_bfloat16 operator()(float v) const { return __float2bfloat16_rn(v); }
};

constexpr int TM = 128, TN = 128, TK = 32, TLD = TK + 8; /* tile sizes; TLD: BF16 row stride in shared memory */

/*
 * y (rows, out) = alpha · A (rows, p) · Wᵀ. 256 threads: threads 0-127 unpack one activation row of the
 * next 32-wide K chunk each, threads 128-255 one weight row, into BF16 (value × scale base, exact);
 * 8 warps of 64×32 outputs run WMMA 16×16×16 BF16 with float32 accumulators. The next chunk's packed bytes
 * are loaded into registers while the tensor cores work on the current one (two shared-memory stages).
 */
template <int D>
__global__ void __launch_bounds__(256) gemm_tc_kernel(const uint8_t *__restrict__ a_codes, const uint8_t *__restrict__ a_scales,
                                                      int rows, const uint8_t *__restrict__ w_codes,
                                                      const uint8_t *__restrict__ w_scales, int64_t out, int p,
                                                      int scale_type, float alpha, float *__restrict__ y, int64_t ldy) {
    __shared__ __align__(32) __nv_bfloat16 as[2][TM * TLD];
    __shared__ __align__(32) __nv_bfloat16 ws[2][TN * TLD];
    __shared__ float sbase[256], e2m1v[16];
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int64_t n0 = (int64_t) blockIdx.x * TN, m0 = (int64_t) blockIdx.y * TM;
    const int chunks = p / 32, blocks = p / D;
    for (int i = tid; i < 256; i += 256) sbase[i] = wush_scale_base(scale_type, i);
    if (tid < 16) e2m1v[tid] = e2m1_value(tid);

    const bool is_a = tid < TM; /* warp-uniform */
    const int lr = is_a ? tid : tid - TM;
    const int64_t grow = is_a ? m0 + lr : n0 + lr;
    const bool valid = is_a ? grow < rows : grow < out;
    const uint8_t *src = (is_a ? a_codes : w_codes) + (valid ? grow : 0) * (int64_t) (p / 2);
    const uint8_t *ssrc = (is_a ? a_scales : w_scales) + (valid ? grow : 0) * (int64_t) blocks;
    uint4 pk = make_uint4(0, 0, 0, 0);
    int s0 = 0, s1 = 0;

    auto load = [&](int c) {
        if (valid) {
            pk = __ldg(reinterpret_cast<const uint4 *>(src) + c);
            s0 = ssrc[wush_group_scale(c, 0, D)];
            s1 = ssrc[wush_group_scale(c, 1, D)];
        }
    };
    auto store = [&](int buf) {
        __align__(16) __nv_bfloat16 v[32];
        wush_group_values(pk, !is_a, sbase[s0], sbase[s1], e2m1v, v, ToBf16()); /* A: standard layout, W: split */
        uint4 *dst = reinterpret_cast<uint4 *>((is_a ? as[buf] : ws[buf]) + lr * TLD);
        const uint4 *vv = reinterpret_cast<const uint4 *>(v);
#pragma unroll
        for (int q = 0; q < 4; q++) dst[q] = vv[q];
    };

    const int wm = warp / 4, wn = warp % 4; /* this warp's 64×32 part of the tile */
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[4][2];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.0f);

    __syncthreads(); /* scale tables */
    two_stage_k_loop(chunks, load, store, [&](int buf) {
#pragma unroll
        for (int kk = 0; kk < TK; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa[4];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> fb[2];
#pragma unroll
            for (int i = 0; i < 4; i++) wmma::load_matrix_sync(fa[i], as[buf] + (wm * 64 + 16 * i) * TLD + kk, TLD);
#pragma unroll
            for (int j = 0; j < 2; j++) wmma::load_matrix_sync(fb[j], ws[buf] + (wn * 32 + 16 * j) * TLD + kk, TLD);
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
        }
    });

    /* epilogue: each warp stages 16×16 tiles in (now free) shared memory and writes the in-range part */
    float *stage = reinterpret_cast<float *>(&as[0][0]) + warp * 256;
#pragma unroll
    for (int i = 0; i < 4; i++) {
#pragma unroll
        for (int j = 0; j < 2; j++) {
#pragma unroll
            for (int e = 0; e < acc[i][j].num_elements; e++) acc[i][j].x[e] *= alpha;
            wmma::store_matrix_sync(stage, acc[i][j], 16, wmma::mem_row_major);
            __syncwarp();
            for (int e = lane; e < 256; e += 32) {
                int64_t gm = m0 + wm * 64 + 16 * i + e / 16, gn = n0 + wn * 32 + 16 * j + e % 16;
                if (gm < rows && gn < out) y[gm * ldy + gn] = stage[e];
            }
            __syncwarp();
        }
    }
}

/* ---------- (b') W4A4 on the block-scaled FP4 tensor cores of sm_120a / sm_121a ---------- */

#if defined(__CUDA_ARCH_FEAT_SM120_ALL) || defined(__CUDA_ARCH_FEAT_SM121_ALL)
#define WUSH_FP4_MMA 1
#endif

/* D += A·B on the FP4 tensor cores (see wush_fp4mma.h); D == 32: MXFP4 (E8M0 per 32), D == 16: NVFP4 (E4M3 per 16). */
template <int D>
__device__ __forceinline__ void mma_fp4(float (&acc)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], uint32_t sa, uint32_t sb) {
#ifdef WUSH_FP4_MMA
    if (D == 32) {
        asm volatile("mma.sync.aligned.m16n8k64.row.col.kind::mxf4.block_scale.scale_vec::2X.f32.e2m1.e2m1.f32.ue8m0 "
                     "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3}, %10, {%11,%12}, %13, {%14,%15};"
                     : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(sa), "h"((uint16_t) 0),
                       "h"((uint16_t) 0), "r"(sb), "h"((uint16_t) 0), "h"((uint16_t) 0));
    } else {
        asm volatile("mma.sync.aligned.m16n8k64.row.col.kind::mxf4nvf4.block_scale.scale_vec::4X.f32.e2m1.e2m1.f32.ue4m3 "
                     "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3}, %10, {%11,%12}, %13, {%14,%15};"
                     : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(sa), "h"((uint16_t) 0),
                       "h"((uint16_t) 0), "r"(sb), "h"((uint16_t) 0), "h"((uint16_t) 0));
    }
#else
    /* never launched: the host runs this kernel only from sm_120a/sm_121a machine code (fp4_mma_usable) */
    acc[0] = acc[1] = acc[2] = acc[3] = NAN;
#endif
}

/*
 * y (rows, out) = alpha · A (rows, p) · Wᵀ on the FP4 tensor cores. 256 threads, 128×128 output tiles, K in
 * tiles of 128 (two m16n8k64 steps): each thread copies two 32-element groups of A and two of W (the weights
 * turned from the split-nibble to the standard layout) and one row's scale words into shared memory; the next
 * tile's bytes are loaded into registers while the tensor cores work on the current one. 8 warps of 64×32
 * outputs: 4 × 4 MMAs per K step.
 */
template <int D>
__global__ void __launch_bounds__(256) gemm_fp4mma_kernel(const uint8_t *__restrict__ a_codes, const uint8_t *__restrict__ a_scales,
                                                          int rows, const uint8_t *__restrict__ w_codes,
                                                          const uint8_t *__restrict__ w_scales, int64_t out, int p, float alpha,
                                                          float *__restrict__ y, int64_t ldy) {
    __shared__ __align__(16) uint32_t ac[2][TM * WUSH_MMA_STRIDE], wc[2][TN * WUSH_MMA_STRIDE];
    __shared__ uint32_t asc[2][TM * 2], wsc[2][TN * 2];
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int64_t n0 = (int64_t) blockIdx.x * TN, m0 = (int64_t) blockIdx.y * TM;
    const int groups = p / 32, blocks = p / D, tiles = (p + WUSH_MMA_TK - 1) / WUSH_MMA_TK;

    /* codes: items tid and tid + 256 of A's and of W's 128 rows × 4 groups; scales: row tid of A (tid < 128) or W */
    uint4 a_pk[2], w_pk[2];
    uint32_t sc_pk[2];
    const uint8_t *a_row[2], *w_row[2];
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const int r = (tid + 256 * h) / 4;
        a_row[h] = m0 + r < rows ? a_codes + (m0 + r) * (p / 2) : nullptr;
        w_row[h] = n0 + r < out ? w_codes + (n0 + r) * (p / 2) : nullptr;
    }
    const bool sc_is_a = tid < TM;
    const int sc_row = sc_is_a ? tid : tid - TM;
    const int64_t sc_grow = sc_is_a ? m0 + sc_row : n0 + sc_row;
    const uint8_t *sc_src = sc_grow < (sc_is_a ? (int64_t) rows : out)
                                ? (sc_is_a ? a_scales : w_scales) + sc_grow * (int64_t) blocks : nullptr;

    auto load = [&](int tile) {
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int g = tile * 4 + (tid + 256 * h) % 4;
            a_pk[h] = wush_mma_group(a_row[h], groups, g);
            w_pk[h] = wush_mma_group(w_row[h], groups, g);
        }
        sc_pk[0] = wush_mma_scale_word(sc_src, blocks, tile, 0, D);
        sc_pk[1] = wush_mma_scale_word(sc_src, blocks, tile, 1, D);
    };
    auto store = [&](int buf) {
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int item = tid + 256 * h, r = item / 4, q = item % 4;
            *reinterpret_cast<uint4 *>(&ac[buf][r * WUSH_MMA_STRIDE + 4 * q]) = a_pk[h];
            *reinterpret_cast<uint4 *>(&wc[buf][r * WUSH_MMA_STRIDE + 4 * q]) = wush_split_to_standard(w_pk[h]);
        }
        uint32_t *sc = sc_is_a ? asc[buf] : wsc[buf];
        sc[sc_row * 2] = sc_pk[0];
        sc[sc_row * 2 + 1] = sc_pk[1];
    };

    const int wm = warp / 4, wn = warp % 4; /* this warp's 64×32 part of the tile */
    float acc[4][4][4] = {};
    two_stage_k_loop(tiles, load, store, [&](int buf) {
#pragma unroll
        for (int ks = 0; ks < 2; ks++) {
            uint32_t fa[4][4], fb[4][2], sa[4], sb[4];
#pragma unroll
            for (int i = 0; i < 4; i++) wush_mma_load_a(ac[buf], asc[buf], wm * 64 + 16 * i, ks, lane, fa[i], &sa[i]);
#pragma unroll
            for (int j = 0; j < 4; j++) wush_mma_load_b(wc[buf], wsc[buf], wn * 32 + 8 * j, ks, lane, fb[j], &sb[j]);
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) mma_fp4<D>(acc[i][j], fa[i], fb[j], sa[i], sb[j]);
        }
    });
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int64_t gm = m0 + wm * 64 + 16 * i + wush_mma_d_row(lane, e);
                const int64_t gn = n0 + wn * 32 + 8 * j + wush_mma_d_col(lane, e);
                if (gm < rows && gn < out) y[gm * ldy + gn] = acc[i][j][e] * alpha;
            }
}

/* ---------- (c) decode GEMVs ---------- */

constexpr int GEMV_THREADS = 256, GEMV_WARPS = GEMV_THREADS / 32, GEMV_MAX_ROWS = 4;

/*
 * The decode GEMVs' loop: each warp takes output features in turn; lane c reads 16 bytes of weights (32
 * elements, split-nibble) per step, unpacks them to doubled int8 values and adds dot(r, c, wv, wlo, whi) to
 * row r's sum (wlo, whi: the scales of elements 0-15 and 16-31); y[r, o] = warp sum · alpha.
 */
template <int D, int R, typename Dot>
__device__ __forceinline__ void gemv_outputs(const uint8_t *__restrict__ w_codes, const uint8_t *__restrict__ w_scales,
                                             int64_t out, int p, const float *wbase, float alpha, float *__restrict__ y,
                                             int64_t ldy, Dot dot) {
    const int blocks = p / D;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    for (int64_t o = (int64_t) blockIdx.x * GEMV_WARPS + warp; o < out; o += (int64_t) gridDim.x * GEMV_WARPS) {
        const uint4 *wrow = reinterpret_cast<const uint4 *>(w_codes + o * (p / 2));
        const uint8_t *wsc = w_scales + o * blocks;
        float acc[R];
#pragma unroll
        for (int r = 0; r < R; r++) acc[r] = 0;
        for (int c = lane; c < p / 32; c += 32) {
            uint32_t wv[8];
            wush_unpack_split32(__ldg(wrow + c), wv);
            const float wlo = wbase[wsc[wush_group_scale(c, 0, D)]], whi = wbase[wsc[wush_group_scale(c, 1, D)]];
#pragma unroll
            for (int r = 0; r < R; r++) acc[r] += dot(r, c, wv, wlo, whi);
        }
#pragma unroll
        for (int r = 0; r < R; r++) {
            float s = warp_sum(acc[r]);
            if (lane == 0) y[r * ldy + o] = s * alpha;
        }
    }
}

/*
 * W4A4 for R ≤ 4 rows: the CTA unpacks the activation codes once into shared memory (doubled int8 values,
 * element order, and a scale value per 16), then gemv_outputs with group dots that are exact int32 sums of dp4a.
 */
template <int D, int R>
__global__ void __launch_bounds__(GEMV_THREADS) gemv_w4a4_kernel(const uint8_t *__restrict__ a_codes,
                                                                 const uint8_t *__restrict__ a_scales,
                                                                 const uint8_t *__restrict__ w_codes,
                                                                 const uint8_t *__restrict__ w_scales, int64_t out, int p,
                                                                 int scale_type, float alpha, float *__restrict__ y,
                                                                 int64_t ldy) {
    extern __shared__ __align__(16) uint8_t smem[];
    uint32_t *av = reinterpret_cast<uint32_t *>(smem);                      /* (R, p/4) words of 4 int8 */
    float *as16 = reinterpret_cast<float *>(smem + (size_t) R * p);         /* (R, p/16) */
    __shared__ float wbase[256];
    const int blocks = p / D, groups16 = p / 16;
    for (int i = threadIdx.x; i < 256; i += GEMV_THREADS) wbase[i] = wush_scale_base(scale_type, i);
    __syncthreads();
    const uint32_t *aw = reinterpret_cast<const uint32_t *>(a_codes);
    for (int i = threadIdx.x; i < R * p / 8; i += GEMV_THREADS) {
        uint32_t first, second;
        wush_unpack_standard8(__ldg(aw + i), &first, &second);
        av[2 * i] = first;
        av[2 * i + 1] = second;
    }
    for (int i = threadIdx.x; i < R * groups16; i += GEMV_THREADS) {
        int r = i / groups16, g = i % groups16;
        as16[i] = wbase[a_scales[(int64_t) r * blocks + g * 16 / D]]; /* one format for both operands */
    }
    __syncthreads();
    /* both operands doubled: the sums are 4× the products */
    gemv_outputs<D, R>(w_codes, w_scales, out, p, wbase, 0.25f * alpha, y, ldy,
                       [&](int r, int c, const uint32_t (&wv)[8], float wlo, float whi) {
        return wush_w4a4_dot32(av + (size_t) r * (p / 4), as16 + (size_t) r * groups16, c, wv, wlo, whi);
    });
}

/* W4A16 for R ≤ 4 rows: gemv_outputs with float activations read through the cache. */
template <int D, int R>
__global__ void __launch_bounds__(GEMV_THREADS) gemv_w4a16_kernel(const float *__restrict__ x, const uint8_t *__restrict__ w_codes,
                                                                  const uint8_t *__restrict__ w_scales, int64_t out, int p,
                                                                  int scale_type, float alpha, float *__restrict__ y,
                                                                  int64_t ldy) {
    __shared__ float wbase[256];
    for (int i = threadIdx.x; i < 256; i += GEMV_THREADS) wbase[i] = wush_scale_base(scale_type, i);
    __syncthreads();
    /* doubled weights: the sums are 2× the products */
    gemv_outputs<D, R>(w_codes, w_scales, out, p, wbase, 0.5f * alpha, y, ldy,
                       [&](int r, int c, const uint32_t (&wv)[8], float wlo, float whi) {
        return wush_w4a16_dot32(x + (int64_t) r * p, c, wv, wlo, whi);
    });
}

/* ---------- launchers ---------- */

int grid_for(int64_t items, int per_block) {
    int64_t want = (items + per_block - 1) / per_block;
    int64_t cap = (int64_t) sm_count() * 8;
    return (int) (want < 1 ? 1 : want < cap ? want : cap);
}

size_t gemv_smem(int rows, int p) {
    return (size_t) rows * p + (size_t) rows * (p / 16) * sizeof(float);
}

template <int D, int R>
int32_t launch_gemv_w4a4(cudaStream_t s, const uint8_t *ac, const uint8_t *asc, const uint8_t *wc, const uint8_t *wsc,
                         int64_t out, int p, int st, float alpha, float *y, int64_t ldy) {
    size_t smem = gemv_smem(R, p);
    if (smem > 48 * 1024) {
        cudaError_t e = cudaFuncSetAttribute(gemv_w4a4_kernel<D, R>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int) smem);
        if (e != cudaSuccess) return (int32_t) e;
    }
    int per_sm_blocks = (int) (smem_optin() / (smem + 2048));
    int64_t cap = (int64_t) sm_count() * (per_sm_blocks < 1 ? 1 : per_sm_blocks > 4 ? 4 : per_sm_blocks);
    int64_t want = (out + GEMV_WARPS - 1) / GEMV_WARPS;
    int grid = (int) (want < cap ? want : cap);
    gemv_w4a4_kernel<D, R><<<grid, GEMV_THREADS, smem, s>>>(ac, asc, wc, wsc, out, p, st, alpha, y, ldy);
    return launched();
}

template <int D>
int32_t gemv_w4a4_rows(cudaStream_t s, int rows, const uint8_t *ac, const uint8_t *asc, const uint8_t *wc,
                       const uint8_t *wsc, int64_t out, int p, int st, float alpha, float *y,
                       int64_t ldy) {
    switch (rows) {
    case 1: return launch_gemv_w4a4<D, 1>(s, ac, asc, wc, wsc, out, p, st, alpha, y, ldy);
    case 2: return launch_gemv_w4a4<D, 2>(s, ac, asc, wc, wsc, out, p, st, alpha, y, ldy);
    case 3: return launch_gemv_w4a4<D, 3>(s, ac, asc, wc, wsc, out, p, st, alpha, y, ldy);
    default: return launch_gemv_w4a4<D, 4>(s, ac, asc, wc, wsc, out, p, st, alpha, y, ldy);
    }
}

template <int D>
int32_t gemv_w4a16_rows(cudaStream_t s, int rows, const float *x, const uint8_t *wc, const uint8_t *wsc, int64_t out, int p,
                        int st, float alpha, float *y, int64_t ldy) {
    int grid = grid_for(out, GEMV_WARPS);
    switch (rows) {
    case 1: gemv_w4a16_kernel<D, 1><<<grid, GEMV_THREADS, 0, s>>>(x, wc, wsc, out, p, st, alpha, y, ldy); break;
    case 2: gemv_w4a16_kernel<D, 2><<<grid, GEMV_THREADS, 0, s>>>(x, wc, wsc, out, p, st, alpha, y, ldy); break;
    case 3: gemv_w4a16_kernel<D, 3><<<grid, GEMV_THREADS, 0, s>>>(x, wc, wsc, out, p, st, alpha, y, ldy); break;
    default: gemv_w4a16_kernel<D, 4><<<grid, GEMV_THREADS, 0, s>>>(x, wc, wsc, out, p, st, alpha, y, ldy); break;
    }
    return launched();
}

bool gemv_fits(int rows, int p) {
    return rows <= GEMV_MAX_ROWS && gemv_smem(rows, p) + 2048 <= (size_t) smem_optin();
}

bool bad_format(int32_t p, int32_t d, int32_t scale_type) {
    return (d != 16 && d != 32) || p <= 0 || p % 32 != 0 || (scale_type != WUSH_SCALE_E8M0 && scale_type != WUSH_SCALE_E4M3);
}

/* The tile GEMM for more rows than the GEMVs take: on the FP4 tensor cores (fp4) or on BF16 ones. */
int32_t launch_gemm(cudaStream_t s, bool fp4, const uint8_t *ac, const uint8_t *asc, int rows, const uint8_t *wc,
                    const uint8_t *wsc, int64_t out, int p, int d, int st, float alpha, float *y, int64_t ldy) {
    if ((rows + TM - 1) / TM > 65535) return WUSH_CUDA_E_UNSUPPORTED;
    dim3 grid((unsigned) ((out + TN - 1) / TN), (unsigned) ((rows + TM - 1) / TM));
    if (fp4 && d == 32) {
        gemm_fp4mma_kernel<32><<<grid, 256, 0, s>>>(ac, asc, rows, wc, wsc, out, p, alpha, y, ldy);
    } else if (fp4) {
        gemm_fp4mma_kernel<16><<<grid, 256, 0, s>>>(ac, asc, rows, wc, wsc, out, p, alpha, y, ldy);
    } else if (d == 32) {
        gemm_tc_kernel<32><<<grid, 256, 0, s>>>(ac, asc, rows, wc, wsc, out, p, st, alpha, y, ldy);
    } else {
        gemm_tc_kernel<16><<<grid, 256, 0, s>>>(ac, asc, rows, wc, wsc, out, p, st, alpha, y, ldy);
    }
    return launched();
}

/* ---------- where the FP4 tensor-core GEMM runs, and its check on first use ---------- */

/*
 * The FP4 kernel runs only on sm_120/sm_121 devices, from this library's sm_120a/sm_121a machine code, for the
 * two standard formats (MXFP4: E8M0 per 32, NVFP4: E4M3 per 16), unless WUSH_CUDA_FP4_MMA=0. On first use on
 * a device it must match the BF16 tile kernel on a known problem (partial tiles, a K tail, both formats);
 * otherwise the BF16 kernel runs and wush_cuda_fp4_mma_status says why.
 */
struct Fp4MmaState {
    int known;        /* 0: not yet decided for this device */
    int usable;
    int32_t error;    /* a CUDA error met while checking, returned by the call that checked */
    char why[200];
};
std::mutex fp4_mutex;
Fp4MmaState fp4_states[64];

bool fp4_mma_format(int d, int scale_type) {
    return (d == 32 && scale_type == WUSH_SCALE_E8M0) || (d == 16 && scale_type == WUSH_SCALE_E4M3);
}

/* Runs the FP4 and the BF16 tile kernels on one known problem; 0 and *ok, or a CUDA error. */
int32_t fp4_mma_self_check(int d, int st, bool *ok, char *why, size_t why_len) {
    const int rows = 160, out = 136, p = 320; /* two row tiles, two column tiles, K = 2.5 tiles */
    const size_t na = (size_t) rows * p / 2, nw = (size_t) out * p / 2, nas = (size_t) rows * (p / d),
                 nws = (size_t) out * (p / d), ny = (size_t) rows * out;
    std::vector<uint8_t> host(na + nw + nas + nws);
    uint32_t state = 0x2545F491u;
    for (size_t i = 0; i < host.size(); i++) {
        state = state * 1664525u + 1013904223u;
        uint32_t r = state >> 8;
        if (i < na + nw) {
            host[i] = (uint8_t) r;                                          /* any two codes */
        } else {
            host[i] = (uint8_t) (st == WUSH_SCALE_E8M0 ? 120 + r % 15 : 0x28 + r % 33); /* 2^-7..2^7; 1/64..4 */
        }
    }
    uint8_t *dev = nullptr;
    float *dy = nullptr;
    cudaStream_t s = nullptr;
    int32_t e = (int32_t) cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    if (e == 0) e = (int32_t) cudaMalloc(&dev, host.size());
    if (e == 0) e = (int32_t) cudaMalloc(&dy, 2 * ny * sizeof(float));
    if (e == 0) e = (int32_t) cudaMemcpyAsync(dev, host.data(), host.size(), cudaMemcpyHostToDevice, s);
    const uint8_t *ac = dev, *wc = dev + na, *asc = dev + na + nw, *wsc = dev + na + nw + nas;
    if (e == 0) e = launch_gemm(s, true, ac, asc, rows, wc, wsc, out, p, d, st, 1.0f, dy, out);
    if (e == 0) e = launch_gemm(s, false, ac, asc, rows, wc, wsc, out, p, d, st, 1.0f, dy + ny, out);
    std::vector<float> y(2 * ny);
    if (e == 0) e = (int32_t) cudaMemcpyAsync(y.data(), dy, 2 * ny * sizeof(float), cudaMemcpyDeviceToHost, s);
    if (e == 0) e = (int32_t) cudaStreamSynchronize(s);
    if (dy != nullptr) cudaFree(dy);
    if (dev != nullptr) cudaFree(dev);
    if (s != nullptr) cudaStreamDestroy(s);
    if (e != 0) return e;
    float scale = 0, worst = 0;
    for (size_t i = 0; i < ny; i++) scale = fmaxf(scale, fabsf(y[ny + i]));
    bool finite = scale > 0 && isfinite(scale);
    for (size_t i = 0; i < ny; i++) {
        float diff = fabsf(y[i] - y[ny + i]);
        finite = finite && isfinite(y[i]);
        worst = diff > worst ? diff : worst;
    }
    *ok = finite && worst <= 1e-3f * scale;
    if (!*ok) {
        snprintf(why, why_len, "the FP4 tensor-core kernel failed its self-check for %s (largest difference %g of %g)",
                 d == 32 ? "MXFP4" : "NVFP4", worst, scale);
    }
    return 0;
}

/* Whether the FP4 kernel runs on the current device; decides it (and checks the kernel) on first use. */
bool fp4_mma_usable(int32_t *error) {
    *error = 0;
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) return false;
    std::lock_guard<std::mutex> lock(fp4_mutex);
    Fp4MmaState &st = fp4_states[dev];
    if (st.known) return st.usable;
    st.known = 1;
    int major = 0, minor = 0;
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
    cudaFuncAttributes attr;
    const char *env = getenv("WUSH_CUDA_FP4_MMA");
    if (env != nullptr && strcmp(env, "0") == 0) {
        snprintf(st.why, sizeof st.why, "off: WUSH_CUDA_FP4_MMA=0");
    } else if (major != 12) {
        snprintf(st.why, sizeof st.why, "not on sm_%d%d: block-scaled FP4 mma.sync is an sm_120a/sm_121a instruction",
                 major, minor);
    } else if (cudaFuncGetAttributes(&attr, gemm_fp4mma_kernel<32>) != cudaSuccess || attr.ptxVersion < 120) {
        cudaGetLastError();
        snprintf(st.why, sizeof st.why, "no sm_%d%da code in this library (built for %s)", major, minor, WUSH_CUDA_ARCHS);
    } else {
        bool ok = true;
        st.error = fp4_mma_self_check(32, WUSH_SCALE_E8M0, &ok, st.why, sizeof st.why);
        if (st.error == 0 && ok) st.error = fp4_mma_self_check(16, WUSH_SCALE_E4M3, &ok, st.why, sizeof st.why);
        if (st.error != 0) {
            snprintf(st.why, sizeof st.why, "the FP4 tensor-core self-check failed: %s", cudaGetErrorString((cudaError_t) st.error));
        } else if (ok) {
            st.usable = 1;
            snprintf(st.why, sizeof st.why, "active on sm_%d%d (self-check passed)", major, minor);
        }
    }
    *error = st.error;
    st.error = 0; /* reported once */
    return st.usable;
}

} // namespace

/* ---------- C API ---------- */

namespace {
/* what wush_cuda_last_gemm_kernel reports: set by each successful launch of wush_cuda_gemm_w4a4, per thread */
thread_local const char *last_gemm_kernel = "none";

int32_t ran(int32_t status, const char *kernel) {
    if (status == 0) last_gemm_kernel = kernel;
    return status;
}
} // namespace

extern "C" {

int32_t wush_cuda_abi_version(void) { return WUSH_CUDA_ABI; }

const char *wush_cuda_error_string(int32_t status) {
    if (status == WUSH_CUDA_E_ARGUMENT) return "invalid argument to a wush CUDA kernel (size, block size or format)";
    if (status == WUSH_CUDA_E_UNSUPPORTED) return "no wush CUDA kernel for these sizes on this device";
    return cudaGetErrorString((cudaError_t) status);
}

const char *wush_cuda_compiled_archs(void) { return WUSH_CUDA_ARCHS; }

int32_t wush_cuda_device_count(int32_t *count) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    *count = e == cudaSuccess ? n : 0;
    return (int32_t) e;
}

int32_t wush_cuda_device_info(int32_t device, int32_t *major, int32_t *minor, char *name, int32_t name_len) {
    cudaDeviceProp prop;
    cudaError_t e = cudaGetDeviceProperties(&prop, device);
    if (e != cudaSuccess) return (int32_t) e;
    *major = prop.major;
    *minor = prop.minor;
    if (name != nullptr && name_len > 0) snprintf(name, (size_t) name_len, "%s", prop.name);
    return 0;
}

int32_t wush_cuda_set_device(int32_t device) { return (int32_t) cudaSetDevice(device); }

int32_t wush_cuda_malloc(void **ptr, int64_t bytes) {
    if (bytes < 0) return WUSH_CUDA_E_ARGUMENT;
    return (int32_t) cudaMalloc(ptr, (size_t) (bytes == 0 ? 1 : bytes));
}

int32_t wush_cuda_free(void *ptr) { return (int32_t) cudaFree(ptr); }

int32_t wush_cuda_copy(void *dst, const void *src, int64_t bytes, int32_t kind, void *stream) {
    if (bytes < 0 || kind < 1 || kind > 3) return WUSH_CUDA_E_ARGUMENT;
    if (bytes == 0) return 0;
    cudaMemcpyKind k = kind == 1 ? cudaMemcpyHostToDevice : kind == 2 ? cudaMemcpyDeviceToHost : cudaMemcpyDeviceToDevice;
    cudaStream_t s = (cudaStream_t) stream;
    cudaError_t e = cudaMemcpyAsync(dst, src, (size_t) bytes, k, s);
    if (e != cudaSuccess) return (int32_t) e;
    return (int32_t) cudaStreamSynchronize(s);
}

int32_t wush_cuda_memset(void *ptr, int32_t value, int64_t bytes, void *stream) {
    if (bytes < 0) return WUSH_CUDA_E_ARGUMENT;
    return (int32_t) cudaMemsetAsync(ptr, value, (size_t) bytes, (cudaStream_t) stream);
}

int32_t wush_cuda_stream_synchronize(void *stream) { return (int32_t) cudaStreamSynchronize((cudaStream_t) stream); }

int32_t wush_cuda_malloc_async(void **ptr, int64_t bytes, void *stream) {
    if (bytes < 0) return WUSH_CUDA_E_ARGUMENT;
    return (int32_t) cudaMallocAsync(ptr, (size_t) (bytes == 0 ? 1 : bytes), (cudaStream_t) stream);
}

int32_t wush_cuda_free_async(void *ptr, void *stream) { return (int32_t) cudaFreeAsync(ptr, (cudaStream_t) stream); }

int32_t wush_cuda_copy_rows(void *dst, int64_t dpitch, const void *src, int64_t spitch, int64_t width, int64_t rows,
                            void *stream) {
    if (width < 0 || rows < 0 || dpitch < width || spitch < width) return WUSH_CUDA_E_ARGUMENT;
    if (width == 0 || rows == 0) return 0;
    return (int32_t) cudaMemcpy2DAsync(dst, (size_t) dpitch, src, (size_t) spitch, (size_t) width, (size_t) rows,
                                       cudaMemcpyDeviceToDevice, (cudaStream_t) stream);
}

int32_t wush_cuda_transform_rows(void *stream, const float *x, int64_t rows, int32_t p, int32_t d, const float *tt,
                                 int64_t tstride, float *y) {
    if ((d != 16 && d != 32) || p <= 0 || p % d != 0 || rows < 0 || tstride < 0) return WUSH_CUDA_E_ARGUMENT;
    if (rows == 0) return 0;
    transform_exact_kernel<<<grid_for(rows * (p / d), 256), 256, 0, (cudaStream_t) stream>>>(x, rows, p, d, tt, tstride, y);
    return launched();
}

int32_t wush_cuda_quantize_rows(void *stream, const float *x, int64_t rows, int32_t p, int32_t d, const float *tt,
                                int64_t tstride, int32_t rule, float global, const float *scale_lut, uint8_t *codes,
                                uint8_t *scales, int32_t exact) {
    if ((d != 16 && d != 32) || p <= 0 || p % d != 0 || rows < 0 || tstride < 0 || rule < 0 || rule > 2) {
        return WUSH_CUDA_E_ARGUMENT;
    }
    if (rows == 0) return 0;
    cudaStream_t s = (cudaStream_t) stream;
    if (exact || tt == nullptr || (rows + 63) / 64 > 65535) {
        quantize_exact_kernel<<<grid_for(rows * (p / d), 256), 256, 0, s>>>(x, rows, p, d, tt, tstride, rule, global, scale_lut,
                                                                            codes, scales);
        return launched();
    }
    dim3 grid((unsigned) (p / d), (unsigned) ((rows + 63) / 64));
    if (d == 32) {
        quantize_tc_kernel<32><<<grid, 128, 0, s>>>(x, rows, p, tt, tstride, rule, global, scale_lut, codes, scales);
    } else {
        quantize_tc_kernel<16><<<grid, 128, 0, s>>>(x, rows, p, tt, tstride, rule, global, scale_lut, codes, scales);
    }
    return launched();
}

const char *wush_cuda_fp4_mma_status(void) {
    int32_t error = 0;
    fp4_mma_usable(&error);
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) return "no CUDA device";
    std::lock_guard<std::mutex> lock(fp4_mutex);
    return fp4_states[dev].why;
}

const char *wush_cuda_last_gemm_kernel(void) {
    return last_gemm_kernel;
}

const char *wush_cuda_gemm_kernel_name(int32_t rows, int32_t p, int32_t d, int32_t scale_type) {
    if (bad_format(p, d, scale_type)) return "none: invalid format";
    if (gemv_fits(rows, p)) return "gemv-dp4a";
    int32_t error = 0;
    return fp4_mma_format(d, scale_type) && fp4_mma_usable(&error) ? "tc-fp4-mma" : "tc-bf16-wmma";
}

int32_t wush_cuda_gemm_w4a4(void *stream, const uint8_t *a_codes, const uint8_t *a_scales, int32_t rows,
                            const uint8_t *w_codes, const uint8_t *w_scales, int64_t out, int32_t p, int32_t d,
                            int32_t scale_type, float alpha, float *y, int64_t ldy) {
    if (bad_format(p, d, scale_type) || rows < 0 || out < 0 || ldy < out) return WUSH_CUDA_E_ARGUMENT;
    if (rows == 0 || out == 0) return 0;
    cudaStream_t s = (cudaStream_t) stream;
    if (gemv_fits(rows, p)) {
        return ran(d == 32 ? gemv_w4a4_rows<32>(s, rows, a_codes, a_scales, w_codes, w_scales, out, p, scale_type, alpha, y, ldy)
                           : gemv_w4a4_rows<16>(s, rows, a_codes, a_scales, w_codes, w_scales, out, p, scale_type, alpha, y, ldy),
                   "gemv-dp4a");
    }
    int32_t error = 0;
    bool fp4 = fp4_mma_format(d, scale_type) && fp4_mma_usable(&error);
    if (error != 0) return error;
    return ran(launch_gemm(s, fp4, a_codes, a_scales, rows, w_codes, w_scales, out, p, d, scale_type, alpha, y, ldy),
               fp4 ? "tc-fp4-mma" : "tc-bf16-wmma");
}

int32_t wush_cuda_gemv_w4a16(void *stream, const float *x, int32_t rows, const uint8_t *w_codes,
                             const uint8_t *w_scales, int64_t out, int32_t p, int32_t d, int32_t scale_type, float alpha,
                             float *y, int64_t ldy) {
    if (bad_format(p, d, scale_type) || rows < 0 || out < 0 || ldy < out) return WUSH_CUDA_E_ARGUMENT;
    cudaStream_t s = (cudaStream_t) stream;
    for (int r0 = 0; r0 < rows; r0 += GEMV_MAX_ROWS) {
        int n = rows - r0 < GEMV_MAX_ROWS ? rows - r0 : GEMV_MAX_ROWS;
        const float *xr = x + (int64_t) r0 * p;
        float *yr = y + (int64_t) r0 * ldy;
        int32_t e = d == 32 ? gemv_w4a16_rows<32>(s, n, xr, w_codes, w_scales, out, p, scale_type, alpha, yr, ldy)
                            : gemv_w4a16_rows<16>(s, n, xr, w_codes, w_scales, out, p, scale_type, alpha, yr, ldy);
        if (e != 0) return e;
    }
    return 0;
}

} // extern "C"
