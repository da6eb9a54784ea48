// Hashed byte n-gram features ("cheap embedding") for a batch of source units.
//
// Layout: data (uint8, all units concatenated), offsets (int64, B + 1). The host splits each unit
// into chunks of `chunk_len` start positions (chunk_unit/chunk_first) so one very long unit is
// spread over many blocks. For every start position p of a unit and n = 1..n_max with p + n <= end,
// h = FNV-1a 32-bit of data[p .. p+n-1]; n-grams with n >= n_min add w to bucket h % dim, where
// w = -1 if signed_hash and bit 31 of h is set, else +1. Counts are exact int32; featurize_finalize
// turns them into float32 and optionally L2-normalises each row (norm accumulated in double).
// The NumPy oracle is portalis_kernels.featurize.featurize_reference.

#define FNV_OFFSET_BASIS 2166136261u
#define FNV_PRIME 16777619u

extern "C" __global__ void featurize_ngrams(
    const unsigned char* __restrict__ data,
    const long long* __restrict__ offsets,
    const long long* __restrict__ chunk_unit,
    const long long* __restrict__ chunk_first,
    const int dim,
    const int n_min,
    const int n_max,
    const int signed_hash,
    const int use_shared,
    const int chunk_len,
    int* __restrict__ counts)
{
    extern __shared__ int hist[];
    const long long u = chunk_unit[blockIdx.x];
    const long long unit_start = offsets[u];
    const long long unit_end = offsets[u + 1];
    const long long start = unit_start + chunk_first[blockIdx.x];
    long long stop = start + chunk_len;
    if (stop > unit_end) stop = unit_end;
    int* row = counts + u * (long long)dim;

    if (use_shared) {
        for (int i = threadIdx.x; i < dim; i += blockDim.x) hist[i] = 0;
        __syncthreads();
    }
    for (long long p = start + threadIdx.x; p < stop; p += blockDim.x) {
        unsigned int h = FNV_OFFSET_BASIS;
        for (int n = 1; n <= n_max; ++n) {
            const long long q = p + n - 1;
            if (q >= unit_end) break;
            h = (h ^ (unsigned int)data[q]) * FNV_PRIME;
            if (n >= n_min) {
                const int bucket = (int)(h % (unsigned int)dim);
                const int w = (signed_hash && (h >> 31)) ? -1 : 1;
                if (use_shared) {
                    atomicAdd(&hist[bucket], w);
                } else {
                    atomicAdd(&row[bucket], w);
                }
            }
        }
    }
    if (use_shared) {
        __syncthreads();
        for (int i = threadIdx.x; i < dim; i += blockDim.x) {
            const int v = hist[i];
            if (v != 0) atomicAdd(&row[i], v);
        }
    }
}

// One block per row; blockDim must be a power of two <= 1024.
extern "C" __global__ void featurize_finalize(
    const int* __restrict__ counts,
    float* __restrict__ out,
    const int dim,
    const int normalize)
{
    __shared__ double partial[1024];
    const long long base = (long long)blockIdx.x * dim;
    double norm = 0.0;
    if (normalize) {
        double acc = 0.0;
        for (int i = threadIdx.x; i < dim; i += blockDim.x) {
            const double v = (double)counts[base + i];
            acc += v * v;
        }
        partial[threadIdx.x] = acc;
        __syncthreads();
        for (int s = blockDim.x / 2; s > 0; s >>= 1) {
            if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
            __syncthreads();
        }
        norm = sqrt(partial[0]);
    }
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        const int c = counts[base + i];
        if (!normalize) {
            out[base + i] = (float)c;
        } else {
            out[base + i] = norm > 0.0 ? (float)((double)c / norm) : 0.0f;
        }
    }
}
