/*
 * FP4 quantization rules of the kernels, one source for the CPU kernels (wush_kernels.c, C) and the CUDA
 * kernels (../cuda/wush_cuda.cu, __host__ __device__): the rules of dev.wush.quant.format.Mxfp4 / Nvfp4 /
 * E4M3, written so that every compiler gives the same codes: products and sums are separate
 * round-to-nearest operations (no fused multiply-add; C is compiled with -ffp-contract=off), the E4M3
 * encoding runs in double, and the division by the scale is IEEE division.
 */
#pragma once
#include <stdint.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#ifdef __CUDACC__
#define WUSH_HD __host__ __device__ __forceinline__
#else
#define WUSH_HD static inline
#endif

enum { WUSH_RULE_MXFP4 = 0, WUSH_RULE_MXFP4_OCP = 1, WUSH_RULE_NVFP4 = 2 };

/* Round-to-nearest product and sum, never contracted into an FMA. */
WUSH_HD float wush_mul(float a, float b) {
#ifdef __CUDA_ARCH__
    return __fmul_rn(a, b);
#else
    return a * b; /* the host side is compiled with -ffp-contract=off */
#endif
}

WUSH_HD float wush_add(float a, float b) {
#ifdef __CUDA_ARCH__
    return __fadd_rn(a, b);
#else
    return a + b;
#endif
}

WUSH_HD float wush_div(float a, float b) {
#ifdef __CUDA_ARCH__
    return __fdiv_rn(a, b);
#else
    return a / b;
#endif
}

/* floor(log2 a) for a finite float a > 0, subnormals included. */
WUSH_HD int wush_floor_log2(float a) {
    uint32_t bits;
    memcpy(&bits, &a, 4);
    int e = (int) ((bits >> 23) & 0xFF);
    if (e != 0) return e - 127;
    uint32_t m = bits & 0x7FFFFF;
#ifdef __CUDA_ARCH__
    return -149 + (31 - __clz(m));
#else
    return -149 + (31 - __builtin_clz(m));
#endif
}

/* E4M3 code of x: round to nearest even, saturating at 448 (0x7E); NaN is 0x7F. */
WUSH_HD int wush_e4m3_encode(float x) {
    if (isnan(x)) return 0x7F;
    int sign = signbit(x) ? 0x80 : 0;
    double a = fabs((double) x);
    int bits;
    if (a >= 448.0) {
        bits = 0x7E;
    } else if (a < 0x1p-6) {
        bits = (int) nearbyint(a * 512);
    } else {
        int e;
        frexp(a, &e);
        e -= 1; /* floor(log2 a) */
        int m = (int) nearbyint((ldexp(a, -e) - 1) * 8);
        if (m == 8) { e++; m = 0; }
        bits = ((e + 7) << 3) | m;
        if (bits > 0x7E) bits = 0x7E;
    }
    return sign | bits;
}

/* The scale code of a group whose largest magnitude is amax (NaN or infinity: the format's NaN code). */
WUSH_HD int wush_scale_code(float amax, int rule, float global) {
    if (isnan(amax) || isinf(amax)) return rule == WUSH_RULE_NVFP4 ? 0x7F : 255;
    if (rule == WUSH_RULE_NVFP4) {
        return wush_e4m3_encode(wush_div(amax, wush_mul(6.0f, global)));
    }
    if (amax == 0) return 0;
    int e = wush_floor_log2(amax) + (rule == WUSH_RULE_MXFP4_OCP ? -2 : 0);
    long c = (long) e + 127;
    return (int) (c < 0 ? 0 : c > 254 ? 254 : c);
}

/* How a scale code reads as a power of two or E4M3 value: the part of a scale that the GPU products take per group. */
enum { WUSH_SCALE_E8M0 = 0, WUSH_SCALE_E4M3 = 1 };

/* E8M0: 2^(code − 127), 255 NaN. E4M3: sign, 4 exponent bits (bias 7), 3 mantissa bits, S.1111.111 NaN. */
WUSH_HD float wush_scale_base(int type, int code) {
    if (type == WUSH_SCALE_E8M0) return code == 255 ? NAN : ldexpf(1.0f, code - 127);
    int e = (code >> 3) & 0xF, m = code & 7;
    if (e == 0xF && m == 7) return NAN;
    float v = e == 0 ? ldexpf((float) m, -9) : ldexpf(1.0f + (float) m / 8, e - 7);
    return (code & 0x80) ? -v : v;
}

/* E2M1 code of q (already divided by the scale): nearest of {0, .5, 1, 1.5, 2, 3, 4, 6}, ties as the CPU kernels. */
WUSH_HD int wush_e2m1_encode(float q) {
    float a = fabsf(q);
    int m = (a > 0.25f) + (a >= 0.75f) + (a > 1.25f) + (a >= 1.75f) + (a > 2.5f) + (a >= 3.5f) + (a > 5.0f);
    return signbit(q) ? m | 8 : m;
}

/* y = x · Tᵀ for one block of d: y[k] = Σ_j tt[j·d + k]·x[j], j in order; tt == NULL is the identity. */
WUSH_HD void wush_transform_block(const float *x, const float *tt, int d, float *y) {
    if (tt == NULL) {
        for (int k = 0; k < d; k++) y[k] = x[k];
        return;
    }
    for (int k = 0; k < d; k++) y[k] = 0;
    for (int j = 0; j < d; j++) {
        float xj = x[j];
        const float *row = tt + (size_t) j * d;
        for (int k = 0; k < d; k++) y[k] = wush_add(y[k], wush_mul(row[k], xj));
    }
}

/* Largest magnitude of n values; *nan is set when one of them is NaN. */
WUSH_HD float wush_absmax(const float *y, int n, int *nan) {
    float amax = 0;
    for (int k = 0; k < n; k++) {
        float a = fabsf(y[k]);
        *nan |= isnan(a);
        amax = a > amax ? a : amax;
    }
    return amax;
}

/*
 * n values (a multiple of 8) divided by the scale value s to E2M1 codes in the standard layout, 8 to a word:
 * element k in nibble k % 8 of word k / 8 (in memory on a little-endian machine: element 2k in the low nibble of
 * byte k). A zero scale gives zero codes.
 */
WUSH_HD void wush_encode_words(const float *y, int n, float s, uint32_t *words) {
    for (int w = 0; w < n / 8; w++) {
        uint32_t word = 0;
        for (int k = 0; k < 8; k++) {
            uint32_t c = s == 0 ? 0 : (uint32_t) wush_e2m1_encode(wush_div(y[8 * w + k], s));
            word |= c << (4 * k);
        }
        words[w] = word;
    }
}

/*
 * One group of d transformed values y to its scale code (returned) and d/2 bytes of codes in the standard
 * layout (element 2k in the low nibble). scale_lut: the values of the 256 scale codes.
 */
WUSH_HD int wush_quantize_group(const float *y, int d, int rule, float global, const float *scale_lut, uint8_t *codes) {
    int nan = 0;
    float amax = wush_absmax(y, d, &nan);
    int sc = wush_scale_code(nan ? NAN : amax, rule, global);
    uint32_t words[4];
    wush_encode_words(y, d, scale_lut[sc], words);
    memcpy(codes, words, (size_t) d / 2);
    return sc;
}

/* E2M1 magnitudes by 3-bit index, and the doubled integers the integer products use. */
#define WUSH_E2M1_VALUES {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f}
