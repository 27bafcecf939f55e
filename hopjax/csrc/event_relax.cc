// Zero-temperature asynchronous relaxation on the CPU, as an XLA FFI custom call.
//
// hopjax_event_relax runs up to `max_sweeps` sweeps of every trajectory. Sweep t visits the
// spins in increasing (keys_t[i], i) order, keys_t = hopjax.dynamics.sweep_keys(key, t, N),
// computed here with the Threefry-2x32 hash exactly as JAX computes them (the default
// "partitionable" threefry: fold_in, split, random_bits), or in index order when
// `sequential`. It keeps the local fields and updates them on flips only, with the float
// operations of the pure-JAX "event" sweeps (h ← h + (2σ_i') J_i, the product exact), so both
// give the same trajectory bit for bit. A trajectory stops after a sweep that flips nothing.
// Trajectories are independent: they run in parallel on XLA's intra-op thread pool, each in
// a fixed order of operations, so results do not depend on the number of threads.
//
// Operands (leading batch dims L, each of size 1 or the batch size, as jax.vmap's
// "expand_dims" method gives them; then the core shapes):
//   J (N, N) f32 (its diagonal is ignored), sigma (B, N) f32, h (B, N) f32 (fields without
//   self-coupling), key (2) u32 (threefry key data),
//   frozen (B, N) pred, bias (N) f32, max_sweeps () s32.
// Attribute: sequential (bool).
// Results (leading dims: the broadcast of the operands'):
//   sigma (B, N), h (B, N), sweeps (B) s32 = sweeps that flipped a spin, active (B) pred =
//   whether the last sweep run flipped a spin (true: stopped by max_sweeps).

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

// Leading-dim strides of one operand against the broadcast leading shape (0 where the
// operand has size 1), in elements.
struct Lead {
  std::vector<int64_t> stride;
};

inline uint32_t rotl(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

// Threefry-2x32 with 20 rounds (Salmon et al., SC 2011), as jax.random uses it.
inline void threefry(uint32_t k0, uint32_t k1, uint32_t& x0, uint32_t& x1) {
  const uint32_t k2 = k0 ^ k1 ^ 0x1BD11BDAu;
  x0 += k0;
  x1 += k1;
#define HOPJAX_ROUNDS(a, b, c, d) \
  x0 += x1; x1 = rotl(x1, a); x1 ^= x0; x0 += x1; x1 = rotl(x1, b); x1 ^= x0; \
  x0 += x1; x1 = rotl(x1, c); x1 ^= x0; x0 += x1; x1 = rotl(x1, d); x1 ^= x0;
  HOPJAX_ROUNDS(13, 15, 26, 6) x0 += k1; x1 += k2 + 1u;
  HOPJAX_ROUNDS(17, 29, 16, 24) x0 += k2; x1 += k0 + 2u;
  HOPJAX_ROUNDS(13, 15, 26, 6) x0 += k0; x1 += k1 + 3u;
  HOPJAX_ROUNDS(17, 29, 16, 24) x0 += k1; x1 += k2 + 4u;
  HOPJAX_ROUNDS(13, 15, 26, 6) x0 += k2; x1 += k0 + 5u;
#undef HOPJAX_ROUNDS
}

// sweep_keys(key, t, n): bits(split(fold_in(key, t))[0], (n,), uint32)
void sweep_keys(uint32_t k0, uint32_t k1, uint32_t t, int64_t n, uint32_t* keys) {
  uint32_t f0 = 0, f1 = t;  // fold_in: hash of the 64-bit counter t
  threefry(k0, k1, f0, f1);
  uint32_t s0 = 0, s1 = 0;  // split: first of the two keys, counter 0
  threefry(f0, f1, s0, s1);
  for (int64_t i = 0; i < n; ++i) {  // random_bits: counter i, the two words xor-ed
    uint32_t x0 = 0, x1 = static_cast<uint32_t>(i);
    threefry(s0, s1, x0, x1);
    keys[i] = x0 ^ x1;
  }
}

// order[k] = index of the k-th smallest (key, index): a stable counting sort on the top bits
// (about one key per bucket), then insertion sort, which only meets the rare shared buckets.
void sort_order(const uint32_t* keys, int64_t n, int32_t* order, std::vector<int64_t>& count) {
  int bits = 1;
  while ((int64_t{1} << bits) < n && bits < 16) ++bits;
  const int shift = 32 - bits;
  count.assign((size_t{1} << bits) + 1, 0);
  for (int64_t i = 0; i < n; ++i) ++count[(keys[i] >> shift) + 1];
  for (size_t b = 1; b < count.size(); ++b) count[b] += count[b - 1];
  for (int64_t i = 0; i < n; ++i) order[count[keys[i] >> shift]++] = static_cast<int32_t>(i);
  for (int64_t k = 1; k < n; ++k) {  // stable: equal keys stay in index order
    const int32_t v = order[k];
    int64_t j = k - 1;
    for (; j >= 0 && keys[order[j]] > keys[v]; --j) order[j + 1] = order[j];
    order[j + 1] = v;
  }
}

// max |x_i| of n floats: an integer max of the bit patterns without the sign bit (exact;
// it vectorises where a float max does not)
float max_abs(const float* x, int64_t n) {
  uint32_t m = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, x + i, sizeof bits);
    m = std::max(m, bits & 0x7fffffffu);
  }
  float out;
  std::memcpy(&out, &m, sizeof out);
  return out;
}

