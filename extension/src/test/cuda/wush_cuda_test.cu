/*
 * Tests of the CUDA kernels against the CPU kernels (libwushkernels.so, loaded from the path given as the
 * first argument) and against a scalar reference written here from METHOD.md. Host checks run everywhere:
 * the quantization rules (wush_fp4.h, one source for both kernels), built by nvcc's host compiler, and the
 * gcc-built CPU library give the reference's scale and element codes bit for bit, ties and edge cases
 * included; the rules also give the CPU library's codes after every kind of transform; the kernels'
 * host-callable parts (wush_fp4mma.h: FP4 tensor-core operands; wush_unpack.h: code unpacking, GEMV group
 * dots, BF16 staging) give the CPU products. Device checks run where a CUDA device is
 * present: exact quantization bit-identical to the CPU kernels and to the reference, tensor-core quantization
 * equal up to rounding-boundary cases, GEMM and GEMV within 1e-3 relative of the CPU products, the tile kernel
 * each GEMM ran being the one the device's architecture calls for, argument errors.
 * Without a device the device checks are reported as skipped, with the reason; exit status 0 means every
 * check that ran passed. Every CUDA call is checked.
 *
 *   wush_cuda_test LIBWUSHKERNELS [--require-device]
 */
#include <cmath>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "wush_cuda.h"
#include "wush_fp4.h"
#include "wush_fp4mma.h"
#include "wush_unpack.h"

namespace {

int failures = 0, checks = 0;

#define EXPECT(cond, ...)                                                \
    do {                                                                 \
        checks++;                                                        \
        if (!(cond)) {                                                   \
            failures++;                                                  \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);         \
            fprintf(stderr, __VA_ARGS__);                                \
            fprintf(stderr, "\n");                                       \
        }                                                                \
    } while (0)


/* ---------- the CPU kernels ---------- */

/* every CPU kernel takes the instruction set first (WUSH_ABI 3); the test asks for the CPU's best */
typedef void (*quantize_rows_fn)(int32_t, const float *, int64_t, int64_t, int32_t, int32_t, const float *, int64_t, int32_t, float,
                                 const float *, uint8_t *, uint8_t *);
typedef void (*transform_rows_fn)(int32_t, const float *, int64_t, int64_t, int32_t, int32_t, const float *, int64_t, float *);
typedef int32_t (*gemm_fn)(int32_t, const uint8_t *, const uint8_t *, int32_t, const uint8_t *, const uint8_t *, int64_t, int64_t,
                           int32_t, int32_t, const float *, const float *, float *, int64_t);
typedef int32_t (*gemv_fn)(int32_t, const float *, int32_t, const uint8_t *, const uint8_t *, int64_t, int64_t, int32_t, int32_t,
                           const float *, float *, int64_t);

typedef int32_t (*best_isa_fn)(void);

struct Cpu {
    int32_t isa;
    quantize_rows_fn quantize_rows;
    transform_rows_fn transform_rows;
    gemm_fn gemm_w4a4;
    gemv_fn gemv_w4a16;
};

Cpu load_cpu(const char *path) {
    void *h = dlopen(path, RTLD_NOW);
    if (h == nullptr) {
        fprintf(stderr, "FATAL cannot load the CPU kernels %s: %s\n", path, dlerror());
        exit(2);
    }
    Cpu c;
    c.quantize_rows = (quantize_rows_fn) dlsym(h, "wush_quantize_rows");
    c.transform_rows = (transform_rows_fn) dlsym(h, "wush_transform_rows");
    c.gemm_w4a4 = (gemm_fn) dlsym(h, "wush_gemm_w4a4");
    c.gemv_w4a16 = (gemv_fn) dlsym(h, "wush_gemv_w4a16");
    best_isa_fn best = (best_isa_fn) dlsym(h, "wush_best_isa");
    if (!c.quantize_rows || !c.transform_rows || !c.gemm_w4a4 || !c.gemv_w4a16 || !best) {
        fprintf(stderr, "FATAL %s lacks a kernel symbol\n", path);
        exit(2);
    }
    c.isa = getenv("WUSH_TEST_ISA") ? atoi(getenv("WUSH_TEST_ISA")) : best();
    return c;
}

/* ---------- formats: scale values as dev.wush.kernel.Fp4Scales computes them ---------- */

struct Format {
    const char *name;
    int rule;
    int d;
    float global;
    std::vector<float> values; /* full scale values (quantization, CPU products) */
    std::vector<float> base;   /* values = base · factor: what the GPU products take per block */
    float factor;
    int scale_type;            /* how the GPU products read a scale code as its base */
};

float e4m3_decode(int c) {
    if ((c & 0x7F) == 0x7F) return NAN;
    int e = (c >> 3) & 15, m = c & 7;
    float v = e == 0 ? ldexpf((float) m, -9) : ldexpf(1.0f + m / 8.0f, e - 7);
    return (c & 0x80) ? -v : v;
}

Format format(int rule, float global) {
    Format f;
    f.rule = rule;
    f.d = rule == WUSH_RULE_NVFP4 ? 16 : 32;
    f.global = global;
    f.name = rule == WUSH_RULE_MXFP4 ? "MXFP4" : rule == WUSH_RULE_MXFP4_OCP ? "MXFP4-OCP" : "NVFP4";
    f.factor = rule == WUSH_RULE_MXFP4 ? 1.0f / 3 : rule == WUSH_RULE_NVFP4 ? global : 1.0f;
    f.scale_type = rule == WUSH_RULE_NVFP4 ? WUSH_CUDA_SCALE_E4M3 : WUSH_CUDA_SCALE_E8M0;
    for (int c = 0; c < 256; c++) {
        float base = rule == WUSH_RULE_NVFP4 ? e4m3_decode(c) : c == 255 ? NAN : ldexpf(1.0f, c - 127);
        float value = rule == WUSH_RULE_MXFP4 ? base / 3 : rule == WUSH_RULE_NVFP4 ? base * global : base;
        f.base.push_back(base);
        f.values.push_back(value);
    }
    return f;
}

std::vector<Format> formats() {
    return {format(WUSH_RULE_MXFP4, 1), format(WUSH_RULE_MXFP4_OCP, 1), format(WUSH_RULE_NVFP4, 0.0123f)};
}

/* ---------- inputs ---------- */

std::mt19937 rng(20261123);

std::vector<float> activations(int64_t rows, int p, bool specials) {
    std::normal_distribution<float> n(0, 1);
    std::vector<float> x((size_t) rows * p);
    for (size_t i = 0; i < x.size(); i++) x[i] = n(rng) * (i % 97 == 0 ? 40.0f : 1.0f);
    if (specials && rows >= 4) {
        for (int k = 0; k < 32; k++) x[(size_t) 1 * p + k] = 0;                /* an all-zero group */
        for (int k = 0; k < 32; k++) x[(size_t) 2 * p + k] = 1e-41f * (k + 1);  /* subnormals */
        x[(size_t) 3 * p + 5] = NAN;                                            /* NaN in one group */
        x[(size_t) 3 * p + p - 1] = INFINITY;
        x[7] = 0.25f; /* ties of the E2M1 rounding */
        x[8] = 0.75f;
        x[9] = -2.5f;
        x[10] = 5.0f;
    }
    return x;
}

