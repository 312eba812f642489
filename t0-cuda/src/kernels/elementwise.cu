// Row-wise and element-wise kernels: RMSNorm, embedding gather, residual add, log-softmax
// gather, argmax (greedy step), dtype conversion and on-device random weights.

// T5LayerNorm (RMS, no mean, no bias): y = w * x / sqrt(mean(x^2) + eps). One block per row.
// Writes bf16 when out_bf16 != 0, else f32.
extern "C" __global__ void __launch_bounds__(256) rmsnorm(const float* __restrict__ x,
                                                         const float* __restrict__ w,
                                                         void* __restrict__ y, int D, float eps,
                                                         int out_bf16) {
    pdl_prologue();
    __shared__ float red[32];
    const long long row = blockIdx.x;
    const float* xr = x + row * D;
    float ss = 0.0f;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        const float v = xr[d];
        ss = fmaf(v, v, ss);
    }
    ss = block_sum(ss, red);
    const float inv = rsqrtf(ss / (float)D + eps);
    if (out_bf16) {
        u16* yr = (u16*)y + row * D;
        for (int d = threadIdx.x; d < D; d += blockDim.x) yr[d] = f2bf(w[d] * (xr[d] * inv));
    } else {
        float* yr = (float*)y + row * D;
        for (int d = threadIdx.x; d < D; d += blockDim.x) yr[d] = w[d] * (xr[d] * inv);
    }
}

// RMSNorm, vectorised: the same result as `rmsnorm` (sum of squares in f32, y = w * (x * inv),
// inv = rsqrt(ss / D + eps)) for rows of D = 4 * D4 floats with x and w 16-byte aligned (y
// 16-byte aligned for f32 out, 8-byte for bf16 out). Each thread keeps its (at most
// RMS_V) float4 of the row in registers, so the row is read from memory once, with 16-byte
// loads; bf16 out is stored 4 at a time (8 bytes), f32 out as float4. One block per row,
// blockDim.x * RMS_V >= D / 4 (the launcher picks blockDim.x).
#define RMS_V 8
extern "C" __global__ void __launch_bounds__(256) rmsnorm_vec(const float* __restrict__ x,
                                                             const float* __restrict__ w,
                                                             void* __restrict__ y, int D, float eps,
                                                             int out_bf16) {
    pdl_prologue();
    __shared__ float red[32];
    const int D4 = D >> 2;
    const long long row = blockIdx.x;
    const float4* xr = (const float4*)(x + row * D);
    float4 v[RMS_V];
#pragma unroll
    for (int k = 0; k < RMS_V; ++k) {
        const int i = threadIdx.x + k * blockDim.x;
        v[k] = i < D4 ? xr[i] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    }
    float ss = 0.0f;
#pragma unroll
    for (int k = 0; k < RMS_V; ++k) {
        ss = fmaf(v[k].x, v[k].x, ss);
        ss = fmaf(v[k].y, v[k].y, ss);
        ss = fmaf(v[k].z, v[k].z, ss);
        ss = fmaf(v[k].w, v[k].w, ss);
    }
    ss = block_sum(ss, red);
    const float inv = rsqrtf(ss / (float)D + eps);
    const float4* w4 = (const float4*)w;
#pragma unroll
    for (int k = 0; k < RMS_V; ++k) {
        const int i = threadIdx.x + k * blockDim.x;
        if (i < D4) {
            const float4 ww = __ldg(w4 + i);
            const float a = ww.x * (v[k].x * inv), b = ww.y * (v[k].y * inv);
            const float c = ww.z * (v[k].z * inv), d = ww.w * (v[k].w * inv);
            if (out_bf16) {
                ((uint2*)((u16*)y + row * D))[i] = make_uint2(pack2(a, b), pack2(c, d));
            } else {
                ((float4*)((float*)y + row * D))[i] = make_float4(a, b, c, d);
            }
        }
    }
}

// out[r, :] = table[ids[r], :] as f32; ids outside [0, V) give a row of zeros (callers check
// ids on the host first). One block per row.
extern "C" __global__ void embed_bf16(const int* __restrict__ ids, const u16* __restrict__ table,
                                      float* __restrict__ out, int D, int V) {
    pdl_prologue();
    const long long r = blockIdx.x;
    const int id = ids[r];
    float* o = out + r * D;
    if (id < 0 || id >= V) {
        for (int d = threadIdx.x; d < D; d += blockDim.x) o[d] = 0.0f;
        return;
    }
    const u16* t = table + (long long)id * D;
    for (int d = threadIdx.x; d < D; d += blockDim.x) o[d] = bf2f(t[d]);
}

// x += y over n floats.
extern "C" __global__ void add_f32(float* __restrict__ x, const float* __restrict__ y,
                                   long long n) {
    pdl_prologue();
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x)
        x[i] += y[i];
}

