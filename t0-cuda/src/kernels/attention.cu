// Attention with T5's relative position bias (no 1/sqrt(d) scaling). Element (b, i, h, d) of
// Q lives at Q[b * q_bs + i * q_rs + h * dh + d]; K, V, O alike (K and V share strides). The
// key batch of query batch b is b / kv_div (choices sharing one encoded input). `bias` (may be
// null) is a [heads][W] f32 table indexed by clamp(j - qref + R, 0, W - 1) for key j, where
// qref is the query's position (q_offset + i) when bias_qpos != 0, else its row i. Keys at or
// past key_len[b / kv_div] (when key_len is not null) and, when causal, keys after the query
// position q_offset + i are masked. A row with every key masked outputs zeros.

#define FA_S 72  // padded shared row for d = 64 (144 bytes: conflict-free ldmatrix)

// Flash attention for head size 64: 64 queries per block (4 warps x 16 rows), keys in tiles of
// 64, online softmax in f32, both products on tensor cores. grid (ceil(Lq/64), heads, batch).
extern "C" __global__ void __launch_bounds__(128) flash_attn_d64(
    const u16* __restrict__ Q, long long q_bs, long long q_rs, const u16* __restrict__ Kp,
    const u16* __restrict__ Vp, long long kv_bs, long long kv_rs, u16* __restrict__ O,
    long long o_bs, long long o_rs, int Lq, int Lk, const int* __restrict__ key_len,
    const float* __restrict__ bias, int bias_R, int bias_W, int bias_qpos, int causal,
    int q_offset, int kv_div) {
    pdl_prologue();
    __shared__ __align__(16) u16 sQ[64 * FA_S];
    __shared__ __align__(16) u16 sK[64 * FA_S];
    __shared__ __align__(16) u16 sV[64 * FA_S];
    const int qb = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    const int kvb = b / kv_div;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int g = lane >> 2, t = lane & 3;
    const u16* Qb = Q + b * q_bs + h * 64;
    const u16* Kb = Kp + kvb * kv_bs + h * 64;
    const u16* Vb = Vp + kvb * kv_bs + h * 64;
    const int q0 = qb * 64;

    for (int c = tid; c < 64 * 8; c += 128) {
        const int r = c >> 3, cc = (c & 7) * 8;
        uint4 v = make_uint4(0u, 0u, 0u, 0u);
        if (q0 + r < Lq) v = *(const uint4*)(Qb + (long long)(q0 + r) * q_rs + cc);
        *(uint4*)(sQ + r * FA_S + cc) = v;
    }
    __syncthreads();
    u32 qf[4][4];
#pragma unroll
    for (int kc = 0; kc < 4; ++kc)
        ldsm_x4(qf[kc], sQ + (warp * 16 + (lane & 15)) * FA_S + kc * 16 + ((lane >> 4) << 3));

    int klen = Lk;
    if (key_len) klen = min(klen, key_len[kvb]);
    int kmax = klen;
    if (causal) kmax = min(kmax, q_offset + q0 + 64);
    const int r0 = q0 + warp * 16 + g, r1 = r0 + 8;
    const int p0 = q_offset + r0, p1 = q_offset + r1;
    const float* brow = bias ? bias + (long long)h * bias_W : 0;
    const int br0 = bias_R - (bias_qpos ? p0 : r0), br1 = bias_R - (bias_qpos ? p1 : r1);

    float o[8][4];
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int e = 0; e < 4; ++e) o[i][e] = 0.0f;
    float m0 = -T0_INF, m1 = -T0_INF, l0 = 0.0f, l1 = 0.0f;

    for (int j0 = 0; j0 < kmax; j0 += 64) {
        __syncthreads();
        for (int c = tid; c < 64 * 8; c += 128) {
            const int r = c >> 3, cc = (c & 7) * 8;
            uint4 kv = make_uint4(0u, 0u, 0u, 0u), vv = kv;
            if (j0 + r < Lk) {
                kv = *(const uint4*)(Kb + (long long)(j0 + r) * kv_rs + cc);
                vv = *(const uint4*)(Vb + (long long)(j0 + r) * kv_rs + cc);
            }
            *(uint4*)(sK + r * FA_S + cc) = kv;
            *(uint4*)(sV + r * FA_S + cc) = vv;
        }
        __syncthreads();
        float s[8][4];
#pragma unroll
        for (int i = 0; i < 8; ++i)
#pragma unroll
            for (int e = 0; e < 4; ++e) s[i][e] = 0.0f;
#pragma unroll
        for (int kc = 0; kc < 4; ++kc) {
#pragma unroll
            for (int nt = 0; nt < 8; nt += 2) {
                const int i = lane >> 3, r = lane & 7;
                const int n = nt * 8 + r + ((i >> 1) << 3);
                const int k = kc * 16 + ((i & 1) << 3);
                u32 t4[4];
                ldsm_x4(t4, sK + n * FA_S + k);
                u32 b0[2] = {t4[0], t4[1]}, b1[2] = {t4[2], t4[3]};
                mma_bf16_16816(s[nt], qf[kc], b0);
                mma_bf16_16816(s[nt + 1], qf[kc], b1);
            }
        }
        float mx0 = -T0_INF, mx1 = -T0_INF;
#pragma unroll
        for (int nt = 0; nt < 8; ++nt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int j = j0 + nt * 8 + t * 2 + (e & 1);
                const int p = (e < 2) ? p0 : p1;
                float v = s[nt][e];
                bool ok = j < klen && (!causal || j <= p);
                if (brow) {
                    int bi = j + ((e < 2) ? br0 : br1);
                    bi = bi < 0 ? 0 : (bi >= bias_W ? bias_W - 1 : bi);
                    v += brow[bi];
                }
                v = ok ? v : -T0_INF;
                s[nt][e] = v;
                if (e < 2) mx0 = fmaxf(mx0, v);
                else mx1 = fmaxf(mx1, v);
            }
        }
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
        const float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
        const float ref0 = (mn0 == -T0_INF) ? 0.0f : mn0;
        const float ref1 = (mn1 == -T0_INF) ? 0.0f : mn1;
        const float sc0 = __expf(m0 - ref0), sc1 = __expf(m1 - ref1);
        m0 = mn0;
        m1 = mn1;
        float sum0 = 0.0f, sum1 = 0.0f;
#pragma unroll
        for (int nt = 0; nt < 8; ++nt) {
            s[nt][0] = __expf(s[nt][0] - ref0);
            s[nt][1] = __expf(s[nt][1] - ref0);
            s[nt][2] = __expf(s[nt][2] - ref1);
            s[nt][3] = __expf(s[nt][3] - ref1);
            sum0 += s[nt][0] + s[nt][1];
            sum1 += s[nt][2] + s[nt][3];
        }
        l0 = l0 * sc0 + sum0;
        l1 = l1 * sc1 + sum1;
#pragma unroll
        for (int dt = 0; dt < 8; ++dt) {
            o[dt][0] *= sc0;
            o[dt][1] *= sc0;
            o[dt][2] *= sc1;
            o[dt][3] *= sc1;
        }