/* kind 0: identity (NULL), 1: one shared matrix, 2: one per block */
std::vector<float> transforms(int kind, int p, int d) {
    if (kind == 0) return {};
    int count = kind == 1 ? 1 : p / d;
    std::normal_distribution<float> n(0, 1);
    std::vector<float> t((size_t) count * d * d);
    for (auto &v : t) v = n(rng) / sqrtf((float) d);
    return t;
}

struct Quantized {
    std::vector<uint8_t> codes, scales;
};

Quantized cpu_quantize(const Cpu &cpu, const std::vector<float> &x, int64_t rows, int p, const Format &f,
                       const std::vector<float> &t, int64_t tstride) {
    Quantized q;
    q.codes.resize((size_t) rows * p / 2);
    q.scales.resize((size_t) rows * (p / f.d));
    cpu.quantize_rows(cpu.isa, x.data(), 0, rows, p, f.d, t.empty() ? nullptr : t.data(), tstride, f.rule, f.global, f.values.data(),
                      q.codes.data(), q.scales.data());
    return q;
}

/* standard-layout codes (rows, p) to the split-nibble layout of the weights */
std::vector<uint8_t> to_split(const std::vector<uint8_t> &standard) {
    std::vector<uint8_t> split(standard.size());
    for (size_t base = 0; base < standard.size(); base += 16) {
        for (int i = 0; i < 16; i++) {
            int lo = (standard[base + i / 2] >> (4 * (i & 1))) & 15;
            int e = 16 + i;
            int hi = (standard[base + e / 2] >> (4 * (e & 1))) & 15;
            split[base + i] = (uint8_t) (lo | hi << 4);
        }
    }
    return split;
}

/* ---------- the scalar reference, written from METHOD.md ("Formats") ----------
 *
 * Nothing here calls wush_fp4.h. Arithmetic is that of the official code, float32 tensors: the scale value is a
 * float, the element is x / scale as one IEEE float division, and the rounding to the grids is done here by
 * distance, in double, over every grid point.
 *   E2M1: {0, .5, 1, 1.5, 2, 3, 4, 6}, nearest, ties to the even code, saturating at 6; code = sign bit 3 | index.
 *   MXFP4: scale 2^floor(log2 amax) as E8M0 (code e + 127), decoded with the constant 1/3: value 2^e / 3.
 *   MXFP4-OCP: 2^(floor(log2 amax) - 2), no constant (AbsMax lands in [4, 8) and clips at 6).
 *   NVFP4: s = E4M3(amax / (6 g)), nearest even, saturating at 448; value s · g (g = 1/10 in the official code).
 *   A zero scale value (NVFP4) gives all codes 0, and an all-zero group E8M0 code 0 (METHOD: both decode to exact
 *   zeros; it leaves the zero group's E8M0 code open, and 2^-127 times zero codes is zero either way). A group
 *   with a NaN or an infinity gets the format's NaN scale code (E8M0 255, E4M3 0x7F), so it decodes to NaN:
 *   activations propagate it. Its element codes are then meaningless and not compared.
 */

