/*
 * Packed FP4 kernels for WUSH-quantized linear layers (CPU).
 *
 * Formats: E2M1 codes (bit 3 sign, bits 0-2 magnitude index of {0, .5, 1, 1.5, 2, 3, 4, 6}), two per
 * byte: activation codes in the standard layout (element 2k in the low nibble), weight codes of the
 * products in the split-nibble layout described above unpack32_avx2. One 8-bit scale code per group of d elements (d = 32 MXFP4,
 * d = 16 NVFP4); a scale code's value comes from a 256-entry table the caller passes (E8M0 or E4M3,
 * with the format's constants folded in), so the kernels do not depend on the scale encoding.
 * Transforms are per block of d features, passed transposed: tt[j*d + k] = T[k][j], stride tstride
 * floats between blocks (0: one matrix shared by all blocks, NULL: identity).
 *
 * Every function works on a range of rows or output features so the caller can split work across
 * threads. Results are fp32; W4A4 group dot products are exact in int32 (elements are doubled to the
 * integers {0, 1, 2, 3, 4, 6, 8, 12}).
 *
 * wush_quantize_rows and wush_transform_rows must give bit-identical results to the Java fallback
 * (dev.wush.kernel.JavaFp4Kernels): sums run over j in order, with separate multiply and add.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <immintrin.h>

#include "wush_fp4.h"

#define WUSH_ABI 4

/* Instruction sets of the products, lowest first; a caller may always ask for a lower one than the CPU has. */
enum { WUSH_ISA_SCALAR = 0, WUSH_ISA_AVX2 = 1, WUSH_ISA_AVX512_VNNI = 2 };

/* E2M1 magnitudes doubled, by code (sign bit 3). */
static const int8_t E2M1_X2[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

int32_t wush_abi_version(void) { return WUSH_ABI; }

int32_t wush_has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* The best instruction set of this CPU for the products. */
int32_t wush_best_isa(void) {
    __builtin_cpu_init();
    if (!wush_has_avx2()) return WUSH_ISA_SCALAR;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni")) {
        return WUSH_ISA_AVX512_VNNI;
    }
    return WUSH_ISA_AVX2;
}

/* ---------- (a) transform + quantize activations (the rules: wush_fp4.h) ---------- */

__attribute__((target("avx2")))
static void transform_block_avx2(const float *x, const float *tt, int d, float *y) {
    /* d is 16 or 32: 2 or 4 vectors of 8 outputs, each summing over j in order */
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int nv = d / 8;
    for (int j = 0; j < d; j++) {
        __m256 xj = _mm256_set1_ps(x[j]);
        const float *row = tt + (size_t) j * d;
        for (int v = 0; v < nv; v++) {
            acc[v] = _mm256_add_ps(acc[v], _mm256_mul_ps(_mm256_loadu_ps(row + 8 * v), xj));
        }
    }
    for (int v = 0; v < nv; v++) _mm256_storeu_ps(y + 8 * v, acc[v]);
}

/* The caller's instruction set, never above what this CPU has. */
static inline int clamp_isa(int32_t isa) {
    static int best = -1;
    if (best < 0) best = wush_best_isa();
    return isa < best ? isa : best;
}

static void transform_block(const float *x, const float *tt, int d, float *y, int isa) {
    if (tt == NULL) {
        memcpy(y, x, sizeof(float) * d);
    } else if (isa >= WUSH_ISA_AVX2 && (d == 16 || d == 32)) {
        transform_block_avx2(x, tt, d, y);
    } else {
        wush_transform_block(x, tt, d, y);
    }
}

void wush_transform_rows(int32_t isa, const float *x, int64_t r0, int64_t r1, int32_t p, int32_t d, const float *tt,
                         int64_t tstride, float *y) {
    isa = clamp_isa(isa);
    for (int64_t r = r0; r < r1; r++) {
        for (int b = 0; b < p / d; b++) {
            const float *t = tt == NULL ? NULL : tt + (size_t) b * tstride;
            transform_block(x + r * p + (size_t) b * d, t, d, y + r * p + (size_t) b * d, isa);
        }
    }
}

