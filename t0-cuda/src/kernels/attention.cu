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