int ref_e2m1(float q) {
    static const double grid[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
    double a = fabs((double) q);
    if (a >= 6) return (signbit(q) ? 8 : 0) | 7; /* saturation (and no distances between huge numbers) */
    int best = 0;
    for (int m = 1; m < 8; m++) {
        double dm = fabs(a - grid[m]), db = fabs(a - grid[best]);
        if (dm < db || (dm == db && m % 2 == 0)) best = m;
    }
    return (signbit(q) ? 8 : 0) | best;
}

double ref_e4m3_value(int code) { /* positive codes 0 .. 126: 4 exponent bits, bias 7, 3 mantissa bits */
    int e = code >> 3, m = code & 7;
    return e == 0 ? ldexp((double) m, -9) : ldexp(1.0 + m / 8.0, e - 7);
}

int ref_e4m3(double a) { /* a >= 0 */
    if (a >= 448) return 0x7E;
    int best = 0;
    for (int c = 1; c <= 126; c++) {
        double dc = fabs(a - ref_e4m3_value(c)), db = fabs(a - ref_e4m3_value(best));
        if (dc < db || (dc == db && c % 2 == 0)) best = c;
    }
    return best;
}

struct RefGroup {
    int scale;
    bool special; /* NaN or infinity in the group: element codes not compared */
    uint8_t codes[16];
};

RefGroup ref_quantize_group(const float *y, int d, int rule, float global) {
    RefGroup g{};
    double amax = 0;
    for (int k = 0; k < d; k++) {
        if (!std::isfinite(y[k])) g.special = true;
        else amax = fmax(amax, fabs((double) y[k]));
    }
    if (g.special) {
        g.scale = rule == WUSH_RULE_NVFP4 ? 0x7F : 255;
        return g;
    }
    float value;
    if (rule == WUSH_RULE_NVFP4) {
        float six_g = 6.0f * global;
        g.scale = ref_e4m3((double) ((float) amax / six_g));
        value = (float) ref_e4m3_value(g.scale) * global;
    } else if (amax == 0) { /* an all-zero group: scale code 0, elements keep their sign bit */
        g.scale = 0;
        value = rule == WUSH_RULE_MXFP4 ? (float) (ldexp(1.0, -127) / 3) : (float) ldexp(1.0, -127);
    } else {
        int e;
        frexp(amax, &e); /* amax = f · 2^e, f in [0.5, 1) */
        e -= 1;          /* floor(log2 amax) */
        if (rule == WUSH_RULE_MXFP4_OCP) e -= 2;
        g.scale = e + 127 < 0 ? 0 : e + 127 > 254 ? 254 : e + 127;
        double power = ldexp(1.0, g.scale - 127);
        value = rule == WUSH_RULE_MXFP4 ? (float) (power / 3) : (float) power;
    }
    for (int k = 0; k < d; k++) {
        int c = value == 0 ? 0 : ref_e2m1(y[k] / value);
        g.codes[k / 2] |= (uint8_t) (c << (4 * (k % 2))); /* element 2k low nibble, 2k+1 high */
    }
    return g;
}

/* groups of the rows (rows, p) whose scale or (finite groups) codes differ from the reference */
int differences_from_reference(const std::vector<float> &x, int64_t rows, int p, const Format &f, const uint8_t *codes,
                               const uint8_t *scales, std::string *first) {
    int bad = 0;
    for (int64_t r = 0; r < rows; r++) {
        for (int b = 0; b < p / f.d; b++) {
            RefGroup g = ref_quantize_group(x.data() + r * p + b * f.d, f.d, f.rule, f.global);
            int64_t group = r * (p / f.d) + b;
            bool differs = scales[group] != g.scale || (!g.special && memcmp(codes + (r * p + b * f.d) / 2, g.codes, f.d / 2) != 0);
            if (differs && bad++ == 0 && first != nullptr) {
                char where[200];
                snprintf(where, sizeof where, "row %ld group %d: scale %d, reference %d; codes", (long) r, b, scales[group], g.scale);
                *first = where;
                for (int k = 0; k < f.d; k++) {
                    int c = (codes[(r * p + b * f.d + k) / 2] >> (4 * (k % 2))) & 15, rc = (g.codes[k / 2] >> (4 * (k % 2))) & 15;
                    if (c != rc) {
                        snprintf(where, sizeof where, " [%d] x %g: %d, reference %d", k, x[r * p + b * f.d + k], c, rc);
                        *first += where;
                    }
                }
            }
        }
    }
    return bad;
}

/*
 * Rows that reach every rule's edges for format f: exact E2M1 ties (x = t · scale, where the product is exact),
 * saturation, the group maximum itself, exact E4M3 ties of the NVFP4 scale, amax at a power of two, subnormal and
 * huge groups, -0, an all-zero group, NaN and infinity; then Gaussian groups with outliers. *ties counts the
 * elements whose quotient is exactly a tie of the E2M1 grid, and *scale_ties the NVFP4 groups whose amax / (6 g)
 * is exactly between two E4M3 values (so the check provably exercised both tie rules).
 */
std::vector<float> edge_rows(const Format &f, int p, int64_t *rows_out, int *ties, int *scale_ties) {
    const int d = f.d;
    std::vector<std::vector<float>> groups;
    const float tie_points[] = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f};
    for (int e = -130; e <= 120; e += 25) {
        for (float lead : {1.0f, 1.5f, 1.9999999f}) {
            std::vector<float> g(d, 0.0f);
            float amax = ldexpf(lead, e);
            g[0] = amax;
            RefGroup rg = ref_quantize_group(g.data(), d, f.rule, f.global); /* the scale of this amax */
            float value = f.values[rg.scale];
            for (int k = 1; k < d; k++) {
                float t = tie_points[(k - 1) % 7] * (k % 2 ? 1.0f : -1.0f);
                float y = t * value;
                g[k] = fabsf(y) <= amax ? y : -0.0f;
            }
            g[d - 1] = -amax; /* the maximum with the other sign */
            groups.push_back(g);
        }
    }
    if (f.rule == WUSH_RULE_NVFP4) { /* amax exactly 6 g times the midpoint of two neighbouring E4M3 values */
        for (int c = 0; c < 126; c += 3) {
            double mid = (ref_e4m3_value(c) + ref_e4m3_value(c + 1)) / 2;
            std::vector<float> g(d, 0.0f);
            g[0] = (float) (mid * 6 * f.global);
            for (int k = 1; k < d; k++) g[k] = g[0] * (float) (k - 8) / 8;
            groups.push_back(g);
        }
        std::vector<float> huge(d, 0.0f);
        huge[3] = 464.0f * 6 * f.global; /* above 448 · 6g: the scale saturates */
        groups.push_back(huge);
    }
    std::vector<float> tiny(d), zero(d, 0.0f), neg_zero(d, -0.0f), nan(d, 1.0f), inf(d, 1.0f);
    for (int k = 0; k < d; k++) tiny[k] = 1e-41f * (float) (k - 5);
    nan[3] = NAN;
    inf[d - 1] = -INFINITY;
    for (auto *g : {&tiny, &zero, &neg_zero, &nan, &inf}) groups.push_back(*g);
    std::normal_distribution<float> n(0, 1);
    for (int i = 0; i < 64; i++) {
        std::vector<float> g(d);
        for (int k = 0; k < d; k++) g[k] = n(rng) * (k == i % d ? 30.0f : 1.0f);
        groups.push_back(g);
    }
    int per_row = p / d;
    while (groups.size() % per_row != 0) groups.push_back(zero);
    std::vector<float> x;
    *ties = 0;
    *scale_ties = 0;
    for (const auto &g : groups) {
        x.insert(x.end(), g.begin(), g.end());
        RefGroup rg = ref_quantize_group(g.data(), d, f.rule, f.global);
        if (rg.special) continue;
        float value = f.values[rg.scale];
        for (int k = 0; k < d && value != 0; k++) {
            double q = fabs((double) (g[k] / value));
            for (float t : tie_points) *ties += q == t;
        }
        if (f.rule == WUSH_RULE_NVFP4) {
            float amax = 0;
            for (float v : g) amax = fmaxf(amax, fabsf(v));
            double a = (double) (amax / (6.0f * f.global));
            for (int c = 0; c < 126; c++) *scale_ties += a == (ref_e4m3_value(c) + ref_e4m3_value(c + 1)) / 2;
        }
    }
    *rows_out = (int64_t) (groups.size() / per_row);
    return x;
}

/* the formats of the reference checks: those of the other checks, and NVFP4 with g = 1 and the official 1/10 */
std::vector<Format> reference_formats() {
    auto all = formats();
    all.push_back(format(WUSH_RULE_NVFP4, 1.0f));
    all.push_back(format(WUSH_RULE_NVFP4, 0.1f));
    return all;
}

/* the reference itself, on points METHOD.md spells out */
void host_reference_self_check() {
    EXPECT(ref_e2m1(0.25f) == 0 && ref_e2m1(0.75f) == 2 && ref_e2m1(1.25f) == 2 && ref_e2m1(1.75f) == 4 && ref_e2m1(2.5f) == 4
               && ref_e2m1(3.5f) == 6 && ref_e2m1(5.0f) == 6,
           "reference E2M1: ties go to the even code");
    EXPECT(ref_e2m1(0.2500001f) == 1 && ref_e2m1(-6.5f) == 15 && ref_e2m1(100.0f) == 7 && ref_e2m1(-0.1f) == 8,
           "reference E2M1: nearest, saturating, sign bit");
    EXPECT(ref_e4m3_value(0x7E) == 448 && ref_e4m3(448) == 0x7E && ref_e4m3(1e9) == 0x7E && ref_e4m3(1.0625) == 0x38
               && ref_e4m3(1.1875) == 0x3A && ref_e4m3(ldexp(1, -9)) == 1,
           "reference E4M3: 448 largest, ties to even, saturation, subnormals");
    float g[32] = {3.0f};
    EXPECT(ref_quantize_group(g, 32, WUSH_RULE_MXFP4, 1).scale == 128, "reference MXFP4: amax 3 has scale 2^1");
    EXPECT(ref_quantize_group(g, 32, WUSH_RULE_MXFP4_OCP, 1).scale == 126, "reference MXFP4-OCP: amax 3 has scale 2^-1");
    EXPECT((ref_quantize_group(g, 32, WUSH_RULE_MXFP4, 1).codes[0] & 15) == 6, "reference MXFP4: 3 / (2/3) = 4.5 rounds to 4 (even)");
}