#pragma unroll
        for (int kc = 0; kc < 4; ++kc) {
            u32 pa[4];
            pa[0] = pack2(s[2 * kc][0], s[2 * kc][1]);
            pa[1] = pack2(s[2 * kc][2], s[2 * kc][3]);
            pa[2] = pack2(s[2 * kc + 1][0], s[2 * kc + 1][1]);
            pa[3] = pack2(s[2 * kc + 1][2], s[2 * kc + 1][3]);
#pragma unroll
            for (int dt = 0; dt < 8; dt += 2) {
                const int i = lane >> 3, r = lane & 7;
                const int key = kc * 16 + r + ((i & 1) << 3);
                const int d = dt * 8 + ((i >> 1) << 3);
                u32 t4[4];
                ldsm_x4_t(t4, sV + key * FA_S + d);
                u32 b0[2] = {t4[0], t4[1]}, b1[2] = {t4[2], t4[3]};
                mma_bf16_16816(o[dt], pa, b0);
                mma_bf16_16816(o[dt + 1], pa, b1);
            }
        }
    }
    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    const float inv0 = l0 > 0.0f ? 1.0f / l0 : 0.0f;
    const float inv1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
    u16* Ob = O + b * o_bs + h * 64;
#pragma unroll
    for (int dt = 0; dt < 8; ++dt) {
        const int d = dt * 8 + t * 2;
        if (r0 < Lq) *(u32*)(Ob + (long long)r0 * o_rs + d) = pack2(o[dt][0] * inv0, o[dt][1] * inv0);
        if (r1 < Lq) *(u32*)(Ob + (long long)r1 * o_rs + d) = pack2(o[dt][2] * inv1, o[dt][3] * inv1);
    }
}

// exp2 on the special-function unit: ex2(-inf) = +0, which the masked scores rely on.
__device__ __forceinline__ float fa_ex2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}
// Two floats to packed bf16 (round to nearest even, `lo` in the low half), one instruction.
__device__ __forceinline__ u32 fa_pack(float lo, float hi) {
    u32 r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}

#define FA_TILE (64 * FA_S)  // one 64-row tile of K or V in shared memory (u16 elements)

// Queues (cp.async) key and value rows [j0, j0 + 64) into sK/sV; rows at or past Lk are zero
// filled (no global read: source size 0, address clamped to row 0). 256 threads.
__device__ __forceinline__ void fa2_load_kv(u16* sK, u16* sV, const u16* Kb, const u16* Vb,
                                            long long kv_rs, int j0, int Lk, int tid) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
        const int c = tid + i * 256;
        const int r = c >> 3, cc = (c & 7) * 8;
        const bool in = j0 + r < Lk;
        const long long off = in ? (long long)(j0 + r) * kv_rs + cc : 0;
        cp_async16(sK + r * FA_S + cc, Kb + off, in ? 16 : 0);
        cp_async16(sV + r * FA_S + cc, Vb + off, in ? 16 : 0);
    }
}

// Flash attention for head size 64, second version: the same contract as `flash_attn_d64`
// (arguments, masks, bias, kv_div, zeros for fully masked rows). 128 queries per block
// (8 warps x 16 rows: half the K/V traffic per query of the 64-row kernel), Q fragments kept
// in registers, K/V tiles of 64 keys double-buffered with cp.async (tile t + 1 loads while
// tile t is computed), the softmax on exp2 (log2 e folded into one FMA per score, after the
// bias), bias loads without clamping where a whole tile allows it,
// per-element masks only on tiles that need them, and warps skip tiles that are entirely
// masked for their 16 rows (causal) or whose rows are all past Lq.
// grid (ceil(Lq/128), heads, batch), 256 threads, 36864 bytes of static shared memory.
extern "C" __global__ void __launch_bounds__(256, 2) flash_attn_d64_v2(
    const u16* __restrict__ Q, long long q_bs, long long q_rs, const u16* __restrict__ Kp,
    const u16* __restrict__ Vp, long long kv_bs, long long kv_rs, u16* __restrict__ O,
    long long o_bs, long long o_rs, int Lq, int Lk, const int* __restrict__ key_len,
    const float* __restrict__ bias, int bias_R, int bias_W, int bias_qpos, int causal,
    int q_offset, int kv_div) {
    pdl_prologue();
    // Two buffers, each a K tile followed by a V tile; buffer 1 first stages the 128 Q rows.
    __shared__ __align__(16) u16 sm[4 * FA_TILE];
    const int qb = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    const int kvb = b / kv_div;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int g = lane >> 2, t = lane & 3;
    const u16* Qb = Q + b * q_bs + h * 64;
    const u16* Kb = Kp + kvb * kv_bs + h * 64;
    const u16* Vb = Vp + kvb * kv_bs + h * 64;
    const int q0 = qb * 128;

    int klen = Lk;
    if (key_len) klen = min(klen, key_len[kvb]);
    int kmax = klen;
    if (causal) kmax = min(kmax, q_offset + q0 + 128);
    const int ntiles = kmax > 0 ? (kmax + 63) >> 6 : 0;

    u16* sQ = sm + 2 * FA_TILE;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int c = tid + i * 256;
        const int r = c >> 3, cc = (c & 7) * 8;
        const bool in = q0 + r < Lq;
        cp_async16(sQ + r * FA_S + cc, Qb + (in ? (long long)(q0 + r) * q_rs + cc : 0),
                   in ? 16 : 0);
    }
    cp_async_commit();
    if (ntiles > 0) fa2_load_kv(sm, sm + FA_TILE, Kb, Vb, kv_rs, 0, Lk, tid);
    cp_async_commit();
    cp_async_wait<1>();  // Q has landed (tile 0 may still be in flight)
    __syncthreads();
    u32 qf[4][4];
