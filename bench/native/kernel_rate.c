/*
 * Single-threaded rate of the packed W4A4 product of the CPU kernels (libwushkernels.so, loaded from the path
 * given as the first argument), the harness behind the "GMAC/s in cache / from DRAM" figures of
 * docs/cpu-inference.md. It calls wush_gemm_w4a4 directly, on one thread, with MXFP4 operands (group 32,
 * E8M0 scales) of random codes and plausible scales:
 *   in cache: a 64 × 4096 weight slice (132 KB with its scales), the same slice every call;
 *   from DRAM: 14336 × 4096 weights (30 MB), rotating through enough copies to exceed 256 MB, so no call finds
 *              its weights in any cache level.
 * For each batch (tokens per call: 1 and 4 in cache, 1 to 256 from DRAM, where 256 is compute-bound, as prefill)
 * it prints multiply-adds per second and the weight bytes read per second.
 * Times are the median of 7 runs of at least 0.3 s each.
 *
 *   kernel_rate LIBWUSHKERNELS [ISA]      ISA: 0 scalar, 1 avx2, 2 avx512-vnni (default: the CPU's best)
 *
 * Build and run: sh bench/native/kernel-rate.sh (pins to one core with taskset when it is installed).
 */
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int32_t (*gemm_fn)(int32_t, const uint8_t *, const uint8_t *, int32_t, const uint8_t *, const uint8_t *, int64_t, int64_t,
                           int32_t, int32_t, const float *, const float *, float *, int64_t);
typedef int32_t (*best_isa_fn)(void);

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint64_t state = 88172645463325252ull;
static uint8_t random_byte(void) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (uint8_t) (state >> 24);
}

static uint8_t *random_codes(size_t n) {
    uint8_t *b = aligned_alloc(64, (n + 63) / 64 * 64);
    if (b == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < n; i++) b[i] = random_byte();
    return b;
}

static uint8_t *scale_codes(size_t n) { /* 2^-4 .. 2^3: a plausible spread of E8M0 scales */
    uint8_t *b = random_codes(n);
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t) (123 + b[i] % 8);
    return b;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

/* seconds per call, median of 7 runs */
static double seconds_per_call(gemm_fn gemm, int isa, const uint8_t *ac, const uint8_t *as, int rows, uint8_t **wc, uint8_t **ws,
                               int copies, int64_t out, int p, const float *lut, float *y) {
    double runs[7];
    for (int r = -1; r < 7; r++) { /* run -1 warms up */
        long calls = 0;
        double start = now_s(), elapsed;
        do {
            int c = (int) (calls % copies);
            if (gemm(isa, ac, as, rows, wc[c], ws[c], 0, out, p, 32, lut, lut, y, out) != 0) {
                fprintf(stderr, "wush_gemm_w4a4 failed\n");
                exit(2);
            }
            calls++;
            elapsed = now_s() - start;
        } while (elapsed < 0.3);
        if (r >= 0) runs[r] = elapsed / calls;
    }
    qsort(runs, 7, sizeof runs[0], compare);
    return runs[3];
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: kernel_rate LIBWUSHKERNELS [ISA]\n");
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW);
    if (lib == NULL) {
        fprintf(stderr, "cannot load %s: %s\n", argv[1], dlerror());
        return 2;
    }
    gemm_fn gemm = (gemm_fn) dlsym(lib, "wush_gemm_w4a4");
    best_isa_fn best = (best_isa_fn) dlsym(lib, "wush_best_isa");
    if (gemm == NULL || best == NULL) {
        fprintf(stderr, "%s lacks wush_gemm_w4a4 or wush_best_isa\n", argv[1]);
        return 2;
    }
    int isa = argc > 2 ? atoi(argv[2]) : best();
    const char *isa_names[] = {"scalar", "avx2", "avx512-vnni"};
    float lut[256];
    for (int c = 0; c < 256; c++) lut[c] = c == 255 ? NAN : ldexpf(1.0f, c - 127) / 3; /* MXFP4 scale values */

    const int p = 4096;
    const int64_t big_out = 14336, small_out = 64;
    const size_t big_bytes = (size_t) big_out * p / 2 + (size_t) big_out * p / 32;
    int copies = (int) ((256u << 20) / big_bytes + 1); /* 9 for 30 MB */
    if (copies > 16) copies = 16;
    uint8_t *wc[16], *ws[16];
    for (int c = 0; c < copies; c++) {
        wc[c] = random_codes((size_t) big_out * p / 2);
        ws[c] = scale_codes((size_t) big_out * p / 32);
    }
    printf("wush_gemm_w4a4, one thread, MXFP4, in = %d, kernels %s (%s)\n", p, isa_names[isa < 0 || isa > 2 ? 0 : isa], argv[1]);
    printf("%-30s %6s %12s %10s %12s\n", "weights", "batch", "us / call", "GMAC/s", "weight GB/s");
    for (int pass = 0; pass < 2; pass++) {
        int64_t out = pass == 0 ? small_out : big_out;
        int n = pass == 0 ? 1 : copies;
        const int batches[] = {1, 4, 16, 256};
        for (int b = 0; b < 4; b++) {
            int rows = batches[b];
            if (pass == 0 && rows > 4) continue; /* in cache means the weights: from 16 tokens the activations outgrow L2 */
            uint8_t *ac = random_codes((size_t) rows * p / 2);
            uint8_t *as = scale_codes((size_t) rows * p / 32);
            float *y = aligned_alloc(64, ((size_t) rows * out * sizeof(float) + 63) / 64 * 64);
            double s = seconds_per_call(gemm, isa, ac, as, rows, wc, ws, n, out, p, lut, y);
            double macs = (double) rows * out * p, bytes = (double) out * p / 2 + (double) out * p / 32;
            char what[64];
            snprintf(what, sizeof what, pass == 0 ? "%ld x %d, in cache" : "%ld x %d, DRAM (%d copies)", (long) out, p, n);
            printf("%-30s %6d %12.1f %10.1f %12.1f\n", what, rows, s * 1e6, macs / s / 1e9, bytes / s / 1e9);
            free(ac);
            free(as);
            free(y);
        }
    }
    return 0;
}