/* wush_quantize_group (the rules the CUDA kernels compile) and the CPU kernels against the reference */
void host_rules_match_reference(const Cpu &cpu) {
    host_reference_self_check();
    int all_ties = 0;
    for (const Format &f : reference_formats()) {
        int p = 256;
        int64_t rows = 0;
        int ties = 0, scale_ties = 0;
        auto x = edge_rows(f, p, &rows, &ties, &scale_ties);
        all_ties += ties;
        std::vector<uint8_t> codes((size_t) rows * p / 2), scales((size_t) rows * (p / f.d));
        for (int64_t r = 0; r < rows; r++) {
            for (int b = 0; b < p / f.d; b++) {
                scales[r * (p / f.d) + b] = (uint8_t) wush_quantize_group(x.data() + r * p + b * f.d, f.d, f.rule, f.global, f.values.data(),
                                                                          codes.data() + (r * p + b * f.d) / 2);
            }
        }
        std::string first;
        int bad = differences_from_reference(x, rows, p, f, codes.data(), scales.data(), &first);
        EXPECT(bad == 0, "wush_quantize_group %s (g %g): %d of %ld groups differ from the reference; first: %s", f.name, f.global, bad,
               (long) (rows * (p / f.d)), first.c_str());
        Quantized q = cpu_quantize(cpu, x, rows, p, f, {}, 0);
        bad = differences_from_reference(x, rows, p, f, q.codes.data(), q.scales.data(), &first);
        EXPECT(bad == 0, "CPU kernels %s (g %g): %d groups differ from the reference; first: %s", f.name, f.global, bad, first.c_str());
        if (f.rule == WUSH_RULE_NVFP4 && f.global == 1.0f) {
            EXPECT(scale_ties >= 20, "NVFP4 g 1: only %d exact E4M3 ties exercised", scale_ties);
        }
        if (f.rule == WUSH_RULE_MXFP4_OCP || (f.rule == WUSH_RULE_NVFP4 && f.global == 1.0f)) {
            EXPECT(ties >= 7 * 10, "%s (g %g): only %d exact E2M1 ties exercised", f.name, f.global, ties);
        }
    }
    printf("reference: %d exact E2M1 ties among the edge rows\n", all_ties);
}

/* ---------- device buffers ---------- */

template <typename T>
struct Device {
    T *ptr = nullptr;
    size_t n = 0;
    explicit Device(size_t count) : n(count) { CHECK(wush_cuda_malloc((void **) &ptr, (int64_t) (count * sizeof(T)))); }
    explicit Device(const std::vector<T> &host) : Device(host.size()) {
        CHECK(wush_cuda_copy(ptr, host.data(), (int64_t) (n * sizeof(T)), 1, nullptr));
    }
    ~Device() { CHECK(wush_cuda_free(ptr)); }
    std::vector<T> get() const {
        std::vector<T> host(n);
        CHECK(wush_cuda_copy(host.data(), ptr, (int64_t) (n * sizeof(T)), 2, nullptr));
        return host;
    }
    Device(const Device &) = delete;
    Device &operator=(const Device &) = delete;
};

/* ---------- host checks ---------- */

std::vector<uint8_t> random_bytes(size_t n, int lo, int hi);

void host_rules_match_cpu(const Cpu &cpu) {
    for (const Format &f : formats()) {
        for (int kind = 0; kind < 3; kind++) {
            int p = 128;
            int64_t rows = 9;
            auto x = activations(rows, p, true);
            auto t = transforms(kind, p, f.d);
            int64_t tstride = kind == 2 ? (int64_t) f.d * f.d : 0;
            Quantized ref = cpu_quantize(cpu, x, rows, p, f, t, tstride);
            int bad = 0;
            for (int64_t r = 0; r < rows; r++) {
                for (int b = 0; b < p / f.d; b++) {
                    float y[32];
                    uint8_t c[16];
                    const float *tb = t.empty() ? nullptr : t.data() + b * tstride;
                    wush_transform_block(x.data() + r * p + b * f.d, tb, f.d, y);
                    int sc = wush_quantize_group(y, f.d, f.rule, f.global, f.values.data(), c);
                    bad += sc != ref.scales[r * (p / f.d) + b];
                    bad += memcmp(c, ref.codes.data() + (r * p + b * f.d) / 2, f.d / 2) != 0;
                }
            }
            EXPECT(bad == 0, "host rules %s transform kind %d: %d groups differ from the CPU kernels", f.name, kind, bad);
        }
    }
    /* scale-code rule edges */
    EXPECT(wush_scale_code(NAN, WUSH_RULE_MXFP4, 1) == 255, "NaN MXFP4 scale code");
    EXPECT(wush_scale_code(INFINITY, WUSH_RULE_NVFP4, 1) == 0x7F, "inf NVFP4 scale code");
    EXPECT(wush_scale_code(0, WUSH_RULE_MXFP4, 1) == 0, "zero MXFP4 scale code");
    EXPECT(wush_e4m3_encode(448.0f) == 0x7E && wush_e4m3_encode(1e9f) == 0x7E, "E4M3 saturation");
    EXPECT(wush_e2m1_encode(-6.5f) == 15 && wush_e2m1_encode(0.25f) == 0 && wush_e2m1_encode(0.2500001f) == 1, "E2M1 rounding");
}

/* The scale bases the GPU products decode in-kernel are the formats' own (Fp4Scales, the E4M3/E8M0 decoders). */
void host_scale_bases() {
    for (const Format &f : formats()) {
        int bad = 0;
        for (int c = 0; c < 256; c++) {
            float v = wush_scale_base(f.scale_type, c);
            bad += !(v == f.base[c] || (isnan(v) && isnan(f.base[c])));
        }
        EXPECT(bad == 0, "wush_scale_base %s: %d of 256 codes differ from the format's decoder", f.name, bad);
    }
}

/*
 * One m16n8k64 block-scaled MMA as the PTX ISA specifies it, from the 32 lanes' registers (the table in
 * wush_fp4mma.h, written out here independently of the functions that fill the registers):
 * A(row, k) in lane 4·(row % 8) + (k % 32) / 8, register (row / 8) + 2·(k / 32), nibble k % 8; B(k, n) in lane
 * 4·n + (k % 32) / 8, register k / 32, nibble k % 8; scale_A(row, block) in byte `block` of lane 4·(row % 8) +
 * row / 8; scale_B(n, block) in byte `block` of lane 4·n; D(row, n) in lane 4·(row % 8) + n / 2, register
 * 2·(row / 8) + n % 2. Adds to d[lane][register].
 */