#pragma unroll
    for (int kc = 0; kc < 4; ++kc)
        ldsm_x4(qf[kc], sQ + (warp * 16 + (lane & 15)) * FA_S + kc * 16 + ((lane >> 4) << 3));
    __syncthreads();  // buffer 1 is free for tile 1

    const int rw = q0 + warp * 16;  // this warp's first row
    const bool wactive = rw < Lq;
    const int wfirst = q_offset + rw, wlast = wfirst + 15;  // its first and last positions
    const int r0 = rw + g, r1 = r0 + 8;
    const int p0 = q_offset + r0, p1 = q_offset + r1;
    const float* brow = bias ? bias + (long long)h * bias_W : 0;
    // Table index offsets of rows r0 and r1 (= r0 + 8): br0 and br0 - 8.
    const int br0 = bias_R - (bias_qpos ? p0 : r0);
    const float LOG2E = 1.4426950408889634f;

    float o[8][4];
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int e = 0; e < 4; ++e) o[i][e] = 0.0f;
    // Running row maxima (of the biased scores) and row sums.
    float m0 = -T0_INF, m1 = -T0_INF, l0 = 0.0f, l1 = 0.0f;

    for (int it = 0; it < ntiles; ++it) {
        const int j0 = it * 64;
        if (it + 1 < ntiles) {
            u16* nb = sm + ((it + 1) & 1) * 2 * FA_TILE;
            fa2_load_kv(nb, nb + FA_TILE, Kb, Vb, kv_rs, j0 + 64, Lk, tid);
        }
        cp_async_commit();
        cp_async_wait<1>();  // tile `it` has landed (this thread's part)
        __syncthreads();     // ... and every thread's part
        const u16* sK = sm + (it & 1) * 2 * FA_TILE;
        const u16* sV = sK + FA_TILE;
        if (wactive && (!causal || j0 <= wlast)) {
            float s[8][4];
#pragma unroll
            for (int i = 0; i < 8; ++i)
#pragma unroll
                for (int e = 0; e < 4; ++e) s[i][e] = 0.0f;
#pragma unroll
            for (int kc = 0; kc < 4; ++kc) {
#pragma unroll
                for (int nt = 0; nt < 8; nt += 2) {
                    const int i = lane >> 3, r = lane & 7;
                    const int n = nt * 8 + r + ((i >> 1) << 3);
                    const int k = kc * 16 + ((i & 1) << 3);
                    u32 t4[4];
                    ldsm_x4(t4, sK + n * FA_S + k);
                    u32 b0[2] = {t4[0], t4[1]}, b1[2] = {t4[2], t4[3]};
                    mma_bf16_16816(s[nt], qf[kc], b0);
                    mma_bf16_16816(s[nt + 1], qf[kc], b1);
                }
            }
            // Bias (added before the softmax, no 1/sqrt(d): T5).
            if (brow) {
                // This thread's table indices are bb0 + nt * 8 + (e & 1) (rows r0; bb1 for
                // r1), all within [lo, hi]. Warp-uniform fast paths: every index inside the
                // table (no clamp), every index clamped to the first or to the last entry
                // (one value; T5 tables are clamped at +-max_distance, so far tiles are
                // constant); else clamp each index.
                const int bb0 = j0 + t * 2 + br0, bb1 = bb0 - 8;
                const int lo = bb1, hi = bb0 + 57;
                if (__all_sync(0xffffffffu, lo >= 0 && hi < bias_W)) {
                    const float* b0p = brow + bb0;  // row r1's entries start 8 earlier
#pragma unroll
                    for (int nt = 0; nt < 8; ++nt) {
                        s[nt][0] = s[nt][0] + __ldg(b0p + nt * 8);
                        s[nt][1] = s[nt][1] + __ldg(b0p + nt * 8 + 1);
                        s[nt][2] = s[nt][2] + __ldg(b0p + nt * 8 - 8);
                        s[nt][3] = s[nt][3] + __ldg(b0p + nt * 8 - 7);
                    }
                } else if (__all_sync(0xffffffffu, hi <= 0 || lo >= bias_W - 1)) {
                    // Per thread one value (the warp may straddle both ends only when W is
                    // small; each thread's own range is on one side).
                    const float bv = __ldg(brow + (hi <= 0 ? 0 : bias_W - 1));
#pragma unroll
                    for (int nt = 0; nt < 8; ++nt)
#pragma unroll
                        for (int e = 0; e < 4; ++e) s[nt][e] += bv;
                } else {
#pragma unroll
                    for (int nt = 0; nt < 8; ++nt) {
#pragma unroll
                        for (int e = 0; e < 4; ++e) {
                            const int j = j0 + nt * 8 + t * 2 + (e & 1);
                            int bi = j + br0 - ((e < 2) ? 0 : 8);
                            bi = bi < 0 ? 0 : (bi >= bias_W ? bias_W - 1 : bi);
                            s[nt][e] += __ldg(brow + bi);
                        }
                    }
                }
            }
            // Masks only where this tile reaches past the key length or (causal) past the
            // warp's first position.
            if (j0 + 64 > klen || (causal && j0 + 63 > wfirst)) {
#pragma unroll
                for (int nt = 0; nt < 8; ++nt) {
#pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        const int j = j0 + nt * 8 + t * 2 + (e & 1);
                        const int p = (e < 2) ? p0 : p1;
                        const bool ok = j < klen && (!causal || j <= p);
                        s[nt][e] = ok ? s[nt][e] : -T0_INF;
                    }
                }
            }
            float mx0 = -T0_INF, mx1 = -T0_INF;
#pragma unroll
            for (int nt = 0; nt < 8; ++nt) {
                mx0 = fmaxf(mx0, fmaxf(s[nt][0], s[nt][1]));
                mx1 = fmaxf(mx1, fmaxf(s[nt][2], s[nt][3]));
            }
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
            const float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
            const float ref0 = (mn0 == -T0_INF) ? 0.0f : mn0;
            const float ref1 = (mn1 == -T0_INF) ? 0.0f : mn1;
            // exp(x - ref) = exp2(x * log2 e - ref * log2 e): one FMA and one ex2 per score.
            const float nr0 = -ref0 * LOG2E, nr1 = -ref1 * LOG2E;
            const float sc0 = fa_ex2(fmaf(m0, LOG2E, nr0)), sc1 = fa_ex2(fmaf(m1, LOG2E, nr1));
            m0 = mn0;
            m1 = mn1;
            float sum0 = 0.0f, sum1 = 0.0f;
#pragma unroll
            for (int nt = 0; nt < 8; ++nt) {
                s[nt][0] = fa_ex2(fmaf(s[nt][0], LOG2E, nr0));
                s[nt][1] = fa_ex2(fmaf(s[nt][1], LOG2E, nr0));
                s[nt][2] = fa_ex2(fmaf(s[nt][2], LOG2E, nr1));
                s[nt][3] = fa_ex2(fmaf(s[nt][3], LOG2E, nr1));
                sum0 += s[nt][0] + s[nt][1];
                sum1 += s[nt][2] + s[nt][3];
            }
            l0 = l0 * sc0 + sum0;
            l1 = l1 * sc1 + sum1;
#pragma unroll
            for (int dt = 0; dt < 8; ++dt) {
                o[dt][0] *= sc0;
                o[dt][1] *= sc0;
                o[dt][2] *= sc1;
                o[dt][3] *= sc1;
            }
#pragma unroll
            for (int kc = 0; kc < 4; ++kc) {
                u32 pa[4];
                pa[0] = fa_pack(s[2 * kc][0], s[2 * kc][1]);
                pa[1] = fa_pack(s[2 * kc][2], s[2 * kc][3]);
                pa[2] = fa_pack(s[2 * kc + 1][0], s[2 * kc + 1][1]);
                pa[3] = fa_pack(s[2 * kc + 1][2], s[2 * kc + 1][3]);
#pragma unroll
                for (int dt = 0; dt < 8; dt += 2) {
                    const int i = lane >> 3, r = lane & 7;
                    const int key = kc * 16 + r + ((i & 1) << 3);
                    const int d = dt * 8 + ((i >> 1) << 3);
                    u32 t4[4];
                    ldsm_x4_t(t4, sV + key * FA_S + d);
                    u32 b0[2] = {t4[0], t4[1]}, b1[2] = {t4[2], t4[3]};
                    mma_bf16_16816(o[dt], pa, b0);
                    mma_bf16_16816(o[dt + 1], pa, b1);
                }
            }
        }
        __syncthreads();  // every warp is done with this buffer before it is refilled
    }
    cp_async_wait<0>();  // nothing may be in flight at exit (only empty groups remain)
    if (!wactive) return;
    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    const float inv0 = l0 > 0.0f ? 1.0f / l0 : 0.0f;
    const float inv1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
    u16* Ob = O + b * o_bs + h * 64;
#pragma unroll
    for (int dt = 0; dt < 8; ++dt) {
        const int d = dt * 8 + t * 2;
        if (r0 < Lq) *(u32*)(Ob + (long long)r0 * o_rs + d) = fa_pack(o[dt][0] * inv0, o[dt][1] * inv0);
        if (r1 < Lq) *(u32*)(Ob + (long long)r1 * o_rs + d) = fa_pack(o[dt][2] * inv1, o[dt][3] * inv1);
    }
}

