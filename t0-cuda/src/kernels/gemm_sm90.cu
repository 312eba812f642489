// Hopper (sm_90a) GEMM: wgmma.mma_async m64n256k16 (bf16 -> f32) with both operands in
// shared memory (K-major, 128-byte swizzle), fed by cp.async in a 4-stage ring. Block tile
// 128 x 256 x 64, two warpgroups (64 rows each). Same contract and epilogues as gemm.cu.
// Compiled only for compute_90a.

#define W_BM 128
#define W_BN 256
#define W_BK 64
#define W_STAGES 4
#define W_STAGE_BYTES ((W_BM + W_BN) * 128)

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_wait0() { asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory"); }
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

// Shared-memory matrix descriptor: K-major, 128B swizzle, 8-row groups 1024 bytes apart.
__device__ __forceinline__ u64 smem_desc(u32 saddr) {
    u64 d = 0;
    d |= (u64)((saddr & 0x3FFFF) >> 4);
    d |= (u64)1 << 16;             // leading byte offset (unused for swizzled K-major): 16 B
    d |= (u64)(1024 >> 4) << 32;   // stride byte offset: 1024 B between 8-row groups
    d |= (u64)1 << 62;             // 128-byte swizzle
    return d;
}

__device__ __forceinline__ void wgmma_m64n256k16(float* d, u64 da, u64 db, int scale_d) {
    asm volatile(
        "{\n"
        ".reg .pred p;\n"
        "setp.ne.b32 p, %130, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 "
        "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63,%64,%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79,%80,%81,%82,%83,%84,%85,%86,%87,%88,%89,%90,%91,%92,%93,%94,%95,%96,%97,%98,%99,%100,%101,%102,%103,%104,%105,%106,%107,%108,%109,%110,%111,%112,%113,%114,%115,%116,%117,%118,%119,%120,%121,%122,%123,%124,%125,%126,%127}, %128, %129, p, 1, 1, 0, 0;\n"
        "}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
        : "l"(da), "l"(db), "r"(scale_d));
}

__device__ __forceinline__ void wgmma_wait1() { asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory"); }

// PIPE = false: each k-step waits for its wgmma group before the next (prefetch distance 3).
// PIPE = true: one wgmma group stays in flight while the next k-step is issued (prefetch
// distance 2, so a stage is refilled only after the group that read it has completed).
template <bool PIPE>
__device__ __forceinline__ void wgmma_gemm(
    const u16* __restrict__ A, long long lda, const u16* __restrict__ W, long long ldw, void* out,
    long long ldc, int M, int N, int K, int mode, int ksplit) {
    extern __shared__ __align__(16) unsigned char wsm_raw[];
    const u32 raw = (u32)__cvta_generic_to_shared(wsm_raw);
    const u32 base = (raw + 1023u) & ~1023u;  // swizzled tiles need 1024-byte alignment
    unsigned char* gbase = wsm_raw + (base - raw);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wg = warp >> 2;
    const int bm0 = blockIdx.y * W_BM, bn0 = blockIdx.x * W_BN;
    const int kbeg = blockIdx.z * ksplit;
    const int kend = min(K, kbeg + ksplit);
    const int nk = (kend > kbeg) ? (kend - kbeg + W_BK - 1) / W_BK : 0;

    float d[128];
#pragma unroll
    for (int i = 0; i < 128; ++i) d[i] = 0.0f;

    auto load_stage = [&](int stage, int kt) {
        const int k0 = kbeg + kt * W_BK;
        unsigned char* st = gbase + stage * W_STAGE_BYTES;
#pragma unroll
        for (int c = tid; c < (W_BM + W_BN) * 8; c += 256) {
            const int r = c >> 3, ch = c & 7;
            const int gk = k0 + ch * 8;
            const u16* src;
            bool ok;
            if (r < W_BM) {
                const int gm = bm0 + r;
                ok = gm < M && gk < kend;
                src = ok ? A + (long long)gm * lda + gk : A;
            } else {
                const int gn = bn0 + (r - W_BM);
                ok = gn < N && gk < kend;
                src = ok ? W + (long long)gn * ldw + gk : W;
            }
            cp_async16(st + r * 128 + ((ch ^ (r & 7)) << 4), src, ok ? 16 : 0);
        }
    };

    constexpr int AHEAD = PIPE ? W_STAGES - 2 : W_STAGES - 1;
#pragma unroll
    for (int s = 0; s < AHEAD; ++s) {
        if (s < nk) load_stage(s, s);
        cp_async_commit();
    }
    for (int kt = 0; kt < nk; ++kt) {
        cp_async_wait<AHEAD - 1>();
        fence_proxy_async();
        __syncthreads();
        const int pf = kt + AHEAD;
        if (pf < nk) load_stage(pf % W_STAGES, pf);
        cp_async_commit();
        const u32 st = base + (kt % W_STAGES) * W_STAGE_BYTES;
        const u32 a0 = st + wg * 64 * 128;
        const u32 b0 = st + W_BM * 128;
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < 4; ++kk) {
            wgmma_m64n256k16(d, smem_desc(a0 + kk * 32), smem_desc(b0 + kk * 32), (kt > 0 || kk > 0) ? 1 : 0);
        }
        wgmma_commit();
        if (PIPE) wgmma_wait1();
        else wgmma_wait0();
    }
    wgmma_wait0();
    cp_async_wait<0>();

    const bool atomic = gridDim.z > 1;
    const int g = lane >> 2, t = lane & 3;
    const int wr = bm0 + wg * 64 + (warp & 3) * 16 + g;
#pragma unroll
    for (int j = 0; j < 32; ++j) {
        const int n = bn0 + j * 8 + t * 2;
        if (n < N) {
            if (wr < M) epi_pair(mode, out, ldc, wr, n, d[4 * j], d[4 * j + 1], N, atomic);
            if (wr + 8 < M) epi_pair(mode, out, ldc, wr + 8, n, d[4 * j + 2], d[4 * j + 3], N, atomic);
        }
    }
}

extern "C" __global__ void __launch_bounds__(256, 1) gemm_bf16_wgmma(
    const u16* __restrict__ A, long long lda, const u16* __restrict__ W, long long ldw, void* out,
    long long ldc, int M, int N, int K, int mode, int ksplit) {
    pdl_prologue();
    wgmma_gemm<false>(A, lda, W, ldw, out, ldc, M, N, K, mode, ksplit);
}

extern "C" __global__ void __launch_bounds__(256, 1) gemm_bf16_wgmma_pipe(
    const u16* __restrict__ A, long long lda, const u16* __restrict__ W, long long ldw, void* out,
    long long ldc, int M, int N, int K, int mode, int ksplit) {
    pdl_prologue();
    wgmma_gemm<true>(A, lda, W, ldw, out, ldc, M, N, K, mode, ksplit);
}

// ---------------------------------------------------------------------------------------------
// Warp-specialised TMA GEMM: tiles of A (128 x 64) and W (256 x 64) are fetched by the bulk
// tensor copy engine (cp.async.bulk.tensor.2d, 128-byte swizzle, the same shared layout as
// above; out-of-range rows and columns arrive as zeros) into a 4-stage ring completed on
// mbarriers. Warpgroup 0 is the producer (one thread issues the copies), warpgroups 1 and 2
// each compute 64 x 256 of the 128 x 256 tile with wgmma, keeping one group in flight and
// releasing a stage once the group that read it has completed. Tiles are visited in groups of
// T_GROUP_M row tiles so that a wave of blocks shares A and W in L2. Same epilogues.

#define T_STAGES 4
#define T_GROUP_M 16

struct __align__(64) TmaDesc { u64 v[16]; };

__device__ __forceinline__ void mbar_init(u32 bar, u32 count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_expect_tx(u32 bar, u32 bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(u32 bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ u32 mbar_try(u32 bar, u32 parity) {
    u32 ok;
    asm volatile(
        "{\n"
        ".reg .pred P1;\n"
        "mbarrier.try_wait.parity.shared::cta.b64 P1, [%1], %2;\n"
        "selp.u32 %0, 1, 0, P1;\n"
        "}\n"
        : "=r"(ok)
        : "r"(bar), "r"(parity)
        : "memory");
    return ok;
}
__device__ __forceinline__ void mbar_wait(u32 bar, u32 parity) {
    u32 n = 0;
    while (!mbar_try(bar, parity)) {
        if (++n > 20000000u) asm volatile("trap;\n");
    }
}
__device__ __forceinline__ void tma_load_2d(u32 dst, const TmaDesc* map, u32 bar, int c0, int c1) {
    asm volatile(
        "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], [%2];\n" ::"r"(dst),
        "l"((u64)map), "r"(bar), "r"(c0), "r"(c1)
        : "memory");
}

// Gated epilogue (EPI_GEGLU / EPI_SWIGLU) of a whole 64 x 256 consumer tile whose rows and
// columns are all in range: branch-free, the activations of all 32 column pairs of rows wr
// and wr + 8 are independent (so they interleave), and lanes t, t ^ 1 of each quad swap one
// value so that each lane stores two adjacent outputs as one 4-byte word (even lanes row wr,
// odd lanes row wr + 8). Needs ldc even and `out` 4-byte aligned; every lane of the warp must
// take part (__shfl_xor_sync).
__device__ __forceinline__ float gelu_fast(float x) {
    // 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3).
    const float u = 0.7978845608028654f * fmaf(0.044715f * x, x * x, x);
    return __fdividef(x, 1.0f + __expf(-2.0f * u));
}
__device__ __forceinline__ float silu_fast(float x) { return __fdividef(x, 1.0f + __expf(-x)); }
template <int MODE>
__device__ __forceinline__ void epi_gated_tile(const float* d, void* out, long long ldc, int wr, int bn0, int t) {
    const bool odd = (t & 1) != 0;
    u16* row = (u16*)out + (long long)(odd ? wr + 8 : wr) * ldc + (bn0 >> 1) + (t & ~1);
#pragma unroll
    for (int j = 0; j < 32; ++j) {
        const float y0 = (MODE == EPI_GEGLU ? gelu_fast(d[4 * j]) : silu_fast(d[4 * j])) * d[4 * j + 1];
        const float y1 = (MODE == EPI_GEGLU ? gelu_fast(d[4 * j + 2]) : silu_fast(d[4 * j + 2])) * d[4 * j + 3];
        const float recv = __shfl_xor_sync(0xffffffffu, odd ? y0 : y1, 1);
        *(u32*)(row + 4 * j) = odd ? pack2(recv, y1) : pack2(y0, recv);
    }
}
// True when the tile at (bm0, bn0) takes the gated fast path (uniform over the block).
__device__ __forceinline__ bool gated_fast(int mode, const void* out, long long ldc, int bm0, int bn0, int M, int N) {
    return (mode == EPI_GEGLU || mode == EPI_SWIGLU) && bm0 + W_BM <= M && bn0 + W_BN <= N && (ldc & 1) == 0 &&
           (((unsigned long long)out) & 3ull) == 0;
}


// ---------------------------------------------------------------------------------------------
// Whole-tile fast epilogues of the extended TMA kernels (`gemm_bf16_tma_e`, `gemm_bf16_tma_pe`,
// argument `var`), for EPI_F32, EPI_ADD_F32 (not split over K), EPI_BF16 and EPI_RELU on a
// 128 x 256 tile whose rows and columns are all in range: branch-free, template-specialised,
// bf16 packed by the hardware (`cvt.rn.bf16x2.f32`, round to nearest even like `f2bf`).
//   var 1 (pairs):  each lane stores its column pair (n, n+1) of rows wr and wr + 8 as one
//                   4-byte (bf16) or 8-byte (f32) word; needs ldc even, out 2-element aligned.
//   var 2 (swap):   lanes t, t ^ 1 of each quad swap one pair, so even lanes write four
//                   adjacent columns of row wr, odd lanes of row wr + 8, as one 8-byte (bf16) or
//                   16-byte (f32) word; needs ldc % 4 == 0, out 4-element aligned; every lane of
//                   the warp takes part (__shfl_xor_sync).
//   var 3 (scalar): one 2-byte (bf16) or 4-byte (f32) store per element, no branches.
// EPI_ADD_F32 loads EPI_LD_J column groups (of 8) before adding and storing them, so the loads
// are in flight together instead of one after each possibly-aliasing store.
// var 0 is the general `epi_pair` loop of the plain kernels. The gated epilogues take
// `epi_gated_tile` whatever `var` is.
#define EPI_LD_J 8
__device__ __forceinline__ u32 cvt_bf16x2(float lo, float hi) {
    u32 r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}
// Lane-pair exchange and 16-byte store as volatile asm: their order is kept, so each column
// group's exchanged values die at its store (with the plain intrinsics the compiler hoisted all
// 64 exchanges and spilled).
__device__ __forceinline__ float shfl_xor1_ordered(float v) {
    float r;
    asm volatile("shfl.sync.bfly.b32 %0, %1, 1, 0x1f, 0xffffffff;\n" : "=f"(r) : "f"(v));
    return r;
}
__device__ __forceinline__ void st_f32x4_ordered(float* p, float4 v) {
    asm volatile("st.v4.f32 [%0], {%1, %2, %3, %4};\n" ::"l"(p), "f"(v.x), "f"(v.y), "f"(v.z), "f"(v.w)
                 : "memory");
}
template <int MODE, int VAR>
__device__ __forceinline__ void epi_tile(const float* d, void* out, long long ldc, int wr, int bn0, int t) {
    constexpr bool F32OUT = MODE == EPI_F32 || MODE == EPI_ADD_F32;
    constexpr bool ADD = MODE == EPI_ADD_F32;
    if (VAR == 2) {
        const bool odd = (t & 1) != 0;
        const long long off = (long long)(odd ? wr + 8 : wr) * ldc + bn0 + 2 * (t & ~1);
        if (F32OUT) {
            float* row = (float*)out + off;
#pragma unroll
            for (int j0 = 0; j0 < 32; j0 += EPI_LD_J) {
                float4 old[EPI_LD_J];
                if (ADD) {
#pragma unroll
                    for (int jj = 0; jj < EPI_LD_J; ++jj) old[jj] = *(const float4*)(row + 8 * (j0 + jj));
                }
#pragma unroll
                for (int jj = 0; jj < EPI_LD_J; ++jj) {
                    const int j = j0 + jj;
                    const float r0 = shfl_xor1_ordered(odd ? d[4 * j] : d[4 * j + 2]);
                    const float r1 = shfl_xor1_ordered(odd ? d[4 * j + 1] : d[4 * j + 3]);
                    float4 v;
                    v.x = odd ? r0 : d[4 * j];
                    v.y = odd ? r1 : d[4 * j + 1];
                    v.z = odd ? d[4 * j + 2] : r0;
                    v.w = odd ? d[4 * j + 3] : r1;
                    if (ADD) {
                        v.x += old[jj].x;
                        v.y += old[jj].y;
                        v.z += old[jj].z;
                        v.w += old[jj].w;
                    }
                    st_f32x4_ordered(row + 8 * j, v);
                }
            }
        } else {
            u16* row = (u16*)out + off;
#pragma unroll
            for (int j = 0; j < 32; ++j) {
                float a0 = d[4 * j], a1 = d[4 * j + 1], b0 = d[4 * j + 2], b1 = d[4 * j + 3];
                if (MODE == EPI_RELU) {
                    a0 = fmaxf(a0, 0.0f);
                    a1 = fmaxf(a1, 0.0f);
                    b0 = fmaxf(b0, 0.0f);
                    b1 = fmaxf(b1, 0.0f);
                }
                const u32 p0 = cvt_bf16x2(a0, a1), p1 = cvt_bf16x2(b0, b1);
                const u32 recv = __shfl_xor_sync(0xffffffffu, odd ? p0 : p1, 1);
                uint2 v;
                v.x = odd ? recv : p0;
                v.y = odd ? p1 : recv;
                *(uint2*)(row + 8 * j) = v;
            }
        }
    } else {
        const long long off0 = (long long)wr * ldc + bn0 + 2 * t;
        const long long off1 = off0 + 8 * ldc;
        if (F32OUT) {
            float* r0 = (float*)out + off0;
            float* r1 = (float*)out + off1;
#pragma unroll
            for (int j0 = 0; j0 < 32; j0 += EPI_LD_J) {
                float old[EPI_LD_J][4];
                if (ADD) {
#pragma unroll
                    for (int jj = 0; jj < EPI_LD_J; ++jj) {
                        const int j = j0 + jj;
                        if (VAR == 1) {
                            const float2 x = *(const float2*)(r0 + 8 * j);
                            const float2 y = *(const float2*)(r1 + 8 * j);
                            old[jj][0] = x.x;
                            old[jj][1] = x.y;
                            old[jj][2] = y.x;
                            old[jj][3] = y.y;
                        } else {
                            old[jj][0] = r0[8 * j];
                            old[jj][1] = r0[8 * j + 1];
                            old[jj][2] = r1[8 * j];
                            old[jj][3] = r1[8 * j + 1];
                        }
                    }
                }
#pragma unroll
                for (int jj = 0; jj < EPI_LD_J; ++jj) {
                    const int j = j0 + jj;
                    float v0 = d[4 * j], v1 = d[4 * j + 1], v2 = d[4 * j + 2], v3 = d[4 * j + 3];
                    if (ADD) {
                        v0 += old[jj][0];
                        v1 += old[jj][1];
                        v2 += old[jj][2];
                        v3 += old[jj][3];
                    }
                    if (VAR == 1) {
                        float2 x, y;
                        x.x = v0;
                        x.y = v1;
                        y.x = v2;
                        y.y = v3;
                        *(float2*)(r0 + 8 * j) = x;
                        *(float2*)(r1 + 8 * j) = y;
                    } else {
                        r0[8 * j] = v0;
                        r0[8 * j + 1] = v1;
                        r1[8 * j] = v2;
                        r1[8 * j + 1] = v3;
                    }
                }
            }
        } else {
            u16* r0 = (u16*)out + off0;
            u16* r1 = (u16*)out + off1;
#pragma unroll
            for (int j = 0; j < 32; ++j) {
                float a0 = d[4 * j], a1 = d[4 * j + 1], b0 = d[4 * j + 2], b1 = d[4 * j + 3];
                if (MODE == EPI_RELU) {
                    a0 = fmaxf(a0, 0.0f);
                    a1 = fmaxf(a1, 0.0f);
                    b0 = fmaxf(b0, 0.0f);
                    b1 = fmaxf(b1, 0.0f);
                }
                const u32 p0 = cvt_bf16x2(a0, a1), p1 = cvt_bf16x2(b0, b1);
                if (VAR == 1) {
                    *(u32*)(r0 + 8 * j) = p0;
                    *(u32*)(r1 + 8 * j) = p1;
                } else {
                    r0[8 * j] = (u16)(p0 & 0xffffu);
                    r0[8 * j + 1] = (u16)(p0 >> 16);
                    r1[8 * j] = (u16)(p1 & 0xffffu);
                    r1[8 * j + 1] = (u16)(p1 >> 16);
                }
            }
        }
    }
}
// True when the tile at (bm0, bn0) takes the fast epilogue `var` (uniform over the block).
__device__ __forceinline__ bool tile_fast(int mode, int var, const void* out, long long ldc, int bm0, int bn0, int M,
                                          int N, bool atomic) {
    if (var < 1 || var > 3 || atomic || bm0 + W_BM > M || bn0 + W_BN > N) return false;
    if (mode != EPI_F32 && mode != EPI_ADD_F32 && mode != EPI_BF16 && mode != EPI_RELU) return false;
    // Elements per store 1, 2 or 4; bytes per element 4 or 2 (masks: no 64-bit division).
    const long long lmask = var == 2 ? 3 : (var == 1 ? 1 : 0);
    const unsigned long long bytes = ((mode == EPI_F32 || mode == EPI_ADD_F32) ? 4ull : 2ull) * (lmask + 1);
    return (ldc & lmask) == 0 && (((unsigned long long)out) & (bytes - 1ull)) == 0;
}
template <int MODE>
__device__ __forceinline__ void epi_tile_var(int var, const float* d, void* out, long long ldc, int wr, int bn0, int t) {
    if (var == 1) epi_tile<MODE, 1>(d, out, ldc, wr, bn0, t);
    else if (var == 2) epi_tile<MODE, 2>(d, out, ldc, wr, bn0, t);
    else epi_tile<MODE, 3>(d, out, ldc, wr, bn0, t);
}
// Runs the fast epilogue of `mode` (tile_fast must hold).
__device__ __forceinline__ void epi_tile_fast(int mode, int var, const float* d, void* out, long long ldc, int wr,
                                              int bn0, int t) {
    if (mode == EPI_F32) epi_tile_var<EPI_F32>(var, d, out, ldc, wr, bn0, t);
    else if (mode == EPI_ADD_F32) epi_tile_var<EPI_ADD_F32>(var, d, out, ldc, wr, bn0, t);
    else if (mode == EPI_BF16) epi_tile_var<EPI_BF16>(var, d, out, ldc, wr, bn0, t);
    else epi_tile_var<EPI_RELU>(var, d, out, ldc, wr, bn0, t);
}

// ---------------------------------------------------------------------------------------------
// TMA-store epilogue (variant 4: the `gemm_bf16_tma_s` / `gemm_bf16_tma_ps` kernels, which take
// a third tensor map `tmC` over the output). Each consumer warpgroup writes its 64 x 256
// results into its own 16 KB of shared staging, laid out as boxes of 64 rows x 128 bytes in the
// 128-byte swizzled order (16-byte chunk c of row r at chunk c ^ (r & 7): conflict-free for the
// accumulator fragment), and one thread of the warpgroup hands each box to the bulk tensor copy
// engine: `cp.async.bulk.tensor` stores, or for EPI_ADD_F32 `cp.reduce.async.bulk.tensor .add`
// (the f32 residual add done in L2, so no load of the old values in the SM). The warps then go
// on to the next tile's products while the copies drain; the staging is rewritten only after
// the issuing thread saw the copies read it (`cp.async.bulk.wait_group.read`). The copy engine
// clips rows and columns past the map's extent, so ragged tiles take this path too. Rounds:
// f32 4 x 64 columns (2 boxes of 32), bf16 2 x 128 columns (2 boxes of 64), gated 1 x 128
// output columns (2 boxes of 64). Not for products split over K.
#define T_STG_BYTES 32768

__device__ __forceinline__ void bulk_store_2d(const TmaDesc* map, u32 src, int c0, int c1) {
    asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.tile.bulk_group [%0, {%2, %3}], [%1];\n" ::"l"((u64)map),
                 "r"(src), "r"(c0), "r"(c1)
                 : "memory");
}
__device__ __forceinline__ void bulk_reduce_add_2d(const TmaDesc* map, u32 src, int c0, int c1) {
    asm volatile("cp.reduce.async.bulk.tensor.2d.global.shared::cta.add.tile.bulk_group [%0, {%2, %3}], [%1];\n" ::"l"(
                     (u64)map),
                 "r"(src), "r"(c0), "r"(c1)
                 : "memory");
}
__device__ __forceinline__ void bulk_commit() { asm volatile("cp.async.bulk.commit_group;\n" ::: "memory"); }
__device__ __forceinline__ void bulk_wait_read0() { asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory"); }
__device__ __forceinline__ void bulk_wait0() { asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory"); }
// Named barrier `id` (1 or 2) over the 128 threads of one consumer warpgroup.
__device__ __forceinline__ void wg_bar(int id) {
    if (id == 1) asm volatile("bar.sync 1, 128;\n" ::: "memory");
    else asm volatile("bar.sync 2, 128;\n" ::: "memory");
}

// One round's hand-off: the staging is written (fence + barrier make it visible to the copy
// engine), then the leader issues `nbox` boxes `box_cols` columns apart and commits them.
template <bool ADD>
__device__ __forceinline__ void stg_issue(const TmaDesc* tmC, u32 sst, bool leader, int bar_id, int col0,
                                          int box_cols, int row0, int ncols, int M) {
    fence_proxy_async();
    wg_bar(bar_id);
    if (leader) {
#pragma unroll
        for (int b = 0; b < 2; ++b) {
            const int c = col0 + b * box_cols;
            if (c < ncols && row0 < M) {
                if (ADD) bulk_reduce_add_2d(tmC, sst + b * 8192, c, row0);
                else bulk_store_2d(tmC, sst + b * 8192, c, row0);
            }
        }
        bulk_commit();
    }
}
// Before rewriting the staging: the previous copies have read it.
__device__ __forceinline__ void stg_acquire(bool leader, int bar_id) {
    if (leader) bulk_wait_read0();
    wg_bar(bar_id);
}

// d: the warpgroup's 64 x 256 accumulators; sg / sst: its staging (generic pointer / shared
// address, 1024-byte aligned); wl: warp within the warpgroup; row0: the warpgroup's first
// output row; bn0: the tile's first accumulator column; N: accumulator columns.
template <int MODE>
__device__ __forceinline__ void epi_store_tile(const float* d, const TmaDesc* tmC, unsigned char* sg, u32 sst,
                                               int wl, int g, int t, bool leader, int bar_id, int row0, int bn0,
                                               int M, int N) {
    // Launder g through volatile asm so that the addresses below are computed here, per tile,
    // rather than hoisted out of the persistent kernel's tile loop (where, for all six modes
    // together, they would stay live across the products and spill).
    asm volatile("mov.b32 %0, %0;\n" : "+r"(g));
    const int r0 = wl * 16 + g;  // rows r0 and r0 + 8 of the 64; both have (row & 7) == g
    unsigned char* s0 = sg + r0 * 128;
    unsigned char* s1 = sg + (r0 + 8) * 128;
    if (MODE == EPI_F32 || MODE == EPI_ADD_F32) {
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            stg_acquire(leader, bar_id);
#pragma unroll
            for (int jj = 0; jj < 8; ++jj) {
                const int j = 8 * q + jj;
                const int c = 2 * (jj & 3) + (t >> 1);
                const int off = (jj >> 2) * 8192 + ((c ^ g) << 4) + 8 * (t & 1);
                *(float2*)(s0 + off) = make_float2(d[4 * j], d[4 * j + 1]);
                *(float2*)(s1 + off) = make_float2(d[4 * j + 2], d[4 * j + 3]);
            }
            stg_issue<MODE == EPI_ADD_F32>(tmC, sst, leader, bar_id, bn0 + 64 * q, 32, row0, N, M);
        }
    } else if (MODE == EPI_BF16 || MODE == EPI_RELU) {
#pragma unroll
        for (int q = 0; q < 2; ++q) {
            stg_acquire(leader, bar_id);
#pragma unroll
            for (int jj = 0; jj < 16; ++jj) {
                const int j = 16 * q + jj;
                const int off = (jj >> 3) * 8192 + (((jj & 7) ^ g) << 4) + 4 * t;
                float v0 = d[4 * j], v1 = d[4 * j + 1], v2 = d[4 * j + 2], v3 = d[4 * j + 3];
                if (MODE == EPI_RELU) {
                    v0 = fmaxf(v0, 0.0f);
                    v1 = fmaxf(v1, 0.0f);
                    v2 = fmaxf(v2, 0.0f);
                    v3 = fmaxf(v3, 0.0f);
                }
                *(u32*)(s0 + off) = cvt_bf16x2(v0, v1);
                *(u32*)(s1 + off) = cvt_bf16x2(v2, v3);
            }
            stg_issue<false>(tmC, sst, leader, bar_id, bn0 + 128 * q, 64, row0, N, M);
        }
    } else {
        // Gated: output column 4 j + t of rows r0 (y0) and r0 + 8 (y1); lanes t, t ^ 1 swap one
        // value so even lanes hold two adjacent outputs of row r0, odd lanes of row r0 + 8.
        stg_acquire(leader, bar_id);
        const bool odd = (t & 1) != 0;
        unsigned char* s = odd ? s1 : s0;
#pragma unroll
        for (int j = 0; j < 32; ++j) {
            const float y0 = (MODE == EPI_GEGLU ? gelu_fast(d[4 * j]) : silu_fast(d[4 * j])) * d[4 * j + 1];
            const float y1 = (MODE == EPI_GEGLU ? gelu_fast(d[4 * j + 2]) : silu_fast(d[4 * j + 2])) * d[4 * j + 3];
            const float recv = __shfl_xor_sync(0xffffffffu, odd ? y0 : y1, 1);
            const int jb = j & 15;
            const int off = (j >> 4) * 8192 + (((jb >> 1) ^ g) << 4) + 8 * (jb & 1) + 4 * (t >> 1);
            *(u32*)(s + off) = odd ? cvt_bf16x2(recv, y1) : cvt_bf16x2(y0, recv);
        }
        stg_issue<false>(tmC, sst, leader, bar_id, bn0 >> 1, 64, row0, N >> 1, M);
    }
}
__device__ __forceinline__ void epi_store(int mode, const float* d, const TmaDesc* tmC, unsigned char* sg, u32 sst,
                                          int wl, int g, int t, bool leader, int bar_id, int row0, int bn0, int M,
                                          int N) {
    if (mode == EPI_F32) epi_store_tile<EPI_F32>(d, tmC, sg, sst, wl, g, t, leader, bar_id, row0, bn0, M, N);
    else if (mode == EPI_ADD_F32) epi_store_tile<EPI_ADD_F32>(d, tmC, sg, sst, wl, g, t, leader, bar_id, row0, bn0, M, N);
    else if (mode == EPI_BF16) epi_store_tile<EPI_BF16>(d, tmC, sg, sst, wl, g, t, leader, bar_id, row0, bn0, M, N);
    else if (mode == EPI_RELU) epi_store_tile<EPI_RELU>(d, tmC, sg, sst, wl, g, t, leader, bar_id, row0, bn0, M, N);
    else if (mode == EPI_GEGLU) epi_store_tile<EPI_GEGLU>(d, tmC, sg, sst, wl, g, t, leader, bar_id, row0, bn0, M, N);
    else epi_store_tile<EPI_SWIGLU>(d, tmC, sg, sst, wl, g, t, leader, bar_id, row0, bn0, M, N);
}

// Body of gemm_bf16_tma (EXT = false: `var` is ignored, the code is the plain kernel's),
// gemm_bf16_tma_e (EXT = true: whole tiles take the fast epilogue `var` where it applies) and
// gemm_bf16_tma_s (STORE = true: every tile takes the TMA-store epilogue through `tmC`; the
// staging sits between the stages and the barriers; not split over K).
template <bool EXT, bool STORE>
__device__ __forceinline__ void tma_body(const TmaDesc* tmA, const TmaDesc* tmW, const TmaDesc* tmC, void* out,
                                         long long ldc, int M, int N, int K, int mode, int ksplit, int var) {
    pdl_prologue();
    extern __shared__ __align__(16) unsigned char tsm_raw[];
    const u32 raw = (u32)__cvta_generic_to_shared(tsm_raw);
    const u32 base = (raw + 1023u) & ~1023u;
    // full[s] at bars + 8 s, empty[s] after
    const u32 bars = base + T_STAGES * W_STAGE_BYTES + (STORE ? T_STG_BYTES : 0);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wg = warp >> 2;

    // Grouped tile order (blockIdx.x is the linear tile id).
    const int tiles_m = (M + W_BM - 1) / W_BM, tiles_n = (N + W_BN - 1) / W_BN;
    const int pid = blockIdx.x;
    const int per_group = T_GROUP_M * tiles_n;
    const int first_m = (pid / per_group) * T_GROUP_M;
    const int gsize = min(tiles_m - first_m, T_GROUP_M);
    const int pm = first_m + (pid % per_group) % gsize;
    const int pn = (pid % per_group) / gsize;
    const int bm0 = pm * W_BM, bn0 = pn * W_BN;
    const int kbeg = blockIdx.z * ksplit;
    const int kend = min(K, kbeg + ksplit);
    const int nk = (kend > kbeg) ? (kend - kbeg + W_BK - 1) / W_BK : 0;

    if (tid == 0) {
#pragma unroll
        for (int s = 0; s < T_STAGES; ++s) {
            mbar_init(bars + 8 * s, 1);
            mbar_init(bars + 8 * (T_STAGES + s), 256);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
        asm volatile("prefetch.tensormap [%0];\n" ::"l"((u64)tmA) : "memory");
        asm volatile("prefetch.tensormap [%0];\n" ::"l"((u64)tmW) : "memory");
    }
    __syncthreads();

    if (wg == 0) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
        if (tid == 0) {
            for (int kt = 0; kt < nk; ++kt) {
                const int s = kt % T_STAGES;
                const u32 ph = (u32)((kt / T_STAGES) & 1);
                mbar_wait(bars + 8 * (T_STAGES + s), ph ^ 1u);
                const u32 full = bars + 8 * s;
                mbar_expect_tx(full, W_STAGE_BYTES);
                const u32 st = base + s * W_STAGE_BYTES;
                const int k0 = kbeg + kt * W_BK;
                tma_load_2d(st, tmA, full, k0, bm0);
                tma_load_2d(st + W_BM * 128, tmW, full, k0, bn0);
            }
        }
    } else {
        asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
        const int cw = wg - 1;
        float d[128];
#pragma unroll
        for (int i = 0; i < 128; ++i) d[i] = 0.0f;
        for (int kt = 0; kt < nk; ++kt) {
            const int s = kt % T_STAGES;
            mbar_wait(bars + 8 * s, (u32)((kt / T_STAGES) & 1));
            const u32 st = base + s * W_STAGE_BYTES;
            const u32 a0 = st + cw * 64 * 128;
            const u32 b0 = st + W_BM * 128;
            wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < 4; ++kk) {
                wgmma_m64n256k16(d, smem_desc(a0 + kk * 32), smem_desc(b0 + kk * 32), (kt > 0 || kk > 0) ? 1 : 0);
            }
            wgmma_commit();
            wgmma_wait1();
            if (kt > 0) mbar_arrive(bars + 8 * (T_STAGES + (kt - 1) % T_STAGES));
        }
        wgmma_wait0();

        const bool atomic = gridDim.z > 1;
        const int g = lane >> 2, t = lane & 3;
        const int wr = bm0 + cw * 64 + (warp & 3) * 16 + g;
        if (STORE) {
            const u32 sst = base + T_STAGES * W_STAGE_BYTES + cw * (T_STG_BYTES / 2);
            const bool leader = (tid & 127) == 0;
            epi_store(mode, d, tmC, tsm_raw + (sst - raw), sst, warp & 3, g, t, leader, 1 + cw, bm0 + cw * 64, bn0,
                      M, N);
            if (leader) bulk_wait0();
            return;
        }
        if (gated_fast(mode, out, ldc, bm0, bn0, M, N)) {
            if (mode == EPI_GEGLU) epi_gated_tile<EPI_GEGLU>(d, out, ldc, wr, bn0, t);
            else epi_gated_tile<EPI_SWIGLU>(d, out, ldc, wr, bn0, t);
            return;
        }
        if (EXT && tile_fast(mode, var, out, ldc, bm0, bn0, M, N, atomic)) {
            epi_tile_fast(mode, var, d, out, ldc, wr, bn0, t);
            return;
        }
#pragma unroll
        for (int j = 0; j < 32; ++j) {
            const int n = bn0 + j * 8 + t * 2;
            if (n < N) {
                if (wr < M) epi_pair(mode, out, ldc, wr, n, d[4 * j], d[4 * j + 1], N, atomic);
                if (wr + 8 < M) epi_pair(mode, out, ldc, wr + 8, n, d[4 * j + 2], d[4 * j + 3], N, atomic);
            }
        }
    }
}

extern "C" __global__ void __launch_bounds__(384, 1) gemm_bf16_tma(
    const __grid_constant__ TmaDesc tmA, const __grid_constant__ TmaDesc tmW, void* out, long long ldc,
    int M, int N, int K, int mode, int ksplit) {
    tma_body<false, false>(&tmA, &tmW, nullptr, out, ldc, M, N, K, mode, ksplit, 0);
}
// gemm_bf16_tma with the whole-tile fast epilogue `var` (1 pairs, 2 swap, 3 scalar; 0: none).
extern "C" __global__ void __launch_bounds__(384, 1) gemm_bf16_tma_e(
    const __grid_constant__ TmaDesc tmA, const __grid_constant__ TmaDesc tmW, void* out, long long ldc,
    int M, int N, int K, int mode, int ksplit, int var) {
    tma_body<true, false>(&tmA, &tmW, nullptr, out, ldc, M, N, K, mode, ksplit, var);
}
// gemm_bf16_tma with the TMA-store epilogue (variant 4) through tmC (bf16 boxes 64 x 64 for the
// bf16, ReLU and gated epilogues, f32 boxes 32 x 64 for f32 and f32-add; 128-byte swizzle);
// gridDim.z must be 1. Dynamic shared memory TMA_SMEM + 32768.
extern "C" __global__ void __launch_bounds__(384, 1) gemm_bf16_tma_s(
    const __grid_constant__ TmaDesc tmA, const __grid_constant__ TmaDesc tmW, const __grid_constant__ TmaDesc tmC,
    void* out, long long ldc, int M, int N, int K, int mode, int ksplit) {
    tma_body<true, true>(&tmA, &tmW, &tmC, out, ldc, M, N, K, mode, ksplit, 4);
}

// Persistent variant of gemm_bf16_tma: gridDim.x blocks (at most one per multiprocessor) walk
// the tiles blockIdx.x, blockIdx.x + gridDim.x, ... in the same grouped order; the stage ring
// and its phases run on across tiles, so the producer fetches the next tile's first stages
// while the consumers store the previous tile. No split over K (gridDim.z must be 1). Scalar
// stores as gemm_bf16_tma (8/4-byte vector stores made the plain kernel 28 % slower, run 5).
template <bool EXT, bool STORE>
__device__ __forceinline__ void tma_p_body(const TmaDesc* tmA, const TmaDesc* tmW, const TmaDesc* tmC, void* out,
                                           long long ldc, int M, int N, int K, int mode, int ksplit, int var) {
    pdl_prologue();
    extern __shared__ __align__(16) unsigned char tsm_raw[];
    const u32 raw = (u32)__cvta_generic_to_shared(tsm_raw);
    const u32 base = (raw + 1023u) & ~1023u;
    const u32 bars = base + T_STAGES * W_STAGE_BYTES + (STORE ? T_STG_BYTES : 0);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wg = warp >> 2;
    const int tiles_m = (M + W_BM - 1) / W_BM, tiles_n = (N + W_BN - 1) / W_BN;
    const int ntiles = tiles_m * tiles_n;
    const int per_group = T_GROUP_M * tiles_n;
    const int nk = (K + W_BK - 1) / W_BK;
    (void)ksplit;

    if (tid == 0) {
#pragma unroll
        for (int s = 0; s < T_STAGES; ++s) {
            mbar_init(bars + 8 * s, 1);
            mbar_init(bars + 8 * (T_STAGES + s), 256);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
        asm volatile("prefetch.tensormap [%0];\n" ::"l"((u64)tmA) : "memory");
        asm volatile("prefetch.tensormap [%0];\n" ::"l"((u64)tmW) : "memory");
    }
    __syncthreads();

    if (wg == 0) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
        if (tid == 0) {
            int it = 0;
            for (int tile = blockIdx.x; tile < ntiles; tile += gridDim.x) {
                const int first_m = (tile / per_group) * T_GROUP_M;
                const int gsize = min(tiles_m - first_m, T_GROUP_M);
                const int bm0 = (first_m + (tile % per_group) % gsize) * W_BM;
                const int bn0 = ((tile % per_group) / gsize) * W_BN;
                for (int kt = 0; kt < nk; ++kt, ++it) {
                    const int s = it % T_STAGES;
                    const u32 ph = (u32)((it / T_STAGES) & 1);
                    mbar_wait(bars + 8 * (T_STAGES + s), ph ^ 1u);
                    const u32 full = bars + 8 * s;
                    mbar_expect_tx(full, W_STAGE_BYTES);
                    const u32 st = base + s * W_STAGE_BYTES;
                    tma_load_2d(st, tmA, full, kt * W_BK, bm0);
                    tma_load_2d(st + W_BM * 128, tmW, full, kt * W_BK, bn0);
                }
            }
        }
    } else {
        asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
        const int cw = wg - 1;
        const int g = lane >> 2, t = lane & 3;
        // The thread that issues this warpgroup's TMA stores (STORE only).
        const bool leader = (tid & 127) == 0;
        float d[128];
#pragma unroll
        for (int i = 0; i < 128; ++i) d[i] = 0.0f;
        int it = 0;
        for (int tile = blockIdx.x; tile < ntiles; tile += gridDim.x) {
            const int first_m = (tile / per_group) * T_GROUP_M;
            const int gsize = min(tiles_m - first_m, T_GROUP_M);
            const int bm0 = (first_m + (tile % per_group) % gsize) * W_BM;
            const int bn0 = ((tile % per_group) / gsize) * W_BN;
            for (int kt = 0; kt < nk; ++kt, ++it) {
                const int s = it % T_STAGES;
                mbar_wait(bars + 8 * s, (u32)((it / T_STAGES) & 1));
                const u32 st = base + s * W_STAGE_BYTES;
                const u32 a0 = st + cw * 64 * 128;
                const u32 b0 = st + W_BM * 128;
                wgmma_fence();
#pragma unroll
                for (int kk = 0; kk < 4; ++kk) {
                    wgmma_m64n256k16(d, smem_desc(a0 + kk * 32), smem_desc(b0 + kk * 32), (kt > 0 || kk > 0) ? 1 : 0);
                }
                wgmma_commit();
                wgmma_wait1();
                if (kt > 0) mbar_arrive(bars + 8 * (T_STAGES + (it - 1) % T_STAGES));
            }
            wgmma_wait0();
            if (nk > 0) mbar_arrive(bars + 8 * (T_STAGES + (it - 1) % T_STAGES));

            const int wr = bm0 + cw * 64 + (warp & 3) * 16 + g;
            if (STORE) {
                const u32 sst = base + T_STAGES * W_STAGE_BYTES + cw * (T_STG_BYTES / 2);
                epi_store(mode, d, tmC, tsm_raw + (sst - raw), sst, warp & 3, g, t, leader, 1 + cw, bm0 + cw * 64, bn0,
                          M, N);
                continue;
            }
            if (gated_fast(mode, out, ldc, bm0, bn0, M, N)) {
                if (mode == EPI_GEGLU) epi_gated_tile<EPI_GEGLU>(d, out, ldc, wr, bn0, t);
                else epi_gated_tile<EPI_SWIGLU>(d, out, ldc, wr, bn0, t);
                continue;
            }
            if (EXT && tile_fast(mode, var, out, ldc, bm0, bn0, M, N, false)) {
                epi_tile_fast(mode, var, d, out, ldc, wr, bn0, t);
                continue;
            }
#pragma unroll
            for (int j = 0; j < 32; ++j) {
                const int n = bn0 + j * 8 + t * 2;
                if (n < N) {
                    if (wr < M) epi_pair(mode, out, ldc, wr, n, d[4 * j], d[4 * j + 1], N, false);
                    if (wr + 8 < M) epi_pair(mode, out, ldc, wr + 8, n, d[4 * j + 2], d[4 * j + 3], N, false);
                }
            }
        }
        // The staging must stay until the copies have read it, and their writes must be done
        // before the grid counts as complete for the next kernel.
        if (STORE && leader) bulk_wait0();
    }
}

extern "C" __global__ void __launch_bounds__(384, 1) gemm_bf16_tma_p(
    const __grid_constant__ TmaDesc tmA, const __grid_constant__ TmaDesc tmW, void* out, long long ldc,
    int M, int N, int K, int mode, int ksplit) {
    tma_p_body<false, false>(&tmA, &tmW, nullptr, out, ldc, M, N, K, mode, ksplit, 0);
}
// gemm_bf16_tma_p with the whole-tile fast epilogue `var` (as gemm_bf16_tma_e).
extern "C" __global__ void __launch_bounds__(384, 1) gemm_bf16_tma_pe(
    const __grid_constant__ TmaDesc tmA, const __grid_constant__ TmaDesc tmW, void* out, long long ldc,
    int M, int N, int K, int mode, int ksplit, int var) {
    tma_p_body<true, false>(&tmA, &tmW, nullptr, out, ldc, M, N, K, mode, ksplit, var);
}
// gemm_bf16_tma_p with the TMA-store epilogue (as gemm_bf16_tma_s).
extern "C" __global__ void __launch_bounds__(384, 1) gemm_bf16_tma_ps(
    const __grid_constant__ TmaDesc tmA, const __grid_constant__ TmaDesc tmW, const __grid_constant__ TmaDesc tmC,
    void* out, long long ldc, int M, int N, int K, int mode, int ksplit) {
    tma_p_body<true, true>(&tmA, &tmW, &tmC, out, ldc, M, N, K, mode, ksplit, 4);
}

// ---------------------------------------------------------------------------------------------
// Cluster variant (opt-in, T0_CUDA_GEMM_CLUSTER=1): clusters of 2 blocks on vertically adjacent
// tiles (same columns bn0, rows bm0 and bm0 + 128) share the W tile: each block's producer
// loads its own A tile and one 128-row half of W, multicast into both blocks' shared memory
// (the same offsets in each; both complete_tx on the same-offset `full` barrier of each block),
// so L2 delivers each W tile once per pair instead of twice. A stage is refilled only after
// the consumers of BOTH blocks released it: lane 0 of every consumer warp arrives on its own
// block's and on the peer's `empty` barrier (16 arrivals per phase). Cluster barriers after the
// barrier initialisation (no multicast or remote arrive into an uninitialised peer) and after
// the main loop (no block exits while its peer may still arrive on its barriers). Loads that
// would start past M or N (the second block of a pair below the last row tile; the second W
// half past N) read a valid tile instead; those rows / columns are never stored. No split
// over K. Epilogues as gemm_bf16_tma_e (`var`).
__device__ __forceinline__ void cluster_sync_all() {
    asm volatile("barrier.cluster.arrive.release;\n" ::: "memory");
    asm volatile("barrier.cluster.wait.acquire;\n" ::: "memory");
}
__device__ __forceinline__ u32 cluster_rank() {
    u32 r;
    asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
    return r;
}
// Arrives on the barrier at the same shared offset as `bar` in block `cta` of the cluster.
__device__ __forceinline__ void mbar_arrive_remote(u32 bar, u32 cta) {
    asm volatile(
        "{\n"
        ".reg .b32 ra;\n"
        "mapa.shared::cluster.u32 ra, %0, %1;\n"
        "mbarrier.arrive.release.cluster.shared::cluster.b64 _, [ra];\n"
        "}\n" ::"r"(bar),
        "r"(cta)
        : "memory");
}
__device__ __forceinline__ void tma_load_2d_mc(u32 dst, const TmaDesc* map, u32 bar, int c0, int c1, u16 mask) {
    asm volatile(
        "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster [%0], [%1, {%3, %4}], [%2], %5;\n" ::"r"(dst),
        "l"((u64)map), "r"(bar), "r"(c0), "r"(c1), "h"(mask)
        : "memory");
}

// tmW's box is 128 rows x 64 (half a W tile). gridDim.x = 2 * ceil(tiles_m / 2) * tiles_n.
extern "C" __global__ void __cluster_dims__(2, 1, 1) __launch_bounds__(384, 1) gemm_bf16_tma_c(
    const __grid_constant__ TmaDesc tmA, const __grid_constant__ TmaDesc tmW, void* out, long long ldc,
    int M, int N, int K, int mode, int ksplit, int var) {
    pdl_prologue();
    extern __shared__ __align__(16) unsigned char tsm_raw[];
    const u32 raw = (u32)__cvta_generic_to_shared(tsm_raw);
    const u32 base = (raw + 1023u) & ~1023u;
    const u32 bars = base + T_STAGES * W_STAGE_BYTES;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wg = warp >> 2;
    const u32 rank = cluster_rank();
    (void)ksplit;

    // Grouped order over pairs of row tiles (T_GROUP_M / 2 pairs per group).
    const int tiles_m = (M + W_BM - 1) / W_BM, tiles_n = (N + W_BN - 1) / W_BN;
    const int pairs_m = (tiles_m + 1) / 2;
    const int pid = blockIdx.x >> 1;
    const int per_group = (T_GROUP_M / 2) * tiles_n;
    const int first = (pid / per_group) * (T_GROUP_M / 2);
    const int gsize = min(pairs_m - first, T_GROUP_M / 2);
    const int pm = first + (pid % per_group) % gsize;
    const int pn = (pid % per_group) / gsize;
    const int bm0 = (2 * pm + (int)rank) * W_BM, bn0 = pn * W_BN;
    const bool dummy = bm0 >= M;  // second block of a pair below the last row tile
    const int am0 = dummy ? bm0 - W_BM : bm0;
    const int wn0 = (bn0 + (int)rank * 128 < N) ? bn0 + (int)rank * 128 : bn0;
    const int nk = (K + W_BK - 1) / W_BK;

    if (tid == 0) {
#pragma unroll
        for (int s = 0; s < T_STAGES; ++s) {
            mbar_init(bars + 8 * s, 1);
            mbar_init(bars + 8 * (T_STAGES + s), 16);  // 8 consumer warps x 2 blocks
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
        asm volatile("prefetch.tensormap [%0];\n" ::"l"((u64)&tmA) : "memory");
        asm volatile("prefetch.tensormap [%0];\n" ::"l"((u64)&tmW) : "memory");
    }
    __syncthreads();
    cluster_sync_all();

    if (wg == 0) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
        if (tid == 0) {
            for (int kt = 0; kt < nk; ++kt) {
                const int s = kt % T_STAGES;
                const u32 ph = (u32)((kt / T_STAGES) & 1);
                mbar_wait(bars + 8 * (T_STAGES + s), ph ^ 1u);
                const u32 full = bars + 8 * s;
                mbar_expect_tx(full, W_STAGE_BYTES);
                const u32 st = base + s * W_STAGE_BYTES;
                tma_load_2d(st, &tmA, full, kt * W_BK, am0);
                tma_load_2d_mc(st + W_BM * 128 + rank * 128 * 128, &tmW, full, kt * W_BK, wn0, (u16)3);
            }
        }
        cluster_sync_all();
    } else {
        asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
        const int cw = wg - 1;
        float d[128];
#pragma unroll
        for (int i = 0; i < 128; ++i) d[i] = 0.0f;
        for (int kt = 0; kt < nk; ++kt) {
            const int s = kt % T_STAGES;
            mbar_wait(bars + 8 * s, (u32)((kt / T_STAGES) & 1));
            const u32 st = base + s * W_STAGE_BYTES;
            const u32 a0 = st + cw * 64 * 128;
            const u32 b0 = st + W_BM * 128;
            wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < 4; ++kk) {
                wgmma_m64n256k16(d, smem_desc(a0 + kk * 32), smem_desc(b0 + kk * 32), (kt > 0 || kk > 0) ? 1 : 0);
            }
            wgmma_commit();
            wgmma_wait1();
            if (kt > 0) {
                // Every lane of this warp has passed its wait for the group that read the
                // stage (wgmma.wait_group is .sync.aligned; __syncwarp orders it formally), so
                // one lane releases it for the warp, in this block and in the peer.
                __syncwarp();
                if (lane == 0) {
                    const u32 e = bars + 8 * (T_STAGES + (kt - 1) % T_STAGES);
                    mbar_arrive(e);
                    mbar_arrive_remote(e, rank ^ 1u);
                }
            }
        }
        wgmma_wait0();
        cluster_sync_all();
        if (dummy) return;

        const int g = lane >> 2, t = lane & 3;
        const int wr = bm0 + cw * 64 + (warp & 3) * 16 + g;
        if (gated_fast(mode, out, ldc, bm0, bn0, M, N)) {
            if (mode == EPI_GEGLU) epi_gated_tile<EPI_GEGLU>(d, out, ldc, wr, bn0, t);
            else epi_gated_tile<EPI_SWIGLU>(d, out, ldc, wr, bn0, t);
            return;
        }
        if (tile_fast(mode, var, out, ldc, bm0, bn0, M, N, false)) {
            epi_tile_fast(mode, var, d, out, ldc, wr, bn0, t);
            return;
        }
#pragma unroll
        for (int j = 0; j < 32; ++j) {
            const int n = bn0 + j * 8 + t * 2;
            if (n < N) {
                if (wr < M) epi_pair(mode, out, ldc, wr, n, d[4 * j], d[4 * j + 1], N, false);
                if (wr + 8 < M) epi_pair(mode, out, ldc, wr + 8, n, d[4 * j + 2], d[4 * j + 3], N, false);
            }
        }
    }
}