void wush_quantize_rows(int32_t isa, const float *x, int64_t r0, int64_t r1, int32_t p, int32_t d, const float *tt,
                        int64_t tstride, int32_t rule, float global, const float *scale_lut, uint8_t *codes,
                        uint8_t *scales) {
    float y[64];
    isa = clamp_isa(isa);
    int blocks = p / d;
    for (int64_t r = r0; r < r1; r++) {
        for (int b = 0; b < blocks; b++) {
            const float *t = tt == NULL ? NULL : tt + (size_t) b * tstride;
            transform_block(x + r * p + (size_t) b * d, t, d, y, isa);
            uint8_t *out = codes + (r * p + (size_t) b * d) / 2;
            scales[r * blocks + b] = (uint8_t) wush_quantize_group(y, d, rule, global, scale_lut, out);
        }
    }
}

/* ---------- (b) W4A4 GEMM ---------- */

/*
 * Weight layout of the products ("split nibbles"): per chunk of 32 elements, 16 bytes, byte i holds
 * element i in its low nibble and element 16 + i in its high nibble. One load, one shift and one table
 * lookup give all 32 values in order, and an NVFP4 group (16) is exactly one 128-bit lane.
 * Activation codes stay in the standard layout (element 2k low, 2k+1 high): they are unpacked once per call.
 */
__attribute__((target("avx2")))
static inline __m256i unpack32_avx2(const uint8_t *packed, __m256i lut) {
    __m128i v = _mm_loadu_si128((const __m128i *) packed);
    __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(v), _mm_srli_epi16(v, 4), 1);
    return _mm256_shuffle_epi8(lut, _mm256_and_si256(both, _mm256_set1_epi8(0x0F)));
}

__attribute__((target("avx2")))
static inline __m256i e2m1_lut_avx2(void) {
    __m128i lut = _mm_loadu_si128((const __m128i *) E2M1_X2);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(lut), lut, 1);
}