// hopjax.dynamics.tie_tolerance(J, b): per spin, tol_i = 4 eps (N max_{j!=i} |J_ij| + |b_i|)
// (row i without its diagonal), the same float32 operations. Per row, so that one huge
// coupling widens the ties of its own two spins only.
void tie_tolerance(const float* J, const float* b, int64_t n, float* tol) {
  const float four_eps = 4.0f * std::numeric_limits<float>::epsilon();
  for (int64_t i = 0; i < n; ++i) {
    const float m = std::max(max_abs(J + i * n, i), max_abs(J + i * n + i + 1, n - i - 1));
    // (m + |b_i| / n) * n: no product feeds a sum, so XLA's FMA contraction in the JAX
    // version cannot make the two differ
    const float scale = (m + max_abs(b + i, 1) / static_cast<float>(n)) * static_cast<float>(n);
    tol[i] = four_eps * scale;
  }
}

// Per-worker cache of the visiting orders of one key's sweeps, computed when first needed,
// and of the per-spin tie tolerances of one (J, b).
struct Orders {
  const float* tol_J = nullptr;
  const float* tol_b = nullptr;
  std::vector<float> tol;
  uint32_t k0 = 0, k1 = 0;
  bool valid = false;
  int64_t n = 0;
  std::vector<int32_t> order;  // sweep t at [t * n, (t + 1) * n)
  std::vector<char> ready;
  std::vector<uint32_t> keys;
  std::vector<int64_t> count;

  const int32_t* get(const uint32_t* key, bool sequential, int64_t size, int64_t t) {
    if (!valid || key[0] != k0 || key[1] != k1 || size != n) {
      k0 = key[0], k1 = key[1], n = size, valid = true;
      ready.assign(ready.size(), 0);
      keys.resize(n);
    }
    if (static_cast<int64_t>(ready.size()) <= t) {
      ready.resize(t + 1, 0);
      order.resize((t + 1) * n);
    }
    int32_t* o = order.data() + t * n;
    if (!ready[t]) {
      if (sequential) {
        for (int64_t i = 0; i < n; ++i) o[i] = static_cast<int32_t>(i);
      } else {
        sweep_keys(k0, k1, static_cast<uint32_t>(t), n, keys.data());
        sort_order(keys.data(), n, o, count);
      }
      ready[t] = 1;
    }
    return o;
  }
};

