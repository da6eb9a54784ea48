// MinHash signatures over byte shingles.
//
// A unit of length len has max(len - s + 1, 0) shingles data[p .. p+s-1]; a non-empty unit shorter
// than s has exactly one shingle, the whole unit; an empty unit has none and keeps the all-0xFFFFFFFF
// "empty set" signature the host initialises `out` with. Shingle hash x = FNV-1a 32-bit of its
// bytes; permutation k maps it to fmix32(x ^ seeds[k]) (MurmurHash3 finaliser); out[u, k] is the
// minimum over the unit's shingles. Blocks take `chunk_len` shingles of one unit (host work list),
// hash them into shared memory, then each thread owns permutations k = tid, tid + blockDim, ...
// and folds its chunk minimum into global memory with atomicMin.
// The NumPy oracle is portalis_kernels.minhash.minhash_reference.

#define FNV_OFFSET_BASIS 2166136261u
#define FNV_PRIME 16777619u

__device__ __forceinline__ unsigned int fmix32(unsigned int h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

extern "C" __global__ void minhash_signatures(
    const unsigned char* __restrict__ data,
    const long long* __restrict__ offsets,
    const long long* __restrict__ chunk_unit,
    const long long* __restrict__ chunk_first,
    const unsigned int* __restrict__ seeds,
    const int num_perm,
    const int shingle,
    const int chunk_len,
    unsigned int* __restrict__ out)
{
    extern __shared__ unsigned int xs[];
    const long long u = chunk_unit[blockIdx.x];
    const long long unit_start = offsets[u];
    const long long len = offsets[u + 1] - unit_start;
    const long long n_sh = len >= shingle ? len - shingle + 1 : (len > 0 ? 1 : 0);
    const int width = len >= shingle ? shingle : (int)len;
    const long long first = chunk_first[blockIdx.x];
    long long count = n_sh - first;
    if (count > chunk_len) count = chunk_len;

    for (int j = threadIdx.x; j < count; j += blockDim.x) {
        const unsigned char* p = data + unit_start + first + j;
        unsigned int h = FNV_OFFSET_BASIS;
        for (int b = 0; b < width; ++b) h = (h ^ (unsigned int)p[b]) * FNV_PRIME;
        xs[j] = h;
    }
    __syncthreads();
    for (int k = threadIdx.x; k < num_perm; k += blockDim.x) {
        const unsigned int seed = seeds[k];
        unsigned int m = 0xffffffffu;
        for (int j = 0; j < count; ++j) m = min(m, fmix32(xs[j] ^ seed));
        atomicMin(&out[u * (long long)num_perm + k], m);
    }
}