// ---------------------------------------------------------------------------------------------
// Flash attention for head size 64, third version (`flash_attn_d64_v3`, and the experimental
// `_v3p` / `_v3p64`): the contract of `flash_attn_d64` / `_v2` (arguments, masks, bias,
// kv_div, zeros for fully masked rows). Same work split as v2 (8 warps x 16 rows = 128
// queries per block, 64-key tiles, Q fragments in registers, exp2 softmax, P straight from
// the accumulators as the A operand of P.V), with:
// - K and V double-buffered separately (rows padded to 72 as in v2), so ONE __syncthreads
//   per tile (v2: two): at the top of iteration `it` every warp has finished tile it-1, so
//   K and V tile it+1 load into the buffers of tile it-1 while tile it is computed;
// - the bias table cached in shared memory with its clamping built in: entry i of the cache
//   is table[clamp(i - FA3_PAD, 0, W - 1)] for i < FA3_CAPW, stored twice (at offset 0 and
//   shifted by one entry), so a tile whose indices all fall in [-FA3_PAD, FA3_CAPW - FA3_PAD)
//   reads 9 aligned float2 per thread (rows r0 and r0 + 8 share 8 of their pairs) instead of
//   v2's 32 loads (and no clamping). Tiles where every index is past one end still take one
//   value; the per-element clamp from global memory remains only for W > ~350 (T5's tables,
//   W = 2 max_distance + 1 = 257, never need it: with FA3_PAD >= 79 a tile that is not
//   wholly past one end lies inside the cache).
// v3p / v3p64 (PIPE) also issue Q.K^T of tile it+1 in the same basic block as the
// exponentials and P.V of tile it (software pipelining inside the warp: the tensor pipe has
// independent work while the special-function unit computes exp2); K then loads two tiles
// ahead (K it+2, V it+1). ~165 registers: v3p one 256-thread block per SM, v3p64 (4 warps,
// 64 queries) three 128-thread blocks.
// grid (ceil(Lq / (16 * warps)), heads, batch), 32 * warps threads, 36864 + 4096 bytes of
// static shared memory.
#define FA3_CAPW 512
#define FA3_PAD 80  // even: entry parity = index parity

// Queues rows [j0, j0 + 64) of G (row stride rs) into the tile s (row stride FA_S); rows at
// or past L are zero filled (no global read). NT threads, 512 / NT 16-byte chunks each.
template <int NT>
__device__ __forceinline__ void fa3_load(u16* s, const u16* G, long long rs, int j0, int L,
                                         int tid) {
#pragma unroll
    for (int i = 0; i < 512 / NT; ++i) {
        const int c = tid + i * NT;
        const int r = c >> 3, ch = c & 7;
        const bool in = j0 + r < L;
        cp_async16(s + r * FA_S + ch * 8, G + (in ? (long long)(j0 + r) * rs + ch * 8 : 0),
                   in ? 16 : 0);
    }
}
// fa3_load for a K and a V tile of the same rows (one address computation).
template <int NT>
__device__ __forceinline__ void fa3_load_kv(u16* sK, u16* sV, const u16* Kb, const u16* Vb,
                                            long long rs, int j0, int L, int tid) {
#pragma unroll
    for (int i = 0; i < 512 / NT; ++i) {
        const int c = tid + i * NT;
        const int r = c >> 3, ch = c & 7;
        const bool in = j0 + r < L;
        const long long off = in ? (long long)(j0 + r) * rs + ch * 8 : 0;
        const int so = r * FA_S + ch * 8;
        cp_async16(sK + so, Kb + off, in ? 16 : 0);
        cp_async16(sV + so, Vb + off, in ? 16 : 0);
    }
}
// s = Q . K^T for this warp's 16 rows and the 64 keys of the tile sK.
__device__ __forceinline__ void fa3_qk(float (&s)[8][4], const u32 (&qf)[4][4], const u16* sK,
                                       int lane) {
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int e = 0; e < 4; ++e) s[i][e] = 0.0f;
    // Lane's matrix i = lane >> 3 (keys +8 for i >= 2, k +8 for odd i), row r = lane & 7:
    // key n = nt * 8 + r + ((i >> 1) << 3), column kc * 16 + ((i & 1) << 3).
    const int i = lane >> 3, r = lane & 7;
    const u16* base = sK + (r + ((i >> 1) << 3)) * FA_S + ((i & 1) << 3);
#pragma unroll
    for (int kc = 0; kc < 4; ++kc) {
#pragma unroll
        for (int nt = 0; nt < 8; nt += 2) {
            u32 t4[4];
            ldsm_x4(t4, base + nt * 8 * FA_S + kc * 16);
            u32 b0[2] = {t4[0], t4[1]}, b1[2] = {t4[2], t4[3]};
            mma_bf16_16816(s[nt], qf[kc], b0);
            mma_bf16_16816(s[nt + 1], qf[kc], b1);
        }
    }
}

// P for keys kc * 16 .. + 15 of s: exp2(s * log2 e + nr) packed to bf16 as the A fragment of
// m16n8k16; adds the (unrounded) values to the row sums.
__device__ __forceinline__ void fa3_exp16(u32 (&pa)[4], const float (&s)[8][4], int kc,
                                          float LOG2E, float nr0, float nr1, float& sum0,
                                          float& sum1) {
    float e[2][4];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        e[h][0] = fa_ex2(fmaf(s[2 * kc + h][0], LOG2E, nr0));
        e[h][1] = fa_ex2(fmaf(s[2 * kc + h][1], LOG2E, nr0));
        e[h][2] = fa_ex2(fmaf(s[2 * kc + h][2], LOG2E, nr1));
        e[h][3] = fa_ex2(fmaf(s[2 * kc + h][3], LOG2E, nr1));
        sum0 += e[h][0] + e[h][1];
        sum1 += e[h][2] + e[h][3];
    }
    pa[0] = fa_pack(e[0][0], e[0][1]);
    pa[1] = fa_pack(e[0][2], e[0][3]);
    pa[2] = fa_pack(e[1][0], e[1][1]);
    pa[3] = fa_pack(e[1][2], e[1][3]);
}
// o += P (16 keys) . V (those 16 rows of the tile; vrow = this lane's ldmatrix address).
__device__ __forceinline__ void fa3_pv(float (&o)[8][4], const u32 (&pa)[4], const u16* vrow) {
#pragma unroll
    for (int dt = 0; dt < 8; dt += 2) {
        u32 t4[4];
        ldsm_x4_t(t4, vrow + dt * 8);
        u32 b0[2] = {t4[0], t4[1]}, b1[2] = {t4[2], t4[3]};
        mma_bf16_16816(o[dt], pa, b0);
        mma_bf16_16816(o[dt + 1], pa, b1);
    }
}

// Two floats from shared memory at byte address a (8-byte aligned).
__device__ __forceinline__ float2 fa3_lds2(u32 a) {
    float2 v;
    asm volatile("ld.shared.v2.f32 {%0, %1}, [%2];\n" : "=f"(v.x), "=f"(v.y) : "r"(a));
    return v;
}