/* Sum of the eight lanes. */
__attribute__((target("avx2")))
static inline float hsum_avx2(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static void unpack32_scalar(const uint8_t *packed, int8_t *out) {
    for (int i = 0; i < 16; i++) {
        out[i] = E2M1_X2[packed[i] & 15];
        out[16 + i] = E2M1_X2[packed[i] >> 4];
    }
}

/* Doubled E2M1 values of n standard-packed elements, in order. */
static void unpack_row(const uint8_t *packed, int n, int8_t *out) {
    for (int i = 0; i < n / 2; i++) {
        out[2 * i] = E2M1_X2[packed[i] & 15];
        out[2 * i + 1] = E2M1_X2[packed[i] >> 4];
    }
}

/* Scale value per 16 elements (both formats: MXFP4 repeats its group scale). */
static void scales16(const uint8_t *codes, int p, int d, const float *lut, float *out) {
    if (d == 32) {
        for (int g = 0; g < p / 32; g++) out[2 * g] = out[2 * g + 1] = lut[codes[g]];
    } else {
        for (int g = 0; g < p / 16; g++) out[g] = lut[codes[g]];
    }
}

__attribute__((target("avx2,fma")))
static float dot_w4a4_avx2(const int8_t *a, const float *as16, const uint8_t *w, const float *ws16, int p, int one_scale) {
    const __m256i lut = e2m1_lut_avx2();
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (int c = 0; c < p / 32; c++) {
        __m256i wv = unpack32_avx2(w + 16 * c, lut);
        __m256i av = _mm256_loadu_si256((const __m256i *) (a + 32 * c));
        __m256i prod16 = _mm256_maddubs_epi16(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(av, wv));
        __m256 dot = _mm256_cvtepi32_ps(_mm256_madd_epi16(prod16, ones)); /* lanes 0-3: first 16, 4-7: last 16 */
        __m256 sv = one_scale ? _mm256_set1_ps(as16[2 * c] * ws16[2 * c])
                              : _mm256_set_m128(_mm_set1_ps(as16[2 * c + 1] * ws16[2 * c + 1]), _mm_set1_ps(as16[2 * c] * ws16[2 * c]));
        acc = _mm256_fmadd_ps(dot, sv, acc);
    }
    return hsum_avx2(acc) * 0.25f;
}

/* Four activation rows against one weight row: the weight chunk is unpacked once for all four. */
__attribute__((target("avx2,fma")))
static void dot4_w4a4_avx2(const int8_t *a, const float *as16, size_t lda, const uint8_t *w, const float *ws16,
                           int p, float *out, int64_t ldo, int one_scale) {
    const __m256i lut = e2m1_lut_avx2();
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    size_t lds = (size_t) p / 16;
    for (int c = 0; c < p / 32; c++) {
        __m256i wv = unpack32_avx2(w + 16 * c, lut);
        __m256i wabs = _mm256_sign_epi8(wv, wv);
        float w0 = ws16[2 * c], w1 = ws16[2 * c + 1];
        for (int r = 0; r < 4; r++) {
            __m256i av = _mm256_loadu_si256((const __m256i *) (a + r * lda + 32 * c));
            __m256i prod16 = _mm256_maddubs_epi16(wabs, _mm256_sign_epi8(av, wv));
            __m256 dot = _mm256_cvtepi32_ps(_mm256_madd_epi16(prod16, ones));
            const float *asr = as16 + r * lds;
            __m256 sv = one_scale ? _mm256_set1_ps(asr[2 * c] * w0)
                                  : _mm256_set_m128(_mm_set1_ps(asr[2 * c + 1] * w1), _mm_set1_ps(asr[2 * c] * w0));
            acc[r] = _mm256_fmadd_ps(dot, sv, acc[r]);
        }
    }
    for (int r = 0; r < 4; r++) {
        out[r * ldo] = hsum_avx2(acc[r]) * 0.25f;
    }
}

static float dot_w4a4_scalar(const int8_t *a, const float *as16, const uint8_t *w, const float *ws16, int p) {
    int8_t wv[32];
    float acc = 0;
    for (int c = 0; c < p / 32; c++) {
        unpack32_scalar(w + 16 * c, wv);
        for (int h = 0; h < 2; h++) {
            int32_t s = 0;
            for (int i = 0; i < 16; i++) s += a[32 * c + 16 * h + i] * wv[16 * h + i];
            acc += (float) s * (as16[2 * c + h] * ws16[2 * c + h]);
        }
    }
    return acc * 0.25f;
}

/*
 * y[r*ldy + o] = sum over features of a[r] * w[o], for r in [0, rows), o in [o0, o1).
 * a: packed activation codes (rows, p/2), standard layout, and scale codes (rows, p/d);
 * w: (out, p/2) codes in the split-nibble layout and (out, p/d) scale codes.
 * p must be a multiple of 32 (NVFP4 layers with p = 16 mod 32 are padded by the caller).
 * Returns 0, or -1 when scratch memory cannot be allocated.
 */
static int32_t gemm_w4a4_vnni(const uint8_t *a_codes, const uint8_t *a_scales, int32_t rows, const uint8_t *w_codes,
                              const uint8_t *w_scales, int64_t o0, int64_t o1, int32_t p, int32_t d, const float *a_lut,
                              const float *w_lut, float *y, int64_t ldy);

int32_t wush_gemm_w4a4(int32_t isa, const uint8_t *a_codes, const uint8_t *a_scales, int32_t rows, const uint8_t *w_codes,
                    const uint8_t *w_scales, int64_t o0, int64_t o1, int32_t p, int32_t d, const float *a_lut,
                    const float *w_lut, float *y, int64_t ldy) {
    isa = clamp_isa(isa);
    if (isa >= WUSH_ISA_AVX512_VNNI) {
        return gemm_w4a4_vnni(a_codes, a_scales, rows, w_codes, w_scales, o0, o1, p, d, a_lut, w_lut, y, ldy);
    }
    int blocks = p / d;
    int8_t *a = malloc((size_t) rows * p + 64);
    float *as16 = malloc(sizeof(float) * ((size_t) rows * (p / 16) + 1));
    float *ws16 = malloc(sizeof(float) * (p / 16 + 1));
    if (a == NULL || as16 == NULL || ws16 == NULL) {
        free(a);
        free(as16);
        free(ws16);
        return -1;
    }
    for (int r = 0; r < rows; r++) {
        unpack_row(a_codes + (size_t) r * p / 2, p, a + (size_t) r * p);
        scales16(a_scales + (size_t) r * blocks, p, d, a_lut, as16 + (size_t) r * (p / 16));
    }
    int fast = isa >= WUSH_ISA_AVX2;
    /* blocks of tokens small enough to stay in L2 while the weight range streams past them once per block */
    const int row_block = 32;
    for (int rb = 0; rb < rows; rb += row_block) {
        int re = rb + row_block < rows ? rb + row_block : rows;
        for (int64_t o = o0; o < o1; o++) {
            const uint8_t *w = w_codes + o * (p / 2);
            scales16(w_scales + o * blocks, p, d, w_lut, ws16);
            int r = rb;
            if (fast) {
                for (; r + 4 <= re; r += 4) {
                    dot4_w4a4_avx2(a + (size_t) r * p, as16 + (size_t) r * (p / 16), (size_t) p, w, ws16, p, y + r * ldy + o, ldy, d == 32);
                }
            }
            for (; r < re; r++) {
                const int8_t *ar = a + (size_t) r * p;
                const float *asr = as16 + (size_t) r * (p / 16);
                y[r * ldy + o] = fast ? dot_w4a4_avx2(ar, asr, w, ws16, p, d == 32) : dot_w4a4_scalar(ar, asr, w, ws16, p);
            }
        }
    }
    free(a);
    free(as16);
    free(ws16);
    return 0;
}

/*
 * AVX-512 VNNI: vpdpbusd sums four products of unsigned by signed bytes into each int32 lane. The weights
 * take the unsigned side as (value + 12) in [0, 24]; a lane's sum of four products then carries 12 · Σ a of its
 * four activations, which the lane starts from with the opposite sign (negcorr): every lane holds exactly the
 * partial sum the AVX2 path's lane holds.
 * 64 elements (two split-nibble chunks) per step: lanes 0-3 hold the first group of 16, lanes 4-7 the second, …
 * Rows are padded to a multiple of 64 with zero activations and zero scales.
 */
static const uint8_t E2M1_X2_PLUS12[16] = {12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0};

#define VNNI_TARGET __attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))

/* Chunks c and c+1 (or c alone when last) to 64 weight bytes (value + 12) in element order. */
VNNI_TARGET static inline __m512i unpack64_vnni(const uint8_t *packed, int both, __m512i lut) {
    __m256i v = both ? _mm256_loadu_si256((const __m256i *) packed) : _mm256_maskz_loadu_epi8(0xFFFF, packed);
    /* 128-bit lanes [A, A, B, B] shifted by [0, 4, 0, 4]: A low nibbles, A high, B low, B high */
    __m512i lanes = _mm512_permutexvar_epi64(_mm512_set_epi64(3, 2, 3, 2, 1, 0, 1, 0), _mm512_castsi256_si512(v));
    __m512i nib = _mm512_and_si512(_mm512_srlv_epi64(lanes, _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0)), _mm512_set1_epi8(0x0F));
    return _mm512_shuffle_epi8(lut, nib);
}

