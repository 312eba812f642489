// Matrix products: out[M, N] (epilogue `mode`) = A[M, K] (bf16, row-major, lda) x W[N, K]^T
// (bf16, row-major PyTorch Linear layout, ldw). Tensor cores: mma.sync m16n8k16 bf16 -> f32.

// Shared rows are padded by 8 bf16 (BK 32: 80 bytes, BK 64: 144 bytes): conflict-free ldmatrix.
template <int BM, int BN, int WM, int WN, int STAGES, int GEMM_BK>
__device__ __forceinline__ void gemm_tile(const u16* __restrict__ A, long long lda,
                                          const u16* __restrict__ W, long long ldw, void* out,
                                          long long ldc, int M, int N, int K, int mode,
                                          int ksplit) {
    constexpr int NT = WM * WN * 32;
    constexpr int TM = BM / WM, TN = BN / WN;
    constexpr int MT = TM / 16, NTL = TN / 8;
    constexpr int GEMM_SK = GEMM_BK + 8, CPR = GEMM_BK / 8;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    u16* sA = (u16*)smem_raw;
    u16* sB = sA + STAGES * BM * GEMM_SK;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = warp / WN, wn = warp % WN;
    const int bm0 = blockIdx.y * BM, bn0 = blockIdx.x * BN;
    const int kbeg = blockIdx.z * ksplit;
    const int kend = min(K, kbeg + ksplit);
    const int nk = (kend > kbeg) ? (kend - kbeg + GEMM_BK - 1) / GEMM_BK : 0;

    float acc[MT][NTL][4];
#pragma unroll
    for (int i = 0; i < MT; ++i)
#pragma unroll
        for (int j = 0; j < NTL; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;

    auto load_stage = [&](int stage, int kt) {
        const int k0 = kbeg + kt * GEMM_BK;
#pragma unroll
        for (int c = tid; c < BM * CPR; c += NT) {
            const int r = c / CPR, kc = (c % CPR) * 8;
            const int gm = bm0 + r, gk = k0 + kc;
            const u16* src = A;
            int bytes = 0;
            if (gm < M && gk < kend) {
                src = A + (long long)gm * lda + gk;
                bytes = 16;
            }
            cp_async16(sA + (stage * BM + r) * GEMM_SK + kc, src, bytes);
        }
#pragma unroll
        for (int c = tid; c < BN * CPR; c += NT) {
            const int r = c / CPR, kc = (c % CPR) * 8;
            const int gn = bn0 + r, gk = k0 + kc;
            const u16* src = W;
            int bytes = 0;
            if (gn < N && gk < kend) {
                src = W + (long long)gn * ldw + gk;
                bytes = 16;
            }
            cp_async16(sB + (stage * BN + r) * GEMM_SK + kc, src, bytes);
        }
    };

#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
        if (s < nk) load_stage(s, s);
        cp_async_commit();
    }
    for (int kt = 0; kt < nk; ++kt) {
        cp_async_wait<STAGES - 2>();
        __syncthreads();
        const int pf = kt + STAGES - 1;
        if (pf < nk) load_stage(pf % STAGES, pf);
        cp_async_commit();
        const int st = kt % STAGES;
        const u16* tA = sA + st * BM * GEMM_SK;
        const u16* tB = sB + st * BN * GEMM_SK;
#pragma unroll
        for (int kk = 0; kk < GEMM_BK; kk += 16) {
            u32 af[MT][4], bfr[NTL][2];
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
                const int row = wm * TM + mt * 16 + (lane & 15);
                const int col = kk + ((lane >> 4) << 3);
                ldsm_x4(af[mt], tA + row * GEMM_SK + col);
            }
#pragma unroll
            for (int nt = 0; nt < NTL; nt += 2) {
                const int i = lane >> 3, r = lane & 7;
                const int n = wn * TN + nt * 8 + r + ((i >> 1) << 3);
                const int k = kk + ((i & 1) << 3);
                u32 t4[4];
                ldsm_x4(t4, tB + n * GEMM_SK + k);
                bfr[nt][0] = t4[0];
                bfr[nt][1] = t4[1];
                bfr[nt + 1][0] = t4[2];
                bfr[nt + 1][1] = t4[3];
            }
#pragma unroll
            for (int mt = 0; mt < MT; ++mt)
#pragma unroll
                for (int nt = 0; nt < NTL; ++nt) mma_bf16_16816(acc[mt][nt], af[mt], bfr[nt]);
        }
    }
    cp_async_wait<0>();

    const bool atomic = gridDim.z > 1;
    const int g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
        for (int nt = 0; nt < NTL; ++nt) {
            const int n = bn0 + wn * TN + nt * 8 + t * 2;
            const int m0 = bm0 + wm * TM + mt * 16 + g;
            if (n < N) {
                if (m0 < M) epi_pair(mode, out, ldc, m0, n, acc[mt][nt][0], acc[mt][nt][1], N, atomic);
                if (m0 + 8 < M)
                    epi_pair(mode, out, ldc, m0 + 8, n, acc[mt][nt][2], acc[mt][nt][3], N, atomic);
            }
        }
    }
}

