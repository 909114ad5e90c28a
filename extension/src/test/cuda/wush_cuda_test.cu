/*
 * Tests of the CUDA kernels against the CPU kernels (libwushkernels.so, loaded from the path given as the
 * first argument). Host checks run everywhere: the quantization rules (wush_fp4.h, one source for both
 * kernels), built by nvcc's host compiler, give the gcc-built CPU library's codes bit for bit; the kernels'
 * host-callable parts (wush_fp4mma.h: FP4 tensor-core operands; wush_unpack.h: code unpacking, GEMV group
 * dots, BF16 staging) give the CPU products. Device checks run where a CUDA device is
 * present: exact quantization bit-identical to the CPU kernels, tensor-core quantization equal up to
 * rounding-boundary cases, GEMM and GEMV within 1e-3 relative of the CPU products, argument errors.
 * Without a device the device checks are reported as skipped, with the reason; exit status 0 means every
 * check that ran passed. Every CUDA call is checked.
 *
 *   wush_cuda_test LIBWUSHKERNELS [--require-device]
 */
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

void device_products(const Cpu &cpu) {
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
    device_products(cpu);
    printf("%d checks, %d failures\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