/*
 * NR activation rows (stride lda = p64 bytes) against one weight row; out[r * ldo]. Bit-identical to the AVX2
 * path: the int32 lanes hold the same partial sums (four products each, exact), and they are scaled and
 * accumulated into eight float lanes chunk by chunk in the same order, then summed as hsum_avx2 does.
 */
VNNI_TARGET static inline __attribute__((always_inline)) void dot_w4a4_vnni(int nr, const int8_t *a, const int32_t *negcorr,
        const float *as16, size_t lda, const uint8_t *w, const float *ws16, int p, float *out, int64_t ldo) {
    const __m512i lut = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *) E2M1_X2_PLUS12));
    const __m512i expand = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int chunks = p / 32;
    for (int c = 0; c < chunks; c += 2) {
        int both = c + 1 < chunks;
        __m512i wu = unpack64_vnni(w + 16 * c, both, lut);
        __m128 ws4 = _mm_loadu_ps(ws16 + 2 * c);
        for (int r = 0; r < nr; r++) {
            __m512i av = _mm512_loadu_si512((const void *) (a + r * lda + 32 * c));
            __m512i dot = _mm512_dpbusd_epi32(_mm512_loadu_si512((const void *) (negcorr + r * (lda / 4) + 8 * c)), wu, av);
            __m128 s4 = _mm_mul_ps(_mm_loadu_ps(as16 + r * (lda / 16) + 2 * c), ws4);
            __m512 sv = _mm512_permutexvar_ps(expand, _mm512_castps128_ps512(s4));
            __m512 f = _mm512_cvtepi32_ps(dot);
            acc[r] = _mm256_fmadd_ps(_mm512_castps512_ps256(f), _mm512_castps512_ps256(sv), acc[r]); /* chunk c */
            if (both) {
                acc[r] = _mm256_fmadd_ps(_mm512_extractf32x8_ps(f, 1), _mm512_extractf32x8_ps(sv, 1), acc[r]); /* chunk c + 1 */
            }
        }
    }
    for (int r = 0; r < nr; r++) out[r * ldo] = hsum_avx2(acc[r]) * 0.25f;
}