// One trajectory: up to max_sweeps sweeps. Returns the number of sweeps that flipped a spin.
int32_t relax_one(const float* __restrict J, float* __restrict s, float* __restrict h,
                  const uint32_t* key, bool sequential, const bool* __restrict frozen,
                  const float* __restrict tol, int64_t max_sweeps, int64_t n, bool* active,
                  Orders& orders) {
  int32_t changed = 0;
  *active = true;
  for (int64_t t = 0; t < max_sweeps && *active; ++t) {
    const int32_t* order = orders.get(key, sequential, n, t);
    bool flipped = false;
    for (int64_t k = 0; k < n; ++k) {
      const int32_t i = order[k];
      if (frozen[i] || !(h[i] * s[i] < -tol[i])) continue;
      const float now = -s[i];
      s[i] = now;
      const float step = 2.0f * now;  // step * J_ij is exact: one rounding, as in XLA
      const float* __restrict row = J + i * n;
      const float hi = h[i];  // no self-coupling: J_ii, whatever it holds, never enters
      for (int64_t j = 0; j < n; ++j) h[j] = h[j] + step * row[j];
      h[i] = hi;
      flipped = true;
    }
    changed += flipped;
    *active = flipped;
  }
  return changed;
}

// Work shared by the threads of one call; kept alive by the tasks that hold it.
struct Job {
  std::atomic<int64_t> next{0};
  int64_t total = 0;
  int64_t done = 0;
  std::mutex mu;
  std::condition_variable cv;
};

