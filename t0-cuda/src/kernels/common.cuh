// Shared helpers for every t0-cuda module. No headers: bf16 is handled as raw 16-bit words
// (bit operations), tensor cores through inline PTX. Compiled by NVRTC at run time.
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned long long u64;
#define T0_INF __int_as_float(0x7f800000)

// Programmatic dependent launch (compute capability 9.0+). `pdl_wait` blocks until every grid
// this one depends on has completed and its writes are visible; `pdl_launch_dependents` lets
// the next grid of the stream start launching (its blocks then wait in their own `pdl_wait`).
// Both are no-ops for kernels launched without the PDL attribute, and compiled out below sm_90.
// Every kernel calls `pdl_prologue` (wait, then trigger) before touching memory that another
// kernel writes or reads; work on read-only data (weights) may come before the wait.
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ >= 900)
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ >= 900)
    asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}
// How kernels use PDL (set per module from the host, `CudaDevice::set_pdl_flags`): bit 0 —
// trigger the next grid right after the wait (else it launches when this grid exits); bit 1 —
// the GEMVs load their first weight chunks before the wait.
__constant__ int t0_pdl_flags = 3;
__device__ __forceinline__ void pdl_prologue() {
    pdl_wait();
    if (t0_pdl_flags & 1) pdl_launch_dependents();
}

__device__ __forceinline__ float bf2f(u16 h) { return __uint_as_float(((u32)h) << 16); }
// Round to nearest even; NaN stays NaN, infinities stay infinite.
__device__ __forceinline__ u16 f2bf(float f) {
    u32 u = __float_as_uint(f);
    if ((u & 0x7f800000u) == 0x7f800000u) return (u16)((u >> 16) | ((u & 0xffffu) ? 0x40u : 0u));
    u += 0x7fffu + ((u >> 16) & 1u);
    return (u16)(u >> 16);
}
__device__ __forceinline__ u32 pack2(float lo, float hi) {
    return (u32)f2bf(lo) | ((u32)f2bf(hi) << 16);
}
__device__ __forceinline__ float lo_f(u32 v) { return __uint_as_float(v << 16); }
__device__ __forceinline__ float hi_f(u32 v) { return __uint_as_float(v & 0xffff0000u); }
// HF "gelu_new": the tanh approximation.
__device__ __forceinline__ float gelu_tanh(float x) {
    const float k0 = 0.7978845608028654f;
    return 0.5f * x * (1.0f + tanhf(k0 * (x + 0.044715f * x * x * x)));
}
__device__ __forceinline__ float silu(float x) { return x / (1.0f + expf(-x)); }
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
// Block-wide sum/max for blockDim.x a multiple of 32 (<= 1024). `scratch` holds 32 floats.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[w] = v;
    __syncthreads();
    float r = (lane < nw) ? scratch[lane] : 0.0f;
    return warp_sum(r);
}
__device__ __forceinline__ float block_max(float v, float* scratch) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[w] = v;
    __syncthreads();
    float r = (lane < nw) ? scratch[lane] : -T0_INF;
    return warp_max(r);
}

// Output modes shared by the GEMM and GEMV epilogues.
#define EPI_F32 0      // out f32 = v
#define EPI_ADD_F32 1  // out f32 += v (atomic when split over K)
#define EPI_BF16 2     // out bf16 = v
#define EPI_GEGLU 3    // columns (2i, 2i+1) = (gate, up): out bf16[i] = gelu_tanh(gate) * up
#define EPI_SWIGLU 4   // as EPI_GEGLU with silu
#define EPI_RELU 5     // out bf16 = max(v, 0)

// Writes the column pair (n, n+1) of row m; n is even.
__device__ __forceinline__ void epi_pair(int mode, void* out, long long ldc, int m, int n, float v0,
                                         float v1, int N, bool atomic) {
    bool two = (n + 1) < N;
    if (mode == EPI_F32) {
        float* o = (float*)out + (long long)m * ldc + n;
        o[0] = v0;
        if (two) o[1] = v1;
    } else if (mode == EPI_ADD_F32) {
        float* o = (float*)out + (long long)m * ldc + n;
        if (atomic) {
            atomicAdd(o, v0);
            if (two) atomicAdd(o + 1, v1);
        } else {
            o[0] += v0;
            if (two) o[1] += v1;
        }
    } else if (mode == EPI_BF16 || mode == EPI_RELU) {
        if (mode == EPI_RELU) {
            v0 = fmaxf(v0, 0.0f);
            v1 = fmaxf(v1, 0.0f);
        }
        u16* o = (u16*)out + (long long)m * ldc + n;
        o[0] = f2bf(v0);
        if (two) o[1] = f2bf(v1);
    } else {
        float a = (mode == EPI_GEGLU) ? gelu_tanh(v0) : silu(v0);
        u16* o = (u16*)out + (long long)m * ldc + (n >> 1);
        *o = f2bf(a * v1);
    }
}

__device__ __forceinline__ void mma_bf16_16816(float* c, const u32* a, const u32* b) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
__device__ __forceinline__ void ldsm_x4(u32* r, const void* p) {
    u32 a = (u32)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}
__device__ __forceinline__ void ldsm_x4_t(u32* r, const void* p) {
    u32 a = (u32)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, int bytes) {
    u32 a = (u32)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(a), "l"(gmem), "r"(bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}
// Streaming 16-byte load that skips L1 (weights are read once per pass).
__device__ __forceinline__ uint4 ld_stream(const uint4* p) {
    uint4 r;
    asm("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];\n"
        : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
        : "l"(p));
    return r;
}
__device__ __forceinline__ float dot8(uint4 w, uint4 x) {
    float s = lo_f(w.x) * lo_f(x.x);
    s = fmaf(hi_f(w.x), hi_f(x.x), s);
    s = fmaf(lo_f(w.y), lo_f(x.y), s);
    s = fmaf(hi_f(w.y), hi_f(x.y), s);
    s = fmaf(lo_f(w.z), lo_f(x.z), s);
    s = fmaf(hi_f(w.z), hi_f(x.z), s);
    s = fmaf(lo_f(w.w), lo_f(x.w), s);
    s = fmaf(hi_f(w.w), hi_f(x.w), s);
    return s;
}
