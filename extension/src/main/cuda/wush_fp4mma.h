/*
 * Operands of the block-scaled FP4 tensor-core instruction of sm_120a/sm_121a (PTX ISA 8.7+):
 *
 *   mma.sync.aligned.m16n8k64.row.col.kind::mxf4.block_scale.scale_vec::2X.f32.e2m1.e2m1.f32.ue8m0        (MXFP4)
 *   mma.sync.aligned.m16n8k64.row.col.kind::mxf4nvf4.block_scale.scale_vec::4X.f32.e2m1.e2m1.f32.ue4m3    (NVFP4)
 *
 * D (16×8) += (A · scale_A) (16×64) · (B · scale_B) (64×8), E2M1 elements packed 8 to a 32-bit register (element k
 * in bits 4k..4k+3), one scale byte per 32 (2X) or 16 (4X) elements of K. Which lane holds what, for lane =
 * 4·g + t (g = lane / 4, t = lane % 4), with selectors byte-id = thread-id = 0:
 *
 *   A    a[0] = A[g][8t .. 8t+7]     a[1] = A[g+8][8t ..]    a[2] = A[g][32+8t ..]    a[3] = A[g+8][32+8t ..]
 *   B    b[0] = B[8t .. 8t+7][g]     b[1] = B[32+8t ..][g]
 *   scale_A  lanes with t = 0 give row g, t = 1 row g+8; byte j holds K block j (2X: bytes 0, 1; 4X: 0 .. 3)
 *   scale_B  lanes with t = 0 give column g
 *   D    d[0] = D[g][2t]  d[1] = D[g][2t+1]  d[2] = D[g+8][2t]  d[3] = D[g+8][2t+1]
 *
 * The functions below read these operands from the GEMM's shared-memory tiles. They are __host__ __device__
 * so that the C++ test can check them on the host against an emulation of the instruction written from the
 * table above (src/test/cuda/wush_cuda_test.cu), on machines without such a GPU.
 */
#pragma once
#include <stdint.h>
#include <vector_types.h>

#include "wush_fp4.h"

/*
 * A tile in shared memory: rows of E2M1 codes in the standard layout (element k of the row in nibble k % 8 of
 * word k / 8), WUSH_MMA_STRIDE words apart (16 words of codes, 128 elements, and 4 words of padding so that
 * the 32 lanes' fragment loads hit 32 different banks), and per row one scale word per 64 elements (the block
 * scale bytes of that K step, byte j for block j).
 */
#define WUSH_MMA_TK 128    /* elements of K per tile */
#define WUSH_MMA_STRIDE 20 /* words per tile row */

/* 32 codes in the split-nibble layout (byte i: element i low, element 16 + i high) to the standard layout. */
WUSH_HD uint4 wush_split_to_standard(uint4 w) {
    /* low nibbles of a word's 4 bytes are 4 consecutive elements; pair them up two to a byte */
    uint32_t in[4] = {w.x, w.y, w.z, w.w}, out[4];
    for (int half = 0; half < 2; half++) {      /* elements 0-15 (low nibbles), then 16-31 (high nibbles) */
        for (int q = 0; q < 2; q++) {           /* 8 elements per output word, from 2 input words */
            uint32_t lo = (in[2 * q] >> (4 * half)) & 0x0F0F0F0Fu;     /* elements 8q .. 8q+3, one per byte */
            uint32_t hi = (in[2 * q + 1] >> (4 * half)) & 0x0F0F0F0Fu; /* elements 8q+4 .. 8q+7 */
            lo |= lo >> 4;                                            /* bytes 0, 2: two elements each */
            hi |= hi >> 4;
            out[2 * half + q] = (lo & 0xFFu) | ((lo >> 8) & 0xFF00u) | ((hi & 0xFFu) << 16) | ((hi >> 8) & 0xFF00u) << 16;
        }
    }
    return make_uint4(out[0], out[1], out[2], out[3]);
}

/* 32-element group g of a row of codes (p/2 bytes, 16-byte aligned): its 16 bytes, zeros past the row's groups. */
WUSH_HD uint4 wush_mma_group(const uint8_t *row, int groups, int g) {
    if (row == NULL || g >= groups) return make_uint4(0, 0, 0, 0);
#ifdef __CUDA_ARCH__
    return __ldg(reinterpret_cast<const uint4 *>(row) + g);
#else
    return reinterpret_cast<const uint4 *>(row)[g];
#endif
}

/*
 * The scale word of K step ks of K tile `tile` of a row: its 64/d block scale codes (d = 32: bytes 0, 1; d = 16:
 * bytes 0 .. 3); code 1.0 for blocks past the row's `blocks` and for unused bytes (row NULL: a row past the end).
 */
WUSH_HD uint32_t wush_mma_scale_word(const uint8_t *row, int blocks, int tile, int ks, int d) {
    const uint32_t one = d == 32 ? 127u : 0x38u; /* E8M0 / E4M3 code of 1 */
    uint32_t word = 0;
    for (int j = 0; j < 4; j++) {
        const int blk = (tile * WUSH_MMA_TK + 64 * ks) / d + j;
        const uint32_t code = j < 64 / d && row != NULL && blk < blocks ? row[blk] : one;
        word |= code << (8 * j);
    }
    return word;
}

/* Lane's A operand of the 16-row m-tile starting at row r0, K step ks (64 elements) of the tile. */
WUSH_HD void wush_mma_load_a(const uint32_t *codes, const uint32_t *scales, int r0, int ks, int lane, uint32_t a[4],
                             uint32_t *scale) {
    const int g = lane / 4, t = lane % 4;
    const uint32_t *row = codes + (r0 + g) * WUSH_MMA_STRIDE + 8 * ks + t;
    const uint32_t *row8 = row + 8 * WUSH_MMA_STRIDE;
    a[0] = row[0];
    a[1] = row8[0];
    a[2] = row[4];
    a[3] = row8[4];
    *scale = scales[(r0 + g + (t & 1) * 8) * 2 + ks];
}

/* Lane's B operand of the 8 weight rows (output columns) starting at row n0, K step ks. */
WUSH_HD void wush_mma_load_b(const uint32_t *codes, const uint32_t *scales, int n0, int ks, int lane, uint32_t b[2],
                             uint32_t *scale) {
    const int g = lane / 4, t = lane % 4;
    const uint32_t *row = codes + (n0 + g) * WUSH_MMA_STRIDE + 8 * ks + t;
    b[0] = row[0];
    b[1] = row[4];
    *scale = scales[(n0 + g) * 2 + ks];
}

/* Row (within the 16-row tile) and column (within the 8) of accumulator i of a lane. */
WUSH_HD int wush_mma_d_row(int lane, int i) { return lane / 4 + (i >= 2 ? 8 : 0); }
WUSH_HD int wush_mma_d_col(int lane, int i) { return 2 * (lane % 4) + (i & 1); }