void emulate_mma(const uint32_t a[32][4], const uint32_t b[32][2], const uint32_t sa[32], const uint32_t sb[32], int d,
                 int scale_type, double acc[32][4]) {
    const double mag[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
    auto e2m1 = [&](uint32_t reg, int nibble) {
        int c = (reg >> (4 * nibble)) & 15;
        return c & 8 ? -mag[c & 7] : mag[c & 7];
    };
    for (int row = 0; row < 16; row++) {
        for (int n = 0; n < 8; n++) {
            double sum = 0;
            for (int k = 0; k < 64; k++) {
                double av = e2m1(a[4 * (row % 8) + (k % 32) / 8][row / 8 + 2 * (k / 32)], k % 8);
                double bv = e2m1(b[4 * n + (k % 32) / 8][k / 32], k % 8);
                double as = wush_scale_base(scale_type, (sa[4 * (row % 8) + row / 8] >> (8 * (k / d))) & 0xFF);
                double bs = wush_scale_base(scale_type, (sb[4 * n] >> (8 * (k / d))) & 0xFF);
                sum += av * as * bv * bs;
            }
            acc[4 * (row % 8) + n / 2][2 * (row / 8) + n % 2] += sum;
        }
    }
}

/*
 * The FP4 tensor-core GEMM of sm_120a on the host: its tiles staged with the kernel's functions (wush_fp4mma.h:
 * groups, split-to-standard weights, scale words, K tail), its operands read with the kernel's functions, and
 * the instruction emulated from the PTX ISA's tables. Rows 0..31 × columns 0..15 (two m-tiles, two n-tiles)
 * must equal the CPU kernels' W4A4 product. Machines without an sm_120 GPU check the layouts this way.
 */
void host_fp4_mma_operands(const Cpu &cpu) {
    for (const Format &f : formats()) {
        if (f.rule == WUSH_RULE_MXFP4_OCP) continue; /* same scale type and blocks as MXFP4 */
        const int rows = 32, out = 16, p = 320, groups = p / 32, blocks = p / f.d; /* K = 2.5 tiles */
        int slo = f.rule == WUSH_RULE_NVFP4 ? 0x28 : 118, shi = f.rule == WUSH_RULE_NVFP4 ? 0x50 : 130;
        auto a_codes = random_bytes((size_t) rows * p / 2, 0, 255);
        auto a_sc = random_bytes((size_t) rows * blocks, slo, shi);
        auto w_std = random_bytes((size_t) out * p / 2, 0, 255);
        auto w_split = to_split(w_std);
        auto w_sc = random_bytes((size_t) out * blocks, slo, shi);
        /* the CPU product with unit factors: the emulation applies no factor */
        std::vector<float> unit(256);
        for (int c = 0; c < 256; c++) unit[c] = f.base[c];
        std::vector<float> ref((size_t) rows * out);
        CHECK(cpu.gemm_w4a4(cpu.isa, a_codes.data(), a_sc.data(), rows, w_split.data(), w_sc.data(), 0, out, p, f.d, unit.data(),
                            unit.data(), ref.data(), out));
        double acc[2][2][32][4] = {};
        std::vector<uint32_t> at(rows * WUSH_MMA_STRIDE), wt(out * WUSH_MMA_STRIDE), asc(rows * 2), wsc(out * 2);
        for (int tile = 0; tile * WUSH_MMA_TK < p; tile++) {
            for (int r = 0; r < rows; r++) {
                for (int q = 0; q < 4; q++) {
                    uint4 g = wush_mma_group(a_codes.data() + (size_t) r * p / 2, groups, tile * 4 + q);
                    memcpy(&at[r * WUSH_MMA_STRIDE + 4 * q], &g, 16);
                }
                for (int ks = 0; ks < 2; ks++) asc[r * 2 + ks] = wush_mma_scale_word(a_sc.data() + r * blocks, blocks, tile, ks, f.d);
            }
            for (int n = 0; n < out; n++) {
                for (int q = 0; q < 4; q++) {
                    uint4 g = wush_split_to_standard(wush_mma_group(w_split.data() + (size_t) n * p / 2, groups, tile * 4 + q));
                    memcpy(&wt[n * WUSH_MMA_STRIDE + 4 * q], &g, 16);
                }
                for (int ks = 0; ks < 2; ks++) wsc[n * 2 + ks] = wush_mma_scale_word(w_sc.data() + n * blocks, blocks, tile, ks, f.d);
            }
            for (int mt = 0; mt < 2; mt++) {
                for (int nt = 0; nt < 2; nt++) {
                    for (int ks = 0; ks < 2; ks++) {
                        uint32_t a[32][4], b[32][2], sa[32], sb[32];
                        for (int lane = 0; lane < 32; lane++) {
                            wush_mma_load_a(at.data(), asc.data(), 16 * mt, ks, lane, a[lane], &sa[lane]);
                            wush_mma_load_b(wt.data(), wsc.data(), 8 * nt, ks, lane, b[lane], &sb[lane]);
                        }
                        emulate_mma(a, b, sa, sb, f.d, f.scale_type, acc[mt][nt]);
                    }
                }
            }
        }
        /* Σ|terms| of every output: the CPU product accumulates in float32, in an order that depends on its
           instruction set, so it may be off by a few float32 roundings of that sum (64 is generous: the CPU paths
           take at most p/32 + 5 rounding steps per output) */
        static const double E2M1_ABS[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
        std::vector<double> abs_sum((size_t) rows * out);
        for (int r = 0; r < rows; r++) {
            for (int n = 0; n < out; n++) {
                double s = 0;
                for (int k = 0; k < p; k++) {
                    int ac = (a_codes[(size_t) r * p / 2 + k / 2] >> (4 * (k % 2))) & 7;
                    int wc = (w_std[(size_t) n * p / 2 + k / 2] >> (4 * (k % 2))) & 7;
                    s += E2M1_ABS[ac] * fabs(unit[a_sc[(size_t) r * blocks + k / f.d]]) * E2M1_ABS[wc]
                         * fabs(unit[w_sc[(size_t) n * blocks + k / f.d]]);
                }
                abs_sum[(size_t) r * out + n] = s;
            }
        }
        int bad = 0, seen = 0;
        for (int mt = 0; mt < 2; mt++) {
            for (int nt = 0; nt < 2; nt++) {
                for (int lane = 0; lane < 32; lane++) {
                    for (int i = 0; i < 4; i++) {
                        int r = 16 * mt + wush_mma_d_row(lane, i), n = 8 * nt + wush_mma_d_col(lane, i);
                        double want = ref[(size_t) r * out + n];
                        double bound = 1e-5 * (fabs(want) + 1) + 64 * ldexp(1.0, -24) * abs_sum[(size_t) r * out + n];
                        bad += fabs(acc[mt][nt][lane][i] - want) > bound;
                        seen++;
                    }
                }
            }
        }
        EXPECT(bad == 0 && seen == rows * out, "FP4 MMA operands %s: %d of %d outputs differ from the CPU product", f.name,
               bad, seen);
    }
    /* the weight layout conversion alone */
    auto std_bytes = random_bytes(64, 0, 255);
    auto split = to_split(std_bytes);
    int bad = 0;
    for (int g = 0; g < 4; g++) {
        uint4 w;
        memcpy(&w, split.data() + 16 * g, 16);
        uint4 back = wush_split_to_standard(w);
        bad += memcmp(&back, std_bytes.data() + 16 * g, 16) != 0;
    }
    EXPECT(bad == 0, "split-to-standard conversion: %d of 4 groups wrong", bad);
}

/* Largest |y - ref| over the row's RMS of ref, over all rows. */
double worst_of_row_rms(const std::vector<float> &y, const std::vector<float> &ref, int rows, int out) {
    double worst = 0;
    for (int r = 0; r < rows; r++) {
        double ss = 0;
        for (int o = 0; o < out; o++) ss += (double) ref[(size_t) r * out + o] * ref[(size_t) r * out + o];
        const double rms = sqrt(ss / out) + 1e-30;
        for (int o = 0; o < out; o++) worst = fmax(worst, fabs((double) y[(size_t) r * out + o] - ref[(size_t) r * out + o]) / rms);
    }
    return worst;
}

/* The code-unpacking tricks of the GEMVs (wush_unpack.h) against the E2M1 table, with the intrinsics' host versions. */
void host_unpack_tricks() {
    const float mag[8] = WUSH_E2M1_VALUES;
    auto doubled = [&](int code) { return (int) (2 * (code & 8 ? -mag[code & 7] : mag[code & 7])); };
    int bad = 0;
    for (uint32_t n = 0; n < 65536; n++) { /* every four codes, one per byte */
        const uint32_t in = (n & 15) | ((n >> 4) & 15) << 8 | ((n >> 8) & 15) << 16 | ((n >> 12) & 15) << 24;
        const uint32_t v = wush_e2m1x2_4(in);
        for (int k = 0; k < 4; k++) bad += (int8_t) (v >> (8 * k)) != doubled((in >> (8 * k)) & 15);
    }
    EXPECT(bad == 0, "e2m1x2_4: %d of 262144 doubled code values wrong", bad);

    auto std_bytes = random_bytes(16 * 64, 0, 255); /* 64 groups */
    auto split = to_split(std_bytes);
    auto element = [&](int g, int k) { return doubled((std_bytes[16 * g + k / 2] >> (4 * (k & 1))) & 15); };
    int bad_split = 0, bad_std = 0;
    for (int g = 0; g < 64; g++) {
        uint4 w;
        memcpy(&w, split.data() + 16 * g, 16);
        uint32_t out[8];
        wush_unpack_split32(w, out);
        for (int k = 0; k < 32; k++) bad_split += (int8_t) (out[k / 4] >> (8 * (k % 4))) != element(g, k);
        for (int q = 0; q < 4; q++) { /* 8 elements per standard word */
            uint32_t word, first, second;
            memcpy(&word, std_bytes.data() + 16 * g + 4 * q, 4);
            wush_unpack_standard8(word, &first, &second);
            for (int k = 0; k < 8; k++) bad_std += (int8_t) ((k < 4 ? first : second) >> (8 * (k % 4))) != element(g, 8 * q + k);
        }
    }
    EXPECT(bad_split == 0, "unpack_split32: %d of 2048 elements wrong", bad_split);
    EXPECT(bad_std == 0, "unpack_standard8: %d of 2048 elements wrong", bad_std);
}

/*
 * The decode GEMVs' arithmetic on the host: the kernels' steps (activations unpacked to doubled int8 and
 * scale values per 16, weights per 32-element group with wush_unpack_split32, wush_w4a4_dot32 /
 * wush_w4a16_dot32 per group, lanes taking groups c = lane, lane + 32, ..., their sums, the ¼ / ½ · alpha)
 * against the CPU kernels' W4A4 and W4A16 products, for each format, with more groups than lanes.
 */
void host_gemv_arithmetic(const Cpu &cpu) {
    for (const Format &f : formats()) {
        const int rows = 3, out = 7, p = 1056, groups = p / 32, blocks = p / f.d, groups16 = p / 16; /* 33 groups */
        int slo = f.rule == WUSH_RULE_NVFP4 ? 0x28 : 118, shi = f.rule == WUSH_RULE_NVFP4 ? 0x50 : 130;
        auto w_split = to_split(random_bytes((size_t) out * p / 2, 0, 255));
        auto w_sc = random_bytes((size_t) out * blocks, slo, shi);
        auto a_codes = random_bytes((size_t) rows * p / 2, 0, 255);
        auto a_sc = random_bytes((size_t) rows * blocks, slo, shi);
        auto x = activations(rows, p, false);
        std::vector<float> ref((size_t) rows * out), ref16((size_t) rows * out);
        CHECK(cpu.gemm_w4a4(cpu.isa, a_codes.data(), a_sc.data(), rows, w_split.data(), w_sc.data(), 0, out, p, f.d, f.values.data(),
                            f.values.data(), ref.data(), out));
        CHECK(cpu.gemv_w4a16(cpu.isa, x.data(), rows, w_split.data(), w_sc.data(), 0, out, p, f.d, f.values.data(), ref16.data(), out));

        /* what gemv_w4a4_kernel puts in shared memory */
        std::vector<uint32_t> av((size_t) rows * p / 4);
        std::vector<float> as16((size_t) rows * groups16);
        for (size_t i = 0; i < (size_t) rows * p / 8; i++) {
            uint32_t word;
            memcpy(&word, a_codes.data() + 4 * i, 4);
            wush_unpack_standard8(word, &av[2 * i], &av[2 * i + 1]);
        }
        for (int i = 0; i < rows * groups16; i++) {
            as16[i] = wush_scale_base(f.scale_type, a_sc[(size_t) (i / groups16) * blocks + (i % groups16) * 16 / f.d]);
        }
        std::vector<float> y((size_t) rows * out), y16((size_t) rows * out);
        for (int o = 0; o < out; o++) {
            const uint8_t *wsc = w_sc.data() + (size_t) o * blocks;
            for (int r = 0; r < rows; r++) {
                float sum = 0, sum16 = 0;
                for (int lane = 0; lane < 32; lane++) {
                    float acc = 0, acc16 = 0;
                    for (int c = lane; c < groups; c += 32) {
                        uint4 w;
                        memcpy(&w, w_split.data() + (size_t) o * p / 2 + 16 * c, 16);
                        uint32_t wv[8];
                        wush_unpack_split32(w, wv);
                        const float wlo = wush_scale_base(f.scale_type, wsc[wush_group_scale(c, 0, f.d)]);
                        const float whi = wush_scale_base(f.scale_type, wsc[wush_group_scale(c, 1, f.d)]);
                        acc += wush_w4a4_dot32(av.data() + (size_t) r * (p / 4), as16.data() + (size_t) r * groups16, c, wv,
                                               wlo, whi);
                        acc16 += wush_w4a16_dot32(x.data() + (size_t) r * p, c, wv, wlo, whi);
                    }
                    sum += acc;
                    sum16 += acc16;
                }
                y[(size_t) r * out + o] = sum * (0.25f * f.factor * f.factor);
                y16[(size_t) r * out + o] = sum16 * (0.5f * f.factor);
            }
        }
        double e = worst_of_row_rms(y, ref, rows, out), e16 = worst_of_row_rms(y16, ref16, rows, out);
        EXPECT(e <= 1e-5, "W4A4 GEMV arithmetic %s: worst difference %.3g of the row RMS", f.name, e);
        EXPECT(e16 <= 1e-5, "W4A16 GEMV arithmetic %s: worst difference %.3g of the row RMS", f.name, e16);
    }
}

/*
 * The BF16 tile GEMM's staging on the host: each operand row's 32-element chunks made into values with
 * wush_group_values (activations standard, weights split) and the scale bytes wush_group_scale picks, as the
 * kernel stores them in shared memory; each value must be exact in BF16, and their product (the tensor cores'
 * part, here in double) times alpha must equal the CPU kernels' W4A4 product.
 */
struct AsFloat {
    __host__ __device__ float operator()(float v) const { return v; }
};

void host_bf16_staging(const Cpu &cpu) {
    for (const Format &f : formats()) {
        const int rows = 5, out = 6, p = 160, chunks = p / 32, blocks = p / f.d;
        int slo = f.rule == WUSH_RULE_NVFP4 ? 0x01 : 100, shi = f.rule == WUSH_RULE_NVFP4 ? 0x7E : 154; /* wide range */
        auto w_split = to_split(random_bytes((size_t) out * p / 2, 0, 255));
        auto w_sc = random_bytes((size_t) out * blocks, slo, shi);
        auto a_codes = random_bytes((size_t) rows * p / 2, 0, 255);
        auto a_sc = random_bytes((size_t) rows * blocks, slo, shi);
        std::vector<float> ref((size_t) rows * out);
        CHECK(cpu.gemm_w4a4(cpu.isa, a_codes.data(), a_sc.data(), rows, w_split.data(), w_sc.data(), 0, out, p, f.d, f.values.data(),
                            f.values.data(), ref.data(), out));
        float e2m1[16];
        const float mag[8] = WUSH_E2M1_VALUES;
        for (int c = 0; c < 16; c++) e2m1[c] = c & 8 ? -mag[c & 7] : mag[c & 7];
        int inexact = 0;
        auto stage = [&](const std::vector<uint8_t> &codes, const std::vector<uint8_t> &scales, int n, bool split) {
            std::vector<float> v((size_t) n * p);
            for (int r = 0; r < n; r++) {
                for (int c = 0; c < chunks; c++) {
                    uint4 pk;
                    memcpy(&pk, codes.data() + (size_t) r * p / 2 + 16 * c, 16);
                    const float lo = wush_scale_base(f.scale_type, scales[(size_t) r * blocks + wush_group_scale(c, 0, f.d)]);
                    const float hi = wush_scale_base(f.scale_type, scales[(size_t) r * blocks + wush_group_scale(c, 1, f.d)]);
                    wush_group_values(pk, split, lo, hi, e2m1, v.data() + (size_t) r * p + 32 * c, AsFloat());
                }
            }
            for (float value : v) inexact += __bfloat162float(__float2bfloat16_rn(value)) != value;
            return v;
        };
        auto a = stage(a_codes, a_sc, rows, false), w = stage(w_split, w_sc, out, true);
        std::vector<float> y((size_t) rows * out);
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < out; o++) {
                double sum = 0;
                for (int k = 0; k < p; k++) sum += (double) a[(size_t) r * p + k] * w[(size_t) o * p + k];
                y[(size_t) r * out + o] = (float) (sum * f.factor * f.factor);
            }
        }
        EXPECT(inexact == 0, "BF16 staging %s: %d staged values not exact in BF16", f.name, inexact);
        double e = worst_of_row_rms(y, ref, rows, out);
        EXPECT(e <= 1e-5, "BF16 staging %s: product differs from the CPU kernels by %.3g of the row RMS", f.name, e);
    }
}