VNNI_TARGET static void dot4_w4a4_vnni(const int8_t *a, const int32_t *negcorr, const float *as16, size_t lda, const uint8_t *w,
                                       const float *ws16, int p, float *out, int64_t ldo) {
    dot_w4a4_vnni(4, a, negcorr, as16, lda, w, ws16, p, out, ldo);
}

VNNI_TARGET static void dot1_w4a4_vnni(const int8_t *a, const int32_t *negcorr, const float *as16, size_t lda, const uint8_t *w,
                                       const float *ws16, int p, float *out) {
    dot_w4a4_vnni(1, a, negcorr, as16, lda, w, ws16, p, out, 0);
}

#ifndef PREFETCH_BYTES
#define PREFETCH_BYTES 512
#endif

/* One (r, o) pair of a tile, chunks c (and c + 1 when both): the same operations as dot_w4a4_vnni. */
#define VNNI_TILE_STEP(i, j, both)                                                                                  \
    do {                                                                                                          \
        __m512 f = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(nc, wu[j], av));                                        \
        __m512 sv = _mm512_permutexvar_ps(expand, _mm512_castps128_ps512(_mm_mul_ps(as4, ws4[j])));               \
        acc[i][j] = _mm256_fmadd_ps(_mm512_castps512_ps256(f), _mm512_castps512_ps256(sv), acc[i][j]);          \
        if (both) acc[i][j] = _mm256_fmadd_ps(_mm512_extractf32x8_ps(f, 1), _mm512_extractf32x8_ps(sv, 1), acc[i][j]); \
    } while (0)

/*
 * NR (1 to 4) activation rows against four weight rows: each weight chunk is unpacked once for all rows and each
 * activation chunk loaded once for four outputs. Every (r, o) output goes through exactly the operations of
 * dot_w4a4_vnni, so results are bit-identical to it (and to the AVX2 path); the sixteen (or four, when decoding)
 * independent accumulation chains also hide the latency of the chained multiply-adds, which bounds a single dot.
 */
