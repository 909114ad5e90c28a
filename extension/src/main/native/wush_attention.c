/*
 * Causal self-attention over a key/value cache for a few new positions (decoding), fused: rotary
 * positions on the new queries and keys, the cache extended by the new keys and values, and
 * softmax(q·kᵀ·scale)·v for every query head, in one call instead of some fifteen engine operations.
 *
 * Layouts (all float32, row-major, contiguous):
 *   q          (B, T, H, D)      the query projection's output, before rotary positions
 *   k, v       (B, T, KV, D)     the key and value projections' outputs (k before rotary positions)
 *   cos, sin   (T, D)            rotary tables of the new positions, rotate-half layout
 *   past_k/v   (B, KV, P, D)     the cache so far (NULL when P = 0)
 *   out_k/v    (B, KV, P + T, D) the cache extended: past rows copied, then the new (rotated) keys and values
 *   ctx        (B, T, H, D)      the attention output, ready for the output projection
 * Query head h reads key/value head h / (H / KV) (grouped-query attention). New position t (absolute
 * P + t) attends to cache rows 0 .. P + t.
 *
 * Rotary positions are computed as the engine computes them, x·cos + rotate_half(x)·sin with separate
 * multiplies and add (the build turns off contraction into FMAs), so the cache holds the same bits as
 * the engine's path. Scores, softmax and the weighted sum run in float32 in another order than the
 * engine's batched products: results agree to float32 rounding, not bit for bit.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <immintrin.h>

/* y = x·cos + rotate_half(x)·sin for one head of D values. */
static void rope_head(const float *x, const float *cos, const float *sin, int d, float *y) {
    int half = d / 2;
    for (int i = 0; i < half; i++) {
        float a = x[i] * cos[i];
        float b = (-x[i + half]) * sin[i];
        y[i] = a + b;
    }
    for (int i = half; i < d; i++) {
        float a = x[i] * cos[i];
        float b = x[i - half] * sin[i];
        y[i] = a + b;
    }
}

__attribute__((target("avx2")))
static float dot_avx2(const float *a, const float *b, int d) {
    __m256 acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= d; i += 8) {
        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    }
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    float r = _mm_cvtss_f32(s);
    for (; i < d; i++) r += a[i] * b[i];
    return r;
}

static float dot_scalar(const float *a, const float *b, int d) {
    float r = 0;
    for (int i = 0; i < d; i++) r += a[i] * b[i];
    return r;
}

/* acc[0..d) += p · v[0..d) */
__attribute__((target("avx2")))
static void axpy_avx2(float p, const float *v, float *acc, int d) {
    __m256 pv = _mm256_set1_ps(p);
    int i = 0;
    for (; i + 8 <= d; i += 8) {
        _mm256_storeu_ps(acc + i, _mm256_add_ps(_mm256_loadu_ps(acc + i), _mm256_mul_ps(pv, _mm256_loadu_ps(v + i))));
    }
    for (; i < d; i++) acc[i] += p * v[i];
}

static void axpy_scalar(float p, const float *v, float *acc, int d) {
    for (int i = 0; i < d; i++) acc[i] += p * v[i];
}

/*
 * Key/value heads [g0, g1) of every batch row (index b * KV + g): extends their cache and computes their
 * query heads' outputs. isa 0: scalar, otherwise AVX2. Returns 0, or -1 when scratch memory is short.
 */
int32_t wush_cached_attention(int32_t isa, const float *q, const float *k, const float *v, const float *cos, const float *sin,
                              const float *past_k, const float *past_v, int32_t batch, int32_t t, int32_t past, int32_t heads,
                              int32_t kv_heads, int32_t d, float scale, int64_t g0, int64_t g1, float *out_k, float *out_v,
                              float *ctx) {
    (void) batch;
    int total = past + t;
    int group = heads / kv_heads;
    float *scores = malloc(sizeof(float) * (size_t) total + sizeof(float) * (size_t) d + 64);
    if (scores == NULL) return -1;
    float *qr = scores + total; /* one rotated query head */
    float (*dot)(const float *, const float *, int) = isa > 0 ? dot_avx2 : dot_scalar;
    void (*axpy)(float, const float *, float *, int) = isa > 0 ? axpy_avx2 : axpy_scalar;
    for (int64_t bg = g0; bg < g1; bg++) {
        int64_t b = bg / kv_heads;
        int g = (int) (bg % kv_heads);
        float *ok = out_k + bg * (int64_t) total * d; /* (P + T, D) of this head */
        float *ov = out_v + bg * (int64_t) total * d;
        if (past > 0) {
            memcpy(ok, past_k + bg * (int64_t) past * d, sizeof(float) * (size_t) past * d);
            memcpy(ov, past_v + bg * (int64_t) past * d, sizeof(float) * (size_t) past * d);
        }
        for (int s = 0; s < t; s++) {
            const float *kin = k + ((b * t + s) * kv_heads + g) * (int64_t) d;
            const float *vin = v + ((b * t + s) * kv_heads + g) * (int64_t) d;
            rope_head(kin, cos + (int64_t) s * d, sin + (int64_t) s * d, d, ok + (int64_t) (past + s) * d);
            memcpy(ov + (int64_t) (past + s) * d, vin, sizeof(float) * (size_t) d);
        }
        for (int m = 0; m < group; m++) {
            int h = g * group + m;
            for (int s = 0; s < t; s++) {
                const float *qin = q + ((b * t + s) * heads + h) * (int64_t) d;
                rope_head(qin, cos + (int64_t) s * d, sin + (int64_t) s * d, d, qr);
                int visible = past + s + 1;
                float max = -INFINITY;
                for (int j = 0; j < visible; j++) {
                    float sc = dot(qr, ok + (int64_t) j * d, d) * scale;
                    scores[j] = sc;
                    max = sc > max ? sc : max;
                }
                float sum = 0;
                for (int j = 0; j < visible; j++) {
                    scores[j] = expf(scores[j] - max);
                    sum += scores[j];
                }
                float inv = 1.0f / sum;
                float *out = ctx + ((b * t + s) * heads + h) * (int64_t) d;
                memset(out, 0, sizeof(float) * (size_t) d);
                for (int j = 0; j < visible; j++) {
                    axpy(scores[j] * inv, ov + (int64_t) j * d, out, d);
                }
            }
        }
    }
    free(scores);
    return 0;
}