/* ---------- device checks ---------- */

void device_quantize(const Cpu &cpu) {
    for (const Format &f : formats()) {
        for (int kind = 0; kind < 3; kind++) {
            for (int64_t rows : {1, 5, 64, 131}) {
                int p = 256;
                auto x = activations(rows, p, true);
                auto t = transforms(kind, p, f.d);
                int64_t tstride = kind == 2 ? (int64_t) f.d * f.d : 0;
                Quantized ref = cpu_quantize(cpu, x, rows, p, f, t, tstride);
                Device<float> dx(x), dlut(f.values);
                Device<float> dt(t.empty() ? std::vector<float>{0} : t);
                for (int exact = 1; exact >= 0; exact--) {
                    Device<uint8_t> codes(ref.codes.size()), scales(ref.scales.size());
                    CHECK(wush_cuda_quantize_rows(nullptr, dx.ptr, rows, p, f.d, t.empty() ? nullptr : dt.ptr, tstride, f.rule,
                                                  f.global, dlut.ptr, codes.ptr, scales.ptr, exact));
                    CHECK(wush_cuda_stream_synchronize(nullptr));
                    auto gc = codes.get(), gs = scales.get();
                    size_t code_diff = 0, scale_diff = 0;
                    for (size_t i = 0; i < gc.size(); i++) code_diff += ((gc[i] ^ ref.codes[i]) & 15) != 0, code_diff += ((gc[i] ^ ref.codes[i]) >> 4) != 0;
                    for (size_t i = 0; i < gs.size(); i++) scale_diff += gs[i] != ref.scales[i];
                    if (exact || kind == 0) {
                        EXPECT(code_diff == 0 && scale_diff == 0, "exact quantize %s kind %d rows %ld: %zu codes, %zu scales differ",
                               f.name, kind, (long) rows, code_diff, scale_diff);
                    } else {
                        /* about float32 accuracy in another order: only values at a rounding boundary may move */
                        EXPECT(code_diff * 1000 <= (size_t) rows * p && scale_diff * 100 <= gs.size(),
                               "tensor-core quantize %s kind %d rows %ld: %zu of %ld codes, %zu of %zu scales differ",
                               f.name, kind, (long) rows, code_diff, (long) rows * p, scale_diff, gs.size());
                    }
                }
            }
        }
    }
}

