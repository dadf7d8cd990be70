//===- fwd_sm80_test.cu - fwdSm80 against a float64 reference --------------===//
//
// Standalone nvcc program: instantiates attnc::fwdSm80 with hand-written patterns (full; causal
// aligned bottom-right; sliding window with a tanh softcap score mod) for bf16/fp16 and D = 64,
// 128 (plus 256 and D != Dv spot checks), runs ragged, GQA and varlen shapes with NaN-poisoned
// outputs, and compares O and LSE with a float64 CPU reference that implements the same conventions
// (masked -> -inf, empty row -> O = 0, LSE = -inf). Then (unless --no-timing) times B4 H16 S4096
// bf16, D = 128 and 64, full and causal, for a few tile configurations. Exit status 1 on any
// failure.
//   nvcc -std=c++17 -O2 -gencode=arch=compute_90a,code=sm_90a -I runtime/device \
//        test/gpu/standalone/fwd_sm80_test.cu -o /tmp/t
//
//===----------------------------------------------------------------------===//
#include "attnc/fwd_sm80.cuh"

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using attnc::FwdParams;

#define CUDA_CHECK(x)                                                                              \
  do {                                                                                             \
    cudaError_t err = (x);                                                                         \
    if (err != cudaSuccess) {                                                                      \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(err));    \
      std::exit(2);                                                                                \
    }                                                                                              \
  } while (0)

//===----------------------------------------------------------------------===//
// Patterns: device hooks as the code generator would emit them, plus an independent host
// predicate/score mod for the reference.
//===----------------------------------------------------------------------===//

#define HOOK static __device__ __forceinline__

// What every pattern below shares: softmax, no post-normalisation weight, no MUFU score mod.
struct SoftmaxPattern {
  static constexpr bool kHasWeight = false;
  static constexpr int kMufuScoreOps = 0;
  static constexpr int kScoreModOps = 0;
  static constexpr int kCombineBranches = 0; // no composite
  static constexpr int kNormalizer = attnc::kNormalizeSoftmax;
  static constexpr float kBias = 0.f;
  HOOK float weight(const FwdParams &, int, int, int, int, int, int) { return 1.f; }
};

struct PatternFull : SoftmaxPattern {
  static constexpr bool kHasScoreMod = false;
  static constexpr bool kHasMask = false;
  static constexpr bool kHasTileEmpty = false;
  static constexpr const char *kName = "full";
  HOOK void kvRange(const FwdParams &, int, int, int, int, int, int sk, int &lo, int &hi) {
    lo = 0;
    hi = sk;
  }
  HOOK bool tileFull(const FwdParams &, int, int, int, int, int, int, int, int) { return true; }
  HOOK bool tileEmpty(const FwdParams &, int, int, int, int, int, int, int, int) { return false; }
  HOOK bool mask(const FwdParams &, int, int, int, int, int, int) { return true; }
  HOOK float scoreMod(const FwdParams &, float s, int, int, int, int, int, int) { return s; }
  static bool refVisible(int, int, int, int) { return true; }
  static double refScoreMod(double s, const float *) { return s; }
};

// Bottom-right aligned causal: key k is visible to row q iff k <= q + Sk - Sq.
struct PatternCausal : SoftmaxPattern {
  static constexpr bool kHasScoreMod = false;
  static constexpr bool kHasMask = true;
  static constexpr bool kHasTileEmpty = false;
  static constexpr const char *kName = "causal";
  HOOK void kvRange(const FwdParams &, int, int, int, int q1, int sq, int sk, int &lo, int &hi) {
    lo = 0;
    hi = q1 + sk - sq; // last row q1-1 sees keys up to q1-1+sk-sq
  }
  HOOK bool tileFull(const FwdParams &, int, int, int q0, int, int, int k1, int sq, int sk) {
    return k1 - 1 <= q0 + sk - sq;
  }
  HOOK bool tileEmpty(const FwdParams &, int, int, int, int, int, int, int, int) { return false; }
  HOOK bool mask(const FwdParams &, int, int, int q, int k, int sq, int sk) {
    return k <= q + sk - sq;
  }
  HOOK float scoreMod(const FwdParams &, float s, int, int, int, int, int, int) { return s; }
  static bool refVisible(int q, int k, int sq, int sk) { return k <= q + sk - sq; }
  static double refScoreMod(double s, const float *) { return s; }
};