// 128x128 tiles, 8 warps (2 x 4), 3 stages: 61440 bytes of dynamic shared memory.
extern "C" __global__ void __launch_bounds__(256) gemm_bf16_l(const u16* A, long long lda,
                                                             const u16* W, long long ldw,
                                                             void* out, long long ldc, int M,
                                                             int N, int K, int mode, int ksplit) {
    pdl_prologue();
    gemm_tile<128, 128, 2, 4, 3, 32>(A, lda, W, ldw, out, ldc, M, N, K, mode, ksplit);
}
// 32x32 tiles, k-steps of 64, 4 warps (2 x 2), 4 stages: 36864 bytes. For few rows (batched
// decode): narrow tiles give many blocks, deep k-steps keep weight bytes in flight.
extern "C" __global__ void __launch_bounds__(128) gemm_bf16_s(const u16* A, long long lda,
                                                             const u16* W, long long ldw,
                                                             void* out, long long ldc, int M,
                                                             int N, int K, int mode, int ksplit) {
    pdl_prologue();
    gemm_tile<32, 32, 2, 2, 4, 64>(A, lda, W, ldw, out, ldc, M, N, K, mode, ksplit);
}

// Any shape and alignment; one thread per output pair. For odd shapes and cross-checks.
extern "C" __global__ void gemm_bf16_simple(const u16* A, long long lda, const u16* W,
                                            long long ldw, void* out, long long ldc, int M,
                                            int N, int K, int mode) {
    pdl_prologue();
    const int m = blockIdx.y;
    const int n = (blockIdx.x * blockDim.x + threadIdx.x) * 2;
    if (m >= M || n >= N) return;
    const u16* a = A + (long long)m * lda;
    const u16* w0 = W + (long long)n * ldw;
    const u16* w1 = W + (long long)((n + 1 < N) ? n + 1 : n) * ldw;
    float s0 = 0.0f, s1 = 0.0f;
    for (int k = 0; k < K; ++k) {
        const float x = bf2f(a[k]);
        s0 = fmaf(x, bf2f(w0[k]), s0);
        s1 = fmaf(x, bf2f(w1[k]), s1);
    }
    epi_pair(mode, out, ldc, m, n, s0, s1, N, false);
}

// Batch-1 product y = W x for decode: each block (256 threads) computes 4 adjacent rows, all
// threads splitting K in 16-byte chunks (eight loads in flight per thread where K allows),
// then a block reduction. K % 8 == 0, W rows and x 16-byte aligned. The weights are never
// written while a forward runs, so each thread's first two chunks of W are loaded before the
// PDL wait: under programmatic dependent launch they stream while the previous kernel ends.
#define GEMV_PROLOGUE GEMV_PROLOGUE_AT(blockIdx.x * 4)
#define GEMV_PROLOGUE_AT(N0)                                                            \
    const int n0 = (N0);                                                                \
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;                      \
    const uint4* w[4];                                                                  \
    _Pragma("unroll") for (int r = 0; r < 4; ++r) w[r] =                                \
        (const uint4*)(W + (long long)min(n0 + r, N - 1) * ldw);                        \
    const int nc = K >> 3;                                                              \
    const bool has0 = tid < nc, has1 = tid + 256 < nc;                                  \
    const bool pre = (t0_pdl_flags & 2) != 0;                                           \
    if (!pre) pdl_wait();                                                               \
    uint4 p0[4], p1[4];                                                                 \
    _Pragma("unroll") for (int r = 0; r < 4; ++r) {                                     \
        p0[r] = make_uint4(0u, 0u, 0u, 0u);                                             \
        p1[r] = p0[r];                                                                  \
    }                                                                                   \
    if (has0) {                                                                         \
        _Pragma("unroll") for (int r = 0; r < 4; ++r) p0[r] = ld_stream(w[r] + tid);    \
    }                                                                                   \
    if (has1) {                                                                         \
        _Pragma("unroll") for (int r = 0; r < 4; ++r) p1[r] = ld_stream(w[r] + tid + 256); \
    }                                                                                   \
    pdl_prologue();