/* the exact device quantization (identity transform) of the reference's edge rows equals the reference */
void device_quantize_reference() {
    for (const Format &f : reference_formats()) {
        int p = 256;
        int64_t rows = 0;
        int ties = 0, scale_ties = 0;
        auto x = edge_rows(f, p, &rows, &ties, &scale_ties);
        Device<float> dx(x), dlut(f.values);
        Device<uint8_t> codes((size_t) rows * p / 2), scales((size_t) rows * (p / f.d));
        CHECK(wush_cuda_quantize_rows(nullptr, dx.ptr, rows, p, f.d, nullptr, 0, f.rule, f.global, dlut.ptr, codes.ptr, scales.ptr, 1));
        CHECK(wush_cuda_stream_synchronize(nullptr));
        auto gc = codes.get(), gs = scales.get();
        std::string first;
        int bad = differences_from_reference(x, rows, p, f, gc.data(), gs.data(), &first);
        EXPECT(bad == 0, "device quantize %s (g %g): %d groups differ from the reference; first: %s", f.name, f.global, bad, first.c_str());
    }
}

/* The GEMM kernel the device's architecture calls for (docs/cuda-kernels.md): up to 4 rows the dp4a GEMV; more rows
   on sm_120/sm_121 the FP4 tensor cores (every format here has their block size and scale type) unless
   WUSH_CUDA_FP4_MMA=0; elsewhere (sm_80, sm_90) the BF16 tensor cores. */
const char *expected_gemm_kernel(int major, int64_t rows) {
    if (rows <= 4) return "gemv-dp4a";
    const char *env = getenv("WUSH_CUDA_FP4_MMA");
    bool off = env != nullptr && strcmp(env, "0") == 0;
    return major == 12 && !off ? "tc-fp4-mma" : "tc-bf16-wmma";
}

void device_transform(const Cpu &cpu) {
    int p = 96, d = 32;
    int64_t rows = 7;
    auto x = activations(rows, p, false);
    auto t = transforms(2, p, d);
    std::vector<float> ref(x.size());
    cpu.transform_rows(cpu.isa, x.data(), 0, rows, p, d, t.data(), d * d, ref.data());
    Device<float> dx(x), dt(t), dy(x.size());
    CHECK(wush_cuda_transform_rows(nullptr, dx.ptr, rows, p, d, dt.ptr, d * d, dy.ptr));
    auto y = dy.get();
    EXPECT(memcmp(y.data(), ref.data(), ref.size() * 4) == 0, "transform_rows differs from the CPU kernels");
}