// Bottom-right aligned window: with d = q + Sk - Sq - k, visible iff -kRight <= d <= kLeft;
// score mod t = cap * tanh(s / cap), cap = scalars[0], 1/cap = scalars[1].
struct PatternWindowSoftcap : SoftmaxPattern {
  static constexpr bool kHasScoreMod = true;
  static constexpr bool kHasMask = true;
  static constexpr bool kHasTileEmpty = false;
  static constexpr const char *kName = "window+softcap";
  static constexpr int kLeft = 96, kRight = 24;
  HOOK void kvRange(const FwdParams &, int, int, int q0, int q1, int sq, int sk, int &lo, int &hi) {
    lo = q0 + sk - sq - kLeft;
    hi = q1 + sk - sq + kRight;
  }
  HOOK bool tileFull(const FwdParams &, int, int, int q0, int q1, int k0, int k1, int sq, int sk) {
    return k0 >= q1 - 1 + sk - sq - kLeft && k1 - 1 <= q0 + sk - sq + kRight;
  }
  HOOK bool tileEmpty(const FwdParams &, int, int, int, int, int, int, int, int) { return false; }
  HOOK bool mask(const FwdParams &, int, int, int q, int k, int sq, int sk) {
    const int d = q + sk - sq - k;
    return d >= -kRight && d <= kLeft;
  }
  HOOK float scoreMod(const FwdParams &p, float s, int, int, int, int, int, int) {
    return attnc::softcap(s, p.scalars[0], p.scalars[1]);
  }
  static bool refVisible(int q, int k, int sq, int sk) {
    const int d = q + sk - sq - k;
    return d >= -kRight && d <= kLeft;
  }
  static double refScoreMod(double s, const float *scalars) {
    return scalars[0] * std::tanh(s / scalars[0]);
  }
};

// As the code generator emits it: __launch_bounds__(threads) only.
template <class Pattern, class Elem, int kD, int kDv, int kM, int kN, int kW, int kS>
__global__ void __launch_bounds__(kW * 32) fwdKernel(const FwdParams p) {
  attnc::fwdSm80<Pattern, Elem, kD, kDv, kM, kN, kW, kS>(p);
}

// With a minimum number of resident blocks per SM (caps registers at 64K / (blocks * threads)).
template <class Pattern, class Elem, int kD, int kM, int kN, int kW, int kS, int kMinBlocks>
__global__ void __launch_bounds__(kW * 32, kMinBlocks) fwdKernelMinBlocks(const FwdParams p) {
  attnc::fwdSm80<Pattern, Elem, kD, kD, kM, kN, kW, kS>(p);
}

/// Recommended tiles per head dim: (kBlockM, kBlockN, kWarps, kStages).
template <int kD> struct Config;
template <> struct Config<64> { static constexpr int kM = 128, kN = 64, kW = 8, kS = 2; };
template <> struct Config<128> { static constexpr int kM = 128, kN = 64, kW = 8, kS = 2; };
template <> struct Config<256> { static constexpr int kM = 64, kN = 32, kW = 4, kS = 2; };

//===----------------------------------------------------------------------===//
// Host 16-bit conversions (round to nearest even).
//===----------------------------------------------------------------------===//

