/*
 * Benchmark of the CUDA kernels, printed as Markdown tables, every number next to a baseline measured in the
 * same run on the same device:
 *   1. fused transform + quantization of activations against a device-to-device copy of them (bandwidth);
 *   2. W4A4 / W4A16 products on the Llama-3.1-8B linear shapes at M = 1, 16, 1024 tokens against cuBLAS BF16
 *      (cublasGemmEx, BF16 in and out, float32 compute), loaded at run time: WUSH_CUBLAS names the library,
 *      else libcublas.so.13 / .12 / libcublas.so are tried. Each product twice: the kernel alone (activations
 *      already quantized, or already transformed), and end to end as CudaPackedLayer runs a WUSH layer from
 *      float32 activations: a dense d×d transform per block fused with the activations' quantization (tensor
 *      cores, the default mode), then the W4A4 product; for W4A16 the transform, then the GEMV. The kernel that ran
 *      is the one wush_cuda_last_gemm_kernel reports.
 * Weights rotate through enough copies to exceed twice the L2 cache, so no kernel reads them from L2.
 *
 *   wush_cuda_bench [--quick]
 */
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <algorithm>
#include <random>
#include <vector>

#include "check.h"
#include "wush_cuda.h"


namespace {

/* ---------- cuBLAS, loaded at run time (no headers or link-time dependency) ---------- */

typedef int (*cublas_create_fn)(void **);
typedef int (*cublas_set_stream_fn)(void *, cudaStream_t);
typedef int (*cublas_gemm_ex_fn)(void *, int, int, int, int, int, const void *, const void *, int, int, const void *, int,
                                 int, const void *, void *, int, int, int, int);
constexpr int CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUDA_R_16BF = 14, CUBLAS_COMPUTE_32F = 68, CUBLAS_GEMM_DEFAULT = -1;

struct Cublas {
    void *handle = nullptr;
    cublas_gemm_ex_fn gemm = nullptr;
    const char *path = nullptr;
};

Cublas load_cublas() {
    Cublas c;
    const char *names[] = {getenv("WUSH_CUBLAS"), "libcublas.so.13", "libcublas.so.12", "libcublas.so"};
    for (const char *name : names) {
        if (name == nullptr) continue;
        void *lib = dlopen(name, RTLD_NOW | RTLD_GLOBAL);
        if (lib == nullptr) continue;
        auto create = (cublas_create_fn) dlsym(lib, "cublasCreate_v2");
        c.gemm = (cublas_gemm_ex_fn) dlsym(lib, "cublasGemmEx");
        if (create == nullptr || c.gemm == nullptr || create(&c.handle) != 0) {
            fprintf(stderr, "FATAL %s: cannot create a cuBLAS handle\n", name);
            exit(2);
        }
        c.path = name;
        return c;
    }
    fprintf(stderr, "FATAL cuBLAS not found: set WUSH_CUBLAS to the path of libcublas.so\n");
    exit(2);
}

/* ---------- timing ---------- */

template <typename F>
double time_ms(F run, int min_iters, double min_ms) {
    cudaEvent_t a, b;
    CHECK(cudaEventCreate(&a));
    CHECK(cudaEventCreate(&b));
    for (int i = 0; i < 5; i++) run(i);
    CHECK(cudaDeviceSynchronize());
    int iters = min_iters;
    float ms = 0;
    for (;;) {
        CHECK(cudaEventRecord(a));
        for (int i = 0; i < iters; i++) run(i);
        CHECK(cudaEventRecord(b));
        CHECK(cudaEventSynchronize(b));
        CHECK(cudaEventElapsedTime(&ms, a, b));
        if (ms >= min_ms || iters >= (1 << 16)) break;
        iters *= 2;
    }
    CHECK(cudaEventDestroy(a));
    CHECK(cudaEventDestroy(b));
    return ms / iters;
}

std::mt19937 rng(7);

void *device_random(size_t bytes) {
    std::vector<uint8_t> h(bytes);
    std::uniform_int_distribution<int> u(0, 255);
    for (auto &v : h) v = (uint8_t) u(rng);
    void *d = nullptr;
    CHECK(wush_cuda_malloc(&d, (int64_t) bytes));
    CHECK(wush_cuda_copy(d, h.data(), (int64_t) bytes, 1, nullptr));
    return d;
}

void *device_fill(size_t count, float lo, float hi, bool bf16) {
    std::uniform_real_distribution<float> u(lo, hi);
    void *d = nullptr;
    if (bf16) {
        std::vector<__nv_bfloat16> h(count);
        for (auto &v : h) v = __float2bfloat16(u(rng));
        CHECK(wush_cuda_malloc(&d, (int64_t) (count * 2)));
        CHECK(wush_cuda_copy(d, h.data(), (int64_t) (count * 2), 1, nullptr));
    } else {
        std::vector<float> h(count);
        for (auto &v : h) v = u(rng);
        CHECK(wush_cuda_malloc(&d, (int64_t) (count * 4)));
        CHECK(wush_cuda_copy(d, h.data(), (int64_t) (count * 4), 1, nullptr));
    }
    return d;
}

int l2_bytes() {
    int dev = 0, l2 = 50 << 20;
    CHECK(cudaGetDevice(&dev));
    CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
    return l2;
}

/* the 256 MXFP4 scale values 2^(c-127)/3 (255: NaN) on the device, as the quantization takes them */
float *mxfp4_scale_values() {
    std::vector<float> host(256);
    for (int c = 0; c < 256; c++) host[c] = c == 255 ? NAN : ldexpf(1.0f, c - 127) / 3;
    float *lut = nullptr;
    CHECK(wush_cuda_malloc((void **) &lut, 256 * 4));
    CHECK(wush_cuda_copy(lut, host.data(), 256 * 4, 1, nullptr));
    return lut;
}

/* ---------- 1. quantization bandwidth ---------- */

void bench_quantize(bool quick) {
    printf("\n### Fused transform + quantization of activations vs device-to-device copy\n\n");
    printf("| tokens × features | format | transform | kernel | quantize GB/s | copy GB/s | quantize / copy |\n");
    printf("|---|---|---|---|---|---|---|\n");
    float *lut = mxfp4_scale_values();
    for (int p : {4096, 14336}) {
        int64_t rows = quick ? 1024 : 8192;
        size_t n = (size_t) rows * p;
        float *x = (float *) device_fill(n, -4, 4, false);
        void *copy = nullptr, *codes = nullptr, *scales = nullptr;
        CHECK(wush_cuda_malloc(&copy, (int64_t) n * 4));
        CHECK(wush_cuda_malloc(&codes, (int64_t) n / 2));
        CHECK(wush_cuda_malloc(&scales, (int64_t) n / 16));
        double copy_ms = time_ms([&](int) { CHECK(cudaMemcpyAsync(copy, x, n * 4, cudaMemcpyDeviceToDevice)); }, 10, 50);
        double copy_gbs = 2.0 * n * 4 / copy_ms / 1e6;
        for (int d : {32, 16}) {
            int rule = d == 32 ? 0 : 2;
            float *tt = (float *) device_fill((size_t) (p / d) * d * d, -0.2f, 0.2f, false);
            struct Case { const char *name; const float *t; int64_t stride; int exact; };
            Case cases[] = {{"identity", nullptr, 0, 1}, {"WUSH", tt, (int64_t) d * d, 1}, {"WUSH", tt, (int64_t) d * d, 0}};
            for (const Case &c : cases) {
                double ms = time_ms([&](int) {
                    CHECK(wush_cuda_quantize_rows(nullptr, x, rows, p, d, c.t, c.stride, rule, 1.0f, lut, (uint8_t *) codes,
                                                  (uint8_t *) scales, c.exact));
                }, 10, 50);
                double bytes = n * 4.0 + n / 2.0 + (double) n / d;
                double gbs = bytes / ms / 1e6;
                printf("| %ld × %d | %s | %s | %s | %.0f | %.0f | %.0f%% |\n", (long) rows, p, d == 32 ? "MXFP4" : "NVFP4",
                       c.name, c.t == nullptr ? "-" : c.exact ? "CUDA cores (exact)" : "tensor cores (3×TF32)", gbs, copy_gbs,
                       100 * gbs / copy_gbs);
            }
            CHECK(wush_cuda_free(tt));
        }
        CHECK(wush_cuda_free(x));
        CHECK(wush_cuda_free(copy));
        CHECK(wush_cuda_free(codes));
        CHECK(wush_cuda_free(scales));
    }
    CHECK(wush_cuda_free(lut));
}

/* ---------- 2. products vs cuBLAS BF16 ---------- */

void bench_products(const Cublas &cublas, bool quick) {
    printf("\n### Packed FP4 products vs cuBLAS BF16 (Llama-3.1-8B linear shapes, MXFP4 weights, WUSH transforms)\n\n");
    printf("kernel: the product alone; end to end: float32 activations in, the per-block WUSH transform and the quantization"
           " included (W4A16: the transform, then the GEMV). Speed-ups against cuBLAS BF16 in the same run.\n\n");
    printf("| out × in | M | cuBLAS BF16 µs | W4A4 kernel | W4A4 kernel µs | speedup | W4A4 end to end µs | speedup |"
           " W4A16 kernel µs | speedup | W4A16 end to end µs | speedup |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    float *lut = mxfp4_scale_values();
    struct Shape { int out, in; };
    Shape shapes[] = {{4096, 4096}, {1024, 4096}, {14336, 4096}, {4096, 14336}};
    size_t l2 = (size_t) l2_bytes();
    for (const Shape &s : shapes) {
        size_t w16 = (size_t) s.out * s.in * 2, w4 = (size_t) s.out * s.in / 2 + (size_t) s.out * s.in / 32;
        int copies16 = (int) std::min<size_t>(16, 2 * l2 / w16 + 1), copies4 = (int) std::min<size_t>(16, 2 * l2 / w4 + 1);
        std::vector<void *> wb16, wc, ws;
        for (int i = 0; i < copies16; i++) wb16.push_back(device_fill((size_t) s.out * s.in, -1, 1, true));
        for (int i = 0; i < copies4; i++) {
            wc.push_back(device_random((size_t) s.out * s.in / 2));
            ws.push_back(device_random((size_t) s.out * s.in / 32));
            /* plausible scale codes: 2^-8 .. 2^0 */
            std::vector<uint8_t> sc((size_t) s.out * s.in / 32);
            for (auto &v : sc) v = (uint8_t) (119 + rng() % 8);
            CHECK(wush_cuda_copy(ws.back(), sc.data(), (int64_t) sc.size(), 1, nullptr));
        }
        for (int m : {1, 16, 1024}) {
            if (quick && m == 1024 && s.in > 4096) continue;
            void *a16 = device_fill((size_t) m * s.in, -1, 1, true);
            void *c16 = nullptr, *y = nullptr;
            CHECK(wush_cuda_malloc(&c16, (int64_t) m * s.out * 2));
            CHECK(wush_cuda_malloc(&y, (int64_t) m * s.out * 4));
            void *ac = device_random((size_t) m * s.in / 2);
            std::vector<uint8_t> asc_h((size_t) m * s.in / 32, 126);
            void *asc = device_random(asc_h.size());
            CHECK(wush_cuda_copy(asc, asc_h.data(), (int64_t) asc_h.size(), 1, nullptr));
            float *x = (float *) device_fill((size_t) m * s.in, -1, 1, false);
            float *tt = (float *) device_fill((size_t) (s.in / 32) * 32 * 32, -0.2f, 0.2f, false); /* a WUSH matrix per block */
            float *xt = (float *) device_fill((size_t) m * s.in, -1, 1, false);                    /* transformed activations */
            void *qc = nullptr, *qs = nullptr;                                                     /* their codes and scales */
            CHECK(wush_cuda_malloc(&qc, (int64_t) m * s.in / 2));
            CHECK(wush_cuda_malloc(&qs, (int64_t) m * s.in / 32));
            const float one = 1, zero = 0;
            double blas = time_ms([&](int i) {
                /* column-major: C (out × M) = Wᵀ (out × in, stored in × out) · A (in × M) */
                int st = cublas.gemm(cublas.handle, CUBLAS_OP_T, CUBLAS_OP_N, s.out, m, s.in, &one, wb16[i % copies16], CUDA_R_16BF,
                                     s.in, a16, CUDA_R_16BF, s.in, &zero, c16, CUDA_R_16BF, s.out, CUBLAS_COMPUTE_32F,
                                     CUBLAS_GEMM_DEFAULT);
                if (st != 0) {
                    fprintf(stderr, "FATAL cublasGemmEx -> %d\n", st);
                    exit(2);
                }
            }, 20, 100);
            double w4a4 = time_ms([&](int i) {
                CHECK(wush_cuda_gemm_w4a4(nullptr, (uint8_t *) ac, (uint8_t *) asc, m, (uint8_t *) wc[i % copies4],
                                          (uint8_t *) ws[i % copies4], s.out, s.in, 32, WUSH_CUDA_SCALE_E8M0,
                                          1.0f / 9, (float *) y, s.out));
            }, 20, 100);
            const char *kernel = wush_cuda_last_gemm_kernel();
            double w4a4_e2e = time_ms([&](int i) {
                CHECK(wush_cuda_quantize_rows(nullptr, x, m, s.in, 32, tt, 32 * 32, 0, 1.0f, lut, (uint8_t *) qc, (uint8_t *) qs, 0));
                CHECK(wush_cuda_gemm_w4a4(nullptr, (uint8_t *) qc, (uint8_t *) qs, m, (uint8_t *) wc[i % copies4],
                                          (uint8_t *) ws[i % copies4], s.out, s.in, 32, WUSH_CUDA_SCALE_E8M0,
                                          1.0f / 9, (float *) y, s.out));
            }, 20, 100);
            double w4a16 = m > 16 ? 0 : time_ms([&](int i) {
                CHECK(wush_cuda_gemv_w4a16(nullptr, x, m, (uint8_t *) wc[i % copies4], (uint8_t *) ws[i % copies4], s.out, s.in,
                                           32, WUSH_CUDA_SCALE_E8M0, 1.0f / 3, (float *) y, s.out));
            }, 20, 100);
            double w4a16_e2e = m > 16 ? 0 : time_ms([&](int i) {
                CHECK(wush_cuda_transform_rows(nullptr, x, m, s.in, 32, tt, 32 * 32, xt));
                CHECK(wush_cuda_gemv_w4a16(nullptr, xt, m, (uint8_t *) wc[i % copies4], (uint8_t *) ws[i % copies4], s.out, s.in,
                                           32, WUSH_CUDA_SCALE_E8M0, 1.0f / 3, (float *) y, s.out));
            }, 20, 100);
            printf("| %d × %d | %d | %.1f | %s | %.1f | %.2f× | %.1f | %.2f× |", s.out, s.in, m, blas * 1e3, kernel, w4a4 * 1e3,
                   blas / w4a4, w4a4_e2e * 1e3, blas / w4a4_e2e);
            if (w4a16 > 0) {
                printf(" %.1f | %.2f× | %.1f | %.2f× |\n", w4a16 * 1e3, blas / w4a16, w4a16_e2e * 1e3, blas / w4a16_e2e);
            } else {
                printf(" - | - | - | - |\n");
            }
            for (void *p : {a16, c16, y, ac, asc, (void *) x, (void *) tt, (void *) xt, qc, qs}) CHECK(wush_cuda_free(p));
        }
        for (void *p : wb16) CHECK(wush_cuda_free(p));
        for (void *p : wc) CHECK(wush_cuda_free(p));
        for (void *p : ws) CHECK(wush_cuda_free(p));
    }
    CHECK(wush_cuda_free(lut));
}

} // namespace

int main(int argc, char **argv) {
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    int32_t n = 0;
    int32_t status = wush_cuda_device_count(&n);
    if (status != 0 || n == 0) {
        fprintf(stderr, "no CUDA device: %s\n", status != 0 ? wush_cuda_error_string(status) : "0 devices");
        return 2;
    }
    int32_t major = 0, minor = 0;
    char name[256];
    CHECK(wush_cuda_device_info(0, &major, &minor, name, sizeof name));
    Cublas cublas = load_cublas();
    time_t now = time(nullptr);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
    printf("## wush CUDA kernels, %s, %s (sm_%d%d), library built for %s, cuBLAS from %s\n", date, name, major, minor,
           wush_cuda_compiled_archs(), cublas.path);
    bench_quantize(quick);
    bench_products(cublas, quick);
    return 0;
}