// Decode streams one weight matrix per kernel; between kernels the memory system idles. The
// last 64 blocks of a GEMV grid (they start last, in the grid's tail) prefetch the first
// `bytes` of the NEXT kernel's weights into L2 (evict-last), so that kernel's first wave
// reads from L2. A hint only: `pf` null or `bytes` <= 0 does nothing.
__device__ __forceinline__ void gemv_prefetch_next(const char* pf, long long bytes) {
    if (pf == 0 || bytes <= 0) return;
    const int nb = min(64, (int)gridDim.x);
    const int b = (int)blockIdx.x - ((int)gridDim.x - nb);
    if (b < 0) return;
    const long long lines = (bytes + 127) >> 7;
    for (long long l = (long long)b * blockDim.x + threadIdx.x; l < lines;
         l += (long long)nb * blockDim.x)
        asm volatile("prefetch.global.L2::evict_last [%0];\n" ::"l"(pf + (l << 7)));
}

// Sums the 4 row accumulators over the block and writes them through the epilogue.
__device__ __forceinline__ void gemv_finish(float* acc, float (*red)[4], void* out, int mode,
                                            int n0, int N) {
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
#pragma unroll
    for (int r = 0; r < 4; ++r) {
        const float v = warp_sum(acc[r]);
        if (lane == 0) red[warp][r] = v;
    }
    __syncthreads();
    if (tid < 2) {
        const int r = tid * 2;
        float v0 = 0.0f, v1 = 0.0f;
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            v0 += red[i][r];
            v1 += red[i][r + 1];
        }
        if (n0 + r < N) epi_pair(mode, out, 0, 0, n0 + r, v0, v1, N, false);
    }
}

extern "C" __global__ void __launch_bounds__(256, 4) gemv_bf16(const u16* __restrict__ x,
                                                           const u16* __restrict__ W,
                                                           long long ldw, void* out, int N,
                                                           int K, int mode, const char* pf,
                                                           long long pf_bytes) {
    __shared__ float red[8][4];
    GEMV_PROLOGUE
    (void)lane;
    (void)warp;
    gemv_prefetch_next(pf, pf_bytes);
    const uint4* xv = (const uint4*)x;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (has0) {
        const uint4 x0 = xv[tid];
#pragma unroll
        for (int r = 0; r < 4; ++r) acc[r] += dot8(p0[r], x0);
    }
    if (has1) {
        const uint4 x1 = xv[tid + 256];
#pragma unroll
        for (int r = 0; r < 4; ++r) acc[r] += dot8(p1[r], x1);
    }
    int c = tid + 512;
    for (; c + 256 < nc; c += 512) {
        const uint4 x0 = xv[c], x1 = xv[c + 256];
        uint4 p[4][2];
#pragma unroll
        for (int r = 0; r < 4; ++r) {
            p[r][0] = ld_stream(w[r] + c);
            p[r][1] = ld_stream(w[r] + c + 256);
        }
#pragma unroll
        for (int r = 0; r < 4; ++r) acc[r] += dot8(p[r][0], x0) + dot8(p[r][1], x1);
    }
    for (; c < nc; c += 256) {
        const uint4 x0 = xv[c];
        uint4 p[4];
#pragma unroll
        for (int r = 0; r < 4; ++r) p[r] = ld_stream(w[r] + c);
#pragma unroll
        for (int r = 0; r < 4; ++r) acc[r] += dot8(p[r], x0);
    }
    gemv_finish(acc, red, out, mode, n0, N);
}

// Eight elements of T5's RMS norm, w * (x * inv) rounded to bf16 as `rmsnorm` does, packed
// as the bf16 chunk `dot8` takes.
__device__ __forceinline__ uint4 norm8(float4 xa, float4 xb, float4 ga, float4 gb, float inv) {
    uint4 h;
    h.x = pack2(ga.x * (xa.x * inv), ga.y * (xa.y * inv));
    h.y = pack2(ga.z * (xa.z * inv), ga.w * (xa.w * inv));
    h.z = pack2(gb.x * (xb.x * inv), gb.y * (xb.y * inv));
    h.w = pack2(gb.z * (xb.z * inv), gb.w * (xb.w * inv));
    return h;
}
__device__ __forceinline__ float sq4(float4 v) {
    return fmaf(v.x, v.x, fmaf(v.y, v.y, fmaf(v.z, v.z, v.w * v.w)));
}

