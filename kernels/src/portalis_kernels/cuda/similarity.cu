// Cosine similarity top-k of queries against a translation memory.
//
// l2_normalize_rows: out = x / ||x|| (norm accumulated in double, zero rows stay zero).
// cosine_scores: scores[q, m] = dot(qn[q], mn[m]) in float32 with 16x16 shared-memory tiles; the
//   summation order depends only on the column index, so identical memory rows score identically
//   and ties are exact; -0.0 is canonicalised to +0.0.
// topk_rows: per query, the k (<= TOPK_KMAX) best (score desc, index asc) via 64-bit rank keys
//   ((~orderable(score)) << 32 | index): each thread keeps a sorted private list, then the block
//   bitonic-sorts all candidates in shared memory. Missing entries (k > M) are index -1, score -inf.
// The NumPy oracle is portalis_kernels.similarity.cosine_topk_reference.

#define TILE 16
#define TOPK_THREADS 128
#define TOPK_KMAX 32
#define EMPTY_KEY 0xffffffffffffffffull

// One block per row; blockDim must be a power of two <= 1024.
extern "C" __global__ void l2_normalize_rows(
    const float* __restrict__ x,
    float* __restrict__ out,
    const int dim)
{
    __shared__ double partial[1024];
    const long long base = (long long)blockIdx.x * dim;
    double acc = 0.0;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        const double v = (double)x[base + i];
        acc += v * v;
    }
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
        __syncthreads();
    }
    const double norm = sqrt(partial[0]);
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        out[base + i] = norm > 0.0 ? (float)((double)x[base + i] / norm) : 0.0f;
    }
}

// grid = (ceil(nm / TILE), ceil(nq / TILE)), block = (TILE, TILE).
extern "C" __global__ void cosine_scores(
    const float* __restrict__ qn,
    const float* __restrict__ mn,
    float* __restrict__ scores,
    const int nq,
    const int nm,
    const int dim)
{
    __shared__ float qs[TILE][TILE + 1];
    __shared__ float ms[TILE][TILE + 1];
    const int tx = threadIdx.x;
    const int ty = threadIdx.y;
    const int qi = blockIdx.y * TILE + ty;
    const int mi = blockIdx.x * TILE + tx;
    const int mrow = blockIdx.x * TILE + ty;
    float acc = 0.0f;
    for (int t = 0; t < dim; t += TILE) {
        const int c = t + tx;
        qs[ty][tx] = (qi < nq && c < dim) ? qn[(long long)qi * dim + c] : 0.0f;
        ms[ty][tx] = (mrow < nm && c < dim) ? mn[(long long)mrow * dim + c] : 0.0f;
        __syncthreads();
#pragma unroll
        for (int j = 0; j < TILE; ++j) acc = fmaf(qs[ty][j], ms[tx][j], acc);
        __syncthreads();
    }
    if (qi < nq && mi < nm) {
        if (acc == 0.0f) acc = 0.0f;
        scores[(long long)qi * nm + mi] = acc;
    }
}

__device__ __forceinline__ unsigned long long rank_key(float s, unsigned int idx)
{
    const unsigned int b = __float_as_uint(s);
    const unsigned int ord = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
    return ((unsigned long long)(~ord) << 32) | (unsigned long long)idx;
}

// grid = nq, block = TOPK_THREADS, 1 <= k <= TOPK_KMAX.
extern "C" __global__ void topk_rows(
    const float* __restrict__ scores,
    const int nm,
    const int k,
    long long* __restrict__ out_idx,
    float* __restrict__ out_score)
{
    __shared__ unsigned long long cand[TOPK_THREADS * TOPK_KMAX];
    const long long q = blockIdx.x;
    const float* row = scores + q * nm;
    unsigned long long best[TOPK_KMAX];
    for (int i = 0; i < TOPK_KMAX; ++i) best[i] = EMPTY_KEY;
    for (int m = threadIdx.x; m < nm; m += TOPK_THREADS) {
        const unsigned long long key = rank_key(row[m], (unsigned int)m);
        if (key < best[k - 1]) {
            int j = k - 1;
            while (j > 0 && best[j - 1] > key) {
                best[j] = best[j - 1];
                --j;
            }
            best[j] = key;
        }
    }
    for (int i = 0; i < TOPK_KMAX; ++i) cand[threadIdx.x * TOPK_KMAX + i] = best[i];
    __syncthreads();
    const int n = TOPK_THREADS * TOPK_KMAX;
    for (int size = 2; size <= n; size <<= 1) {
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            for (int i = threadIdx.x; i < n; i += TOPK_THREADS) {
                const int j = i ^ stride;
                if (j > i) {
                    const bool ascending = (i & size) == 0;
                    const unsigned long long a = cand[i];
                    const unsigned long long b = cand[j];
                    if ((a > b) == ascending) {
                        cand[i] = b;
                        cand[j] = a;
                    }
                }
            }
            __syncthreads();
        }
    }
    for (int i = threadIdx.x; i < k; i += TOPK_THREADS) {
        const unsigned long long key = cand[i];
        if (key == EMPTY_KEY) {
            out_idx[q * k + i] = -1;
            out_score[q * k + i] = -__int_as_float(0x7f800000);
        } else {
            const unsigned int m = (unsigned int)(key & 0xffffffffull);
            out_idx[q * k + i] = (long long)m;
            out_score[q * k + i] = row[m];
        }
    }
}
