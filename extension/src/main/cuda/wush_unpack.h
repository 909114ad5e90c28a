/*
 * How the CUDA kernels turn packed E2M1 codes into numbers: the integer tricks of the decode GEMVs (codes to
 * doubled int8 values with byte permutes, exact group dots with dp4a) and the float values the BF16 tile GEMM
 * stages in shared memory. They are __host__ __device__ so that the C++ test checks them on the host against
 * the CPU kernels (src/test/cuda/wush_cuda_test.cu); there the three SIMD intrinsics they use are written out
 * from their definitions in the CUDA Math API / libdevice documentation.
 *
 * Layouts (as in the CPU kernels): activation codes are "standard" (element 2i in the low nibble of byte i,
 * 2i + 1 in the high one), weight codes "split-nibble" per 32-element group (byte i: element i low, 16 + i high).
 */
#pragma once
#include <stdint.h>
#include <vector_types.h>

#include "wush_fp4.h"

/* "#pragma unroll" for the device compilation only (the host compiler does not know it) */
#ifdef __CUDA_ARCH__
#define WUSH_UNROLL _Pragma("unroll")
#else
#define WUSH_UNROLL
#endif

/* __byte_perm(x, y, s): byte n of the result is byte s<4n+2:4n> of the eight bytes y:x (x = bytes 0-3). */
WUSH_HD uint32_t wush_byte_perm(uint32_t x, uint32_t y, uint32_t s) {
#ifdef __CUDA_ARCH__
    return __byte_perm(x, y, s);
#else
    const uint64_t bytes = (uint64_t) y << 32 | x;
    uint32_t r = 0;
    for (int n = 0; n < 4; n++) r |= (uint32_t) ((bytes >> (8 * ((s >> (4 * n)) & 7))) & 0xFF) << (8 * n);
    return r;
#endif
}

/* __vsub4(a, b): per-byte a - b, wrapping. */
WUSH_HD uint32_t wush_vsub4(uint32_t a, uint32_t b) {
#ifdef __CUDA_ARCH__
    return __vsub4(a, b);
#else
    uint32_t r = 0;
    for (int n = 0; n < 4; n++) r |= (((a >> (8 * n)) - (b >> (8 * n))) & 0xFF) << (8 * n);
    return r;
#endif
}

/* __dp4a(a, b, c): c + the dot product of the four signed bytes of a and of b. */
WUSH_HD int wush_dp4a(uint32_t a, uint32_t b, int c) {
#ifdef __CUDA_ARCH__
    return __dp4a((int) a, (int) b, c);
#else
    for (int n = 0; n < 4; n++) c += (int8_t) (a >> (8 * n)) * (int8_t) (b >> (8 * n));
    return c;
#endif
}

/* Four E2M1 codes, one per byte (0..15), to their doubled values as four int8 {0, ±1, ±2, ±3, ±4, ±6, ±8, ±12}. */
WUSH_HD uint32_t wush_e2m1x2_4(uint32_t n) {
    const uint32_t sel = (n & 0x7u) | ((n >> 4) & 0x70u) | ((n >> 8) & 0x700u) | ((n >> 12) & 0x7000u);
    const uint32_t mag = wush_byte_perm(0x03020100u, 0x0C080604u, sel); /* doubled magnitudes of codes 0..7 */
    const uint32_t neg = ((n >> 3) & 0x01010101u) * 0xFFu;               /* 0xFF in the bytes of negative codes */
    return wush_vsub4(mag ^ neg, neg);
}

/* Doubled values of one 32-element split-nibble group (16 bytes), in element order: out[0..3] elements 0-15, out[4..7] 16-31. */
WUSH_HD void wush_unpack_split32(uint4 w, uint32_t out[8]) {
    out[0] = wush_e2m1x2_4(w.x & 0x0F0F0F0Fu);
    out[1] = wush_e2m1x2_4(w.y & 0x0F0F0F0Fu);
    out[2] = wush_e2m1x2_4(w.z & 0x0F0F0F0Fu);
    out[3] = wush_e2m1x2_4(w.w & 0x0F0F0F0Fu);
    out[4] = wush_e2m1x2_4((w.x >> 4) & 0x0F0F0F0Fu);
    out[5] = wush_e2m1x2_4((w.y >> 4) & 0x0F0F0F0Fu);
    out[6] = wush_e2m1x2_4((w.z >> 4) & 0x0F0F0F0Fu);
    out[7] = wush_e2m1x2_4((w.w >> 4) & 0x0F0F0F0Fu);
}