// y = W rmsnorm(x) for one f32 row x of K <= 4096 elements (K % 8 == 0; x, g 16-byte aligned):
// the T5 RMS norm (weight g, f32) folded into the batch-1 GEMV, so decode needs no separate
// norm kernel. Every block reads x once (one or two chunks per thread), sums its squares over
// the block, normalises its chunks to bf16 exactly as `rmsnorm` does, then multiplies.
extern "C" __global__ void __launch_bounds__(256, 4) gemv_rms_bf16(const float* __restrict__ x,
                                                               const float* __restrict__ g,
                                                               const u16* __restrict__ W,
                                                               long long ldw, void* out, int N,
                                                               int K, int mode, float eps,
                                                               const char* pf, long long pf_bytes) {
    __shared__ float red[8][4];
    __shared__ float ssr[32];
    GEMV_PROLOGUE
    (void)lane;
    (void)warp;
    gemv_prefetch_next(pf, pf_bytes);
    const float4* xv = (const float4*)x;
    const float4* gv = (const float4*)g;
    const float4 z4 = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    const float4 xa0 = has0 ? xv[2 * tid] : z4, xb0 = has0 ? xv[2 * tid + 1] : z4;
    const float4 xa1 = has1 ? xv[2 * tid + 512] : z4, xb1 = has1 ? xv[2 * tid + 513] : z4;
    const float ss = block_sum(sq4(xa0) + sq4(xb0) + sq4(xa1) + sq4(xb1), ssr);
    const float inv = rsqrtf(ss / (float)K + eps);
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (has0) {
        const uint4 h = norm8(xa0, xb0, gv[2 * tid], gv[2 * tid + 1], inv);
#pragma unroll
        for (int r = 0; r < 4; ++r) acc[r] += dot8(p0[r], h);
    }
    if (has1) {
        const uint4 h = norm8(xa1, xb1, gv[2 * tid + 512], gv[2 * tid + 513], inv);
#pragma unroll
        for (int r = 0; r < 4; ++r) acc[r] += dot8(p1[r], h);
    }
    gemv_finish(acc, red, out, mode, n0, N);
}