VNNI_TARGET static inline __attribute__((always_inline)) void tile_w4a4_vnni(int nr, const int8_t *a, const int32_t *negcorr,
        const float *as16, size_t lda, const uint8_t *w, size_t ldw, const float *ws16, size_t ldws, int p, float *out, int64_t ldo,
        int prefetch) {
    const __m512i lut = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *) E2M1_X2_PLUS12));
    const __m512i expand = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    __m256 acc[4][4];
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) acc[i][j] = _mm256_setzero_ps();
    }
    int chunks = p / 32;
    for (int c = 0; c < chunks; c += 2) {
        int both = c + 1 < chunks;
        __m512i wu[4];
        __m128 ws4[4];
        if (prefetch && (c & 3) == 0) { /* every 64 bytes of each weight row: fetch the line PREFETCH_BYTES ahead */
            for (int j = 0; j < 4; j++) _mm_prefetch((const char *) (w + j * ldw + 16 * c + PREFETCH_BYTES), _MM_HINT_T0);
        }
        for (int j = 0; j < 4; j++) {
            wu[j] = unpack64_vnni(w + j * ldw + 16 * c, both, lut);
            ws4[j] = _mm_loadu_ps(ws16 + j * ldws + 2 * c);
        }
        for (int i = 0; i < nr; i++) {
            __m512i av = _mm512_loadu_si512((const void *) (a + i * lda + 32 * c));
            __m512i nc = _mm512_loadu_si512((const void *) (negcorr + i * (lda / 4) + 8 * c));
            __m128 as4 = _mm_loadu_ps(as16 + i * (lda / 16) + 2 * c);
            if (both) {
                VNNI_TILE_STEP(i, 0, 1);
                VNNI_TILE_STEP(i, 1, 1);
                VNNI_TILE_STEP(i, 2, 1);
                VNNI_TILE_STEP(i, 3, 1);
            } else {
                VNNI_TILE_STEP(i, 0, 0);
                VNNI_TILE_STEP(i, 1, 0);
                VNNI_TILE_STEP(i, 2, 0);
                VNNI_TILE_STEP(i, 3, 0);
            }
        }
    }
    for (int i = 0; i < nr; i++) {
        for (int j = 0; j < 4; j++) out[i * ldo + j] = hsum_avx2(acc[i][j]) * 0.25f;
    }
}

/* The tile for 1, 2, 3 or 4 rows, each compiled with its row count fixed. */
VNNI_TARGET static void tile_w4a4_vnni_rows(int nr, const int8_t *a, const int32_t *negcorr, const float *as16, size_t lda,
                                            const uint8_t *w, size_t ldw, const float *ws16, size_t ldws, int p, float *out, int64_t ldo,
                                            int prefetch) {
    switch (nr) {
        case 4: tile_w4a4_vnni(4, a, negcorr, as16, lda, w, ldw, ws16, ldws, p, out, ldo, prefetch); break;
        case 3: tile_w4a4_vnni(3, a, negcorr, as16, lda, w, ldw, ws16, ldws, p, out, ldo, prefetch); break;
        case 2: tile_w4a4_vnni(2, a, negcorr, as16, lda, w, ldw, ws16, ldws, p, out, ldo, prefetch); break;
        default: tile_w4a4_vnni(1, a, negcorr, as16, lda, w, ldw, ws16, ldws, p, out, ldo, prefetch); break;
    }
}