// One key tile for one warp: bias, masks and online softmax of the scores s (this tile, keys
// j0..j0+63), then o += P . V. With NEXT, s is then replaced by Q . K^T of the tile in sKn,
// computed in the same basic block as the exponentials and P . V.
template <bool NEXT>
__device__ __forceinline__ void fa3_tile(float (&s)[8][4], float (&o)[8][4], float& m0, float& m1,
                                         float& l0, float& l1, const u32 (&qf)[4][4],
                                         const u16* sKn, const u16* sV, const float* sb,
                                         const float* brow, int bias_W, int j0,
                                         int klen, int causal, int br0, int wfirst, int lane) {
    const int t = lane & 3;
    const int p0 = wfirst + (lane >> 2), p1 = p0 + 8;
    const float LOG2E = 1.4426950408889634f;
    if (brow) {
        // Table indices of this thread: bb0 + nt * 8 + (e & 1) (row r0), 8 less (row r1),
        // all within [bb0 - 8, bb0 + 57]. Warp-uniform paths as in v2.
        const int bb0 = j0 + t * 2 + br0;
        const int lo = bb0 - 8, hi = bb0 + 57;
        if (__all_sync(0xffffffffu, hi <= 0 || lo >= bias_W - 1)) {
            // Per thread one value (the warp may straddle both ends only when W is small;
            // each thread's own range is on one side).
            const float bv = __ldg(brow + (hi <= 0 ? 0 : bias_W - 1));
#pragma unroll
            for (int nt = 0; nt < 8; ++nt)
#pragma unroll
                for (int e = 0; e < 4; ++e) s[nt][e] += bv;
        } else if (__all_sync(0xffffffffu, lo >= -FA3_PAD && hi < FA3_CAPW - FA3_PAD)) {
            // Pair k = (bias'[bb0 + 8k], bias'[bb0 + 8k + 1]) of the clamped table: row r0 of
            // n-tile nt takes pair nt, row r1 takes pair nt - 1. Cache entry bb0 + FA3_PAD,
            // in the shifted copy (less one entry) for odd bb0 (the parity of br0): 8-byte
            // aligned either way.
            const u32 pb = (u32)__cvta_generic_to_shared(sb) +
                           ((br0 & 1) ? (FA3_CAPW - 1) * 4 : 0) + (bb0 + FA3_PAD) * 4;
            float2 prev = fa3_lds2(pb - 32);
#pragma unroll
            for (int nt = 0; nt < 8; ++nt) {
                const float2 cur = fa3_lds2(pb + nt * 32);
                s[nt][0] += cur.x;
                s[nt][1] += cur.y;
                s[nt][2] += prev.x;
                s[nt][3] += prev.y;
                prev = cur;
            }
        } else {
#pragma unroll
            for (int nt = 0; nt < 8; ++nt) {
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int j = j0 + nt * 8 + t * 2 + (e & 1);
                    int bi = j + br0 - ((e < 2) ? 0 : 8);
                    bi = bi < 0 ? 0 : (bi >= bias_W ? bias_W - 1 : bi);
                    s[nt][e] += __ldg(brow + bi);
                }
            }
        }
    }
    if (j0 + 64 > klen || (causal && j0 + 63 > wfirst)) {
#pragma unroll
        for (int nt = 0; nt < 8; ++nt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int j = j0 + nt * 8 + t * 2 + (e & 1);
                const int p = (e < 2) ? p0 : p1;
                const bool ok = j < klen && (!causal || j <= p);
                s[nt][e] = ok ? s[nt][e] : -T0_INF;
            }
        }
    }
    // From here to the end: one basic block (no branches), so the scheduler can interleave
    // the next tile's Q.K^T with the exponentials and P.V.
    float mx0 = -T0_INF, mx1 = -T0_INF;
#pragma unroll
    for (int nt = 0; nt < 8; ++nt) {
        mx0 = fmaxf(mx0, fmaxf(s[nt][0], s[nt][1]));
        mx1 = fmaxf(mx1, fmaxf(s[nt][2], s[nt][3]));
    }
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
    const float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
    const float ref0 = (mn0 == -T0_INF) ? 0.0f : mn0;
    const float ref1 = (mn1 == -T0_INF) ? 0.0f : mn1;
    const float nr0 = -ref0 * LOG2E, nr1 = -ref1 * LOG2E;
    const float sc0 = fa_ex2(fmaf(m0, LOG2E, nr0)), sc1 = fa_ex2(fmaf(m1, LOG2E, nr1));
    m0 = mn0;
    m1 = mn1;
    float sum0 = 0.0f, sum1 = 0.0f;
#pragma unroll
    for (int dt = 0; dt < 8; ++dt) {
        o[dt][0] *= sc0;
        o[dt][1] *= sc0;
        o[dt][2] *= sc1;
        o[dt][3] *= sc1;
    }
    // P.V: key k = kc * 16 + r + ((i & 1) << 3), column dt * 8 + ((i >> 1) << 3).
    const int i = lane >> 3, r = lane & 7;
    const u16* vbase = sV + (r + ((i & 1) << 3)) * FA_S + ((i >> 1) << 3);
    if (NEXT) {
        // P (packed bf16, 16 registers) first, so the next tile's scores fit beside it.
        u32 pa[4][4];
#pragma unroll
        for (int kc = 0; kc < 4; ++kc) fa3_exp16(pa[kc], s, kc, LOG2E, nr0, nr1, sum0, sum1);
        fa3_qk(s, qf, sKn, lane);
#pragma unroll
        for (int kc = 0; kc < 4; ++kc) fa3_pv(o, pa[kc], vbase + kc * 16 * FA_S);
    } else {
        // v2's order: every exponential in place, then pack and multiply per 16 keys.
#pragma unroll
        for (int nt = 0; nt < 8; ++nt) {
            s[nt][0] = fa_ex2(fmaf(s[nt][0], LOG2E, nr0));
            s[nt][1] = fa_ex2(fmaf(s[nt][1], LOG2E, nr0));
            s[nt][2] = fa_ex2(fmaf(s[nt][2], LOG2E, nr1));
            s[nt][3] = fa_ex2(fmaf(s[nt][3], LOG2E, nr1));
            sum0 += s[nt][0] + s[nt][1];
            sum1 += s[nt][2] + s[nt][3];
        }
#pragma unroll
        for (int kc = 0; kc < 4; ++kc) {
            u32 pa[4];
            pa[0] = fa_pack(s[2 * kc][0], s[2 * kc][1]);
            pa[1] = fa_pack(s[2 * kc][2], s[2 * kc][3]);
            pa[2] = fa_pack(s[2 * kc + 1][0], s[2 * kc + 1][1]);
            pa[3] = fa_pack(s[2 * kc + 1][2], s[2 * kc + 1][3]);
            fa3_pv(o, pa, vbase + kc * 16 * FA_S);
        }
    }
    l0 = l0 * sc0 + sum0;
    l1 = l1 * sc1 + sum1;
}