/* Doubled values of 8 standard-layout codes (4 bytes), in element order: elements 0-3 in first, 4-7 in second. */
WUSH_HD void wush_unpack_standard8(uint32_t w, uint32_t *first, uint32_t *second) {
    const uint32_t lo = w & 0x0F0F0F0Fu, hi = (w >> 4) & 0x0F0F0F0Fu; /* even elements, odd elements */
    *first = wush_e2m1x2_4(wush_byte_perm(lo, hi, 0x5140));
    *second = wush_e2m1x2_4(wush_byte_perm(lo, hi, 0x7362));
}

/* Which scale byte of a row holds the scale of half h (elements 16h .. 16h + 15) of 32-element group c. */
WUSH_HD int wush_group_scale(int c, int h, int d) { return d == 32 ? c : 2 * c + h; }

/*
 * W4A4 decode: group c's contribution to a row's dot product, 4× too large (both operands doubled). av: the row's
 * activations unpacked to doubled int8 values (p/4 words), as16: their scale values per 16 elements; wv: the
 * weight group from wush_unpack_split32, wlo / whi: its scale values. The integer sums are exact.
 */
WUSH_HD float wush_w4a4_dot32(const uint32_t *av, const float *as16, int c, const uint32_t wv[8], float wlo, float whi) {
    const uint4 *a = reinterpret_cast<const uint4 *>(av + 8 * c); /* two 16-byte loads */
    const uint4 a0 = a[0], a1 = a[1];
    int lo = wush_dp4a(wv[0], a0.x, 0);
    lo = wush_dp4a(wv[1], a0.y, lo);
    lo = wush_dp4a(wv[2], a0.z, lo);
    lo = wush_dp4a(wv[3], a0.w, lo);
    int hi = wush_dp4a(wv[4], a1.x, 0);
    hi = wush_dp4a(wv[5], a1.y, hi);
    hi = wush_dp4a(wv[6], a1.z, hi);
    hi = wush_dp4a(wv[7], a1.w, hi);
    return (float) lo * (as16[2 * c] * wlo) + (float) hi * (as16[2 * c + 1] * whi);
}

/* W4A16 decode: group c's contribution to the dot product with float activations x (the row), 2× too large. */
WUSH_HD float wush_w4a16_dot32(const float *x, int c, const uint32_t wv[8], float wlo, float whi) {
    const float4 *xr = reinterpret_cast<const float4 *>(x + 32 * c);
    float half_sum[2];
WUSH_UNROLL
    for (int h = 0; h < 2; h++) {
        float s = 0;
WUSH_UNROLL
        for (int q = 0; q < 4; q++) {
#ifdef __CUDA_ARCH__
            const float4 xv = __ldg(xr + 4 * h + q);
#else
            const float4 xv = xr[4 * h + q];
#endif
            const uint32_t w4 = wv[4 * h + q];
            s += xv.x * (float) (int8_t) (w4 & 0xFF) + xv.y * (float) (int8_t) ((w4 >> 8) & 0xFF)
               + xv.z * (float) (int8_t) ((w4 >> 16) & 0xFF) + xv.w * (float) (int8_t) (w4 >> 24);
        }
        half_sum[h] = s;
    }
    return half_sum[0] * wlo + half_sum[1] * whi;
}

/*
 * The values of one 32-element group (16 bytes) in element order, as the BF16 tile GEMM stages them: code value
 * (e2m1: the 16 code values) × the scale base of its half (lo: elements 0-15, hi: 16-31), each passed through
 * convert (the kernel: to BF16, exact) as it is made.
 */
template <typename T, typename Convert>
WUSH_HD void wush_group_values(uint4 codes, bool split, float lo, float hi, const float *e2m1, T v[32], Convert convert) {
    const uint32_t words[4] = {codes.x, codes.y, codes.z, codes.w};
WUSH_UNROLL
    for (int i = 0; i < 16; i++) {
        const int byte = (words[i / 4] >> (8 * (i % 4))) & 0xFF;
        const float e0 = e2m1[byte & 15], e1 = e2m1[byte >> 4];
        if (split) { /* byte i: elements i, 16 + i */
            v[i] = convert(e0 * lo);
            v[16 + i] = convert(e1 * hi);
        } else {     /* byte i: elements 2i, 2i + 1 */
            v[2 * i] = convert(e0 * (2 * i < 16 ? lo : hi));
            v[2 * i + 1] = convert(e1 * (2 * i + 1 < 16 ? lo : hi));
        }
    }
}