static int32_t gemm_w4a4_vnni(const uint8_t *a_codes, const uint8_t *a_scales, int32_t rows, const uint8_t *w_codes,
                              const uint8_t *w_scales, int64_t o0, int64_t o1, int32_t p, int32_t d, const float *a_lut,
                              const float *w_lut, float *y, int64_t ldy) {
    int blocks = p / d;
    size_t p64 = ((size_t) p + 63) / 64 * 64;
    int8_t *a = calloc((size_t) rows * p64 + 64, 1);
    int32_t *negcorr = calloc((size_t) rows * p64 / 4 + 16, sizeof(int32_t));
    float *as16 = calloc((size_t) rows * p64 / 16 + 4, sizeof(float));
    float *ws16 = calloc(p64 / 16 + 4, sizeof(float));
    float *ws16t = calloc(4 * (p64 / 16 + 4), sizeof(float)); /* four weight rows' scales, zero-padded like ws16 */
    if (a == NULL || negcorr == NULL || as16 == NULL || ws16 == NULL || ws16t == NULL) {
        free(a);
        free(negcorr);
        free(as16);
        free(ws16);
        free(ws16t);
        return -1;
    }
    for (int r = 0; r < rows; r++) {
        int8_t *ar = a + (size_t) r * p64;
        unpack_row(a_codes + (size_t) r * p / 2, p, ar);
        scales16(a_scales + (size_t) r * blocks, p, d, a_lut, as16 + (size_t) r * (p64 / 16));
        int32_t *nc = negcorr + (size_t) r * (p64 / 4);
        for (int j = 0; j < p / 4; j++) { /* per int32 lane: its own four activations, so every lane sums Σ w·a exactly */
            nc[j] = -12 * (ar[4 * j] + ar[4 * j + 1] + ar[4 * j + 2] + ar[4 * j + 3]);
        }
    }
    const int row_block = 32;
    size_t ldws = p64 / 16 + 4;
    for (int rb = 0; rb < rows; rb += row_block) {
        int re = rb + row_block < rows ? rb + row_block : rows;
        int64_t o = o0;
        for (; o + 4 <= o1; o += 4) { /* tiles of up to 4 rows × 4 outputs */
            for (int j = 0; j < 4; j++) scales16(w_scales + (o + j) * blocks, p, d, w_lut, ws16t + j * ldws);
            for (int r = rb; r < re; r += 4) {
                int nr = re - r < 4 ? re - r : 4;
                tile_w4a4_vnni_rows(nr, a + (size_t) r * p64, negcorr + (size_t) r * (p64 / 4), as16 + (size_t) r * (p64 / 16), p64,
                                    w_codes + o * (p / 2), (size_t) p / 2, ws16t, ldws, p, y + r * ldy + o, ldy,
                                    nr <= 2 && r == rb /* decoding: the first row tile streams the weights in (the others find them in cache) */);
            }
        }
        for (; o < o1; o++) {
            const uint8_t *w = w_codes + o * (p / 2);
            scales16(w_scales + o * blocks, p, d, w_lut, ws16);
            int r = rb;
            for (; r + 4 <= re; r += 4) {
                dot4_w4a4_vnni(a + (size_t) r * p64, negcorr + (size_t) r * (p64 / 4), as16 + (size_t) r * (p64 / 16), p64, w, ws16, p,
                               y + r * ldy + o, ldy);
            }
            for (; r < re; r++) {
                dot1_w4a4_vnni(a + (size_t) r * p64, negcorr + (size_t) r * (p64 / 4), as16 + (size_t) r * (p64 / 16), p64, w, ws16, p,
                               y + r * ldy + o);
            }
        }
    }
    free(a);
    free(negcorr);
    free(as16);
    free(ws16);
    free(ws16t);
    return 0;
}

/*
 * A whole W4A4 linear for output features [o0, o1): quantizes all rows of x (rows, p) itself (as
 * wush_quantize_rows), then the products (as wush_gemm_w4a4). For few rows, where quantizing them on every
 * thread costs less than a second fork-join. Returns 0, or -1 when scratch memory cannot be allocated.
 */
int32_t wush_linear_w4a4(int32_t isa, const float *x, int32_t rows, int32_t p, int32_t d, const float *tt, int64_t tstride,
                         int32_t rule, float global, const float *scale_lut, const uint8_t *w_codes, const uint8_t *w_scales,
                         int64_t o0, int64_t o1, float *y, int64_t ldy) {
    uint8_t *codes = malloc((size_t) rows * p / 2 + 1);
    uint8_t *scales = malloc((size_t) rows * (p / d) + 1);
    int32_t rc = -1;
    if (codes != NULL && scales != NULL) {
        wush_quantize_rows(isa, x, 0, rows, p, d, tt, tstride, rule, global, scale_lut, codes, scales);
        rc = wush_gemm_w4a4(isa, codes, scales, rows, w_codes, w_scales, o0, o1, p, d, scale_lut, scale_lut, y, ldy);
    }
    free(codes);
    free(scales);
    return rc;
}