// The kernel body; PIPE: Q.K^T of tile it + 1 inside tile it's softmax and P.V (needs ~165
// registers: one block per SM), else Q.K^T of tile it at the start of its iteration (v2's
// order, 128 registers, two blocks per SM).
template <bool PIPE, int NW>
__device__ __forceinline__ void fa3_body(const u16* __restrict__ Q, long long q_bs, long long q_rs,
                                         const u16* __restrict__ Kp, const u16* __restrict__ Vp,
                                         long long kv_bs, long long kv_rs, u16* __restrict__ O,
                                         long long o_bs, long long o_rs, int Lq, int Lk,
                                         const int* __restrict__ key_len,
                                         const float* __restrict__ bias, int bias_R, int bias_W,
                                         int bias_qpos, int causal, int q_offset, int kv_div,
                                         u16* sm, float* sb) {
    const int qb = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    const int kvb = b / kv_div;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int g = lane >> 2;
    const u16* Qb = Q + b * q_bs + h * 64;
    const u16* Kb = Kp + kvb * kv_bs + h * 64;
    const u16* Vb = Vp + kvb * kv_bs + h * 64;
    const int NT = NW * 32, QR = NW * 16;  // threads, query rows per block
    const int q0 = qb * QR;
    u16* sK0 = sm;
    u16* sV0 = sm + 2 * FA_TILE;
    // K tile loaded in iteration it: it + KAHEAD (V tile: it + 1).
    const int KAHEAD = PIPE ? 2 : 1;

    int klen = Lk;
    if (key_len) klen = min(klen, key_len[kvb]);
    int kmax = klen;
    if (causal) kmax = min(kmax, q_offset + q0 + QR);
    const int ntiles = kmax > 0 ? (kmax + 63) >> 6 : 0;

    // Q (QR rows) into the V buffers; K tile 0 (and 1 with PIPE).
#pragma unroll
    for (int i = 0; i < QR * 8 / NT; ++i) {
        const int c = tid + i * NT;
        const int r = c >> 3, ch = c & 7;
        const bool in = q0 + r < Lq;
        cp_async16(sV0 + r * FA_S + ch * 8,
                   Qb + (in ? (long long)(q0 + r) * q_rs + ch * 8 : 0), in ? 16 : 0);
    }
    cp_async_commit();
    if (ntiles > 0) fa3_load<NT>(sK0, Kb, kv_rs, 0, Lk, tid);
    if (PIPE && ntiles > 1) fa3_load<NT>(sK0 + FA_TILE, Kb, kv_rs, 64, Lk, tid);
    cp_async_commit();
    const float* brow = bias ? bias + (long long)h * bias_W : 0;
    if (brow) {
        // Cache entry i = table[clamp(i - FA3_PAD, 0, W - 1)]; the copy shifted by one.
        for (int i = tid; i < FA3_CAPW; i += NT) {
            const int a = min(max(i - FA3_PAD, 0), bias_W - 1);
            const int c = min(max(i + 1 - FA3_PAD, 0), bias_W - 1);
            sb[i] = brow[a];
            sb[FA3_CAPW + i] = brow[c];
        }
    }
    cp_async_wait<1>();  // Q has landed (this thread's part)
    __syncthreads();
    u32 qf[4][4];
    {
        const u16* qrow = sV0 + (warp * 16 + (lane & 15)) * FA_S + ((lane >> 4) << 3);
#pragma unroll
        for (int kc = 0; kc < 4; ++kc) ldsm_x4(qf[kc], qrow + kc * 16);
    }
    __syncthreads();  // the V buffers are free
    if (ntiles > 0) fa3_load<NT>(sV0, Vb, kv_rs, 0, Lk, tid);
    cp_async_commit();

    const int rw = q0 + warp * 16;  // this warp's first row
    const int wfirst = q_offset + rw, wlast = wfirst + 15;
    // Tiles this warp computes: a prefix of [0, ntiles) (none when its rows are all past Lq;
    // causal: up to its last position).
    int nw = rw < Lq ? ntiles : 0;
    if (causal) nw = wlast < 0 ? 0 : min(nw, (wlast >> 6) + 1);
    const int r0 = rw + g;
    const int p0 = q_offset + r0;
    const int br0 = bias_R - (bias_qpos ? p0 : r0);

    float o[8][4];
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int e = 0; e < 4; ++e) o[i][e] = 0.0f;
    float m0 = -T0_INF, m1 = -T0_INF, l0 = 0.0f, l1 = 0.0f;
    float s[8][4];
    if (PIPE) {
        cp_async_wait<1>();  // K tiles 0 and 1 have landed (V tile 0 may be in flight)
        __syncthreads();
        if (nw > 0) fa3_qk(s, qf, sK0, lane);
    }

    for (int it = 0; it < ntiles; ++it) {
        cp_async_wait<0>();  // this thread's part of the tiles used in this iteration
        __syncthreads();     // every thread's part; every warp is past iteration it - 1
        // The K buffer refilled last held tile it + KAHEAD - 2 (its Q.K^T was in iteration
        // it - 1 or before), the V buffer tile it - 1 (P.V in iteration it - 1).
        if (!PIPE) {
            if (it + 1 < ntiles)
                fa3_load_kv<NT>(sK0 + ((it + 1) & 1) * FA_TILE, sV0 + ((it + 1) & 1) * FA_TILE, Kb, Vb,
                            kv_rs, (it + 1) * 64, Lk, tid);
        } else {
            if (it + KAHEAD < ntiles)
                fa3_load<NT>(sK0 + ((it + KAHEAD) & 1) * FA_TILE, Kb, kv_rs, (it + KAHEAD) * 64, Lk,
                         tid);
            if (it + 1 < ntiles)
                fa3_load<NT>(sV0 + ((it + 1) & 1) * FA_TILE, Vb, kv_rs, (it + 1) * 64, Lk, tid);
        }
        cp_async_commit();
        const u16* sV = sV0 + (it & 1) * FA_TILE;
        if (PIPE) {
            const u16* sKn = sK0 + ((it + 1) & 1) * FA_TILE;
            if (it + 1 < nw)
                fa3_tile<true>(s, o, m0, m1, l0, l1, qf, sKn, sV, sb, brow, bias_W,
                               it * 64, klen, causal, br0, wfirst, lane);
            else if (it < nw)
                fa3_tile<false>(s, o, m0, m1, l0, l1, qf, sKn, sV, sb, brow, bias_W,
                                it * 64, klen, causal, br0, wfirst, lane);
        } else if (it < nw) {
            fa3_qk(s, qf, sK0 + (it & 1) * FA_TILE, lane);
            fa3_tile<false>(s, o, m0, m1, l0, l1, qf, sK0, sV, sb, brow, bias_W, it * 64,
                            klen, causal, br0, wfirst, lane);
        }
    }
    cp_async_wait<0>();  // nothing may be in flight at exit
    if (rw >= Lq) return;
    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    const float inv0 = l0 > 0.0f ? 1.0f / l0 : 0.0f;
    const float inv1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
    const int t = lane & 3, r1 = r0 + 8;
    u16* Ob = O + b * o_bs + h * 64;
#pragma unroll
    for (int dt = 0; dt < 8; ++dt) {
        const int d = dt * 8 + t * 2;
        if (r0 < Lq) *(u32*)(Ob + (long long)r0 * o_rs + d) = fa_pack(o[dt][0] * inv0, o[dt][1] * inv0);
        if (r1 < Lq) *(u32*)(Ob + (long long)r1 * o_rs + d) = fa_pack(o[dt][2] * inv1, o[dt][3] * inv1);
    }
}