// out[r] = logits[r, target[r]] - logsumexp(logits[r, :]); target < 0 gives 0. One block/row.
extern "C" __global__ void __launch_bounds__(256) log_softmax_gather(
    const float* __restrict__ logits, int V, const int* __restrict__ target,
    float* __restrict__ out) {
    pdl_prologue();
    __shared__ float red[32];
    const long long r = blockIdx.x;
    const float* lr = logits + r * V;
    float mx = -T0_INF;
    for (int j = threadIdx.x; j < V; j += blockDim.x) mx = fmaxf(mx, lr[j]);
    mx = block_max(mx, red);
    float s = 0.0f;
    for (int j = threadIdx.x; j < V; j += blockDim.x) s += expf(lr[j] - mx);
    s = block_sum(s, red);
    if (threadIdx.x == 0) {
        const int tg = target[r];
        out[r] = (tg < 0 || tg >= V) ? 0.0f : lr[tg] - (mx + logf(s));
    }
}

// Greedy step: tok = argmax(logits[b, :]) (lowest index on ties; NaN never wins; column
// `suppress` skipped when >= 0). If done is
// not null, finished rows emit `pad` and done[b] |= (tok == eos). next[b] = tok; when hist is
// not null, hist[b * hist_stride + *pos] = tok. One block (256 threads) per row.
extern "C" __global__ void __launch_bounds__(256) argmax_step(
    const float* __restrict__ logits, int V, int* __restrict__ next, int* __restrict__ hist,
    int hist_stride, const int* __restrict__ pos, int* __restrict__ done, int eos, int pad,
    int suppress) {
    pdl_prologue();
    __shared__ float sv[256];
    __shared__ int si[256];
    const long long b = blockIdx.x;
    const float* lr = logits + b * V;
    float best = -T0_INF;
    int bi = 0x7fffffff;
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
        const float v = lr[j];
        if (v > best && j != suppress) {
            best = v;
            bi = j;
        }
    }
    sv[threadIdx.x] = best;
    si[threadIdx.x] = bi;
    __syncthreads();
    for (int s = blockDim.x >> 1; s > 0; s >>= 1) {
        if (threadIdx.x < s) {
            const float ov = sv[threadIdx.x + s];
            const int oi = si[threadIdx.x + s];
            if (ov > sv[threadIdx.x] || (ov == sv[threadIdx.x] && oi < si[threadIdx.x])) {
                sv[threadIdx.x] = ov;
                si[threadIdx.x] = oi;
            }
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        int tok = si[0] == 0x7fffffff ? 0 : si[0];
        if (done) {
            if (done[b]) tok = pad;
            else if (tok == eos) done[b] = 1;
        }
        next[b] = tok;
        if (hist) hist[b * hist_stride + *pos] = tok;
    }
}

// *pos += 1 (end of a captured decode step).
extern "C" __global__ void advance_pos(int* pos) {
    pdl_prologue();
    if (threadIdx.x == 0 && blockIdx.x == 0) *pos += 1;
}

// f32 -> bf16, round to nearest even (weights on upload).
extern "C" __global__ void f32_to_bf16(const float* __restrict__ in, u16* __restrict__ out,
                                       long long n) {
    pdl_prologue();
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x)
        out[i] = f2bf(in[i]);
}

// bf16 -> f32.
extern "C" __global__ void bf16_to_f32(const u16* __restrict__ in, float* __restrict__ out,
                                       long long n) {
    pdl_prologue();
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x)
        out[i] = bf2f(in[i]);
}

__device__ __forceinline__ u32 hash32(u32 x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}
// Random weights on the device for benchmarks: uniform in [-scale, scale), from a hash of
// (seed, index); no host copy.
extern "C" __global__ void init_uniform_bf16(u16* __restrict__ out, long long n, u32 seed,
                                             float scale) {
    pdl_prologue();
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        const u32 h = hash32((u32)i ^ hash32(seed + (u32)(i >> 32) * 0x9e3779b9u));
        const float u = (float)(h >> 8) * (1.0f / 16777216.0f);
        out[i] = f2bf((2.0f * u - 1.0f) * scale);
    }
}

// Feed-forward activation in place: gate = act(gate) * up (up may be null: gate = act(gate)).
// act: 0 relu, 1 gelu_tanh, 2 silu.
extern "C" __global__ void act_f32(float* __restrict__ gate, const float* __restrict__ up,
                                   long long n, int act) {
    pdl_prologue();
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        const float g = gate[i];
        float a = act == 0 ? fmaxf(g, 0.0f) : (act == 1 ? gelu_tanh(g) : silu(g));
        if (up) a *= up[i];
        gate[i] = a;
    }
}

// x *= s over n floats.
extern "C" __global__ void scale_f32(float* __restrict__ x, long long n, float s) {
    pdl_prologue();
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x)
        x[i] *= s;
}

// Weight upload: converts `rows` rows of `cols` (f32 when in_bf16 == 0, else bf16) from a
// staging buffer into bf16 rows of the destination with row stride out_ld elements.
extern "C" __global__ void convert_rows_bf16(const void* __restrict__ in, int in_bf16,
                                             u16* __restrict__ out, long long rows, long long cols,
                                             long long out_ld) {
    pdl_prologue();
    const long long n = rows * cols;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        const long long r = i / cols, c = i - r * cols;
        const u16 v = in_bf16 ? ((const u16*)in)[i] : f2bf(((const float*)in)[i]);
        out[r * out_ld + c] = v;
    }
}