/* ---------- (c) W4A16 GEMV ---------- */

__attribute__((target("avx2,fma")))
static float dot_w4a16_avx2(const float *x, const uint8_t *w, const float *ws16, int p) {
    const __m256i lut = e2m1_lut_avx2();
    __m256 acc = _mm256_setzero_ps();
    for (int c = 0; c < p / 32; c++) {
        __m256i wv = unpack32_avx2(w + 16 * c, lut);
        __m128i lo = _mm256_castsi256_si128(wv);
        __m128i hi = _mm256_extracti128_si256(wv, 1);
        const float *xc = x + 32 * c;
        __m256 g0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), _mm256_loadu_ps(xc));
        g0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), _mm256_loadu_ps(xc + 8), g0);
        __m256 g1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), _mm256_loadu_ps(xc + 16));
        g1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), _mm256_loadu_ps(xc + 24), g1);
        acc = _mm256_fmadd_ps(g0, _mm256_set1_ps(ws16[2 * c]), acc);
        acc = _mm256_fmadd_ps(g1, _mm256_set1_ps(ws16[2 * c + 1]), acc);
    }
    return hsum_avx2(acc) * 0.5f;
}

static float dot_w4a16_scalar(const float *x, const uint8_t *w, const float *ws16, int p) {
    int8_t wv[32];
    float acc = 0;
    for (int c = 0; c < p / 32; c++) {
        unpack32_scalar(w + 16 * c, wv);
        for (int h = 0; h < 2; h++) {
            float s = 0;
            for (int i = 0; i < 16; i++) s += x[32 * c + 16 * h + i] * wv[16 * h + i];
            acc += s * ws16[2 * c + h];
        }
    }
    return acc * 0.5f;
}

/* y[r*ldy + o] = x[r] . w[o] for float activations x (rows, p), o in [o0, o1); w split-nibble. p a multiple of 32. */
int32_t wush_gemv_w4a16(int32_t isa, const float *x, int32_t rows, const uint8_t *w_codes, const uint8_t *w_scales, int64_t o0,
                     int64_t o1, int32_t p, int32_t d, const float *w_lut, float *y, int64_t ldy) {
    int blocks = p / d;
    const float *xo = x;
    float *ws16 = malloc(sizeof(float) * (p / 16 + 1));
    if (ws16 == NULL) return -1;
    int fast = clamp_isa(isa) >= WUSH_ISA_AVX2;
    for (int64_t o = o0; o < o1; o++) {
        const uint8_t *w = w_codes + o * (p / 2);
        scales16(w_scales + o * blocks, p, d, w_lut, ws16);
        for (int r = 0; r < rows; r++) {
            const float *xr = xo + (size_t) r * p;
            y[r * ldy + o] = fast ? dot_w4a16_avx2(xr, w, ws16, p) : dot_w4a16_scalar(xr, w, ws16, p);
        }
    }
    free(ws16);
    return 0;
}

/* Sum of n floats: reads n*4 bytes once, to measure memory bandwidth next to the kernels. */
__attribute__((target("avx2")))
static double stream_sum_avx2(const float *x, int64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps(x + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps(x + i + 24));
    }
    float t[8];
    _mm256_storeu_ps(t, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    double s = 0;
    for (int k = 0; k < 8; k++) s += t[k];
    for (; i < n; i++) s += x[i];
    return s;
}

double wush_stream_sum(int32_t isa, const float *x, int64_t n) {
    if (clamp_isa(isa) >= WUSH_ISA_AVX2) return stream_sum_avx2(x, n);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    return s;
}