ffi::Error EventRelax(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> J, ffi::Buffer<ffi::F32> sigma,
                      ffi::Buffer<ffi::F32> h, ffi::Buffer<ffi::U32> key,
                      ffi::Buffer<ffi::PRED> frozen, ffi::Buffer<ffi::F32> bias,
                      ffi::Buffer<ffi::S32> max_sweeps, bool sequential,
                      ffi::ResultBuffer<ffi::F32> sigma_out, ffi::ResultBuffer<ffi::F32> h_out,
                      ffi::ResultBuffer<ffi::S32> sweeps_out,
                      ffi::ResultBuffer<ffi::PRED> active_out) {
  const auto out_dims = sigma_out->dimensions();
  const int64_t L = static_cast<int64_t>(out_dims.size()) - 2;
  if (L < 0) return ffi::Error::InvalidArgument("hopjax_event_relax: sigma must be (..., B, N)");
  const int64_t B = out_dims[L], n = out_dims[L + 1];

  // operand -> leading strides; every operand has the same number of leading dims
  auto lead = [&](auto dims, int64_t core_rank, int64_t core, Lead* out) -> bool {
    if (static_cast<int64_t>(dims.size()) != L + core_rank) return false;
    out->stride.assign(L, 0);
    int64_t stride = core;
    for (int64_t l = L - 1; l >= 0; --l) {
      if (dims[l] != 1 && dims[l] != out_dims[l]) return false;
      if (dims[l] != 1) out->stride[l] = stride;
      stride *= dims[l];
    }
    return true;
  };
  Lead lJ, ls, lh, lk, lf, lb, lm;
  if (!lead(J.dimensions(), 2, n * n, &lJ) || !lead(sigma.dimensions(), 2, B * n, &ls) ||
      !lead(h.dimensions(), 2, B * n, &lh) || !lead(key.dimensions(), 1, 2, &lk) ||
      !lead(frozen.dimensions(), 2, B * n, &lf) || !lead(bias.dimensions(), 1, n, &lb) ||
      !lead(max_sweeps.dimensions(), 0, 1, &lm))
    return ffi::Error::InvalidArgument("hopjax_event_relax: operand shapes do not match");
  int64_t outer = 1;
  for (int64_t l = 0; l < L; ++l) outer *= out_dims[l];

  const float* Jd = J.typed_data();
  const float* sd = sigma.typed_data();
  const float* hd = h.typed_data();
  const uint32_t* kd = key.typed_data();
  const bool* fd = frozen.typed_data();
  const float* bd = bias.typed_data();
  const int32_t* md = max_sweeps.typed_data();
  float* so = sigma_out->typed_data();
  float* ho = h_out->typed_data();
  int32_t* wo = sweeps_out->typed_data();
  bool* acto = active_out->typed_data();

  auto offset = [&](const Lead& x, int64_t q) {
    int64_t off = 0;
    for (int64_t l = L - 1; l >= 0; --l) {
      off += (q % out_dims[l]) * x.stride[l];
      q /= out_dims[l];
    }
    return off;
  };
  // item = (outer index q, trajectory b)
  auto run_item = [&](int64_t item, Orders& orders) {
    const int64_t q = item / B, b = item % B;
    const float* Jq = Jd + offset(lJ, q);
    const float* bq = bd + offset(lb, q);
    if (orders.tol_J != Jq || orders.tol_b != bq || static_cast<int64_t>(orders.tol.size()) != n) {
      orders.tol.resize(n);
      tie_tolerance(Jq, bq, n, orders.tol.data());
      orders.tol_J = Jq, orders.tol_b = bq;
    }
    float* s = so + (q * B + b) * n;
    float* hh = ho + (q * B + b) * n;
    std::memcpy(s, sd + offset(ls, q) + b * n, sizeof(float) * n);
    std::memcpy(hh, hd + offset(lh, q) + b * n, sizeof(float) * n);
    bool act = true;
    wo[q * B + b] = relax_one(Jq, s, hh, kd + offset(lk, q), sequential,
                              fd + offset(lf, q) + b * n, orders.tol.data(), md[offset(lm, q)], n,
                              &act, orders);
    acto[q * B + b] = act;
  };

  const int64_t total = outer * B;
  const int64_t threads = std::min<int64_t>(std::max<int64_t>(pool.num_threads(), 1), total);
  if (threads <= 1) {
    Orders orders;
    for (int64_t i = 0; i < total; ++i) run_item(i, orders);
    return ffi::Error::Success();
  }
  // Dynamic scheduling: the caller and threads - 1 pool tasks take items from one counter.
  // The caller waits only for items that were taken, so a task the pool starts late (or
  // never) cannot block it; such a task finds no item left and touches nothing but `job`.
  auto job = std::make_shared<Job>();
  job->total = total;
  auto work = [job, &run_item]() {
    Orders orders;
    int64_t mine = 0;
    for (int64_t i; (i = job->next.fetch_add(1)) < job->total; ++mine) run_item(i, orders);
    if (mine) {
      std::lock_guard<std::mutex> lock(job->mu);
      job->done += mine;
      if (job->done == job->total) job->cv.notify_all();
    }
  };
  for (int64_t t = 1; t < threads; ++t) pool.Schedule([work] { work(); });
  work();
  std::unique_lock<std::mutex> lock(job->mu);
  job->cv.wait(lock, [&] { return job->done == job->total; });
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(HopjaxEventRelax, EventRelax,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()    // J
                                  .Arg<ffi::Buffer<ffi::F32>>()    // sigma
                                  .Arg<ffi::Buffer<ffi::F32>>()    // h
                                  .Arg<ffi::Buffer<ffi::U32>>()    // key
                                  .Arg<ffi::Buffer<ffi::PRED>>()   // frozen
                                  .Arg<ffi::Buffer<ffi::F32>>()    // bias
                                  .Arg<ffi::Buffer<ffi::S32>>()    // max_sweeps
                                  .Attr<bool>("sequential")
                                  .Ret<ffi::Buffer<ffi::F32>>()    // sigma
                                  .Ret<ffi::Buffer<ffi::F32>>()    // h
                                  .Ret<ffi::Buffer<ffi::S32>>()    // sweeps
                                  .Ret<ffi::Buffer<ffi::PRED>>()); // active