// The v3 entry points: grid (ceil(Lq / (16 * warps)), heads, batch), 32 * warps threads.
extern "C" __global__ void __launch_bounds__(256, 2) flash_attn_d64_v3(
    const u16* __restrict__ Q, long long q_bs, long long q_rs, const u16* __restrict__ Kp,
    const u16* __restrict__ Vp, long long kv_bs, long long kv_rs, u16* __restrict__ O,
    long long o_bs, long long o_rs, int Lq, int Lk, const int* __restrict__ key_len,
    const float* __restrict__ bias, int bias_R, int bias_W, int bias_qpos, int causal,
    int q_offset, int kv_div) {
    pdl_prologue();
    // sm: K buffers 0 and 1, then V buffers 0 and 1 (64 rows of FA_S each); the two V
    // buffers first stage the 128 Q rows. sb: the bias table, then the table shifted by one.
    __shared__ __align__(16) u16 sm[4 * FA_TILE];
    __shared__ __align__(16) float sb[2 * FA3_CAPW];
    fa3_body<false, 8>(Q, q_bs, q_rs, Kp, Vp, kv_bs, kv_rs, O, o_bs, o_rs, Lq, Lk, key_len, bias,
                    bias_R, bias_W, bias_qpos, causal, q_offset, kv_div, sm, sb);
}

// The same with the next tile's Q.K^T software-pipelined into each tile (PIPE): more
// registers, so one 256-thread block per SM. Grid and arguments as flash_attn_d64_v3.
extern "C" __global__ void __launch_bounds__(256, 1) flash_attn_d64_v3p(
    const u16* __restrict__ Q, long long q_bs, long long q_rs, const u16* __restrict__ Kp,
    const u16* __restrict__ Vp, long long kv_bs, long long kv_rs, u16* __restrict__ O,
    long long o_bs, long long o_rs, int Lq, int Lk, const int* __restrict__ key_len,
    const float* __restrict__ bias, int bias_R, int bias_W, int bias_qpos, int causal,
    int q_offset, int kv_div) {
    pdl_prologue();
    __shared__ __align__(16) u16 sm[4 * FA_TILE];
    __shared__ __align__(16) float sb[2 * FA3_CAPW];
    fa3_body<true, 8>(Q, q_bs, q_rs, Kp, Vp, kv_bs, kv_rs, O, o_bs, o_rs, Lq, Lk, key_len, bias,
                   bias_R, bias_W, bias_qpos, causal, q_offset, kv_div, sm, sb);
}

// v3p with 64 queries per block (4 warps): three blocks per SM fit its registers (12 warps
// per SM against v3p's 8), at twice the K/V traffic per query. Grid (ceil(Lq/64), heads,
// batch), 128 threads.
extern "C" __global__ void __launch_bounds__(128, 3) flash_attn_d64_v3p64(
    const u16* __restrict__ Q, long long q_bs, long long q_rs, const u16* __restrict__ Kp,
    const u16* __restrict__ Vp, long long kv_bs, long long kv_rs, u16* __restrict__ O,
    long long o_bs, long long o_rs, int Lq, int Lk, const int* __restrict__ key_len,
    const float* __restrict__ bias, int bias_R, int bias_W, int bias_qpos, int causal,
    int q_offset, int kv_div) {
    pdl_prologue();
    __shared__ __align__(16) u16 sm[4 * FA_TILE];
    __shared__ __align__(16) float sb[2 * FA3_CAPW];
    fa3_body<true, 4>(Q, q_bs, q_rs, Kp, Vp, kv_bs, kv_rs, O, o_bs, o_rs, Lq, Lk, key_len, bias,
                      bias_R, bias_W, bias_qpos, causal, q_offset, kv_div, sm, sb);
}

// One block (256 threads) per (head, query row): any head size up to 256 (odd sizes or
// strides take a one-column-at-a-time path), any Lk that
// fits the dynamic shared memory ((800 + Lk) floats). grid (heads, batch * Lq). Scores: one
// key per thread; weighted sum: threads split into groups over keys, each thread owning two
// columns, then a reduction over groups. With `pos` (not null) the query sits at position
// *pos and attends keys 0..=*pos (decode over a KV cache: Lk is then the cache capacity);
// with `new_k`/`new_v` (not null, Lq == 1) the current token's key and value (element
// (b, h, d) at new_*[b * new_bs + h * dh + d]) are first written into the cache at row *pos.
extern "C" __global__ void __launch_bounds__(256) attn_rows(
    const u16* __restrict__ Q, long long q_bs, long long q_rs, u16* Kp, u16* Vp, long long kv_bs,
    long long kv_rs, u16* __restrict__ O, long long o_bs, long long o_rs, int Lq, int Lk,
    const int* __restrict__ pos, int q_offset, int causal, const int* __restrict__ key_len,
    const float* __restrict__ bias, int bias_R, int bias_W, int bias_qpos, int kv_div, int dh,
    const u16* __restrict__ new_k, const u16* __restrict__ new_v, long long new_bs) {
    pdl_prologue();
    extern __shared__ float sh[];
    float* red = sh;          // 32
    float* qs = sh + 32;      // 256
    float* part = sh + 288;   // 512
    float* sc = sh + 800;     // Lk
    const int h = blockIdx.x, b = blockIdx.y / Lq, i = blockIdx.y % Lq;
    const int kvb = b / kv_div;
    const int tid = threadIdx.x;
    int qoff = q_offset, lk = Lk;
    if (pos) {
        qoff = *pos;
        lk = min(Lk, qoff + 1);
    }
    int klen = lk;
    if (key_len) klen = min(klen, key_len[kvb]);
    const int qp = qoff + i;
    const int kend = causal ? min(klen, qp + 1) : klen;
    u16* Kb = Kp + kvb * kv_bs + h * dh;
    u16* Vb = Vp + kvb * kv_bs + h * dh;
    if (new_k && pos) {
        for (int d = tid; d < dh; d += blockDim.x) {
            Kb[(long long)qoff * kv_rs + d] = new_k[b * new_bs + h * dh + d];
            Vb[(long long)qoff * kv_rs + d] = new_v[b * new_bs + h * dh + d];
        }
    }
    const u16* q = Q + b * q_bs + (long long)i * q_rs + h * dh;
    for (int d = tid; d < dh; d += blockDim.x) qs[d] = bf2f(q[d]);
    __syncthreads();
    const int d2n = dh >> 1;
    const float* brow = bias ? bias + (long long)h * bias_W : 0;
    const int bref = bias_R - (bias_qpos ? qp : i);
    // Pairs of columns (32-bit loads) when head size and key stride are even; else one by one.
    const bool pairs = ((dh | (int)kv_rs) & 1) == 0;
    for (int j = tid; j < kend; j += blockDim.x) {
        float s0 = 0.0f, s1 = 0.0f;
        if (pairs) {
            const u32* kr = (const u32*)(Kb + (long long)j * kv_rs);
            for (int d2 = 0; d2 < d2n; ++d2) {
                const u32 w = kr[d2];
                s0 = fmaf(qs[2 * d2], lo_f(w), s0);
                s1 = fmaf(qs[2 * d2 + 1], hi_f(w), s1);
            }
        } else {
            const u16* kr = Kb + (long long)j * kv_rs;
            for (int d = 0; d < dh; ++d) s0 = fmaf(qs[d], bf2f(kr[d]), s0);
        }
        float s = s0 + s1;
        if (brow) {
            int bi = j + bref;
            bi = bi < 0 ? 0 : (bi >= bias_W ? bias_W - 1 : bi);
            s += brow[bi];
        }
        sc[j] = s;
    }
    __syncthreads();
    float mx = -T0_INF;
    for (int j = tid; j < kend; j += blockDim.x) mx = fmaxf(mx, sc[j]);
    mx = block_max(mx, red);
    float sum = 0.0f;
    for (int j = tid; j < kend; j += blockDim.x) {
        const float p = __expf(sc[j] - mx);
        sc[j] = p;
        sum += p;
    }
    sum = block_sum(sum, red);  // contains __syncthreads: sc[] complete afterwards
    const int G = pairs ? blockDim.x / d2n : blockDim.x / dh;
    if (pairs) {
        const int d2 = tid % d2n, grp = tid / d2n;
        if (grp < G) {
            float a0 = 0.0f, a1 = 0.0f;
            for (int j = grp; j < kend; j += G) {
                const u32 w = ((const u32*)(Vb + (long long)j * kv_rs))[d2];
                const float p = sc[j];
                a0 = fmaf(p, lo_f(w), a0);
                a1 = fmaf(p, hi_f(w), a1);
            }
            part[grp * dh + 2 * d2] = a0;
            part[grp * dh + 2 * d2 + 1] = a1;
        }
    } else {
        const int d = tid % dh, grp = tid / dh;
        if (grp < G) {
            float a0 = 0.0f;
            for (int j = grp; j < kend; j += G) a0 = fmaf(sc[j], bf2f(Vb[(long long)j * kv_rs + d]), a0);
            part[grp * dh + d] = a0;
        }
    }
    __syncthreads();
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    u16* o = O + b * o_bs + (long long)i * o_rs + h * dh;
    for (int d = tid; d < dh; d += blockDim.x) {
        float v = 0.0f;
        for (int g2 = 0; g2 < G; ++g2) v += part[g2 * dh + d];
        o[d] = f2bf(kend > 0 ? v * inv : 0.0f);
    }
}