// One head's decode attention, run by the block (256 threads) that completed the head's
// q (and k, v) rows in `out` (read through L2): self-attention (parts == 3) appends the new
// key and value to the cache at row *pos and attends over keys 0..=*pos with the position
// bias; cross-attention (parts == 1) attends over keys < key_len[0]. Latency-bound (a few
// KiB per head), so every load of a pass is issued at once: 8 threads per key (16 bytes
// each), 32 keys per round, 4 rounds in flight (128 keys) per pass — one memory round trip
// for the scores and one for the values up to 128 keys. Writes the head's `att` row and
// resets counters[h]. K/V rows, `out` and `att` 16-byte aligned (kv_rs % 8 == 0). `dsh`
// holds (2048 + Lk) floats.
__device__ __forceinline__ void dec_head_attention(
    const u16* out, int h, int inner, int parts, u16* Kc, u16* Vc, long long kv_rs, int Lk,
    const int* __restrict__ pos, const int* __restrict__ key_len, const float* __restrict__ bias,
    int bias_R, int bias_W, u16* __restrict__ att, int* counters, float* dsh) {
    const int tid = threadIdx.x, lane = tid & 31;
    const int c = tid & 7, kg = tid >> 3;  // the thread's 16-byte chunk of a row, key group
    float* part = dsh;                     // 32 key groups x 64
    float* sc = dsh + 2048;                // scores
    const bool self = parts == 3;
    int kend, jn = -1, bref = 0;
    if (self) {
        const int qoff = *pos;
        kend = min(Lk, qoff + 1);
        jn = qoff;
        bref = bias_R - qoff;
    } else {
        kend = key_len ? min(Lk, key_len[0]) : Lk;
    }
    const uint4 z = make_uint4(0u, 0u, 0u, 0u);
    const uint4 qc = __ldcg((const uint4*)(out + h * 64) + c);
    uint4 nk = z, nv = z;
    if (self) {
        nk = __ldcg((const uint4*)(out + inner + h * 64) + c);
        nv = __ldcg((const uint4*)(out + 2 * inner + h * 64) + c);
        if (tid < 8 && jn < Lk) {
            ((uint4*)(Kc + (long long)jn * kv_rs + h * 64))[c] = nk;
            ((uint4*)(Vc + (long long)jn * kv_rs + h * 64))[c] = nv;
        }
    }
    const u16* Kb = Kc + h * 64;
    const u16* Vb = Vc + h * 64;
    const float* brow = bias ? bias + (long long)h * bias_W : 0;
    for (int j0 = 0; j0 < kend; j0 += 128) {
        uint4 kw[4];
#pragma unroll
        for (int u = 0; u < 4; ++u) {
            const int j = j0 + kg + 32 * u;
            kw[u] = z;
            if (j < kend) kw[u] = (j == jn) ? nk : __ldcg((const uint4*)(Kb + (long long)j * kv_rs) + c);
        }
#pragma unroll
        for (int u = 0; u < 4; ++u) {
            const int j = j0 + kg + 32 * u;
            float s = dot8(kw[u], qc);
            s += __shfl_xor_sync(0xffffffffu, s, 1);
            s += __shfl_xor_sync(0xffffffffu, s, 2);
            s += __shfl_xor_sync(0xffffffffu, s, 4);
            if (j < kend && c == 0) {
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
    // Every warp takes the max and the sum itself (no further barrier).
    float mx = -T0_INF;
    for (int j = lane; j < kend; j += 32) mx = fmaxf(mx, sc[j]);
    mx = warp_max(mx);
    float sum = 0.0f;
    for (int j = lane; j < kend; j += 32) sum += __expf(sc[j] - mx);
    sum = warp_sum(sum);
    float o[8];
#pragma unroll
    for (int e = 0; e < 8; ++e) o[e] = 0.0f;
    for (int j0 = 0; j0 < kend; j0 += 128) {
        uint4 vw[4];
#pragma unroll
        for (int u = 0; u < 4; ++u) {
            const int j = j0 + kg + 32 * u;
            vw[u] = z;
            if (j < kend) vw[u] = (j == jn) ? nv : __ldcg((const uint4*)(Vb + (long long)j * kv_rs) + c);
        }
#pragma unroll
        for (int u = 0; u < 4; ++u) {
            const int j = j0 + kg + 32 * u;
            if (j < kend) {
                const float p = __expf(sc[j] - mx);
                o[0] = fmaf(p, lo_f(vw[u].x), o[0]);
                o[1] = fmaf(p, hi_f(vw[u].x), o[1]);
                o[2] = fmaf(p, lo_f(vw[u].y), o[2]);
                o[3] = fmaf(p, hi_f(vw[u].y), o[3]);
                o[4] = fmaf(p, lo_f(vw[u].z), o[4]);
                o[5] = fmaf(p, hi_f(vw[u].z), o[5]);
                o[6] = fmaf(p, lo_f(vw[u].w), o[6]);
                o[7] = fmaf(p, hi_f(vw[u].w), o[7]);
            }
        }
    }
    float4* pp = (float4*)(part + kg * 64 + c * 8);
    pp[0] = make_float4(o[0], o[1], o[2], o[3]);
    pp[1] = make_float4(o[4], o[5], o[6], o[7]);
    __syncthreads();
    if (tid < 32) {
        float o0 = 0.0f, o1 = 0.0f;
#pragma unroll 8
        for (int g = 0; g < 32; ++g) {
            o0 += part[g * 64 + 2 * tid];
            o1 += part[g * 64 + 2 * tid + 1];
        }
        const float rs = sum > 0.0f ? 1.0f / sum : 0.0f;
        ((u32*)(att + h * 64))[tid] = pack2(o0 * rs, o1 * rs);
        if (tid == 0) counters[h] = 0;
    }
}

// Hint: the first block of each head's q rows in `gemv_rms_attn` asks L2 for the head's
// cached K and V rows (keys below *pos for self-attention, below key_len[0] for cross),
// so the attention that runs when the head's rows are done reads them from L2.
__device__ __forceinline__ void dec_head_prefetch(int n0, int inner, int parts, const u16* Kc,
                                                  const u16* Vc, long long kv_rs, int Lk,
                                                  const int* __restrict__ pos,
                                                  const int* __restrict__ key_len) {
    if (n0 >= inner || (n0 & 63) != 0) return;
    const int h = n0 >> 6;
    const int kend = parts == 3 ? min(Lk, *pos) : (key_len ? min(Lk, key_len[0]) : Lk);
    for (int i = threadIdx.x; i < 2 * kend; i += blockDim.x) {
        const u16* row = ((i & 1) ? Vc : Kc) + (long long)(i >> 1) * kv_rs + h * 64;
        asm volatile("prefetch.global.L2 [%0];\n" ::"l"(row));
    }
}

// Batch-1 decode: `gemv_rms_bf16` (bf16 out) producing the attention inputs of every head, and
// the attention of each head computed by the block that completes it — one kernel instead of
// two. parts == 3: out holds q | k | v (each `inner` rows; self-attention: the new key and
// value are appended to the cache K/V at row *pos, keys 0..=*pos, causal, bias row indexed by
// the query position); parts == 1: out holds q (cross-attention over the encoder's K/V rows,
// keys < key_len[0], no bias). A head's rows come from 16 blocks per part (4 rows each, head
// size 64; for self-attention the blocks are ordered head by head); each block counts itself
// in counters[head] after its stores (fenced), and the one that brings the count to
// 16 * parts runs the head's attention (reading the other blocks' rows through L2) and resets
// the counter (`dec_head_attention`); the first block of each head's q rows prefetches the
// head's K/V rows into L2 first. The output `att` row is [heads * 64] bf16. Dynamic shared
// memory: (2048 + Lk) floats.
extern "C" __global__ void __launch_bounds__(256, 4) gemv_rms_attn(
    const float* __restrict__ x, const float* __restrict__ g, const u16* __restrict__ W,
    long long ldw, u16* out, int N, int K, float eps, int* counters, int inner, int parts,
    u16* Kc, u16* Vc, long long kv_rs, int Lk, const int* __restrict__ pos,
    const int* __restrict__ key_len, const float* __restrict__ bias, int bias_R, int bias_W,
    u16* __restrict__ att, const char* pf, long long pf_bytes) {
    __shared__ float red[8][4];
    __shared__ float ssr[32];
    __shared__ int last;
    extern __shared__ float dsh[];
    // Self-attention: blocks walk the heads in order (per head its 16 q, 16 k and 16 v blocks
    // back to back), so each head's attention runs while later heads' rows are still being
    // computed instead of all at the end of the grid.
    GEMV_PROLOGUE_AT(parts == 3 ? ((blockIdx.x % 48) / 16) * inner + (blockIdx.x / 48) * 64 +
                                      (blockIdx.x % 16) * 4
                                : blockIdx.x * 4)
    gemv_prefetch_next(pf, pf_bytes);
    dec_head_prefetch(n0, inner, parts, Kc, Vc, kv_rs, Lk, pos, key_len);
    const float4* xv = (const float4*)x;
    const float4* gv = (const float4*)g;
    const float4 z4 = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    const float4 xa0 = has0 ? xv[2 * tid] : z4, xb0 = has0 ? xv[2 * tid + 1] : z4;
    const float4 xa1 = has1 ? xv[2 * tid + 512] : z4, xb1 = has1 ? xv[2 * tid + 513] : z4;
    const float ss = block_sum(sq4(xa0) + sq4(xb0) + sq4(xa1) + sq4(xb1), ssr);
    const float inv = rsqrtf(ss / (float)K + eps);
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (has0) {
        const uint4 hh = norm8(xa0, xb0, gv[2 * tid], gv[2 * tid + 1], inv);
#pragma unroll
        for (int r = 0; r < 4; ++r) acc[r] += dot8(p0[r], hh);
    }
    if (has1) {
        const uint4 hh = norm8(xa1, xb1, gv[2 * tid + 512], gv[2 * tid + 513], inv);
#pragma unroll
        for (int r = 0; r < 4; ++r) acc[r] += dot8(p1[r], hh);
    }
    gemv_finish(acc, red, out, EPI_BF16, n0, N);

    // The block's rows are stored: count them for their head.
    const int h = (n0 % inner) >> 6;
    __threadfence();
    __syncthreads();
    if (tid == 0) last = atomicAdd(counters + h, 1) == 16 * parts - 1;
    __syncthreads();
    if (!last) return;
    __threadfence();

    dec_head_attention(out, h, inner, parts, Kc, Vc, kv_rs, Lk, pos, key_len, bias, bias_R, bias_W,
                       att, counters, dsh);
}