template <class Elem> unsigned short toBits(float x);
template <> unsigned short toBits<attnc::bf16>(float x) {
  unsigned u;
  std::memcpy(&u, &x, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (unsigned short)(u >> 16);
}
template <> unsigned short toBits<attnc::half>(float x) {
  __half h = __float2half_rn(x);
  unsigned short b;
  std::memcpy(&b, &h, 2);
  return b;
}
template <class Elem> float fromBits(unsigned short b);
template <> float fromBits<attnc::bf16>(unsigned short b) {
  unsigned u = unsigned(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
template <> float fromBits<attnc::half>(unsigned short b) {
  __half h;
  std::memcpy(&h, &b, 2);
  return __half2float(h);
}
template <class Elem> const char *elemName() { return Elem::kIsBf16 ? "bf16" : "fp16"; }

//===----------------------------------------------------------------------===//
// One problem: host tensors, device buffers, params.
//===----------------------------------------------------------------------===//

struct Shape {
  std::string name;
  int hq, hkv;
  std::vector<int> lensQ, lensK; // per sequence
  bool varlen;
};

struct Problem {
  Shape shape;
  int d, dv, batch, maxQ, maxK, totalQ, totalK;
  std::vector<int> rowQ, rowK;         // first packed row of each sequence
  std::vector<unsigned short> q, k, v; // packed [rows, heads, d]
  std::vector<double> qd, kd, vd;      // the same values (after rounding) in float64
};

template <class Elem> Problem makeProblem(const Shape &s, int d, int dv, unsigned seed) {
  Problem pr;
  pr.shape = s;
  pr.d = d;
  pr.dv = dv;
  pr.batch = int(s.lensQ.size());
  pr.maxQ = *std::max_element(s.lensQ.begin(), s.lensQ.end());
  pr.maxK = *std::max_element(s.lensK.begin(), s.lensK.end());
  // Non-varlen shapes use equal lengths and the same packed layout ([B*S, H, D] == [B, S, H, D]).
  pr.totalQ = pr.totalK = 0;
  for (int b = 0; b < pr.batch; ++b) {
    pr.rowQ.push_back(pr.totalQ);
    pr.rowK.push_back(pr.totalK);
    pr.totalQ += s.lensQ[b];
    pr.totalK += s.lensK[b];
  }
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  auto fill = [&](std::vector<unsigned short> &bits, std::vector<double> &dbl, size_t n,
                  float scale) {
    bits.resize(n);
    dbl.resize(n);
    for (size_t i = 0; i < n; ++i) {
      bits[i] = toBits<Elem>(scale * nd(rng));
      dbl[i] = fromBits<Elem>(bits[i]);
    }
  };
  fill(pr.q, pr.qd, size_t(pr.totalQ) * s.hq * d, 1.5f); // scores ~ N(0, 2.25): peaky rows
  fill(pr.k, pr.kd, size_t(pr.totalK) * s.hkv * d, 1.0f);
  fill(pr.v, pr.vd, size_t(pr.totalK) * s.hkv * dv, 1.0f);
  return pr;
}

/// float64 reference of one (b, h, q) row: O row and LSE, same conventions as the kernel.
template <class Pattern>
void referenceRow(const Problem &pr, const float *scalars, double scale, int b, int h, int q,
                  std::vector<double> &o, double &lse) {
  const int d = pr.d, dv = pr.dv, hq = pr.shape.hq, hkv = pr.shape.hkv;
  const int sq = pr.shape.lensQ[b], sk = pr.shape.lensK[b];
  const int hk = h / (hq / hkv);
  const double *qr = &pr.qd[(size_t(pr.rowQ[b] + q) * hq + h) * d];
  std::vector<double> t(sk);
  double m = -INFINITY;
  for (int k = 0; k < sk; ++k) {
    const double *kr = &pr.kd[(size_t(pr.rowK[b] + k) * hkv + hk) * d];
    double dot = 0;
    for (int i = 0; i < d; ++i)
      dot += qr[i] * kr[i];
    double x = Pattern::refScoreMod(scale * dot, scalars); // score mod -> mask
    t[k] = Pattern::refVisible(q, k, sq, sk) ? x : -INFINITY;
    m = std::max(m, t[k]);
  }
  o.assign(dv, 0.0);
  if (m == -INFINITY) {
    lse = -INFINITY;
    return;
  }
  double l = 0;
  for (int k = 0; k < sk; ++k) {
    if (t[k] == -INFINITY)
      continue;
    const double pk = std::exp(t[k] - m);
    l += pk;
    const double *vr = &pr.vd[(size_t(pr.rowK[b] + k) * hkv + hk) * dv];
    for (int i = 0; i < dv; ++i)
      o[i] += pk * vr[i];
  }
  for (int i = 0; i < dv; ++i)
    o[i] /= l;
  lse = m + std::log(l);
}

static long long i64Stride(int heads, int d) { return (long long)heads * d; }

struct Result {
  double relErr = 0, lseErr = 0, emptyMax = 0;
  long unwritten = 0, infMismatch = 0;
  bool deterministic = true;
};

template <class Pattern, class Elem, int kD, int kDv> Result runProblem(const Problem &pr) {
  using C = Config<kD>;
  auto kernel = fwdKernel<Pattern, Elem, kD, kDv, C::kM, C::kN, C::kW, C::kS>;
  const int smem = attnc::fwdSm80SmemBytes(kD, kDv, C::kM, C::kN, C::kS);
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  const int hq = pr.shape.hq, hkv = pr.shape.hkv, d = kD, dv = kDv;

  void *bufQ, *bufK, *bufV, *bufO;
  float *bufLse;
  int *bufCuQ = nullptr, *bufCuK = nullptr;
  const size_t oElems = size_t(pr.totalQ) * hq * dv;
  // LSE: [B, Hq, Sq] for fixed length (= [B, Hq, maxQ]), [Hq, total_q] for varlen.
  const size_t lseElems =
      pr.shape.varlen ? size_t(hq) * pr.totalQ : size_t(pr.batch) * hq * pr.maxQ;
  CUDA_CHECK(cudaMalloc(&bufQ, pr.q.size() * 2));
  CUDA_CHECK(cudaMalloc(&bufK, pr.k.size() * 2));
  CUDA_CHECK(cudaMalloc(&bufV, pr.v.size() * 2));
  CUDA_CHECK(cudaMalloc(&bufO, std::max<size_t>(oElems, 1) * 2));
  CUDA_CHECK(cudaMalloc(&bufLse, std::max<size_t>(lseElems, 1) * 4));
  CUDA_CHECK(cudaMemcpy(bufQ, pr.q.data(), pr.q.size() * 2, cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(bufK, pr.k.data(), pr.k.size() * 2, cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(bufV, pr.v.data(), pr.v.size() * 2, cudaMemcpyHostToDevice));

  FwdParams p{};
  p.q = bufQ;
  p.k = bufK;
  p.v = bufV;
  p.o = bufO;
  p.lse = bufLse;
  p.q_row_stride = i64Stride(hq, d);
  p.k_row_stride = i64Stride(hkv, d);
  p.v_row_stride = i64Stride(hkv, dv);
  p.o_row_stride = i64Stride(hq, dv);
  p.q_head_stride = p.k_head_stride = d;
  p.v_head_stride = p.o_head_stride = dv;
  p.q_batch_stride = (long long)pr.maxQ * hq * d;
  p.o_batch_stride = (long long)pr.maxQ * hq * dv;
  p.k_batch_stride = (long long)pr.maxK * hkv * d;
  p.v_batch_stride = (long long)pr.maxK * hkv * dv;
  p.batch = pr.batch;
  p.heads = hq;
  p.kv_heads = hkv;
  p.seqlen_q = pr.maxQ;
  p.seqlen_k = pr.maxK;
  if (pr.shape.varlen) {
    std::vector<int> cuq(pr.rowQ), cuk(pr.rowK);
    cuq.push_back(pr.totalQ);
    cuk.push_back(pr.totalK);
    CUDA_CHECK(cudaMalloc(&bufCuQ, cuq.size() * 4));
    CUDA_CHECK(cudaMalloc(&bufCuK, cuk.size() * 4));
    CUDA_CHECK(cudaMemcpy(bufCuQ, cuq.data(), cuq.size() * 4, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(bufCuK, cuk.data(), cuk.size() * 4, cudaMemcpyHostToDevice));
    p.cu_seqlens_q = bufCuQ;
    p.cu_seqlens_k = bufCuK;
  }
  p.scale = float(1.0 / std::sqrt(double(d)));
  p.scale_log2 = float(1.0 / std::sqrt(double(d)) * M_LOG2E);
  p.scalars[0] = 4.0f;        // softcap
  p.scalars[1] = 1.0f / 4.0f; // 1 / softcap

  const dim3 grid((pr.maxQ + C::kM - 1) / C::kM, hq, pr.batch);
  auto launch = [&] {
    CUDA_CHECK(cudaMemset(bufO, 0xff, std::max<size_t>(oElems, 1) * 2)); // NaN poison
    CUDA_CHECK(cudaMemset(bufLse, 0xff, std::max<size_t>(lseElems, 1) * 4));
    kernel<<<grid, C::kW * 32, smem>>>(p);
    CUDA_CHECK(cudaGetLastError());
    CUDA_CHECK(cudaDeviceSynchronize());
  };
  std::vector<unsigned short> out(oElems), out2(oElems);
  std::vector<float> lse(lseElems);
  launch();
  CUDA_CHECK(cudaMemcpy(out.data(), bufO, oElems * 2, cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaMemcpy(lse.data(), bufLse, lseElems * 4, cudaMemcpyDeviceToHost));
  launch();
  CUDA_CHECK(cudaMemcpy(out2.data(), bufO, oElems * 2, cudaMemcpyDeviceToHost));

  Result res;
  res.deterministic = out == out2;
  double errSq = 0, refSq = 0;
  std::vector<double> ref;
  double refLse;
  for (int b = 0; b < pr.batch; ++b)
    for (int h = 0; h < hq; ++h)
      for (int q = 0; q < pr.shape.lensQ[b]; ++q) {
        referenceRow<Pattern>(pr, p.scalars, p.scale, b, h, q, ref, refLse);
        const unsigned short *orow = &out[(size_t(pr.rowQ[b] + q) * hq + h) * dv];
        bool written = true;
        for (int i = 0; i < dv; ++i) {
          const double x = fromBits<Elem>(orow[i]);
          if (std::isnan(x)) {
            written = false;
            continue;
          }
          errSq += (x - ref[i]) * (x - ref[i]);
          refSq += ref[i] * ref[i];
          if (refLse == -INFINITY)
            res.emptyMax = std::max(res.emptyMax, std::fabs(x));
        }
        const size_t li = pr.shape.varlen ? size_t(h) * pr.totalQ + pr.rowQ[b] + q
                                          : (size_t(b) * hq + h) * pr.maxQ + q;
        const float l = lse[li];
        if (std::isnan(l))
          written = false;
        else if (refLse == -INFINITY || std::isinf(l))
          res.infMismatch += !(l == refLse);
        else
          res.lseErr = std::max(res.lseErr, std::fabs(l - refLse));
        res.unwritten += !written;
      }
  res.relErr = refSq > 0 ? std::sqrt(errSq / refSq) : std::sqrt(errSq);

  cudaFree(bufQ);
  cudaFree(bufK);
  cudaFree(bufV);
  cudaFree(bufO);
  cudaFree(bufLse);
  cudaFree(bufCuQ);
  cudaFree(bufCuK);
  return res;
}

//===----------------------------------------------------------------------===//
// Driver.
//===----------------------------------------------------------------------===//

static std::vector<Shape> shapes() {
  auto fixed = [](const char *name, int sq, int sk) {
    return Shape{name, 4, 2, {sq, sq}, {sk, sk}, false};
  };
  return {fixed("q77 k201", 77, 201), fixed("q300 k300", 300, 300), fixed("q1 k513", 1, 513),
          fixed("q200 k77", 200, 77),
          // varlen: an empty q sequence and an empty k sequence (rows see no key)
          Shape{"varlen", 4, 2, {77, 0, 130, 300}, {201, 50, 0, 260}, true}};
}

static int failures = 0;

template <class Pattern, class Elem, int kD, int kDv = kD> void checkAll() {
  const double tol = Elem::kIsBf16 ? 1e-2 : 3e-3;
  const double lseTol = 2e-3;
  double worstRel = 0, worstLse = 0, worstEmpty = 0;
  long unwritten = 0, infMismatch = 0;
  bool det = true;
  std::string worstName;
  unsigned seed = 1;
  for (const Shape &s : shapes()) {
    Problem pr = makeProblem<Elem>(s, kD, kDv, seed++);
    Result r = runProblem<Pattern, Elem, kD, kDv>(pr);
    if (r.relErr >= worstRel) {
      worstRel = r.relErr;
      worstName = s.name;
    }
    worstLse = std::max(worstLse, r.lseErr);
    worstEmpty = std::max(worstEmpty, r.emptyMax);
    unwritten += r.unwritten;
    infMismatch += r.infMismatch;
    det = det && r.deterministic;
  }
  const bool ok = worstRel < tol && worstLse < lseTol && worstEmpty == 0 && unwritten == 0 &&
                  infMismatch == 0 && det;
  failures += !ok;
  const std::string dims =
      kD == kDv ? std::to_string(kD) : std::to_string(kD) + "/" + std::to_string(kDv);
  std::printf("%-15s %-4s %7s  %9.2e %-10s %9.2e %9d %9ld %6s  %s\n", Pattern::kName,
              elemName<Elem>(), dims.c_str(), worstRel, worstName.c_str(), worstLse,
              worstEmpty == 0 ? 0 : 1, unwritten + infMismatch, det ? "yes" : "NO",
              ok ? "PASS" : "FAIL");
}

template <class Pattern, int kD, int kM, int kN, int kW, int kS, int kMinBlocks = 0>
void timeBig() {
  const int b = 4, h = 16, s = 4096;
  using Elem = attnc::bf16;
  void (*kernel)(const FwdParams);
  if constexpr (kMinBlocks == 0)
    kernel = fwdKernel<Pattern, Elem, kD, kD, kM, kN, kW, kS>;
  else
    kernel = fwdKernelMinBlocks<Pattern, Elem, kD, kM, kN, kW, kS, kMinBlocks>;
  const int smem = attnc::fwdSm80SmemBytes(kD, kD, kM, kN, kS);
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  const size_t n = size_t(b) * s * h * kD;
  std::vector<unsigned short> host(n);
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (auto &x : host)
    x = toBits<Elem>(nd(rng));
  void *dq, *dk, *dv, *dout;
  float *dlse;
  CUDA_CHECK(cudaMalloc(&dq, n * 2));
  CUDA_CHECK(cudaMalloc(&dk, n * 2));
  CUDA_CHECK(cudaMalloc(&dv, n * 2));
  CUDA_CHECK(cudaMalloc(&dout, n * 2));
  CUDA_CHECK(cudaMalloc(&dlse, size_t(b) * h * s * 4));
  CUDA_CHECK(cudaMemcpy(dq, host.data(), n * 2, cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(dk, host.data(), n * 2, cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(dv, host.data(), n * 2, cudaMemcpyHostToDevice));
  FwdParams p{};
  p.q = dq;
  p.k = dk;
  p.v = dv;
  p.o = dout;
  p.lse = dlse;
  p.q_row_stride = p.k_row_stride = p.v_row_stride = p.o_row_stride = (long long)h * kD;
  p.q_head_stride = p.k_head_stride = p.v_head_stride = p.o_head_stride = kD;
  p.q_batch_stride = p.k_batch_stride = p.v_batch_stride = p.o_batch_stride = (long long)s * h * kD;
  p.batch = b;
  p.heads = p.kv_heads = h;
  p.seqlen_q = p.seqlen_k = s;
  p.scale = float(1.0 / std::sqrt(double(kD)));
  p.scale_log2 = float(p.scale * M_LOG2E);
  const dim3 grid((s + kM - 1) / kM, h, b);
  cudaEvent_t e0, e1;
  CUDA_CHECK(cudaEventCreate(&e0));
  CUDA_CHECK(cudaEventCreate(&e1));
  for (int i = 0; i < 3; ++i)
    kernel<<<grid, kW * 32, smem>>>(p);
  CUDA_CHECK(cudaGetLastError());
  std::vector<float> ms;
  for (int i = 0; i < 20; ++i) {
    CUDA_CHECK(cudaEventRecord(e0));
    kernel<<<grid, kW * 32, smem>>>(p);
    CUDA_CHECK(cudaEventRecord(e1));
    CUDA_CHECK(cudaEventSynchronize(e1));
    float t;
    CUDA_CHECK(cudaEventElapsedTime(&t, e0, e1));
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  const double med = ms[ms.size() / 2];
  double flops = 4.0 * b * h * double(s) * s * kD;
  if (Pattern::kHasMask)
    flops /= 2;
  std::printf("%-7s bf16 D%-3d B4 H16 S4096  M%-3d N%-3d W%d S%d minBlocks %d  %7.3f ms  %6.1f "
              "TFLOP/s\n",
              Pattern::kName, kD, kM, kN, kW, kS, kMinBlocks, med, flops / (med * 1e-3) / 1e12);
  cudaFree(dq);
  cudaFree(dk);
  cudaFree(dv);
  cudaFree(dout);
  cudaFree(dlse);
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
}

int main(int argc, char **argv) {
  // --no-timing: checks only; --quick: three checks, no timing (for compute-sanitizer runs).
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const bool timing = !quick && !(argc > 1 && std::strcmp(argv[1], "--no-timing") == 0);
  cudaDeviceProp prop;
  CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
  std::printf("Config (M N warps stages) D64: %d %d %d %d  D128: %d %d %d %d  D256: %d %d %d %d\n",
              Config<64>::kM, Config<64>::kN, Config<64>::kW, Config<64>::kS, Config<128>::kM,
              Config<128>::kN, Config<128>::kW, Config<128>::kS, Config<256>::kM, Config<256>::kN,
              Config<256>::kW, Config<256>::kS);
  std::printf("B=2 Hq=4 Hkv=2 shapes: q77 k201, q300 k300, q1 k513, q200 k77, "
              "varlen q{77,0,130,300} k{201,50,0,260}\n");
  std::printf("%-15s %-4s %7s  %9s %-10s %9s %9s %9s %6s\n", "pattern", "type", "D[/Dv]", "rel err",
              "(worst)", "lse err", "empty!=0", "bad rows", "determ");
  if (quick) {
    checkAll<PatternFull, attnc::bf16, 64>();
    checkAll<PatternCausal, attnc::half, 64>();
    checkAll<PatternWindowSoftcap, attnc::bf16, 128>();
    std::printf("%s: %d failing row(s)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
  }
  checkAll<PatternFull, attnc::bf16, 64>();
  checkAll<PatternFull, attnc::half, 64>();
  checkAll<PatternFull, attnc::bf16, 128>();
  checkAll<PatternFull, attnc::half, 128>();
  checkAll<PatternCausal, attnc::bf16, 64>();
  checkAll<PatternCausal, attnc::half, 64>();
  checkAll<PatternCausal, attnc::bf16, 128>();
  checkAll<PatternCausal, attnc::half, 128>();
  checkAll<PatternWindowSoftcap, attnc::bf16, 64>();
  checkAll<PatternWindowSoftcap, attnc::half, 64>();
  checkAll<PatternWindowSoftcap, attnc::bf16, 128>();
  checkAll<PatternWindowSoftcap, attnc::half, 128>();
  checkAll<PatternWindowSoftcap, attnc::bf16, 256>();
  checkAll<PatternCausal, attnc::half, 256>();
  checkAll<PatternCausal, attnc::bf16, 128, 64>();
  checkAll<PatternWindowSoftcap, attnc::half, 64, 128>();
  std::printf("%s: %d failing row(s)\n", failures ? "FAIL" : "PASS", failures);
  if (!timing)
    return failures ? 1 : 0;

  // Informative: FLOPs = 4 B H Sq Skv D, halved for causal; median of 20 after 3 warm-ups.
  timeBig<PatternFull, 128, 128, 64, 8, 2>();
  timeBig<PatternCausal, 128, 128, 64, 8, 2>();
  timeBig<PatternFull, 128, 128, 64, 8, 3>();
  timeBig<PatternCausal, 128, 128, 64, 8, 3>();
  timeBig<PatternFull, 128, 64, 64, 4, 2>();
  timeBig<PatternCausal, 128, 64, 64, 4, 2>();
  timeBig<PatternFull, 128, 64, 64, 4, 3, 2>();
  timeBig<PatternCausal, 128, 64, 64, 4, 3, 2>();
  timeBig<PatternFull, 64, 128, 64, 8, 2>();
  timeBig<PatternCausal, 64, 128, 64, 8, 2>();
  timeBig<PatternFull, 64, 128, 64, 8, 2, 2>();
  timeBig<PatternCausal, 64, 128, 64, 8, 2, 2>();
  timeBig<PatternFull, 64, 128, 128, 8, 2>();
  timeBig<PatternCausal, 64, 128, 128, 8, 2>();
  timeBig<PatternFull, 64, 64, 64, 4, 3, 2>();
  timeBig<PatternCausal, 64, 64, 64, 4, 3, 2>();
  return failures ? 1 : 0;
}