// Row-wise attention for head size 64 (decode: one query row per block, grid and arguments
// as attn_rows), latency-bound so built for few dependent memory round trips: 4 warps; a warp
// reads each of its keys' rows coalesced (lane l holds dimensions 2l, 2l+1; eight keys in
// flight) and reduces the dot product with shuffles; every warp computes the softmax
// normaliser over the block's scores itself (no block-wide reductions); the weighted sum
// splits the keys over the warps, then one sum over the warps. With `new_k`/`new_v` the
// current token's key/value are read from there for key *pos and also written to the cache.
// Needs dh == 64, even strides and 4-byte aligned Q, K, V, O, new_k, new_v.
#define AD_U 8
extern "C" __global__ void __launch_bounds__(128) attn_dec_d64(
    const u16* __restrict__ Q, long long q_bs, long long q_rs, u16* Kp, u16* Vp, long long kv_bs,
    long long kv_rs, u16* __restrict__ O, long long o_bs, long long o_rs, int Lq, int Lk,
    const int* __restrict__ pos, int q_offset, int causal, const int* __restrict__ key_len,
    const float* __restrict__ bias, int bias_R, int bias_W, int bias_qpos, int kv_div, int dh,
    const u16* __restrict__ new_k, const u16* __restrict__ new_v, long long new_bs) {
    pdl_prologue();
    (void)dh;
    extern __shared__ float sh[];
    float* part = sh;       // 4 x 64
    float* sc = sh + 256;   // kend scores
    const int h = blockIdx.x, b = blockIdx.y / Lq, i = blockIdx.y % Lq;
    const int kvb = b / kv_div;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int qoff = q_offset, lk = Lk;
    if (pos) {
        qoff = *pos;
        lk = min(Lk, qoff + 1);
    }
    int klen = lk;
    if (key_len) klen = min(klen, key_len[kvb]);
    const int qp = qoff + i;
    const int kend = causal ? min(klen, qp + 1) : klen;
    const u16* Kb = Kp + kvb * kv_bs + h * 64;
    const u16* Vb = Vp + kvb * kv_bs + h * 64;
    const bool app = new_k != 0 && pos != 0;
    const int jn = app ? qoff : -1;  // the key read from new_k / new_v
    u32 nkw = 0u, nvw = 0u;
    if (app) {
        nkw = ((const u32*)(new_k + b * new_bs + h * 64))[lane];
        nvw = ((const u32*)(new_v + b * new_bs + h * 64))[lane];
        if (warp == 0 && qoff < Lk) {
            ((u32*)(Kp + kvb * kv_bs + (long long)qoff * kv_rs + h * 64))[lane] = nkw;
            ((u32*)(Vp + kvb * kv_bs + (long long)qoff * kv_rs + h * 64))[lane] = nvw;
        }
    }
    const u32 qw = ((const u32*)(Q + b * q_bs + (long long)i * q_rs + h * 64))[lane];
    const float q0 = lo_f(qw), q1 = hi_f(qw);
    const float* brow = bias ? bias + (long long)h * bias_W : 0;
    const int bref = bias_R - (bias_qpos ? qp : i);
    for (int j0 = warp; j0 < kend; j0 += 4 * AD_U) {
        u32 kw[AD_U];
#pragma unroll
        for (int u = 0; u < AD_U; ++u) {
            const int j = j0 + 4 * u;
            kw[u] = 0u;
            if (j < kend) kw[u] = (j == jn) ? nkw : ((const u32*)(Kb + (long long)j * kv_rs))[lane];
        }
#pragma unroll
        for (int u = 0; u < AD_U; ++u) {
            const int j = j0 + 4 * u;
            float s = warp_sum(fmaf(q0, lo_f(kw[u]), q1 * hi_f(kw[u])));
            if (j < kend && lane == 0) {
                if (brow) {
                    int bi = j + bref;
                    bi = bi < 0 ? 0 : (bi >= bias_W ? bias_W - 1 : bi);
                    s += brow[bi];
                }
                sc[j] = s;
            }
        }
    }
    __syncthreads();
    float mx = -T0_INF;
    for (int j = lane; j < kend; j += 32) mx = fmaxf(mx, sc[j]);
    mx = warp_max(mx);
    float sum = 0.0f;
    for (int j = lane; j < kend; j += 32) sum += __expf(sc[j] - mx);
    sum = warp_sum(sum);
    float a0 = 0.0f, a1 = 0.0f;
    for (int j0 = warp; j0 < kend; j0 += 4 * AD_U) {
        u32 vw[AD_U];
#pragma unroll
        for (int u = 0; u < AD_U; ++u) {
            const int j = j0 + 4 * u;
            vw[u] = 0u;
            if (j < kend) vw[u] = (j == jn) ? nvw : ((const u32*)(Vb + (long long)j * kv_rs))[lane];
        }
#pragma unroll
        for (int u = 0; u < AD_U; ++u) {
            const int j = j0 + 4 * u;
            if (j < kend) {
                const float p = __expf(sc[j] - mx);
                a0 = fmaf(p, lo_f(vw[u]), a0);
                a1 = fmaf(p, hi_f(vw[u]), a1);
            }
        }
    }
    part[warp * 64 + 2 * lane] = a0;
    part[warp * 64 + 2 * lane + 1] = a1;
    __syncthreads();
    if (warp == 0) {
        const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
        float o0 = 0.0f, o1 = 0.0f;
#pragma unroll
        for (int w = 0; w < 4; ++w) {
            o0 += part[w * 64 + 2 * lane];
            o1 += part[w * 64 + 2 * lane + 1];
        }
        ((u32*)(O + b * o_bs + (long long)i * o_rs + h * 64))[lane] = pack2(o0 * inv, o1 * inv);
    }
}