std::vector<uint8_t> random_bytes(size_t n, int lo, int hi) {
    std::uniform_int_distribution<int> u(lo, hi);
    std::vector<uint8_t> v(n);
    for (auto &b : v) b = (uint8_t) u(rng);
    return v;
}

/* ‖y − ref‖ / ‖ref‖ and the largest |y − ref| relative to the row's RMS */
void compare_products(const std::vector<float> &y, const std::vector<float> &ref, int64_t rows, int64_t out,
                      const char *what, const char *fmt, int64_t p) {
    double num = 0, den = 0, worst = 0;
    for (int64_t r = 0; r < rows; r++) {
        double rms = 0;
        for (int64_t o = 0; o < out; o++) rms += (double) ref[r * out + o] * ref[r * out + o];
        rms = sqrt(rms / out) + 1e-30;
        for (int64_t o = 0; o < out; o++) {
            double e = (double) y[r * out + o] - ref[r * out + o];
            num += e * e;
            den += (double) ref[r * out + o] * ref[r * out + o];
            worst = fmax(worst, fabs(e) / rms);
            if (isnan(y[r * out + o]) != isnan(ref[r * out + o])) worst = INFINITY;
        }
    }
    double rel = sqrt(num / (den + 1e-30));
    EXPECT(rel <= 1e-3 && worst <= 1e-3, "%s %s rows %ld out %ld p %ld: relative error %.3g, worst %.3g of row RMS",
           what, fmt, (long) rows, (long) out, (long) p, rel, worst);
}

void device_products(const Cpu &cpu, int major) {
    for (const Format &f : formats()) {
        int slo = f.rule == WUSH_RULE_NVFP4 ? 0x28 : 118, shi = f.rule == WUSH_RULE_NVFP4 ? 0x50 : 130;
        for (int64_t rows : {1, 2, 3, 4, 5, 16, 37, 130, 257}) {
            for (int p : {64, 4096}) {
                int64_t out = rows > 100 && p > 1000 ? 300 : 173; /* not a multiple of the tile */
                auto w_std = random_bytes((size_t) out * p / 2, 0, 255);
                auto w_split = to_split(w_std);
                auto w_sc = random_bytes((size_t) out * (p / f.d), slo, shi);
                auto a_codes = random_bytes((size_t) rows * p / 2, 0, 255);
                auto a_sc = random_bytes((size_t) rows * (p / f.d), slo, shi);
                std::vector<float> ref((size_t) rows * out), x = activations(rows, p, false), ref16((size_t) rows * out);
                CHECK(cpu.gemm_w4a4(cpu.isa, a_codes.data(), a_sc.data(), (int32_t) rows, w_split.data(), w_sc.data(), 0, out, p, f.d,
                                    f.values.data(), f.values.data(), ref.data(), out));
                CHECK(cpu.gemv_w4a16(cpu.isa, x.data(), (int32_t) rows, w_split.data(), w_sc.data(), 0, out, p, f.d, f.values.data(),
                                     ref16.data(), out));
                Device<uint8_t> dw(w_split), dws(w_sc), da(a_codes), das(a_sc);
                Device<float> dx(x), dy((size_t) rows * out), dy16((size_t) rows * out);
                CHECK(wush_cuda_gemm_w4a4(nullptr, da.ptr, das.ptr, (int32_t) rows, dw.ptr, dws.ptr, out, p, f.d, f.scale_type,
                                          f.factor * f.factor, dy.ptr, out));
                const char *ran = wush_cuda_last_gemm_kernel();
                const char *want = expected_gemm_kernel(major, rows);
                EXPECT(strcmp(ran, want) == 0, "W4A4 %s rows %ld p %d on sm_%d: ran %s, expected %s", f.name, (long) rows, p, major, ran,
                       want);
                EXPECT(strcmp(ran, wush_cuda_gemm_kernel_name((int32_t) rows, p, f.d, f.scale_type)) == 0,
                       "wush_cuda_gemm_kernel_name names the kernel that ran");
                CHECK(wush_cuda_gemv_w4a16(nullptr, dx.ptr, (int32_t) rows, dw.ptr, dws.ptr, out, p, f.d, f.scale_type, f.factor,
                                           dy16.ptr, out));
                CHECK(wush_cuda_stream_synchronize(nullptr));
                std::string what = std::string("W4A4 ") + wush_cuda_gemm_kernel_name((int32_t) rows, p, f.d, f.scale_type);
                compare_products(dy.get(), ref, rows, out, what.c_str(), f.name, p);
                compare_products(dy16.get(), ref16, rows, out, "W4A16 gemv", f.name, p);
            }
        }
    }
}

void device_errors() {
    EXPECT(wush_cuda_gemm_w4a4(nullptr, nullptr, nullptr, 1, nullptr, nullptr, 8, 48, 32, WUSH_CUDA_SCALE_E8M0, 1, nullptr, 8)
               == WUSH_CUDA_E_ARGUMENT, "p not a multiple of 32 is an argument error");
    EXPECT(wush_cuda_gemm_w4a4(nullptr, nullptr, nullptr, 1, nullptr, nullptr, 8, 64, 32, 7, 1, nullptr, 8)
               == WUSH_CUDA_E_ARGUMENT, "an unknown scale type is an argument error");
    EXPECT(wush_cuda_quantize_rows(nullptr, nullptr, 1, 64, 8, nullptr, 0, 0, 1, nullptr, nullptr, nullptr, 1)
               == WUSH_CUDA_E_ARGUMENT, "d = 8 is an argument error");
    EXPECT(wush_cuda_gemm_w4a4(nullptr, nullptr, nullptr, 0, nullptr, nullptr, 8, 64, 32, WUSH_CUDA_SCALE_E8M0, 1, nullptr, 8) == 0,
           "zero rows is a no-op");
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: wush_cuda_test LIBWUSHKERNELS [--require-device]\n");
        return 2;
    }
    bool require = argc > 2 && strcmp(argv[2], "--require-device") == 0;
    Cpu cpu = load_cpu(argv[1]);
    printf("wush CUDA kernels, ABI %d, compiled for %s\n", wush_cuda_abi_version(), wush_cuda_compiled_archs());
    host_rules_match_reference(cpu);
    host_rules_match_cpu(cpu);
    host_scale_bases();
    host_fp4_mma_operands(cpu);
    host_unpack_tricks();
    host_gemv_arithmetic(cpu);
    host_bf16_staging(cpu);
    int32_t n = 0;
    int32_t status = wush_cuda_device_count(&n);
    if (status != 0 || n == 0) {
        printf("SKIPPED device checks: no CUDA device (%s)\n", status != 0 ? wush_cuda_error_string(status) : "0 devices");
        printf("%d host checks, %d failures\n", checks, failures);
        return failures == 0 && !require ? 0 : 1;
    }
    int32_t major = 0, minor = 0;
    char name[256];
    CHECK(wush_cuda_device_info(0, &major, &minor, name, sizeof name));
    printf("device 0: %s (sm_%d%d)\n", name, major, minor);
    printf("FP4 tensor-core GEMM: %s\n", wush_cuda_fp4_mma_status());
    device_errors();
    device_transform(cpu);
    device_quantize(cpu);
    device_quantize_reference();
    device_products(cpu, major);
    printf("%d checks, %d failures\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
