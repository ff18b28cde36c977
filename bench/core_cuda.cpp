// CUDA core benchmarks: cuBLAS GEMM (square and batched, FP32 and TF32), cuDNN conv2d forward and
// forward + backward on ResNet-50's layer shapes (batch 32; FP32 and TF32), and the memory ceilings
// (device-to-device copy, an elementwise add, a full sum). Every case is validated first (spot entries
// recomputed in double on the host), then timed with CUDA events: median after warm-up. One JSON line
// per case on stdout,
//   {"bench","device":"cuda","ours_ms","gflops"|"gbps","mallocs"}   (mallocs: cudaMalloc calls in the timed reps)
// and a table on stderr. bench/core_cuda_ref.py prints {"bench","ref","ref_ms"} for the same names;
// scripts/bench and scripts/gpu-check join the two and compute ratio = ours / ref.
//   bench-core_cuda [--device cuda] [--filter REGEX]     (does nothing for --device cpu)
#include <cstdio>
#include <string>

#include "bench_util.h"

#ifndef MRC_WITH_CUDA
int main() {
  std::fprintf(stderr, "bench-core_cuda: built without CUDA, nothing to run\n");
  return 0;
}
#else
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <stdexcept>
#include <vector>

#include "conv_shapes.h"
#include "kernels/ops.h"
#include "tensor/cuda/allocator.h"
#include "tensor/cuda/context.h"

using namespace mrc;

namespace {

constexpr int64_t kBatch = 32;

struct Timing {
  double ms = 0;
  uint64_t mallocs = 0;
};

// Median over `reps` of the event-timed f after `warmup` calls; counts cudaMalloc calls in the reps.
Timing time_cuda(const std::function<void()>& f, int warmup = 3, int reps = 20) {
  for (int i = 0; i < warmup; ++i) f();
  cudaStream_t s = cuda::current_stream(0);
  cudaEvent_t a, b;
  MRC_CUDA_CHECK(cudaEventCreate(&a));
  MRC_CUDA_CHECK(cudaEventCreate(&b));
  const uint64_t m0 = cuda::CachingAllocator::get().stats(0).num_cuda_malloc;
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    MRC_CUDA_CHECK(cudaEventRecord(a, s));
    f();
    MRC_CUDA_CHECK(cudaEventRecord(b, s));
    MRC_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    MRC_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  const uint64_t m1 = cuda::CachingAllocator::get().stats(0).num_cuda_malloc;
  MRC_CUDA_CHECK(cudaEventDestroy(a));
  MRC_CUDA_CHECK(cudaEventDestroy(b));
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], m1 - m0};
}

void report(const std::string& name, const Timing& t, const char* rate_key, double rate) {
  char extra[160];
  std::snprintf(extra, sizeof extra, "\"%s\": %.1f, \"mallocs\": %llu", rate_key, rate, (unsigned long long)t.mallocs);
  bench::print_case(name, "cuda", t.ms, extra);
  std::fprintf(stderr, "%-40s %10.4f ms %12.1f %s  mallocs %llu\n", name.c_str(), t.ms, rate,
               std::string(rate_key) == "gflops" ? "GFLOP/s" : "GB/s", (unsigned long long)t.mallocs);
}

// Worst relative error of `got` at sampled entries against `exact` (double), scaled by the sum of the
// absolute terms so cancellation does not inflate it.
struct Check {
  double worst = 0;
  void add(double got, double exact, double magnitude) {
    worst = std::max(worst, std::fabs(got - exact) / std::max(magnitude, 1e-30));
  }
  void require(const std::string& name, double limit) const {
    if (!(worst <= limit))
      throw std::runtime_error(name + ": validation failed, relative error " + std::to_string(worst) + " > " +
                               std::to_string(limit));
  }
};

double limit_for(bool tf32) { return tf32 ? 1e-2 : 1e-4; }

void bench_gemm(const bench::Args& args) {
  struct G {
    int64_t b, m, n, k;
  };
  for (bool tf32 : {false, true}) {
    for (const G& g : {G{1, 1024, 1024, 1024}, G{1, 2048, 2048, 2048}, G{1, 4096, 4096, 4096}, G{1, 8192, 8192, 8192},
                       G{16, 512, 512, 512}, G{1, 32 * 49, 1000, 2048}}) {
      const std::string name = "cuda_gemm_" + (g.b > 1 ? std::to_string(g.b) + "x" : std::string()) +
                               std::to_string(g.m) + "x" + std::to_string(g.n) + "x" + std::to_string(g.k) +
                               (tf32 ? "_tf32" : "_fp32");
      if (!args.selected(name)) continue;
      cuda::set_allow_tf32(tf32);
      Generator gen(1);
      const Tensor a = Tensor::randn({g.b, g.m, g.k}, &gen).cuda(), bm = Tensor::randn({g.b, g.k, g.n}, &gen).cuda();
      Tensor c = matmul(a, bm);
      const auto A = a.cpu().to_vector<float>(), B = bm.cpu().to_vector<float>(), C = c.cpu().to_vector<float>();
      Check chk;
      std::mt19937_64 rng(7);
      for (int s = 0; s < 64; ++s) {
        const int64_t bi = int64_t(rng() % uint64_t(g.b)), i = int64_t(rng() % uint64_t(g.m)),
                      j = int64_t(rng() % uint64_t(g.n));
        double exact = 0, mag = 0;
        for (int64_t k = 0; k < g.k; ++k) {
          const double t = double(A[size_t((bi * g.m + i) * g.k + k)]) * double(B[size_t((bi * g.k + k) * g.n + j)]);
          exact += t;
          mag += std::fabs(t);
        }
        chk.add(C[size_t((bi * g.m + i) * g.n + j)], exact, mag);
      }
      chk.require(name, limit_for(tf32));
      const Timing t = time_cuda([&] { c = matmul(a, bm); });
      report(name, t, "gflops", 2.0 * double(g.b * g.m) * double(g.n) * double(g.k) / (t.ms * 1e6));
    }
  }
  cuda::set_allow_tf32(false);
}

// Direct sums in double at sampled positions: output, input gradient and weight gradient of sum(y * g).
void validate_conv(const std::string& name, const bench::ConvShape& s, const Tensor& x, const Tensor& w,
                   const Tensor& y, const Tensor& g, const Tensor& gx, const Tensor& gw, bool tf32) {
  const int64_t N = x.size(0), C = s.cin, M = s.cout, H = s.hw, K = s.k, OH = y.size(2);
  const auto X = x.cpu().to_vector<float>(), W = w.cpu().to_vector<float>(), Y = y.cpu().to_vector<float>();
  auto xat = [&](int64_t n, int64_t c, int64_t i, int64_t j) -> double {
    return (i < 0 || i >= H || j < 0 || j >= H) ? 0.0 : X[size_t(((n * C + c) * H + i) * H + j)];
  };
  std::mt19937_64 rng(11);
  Check chk;
  for (int t = 0; t < 16; ++t) {
    const int64_t n = int64_t(rng() % uint64_t(N)), m = int64_t(rng() % uint64_t(M)), oi = int64_t(rng() % uint64_t(OH)),
                  oj = int64_t(rng() % uint64_t(OH));
    double exact = 0, mag = 0;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t a = 0; a < K; ++a)
        for (int64_t b = 0; b < K; ++b) {
          const double v = xat(n, c, oi * s.stride - s.pad + a, oj * s.stride - s.pad + b) * W[size_t(((m * C + c) * K + a) * K + b)];
          exact += v;
          mag += std::fabs(v);
        }
    chk.add(Y[size_t(((n * M + m) * OH + oi) * OH + oj)], exact, mag);
  }
  if (gx.defined()) {
    const auto G = g.cpu().to_vector<float>(), GX = gx.cpu().to_vector<float>(), GW = gw.cpu().to_vector<float>();
    for (int t = 0; t < 8; ++t) {  // gx[n, c, i, j] = sum over outputs whose window covers (i, j)
      const int64_t n = int64_t(rng() % uint64_t(N)), c = int64_t(rng() % uint64_t(C)), i = int64_t(rng() % uint64_t(H)),
                    j = int64_t(rng() % uint64_t(H));
      double exact = 0, mag = 0;
      for (int64_t m = 0; m < M; ++m)
        for (int64_t a = 0; a < K; ++a)
          for (int64_t b = 0; b < K; ++b) {
            const int64_t pi = i + s.pad - a, pj = j + s.pad - b;
            if (pi < 0 || pj < 0 || pi % s.stride || pj % s.stride) continue;
            const int64_t oi = pi / s.stride, oj = pj / s.stride;
            if (oi >= OH || oj >= OH) continue;
            const double v = double(G[size_t(((n * M + m) * OH + oi) * OH + oj)]) * W[size_t(((m * C + c) * K + a) * K + b)];
            exact += v;
            mag += std::fabs(v);
          }
      chk.add(GX[size_t(((n * C + c) * H + i) * H + j)], exact, mag);
    }
    for (int t = 0; t < 4; ++t) {  // gw[m, c, a, b] = sum over n, outputs
      const int64_t m = int64_t(rng() % uint64_t(M)), c = int64_t(rng() % uint64_t(C)), a = int64_t(rng() % uint64_t(K)),
                    b = int64_t(rng() % uint64_t(K));
      double exact = 0, mag = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t oi = 0; oi < OH; ++oi)
          for (int64_t oj = 0; oj < OH; ++oj) {
            const double v = double(G[size_t(((n * M + m) * OH + oi) * OH + oj)]) *
                             xat(n, c, oi * s.stride - s.pad + a, oj * s.stride - s.pad + b);
            exact += v;
            mag += std::fabs(v);
          }
      chk.add(GW[size_t(((m * C + c) * K + a) * K + b)], exact, mag);
    }
  }
  chk.require(name, limit_for(tf32));
}

void bench_conv(const bench::Args& args) {
  for (bool tf32 : {false, true}) {
    for (const bench::ConvShape& s : bench::resnet50_conv_shapes()) {
      const std::string suffix = std::string("_b32") + (tf32 ? "_tf32" : "_fp32");
      const std::string fwd = std::string("cuda_conv_fwd_") + s.name + suffix;
      const std::string fb = std::string("cuda_conv_fwdbwd_") + s.name + suffix;
      if (!args.selected(fwd) && !args.selected(fb)) continue;
      cuda::set_allow_tf32(tf32);
      Generator gen(3);
      const Tensor x = Tensor::randn({kBatch, s.cin, s.hw, s.hw}, &gen).cuda();
      const Tensor w = mul(Tensor::randn({s.cout, s.cin, s.k, s.k}, &gen), 1.0 / std::sqrt(double(s.cin * s.k * s.k))).cuda();
      const int64_t oh = conv_out_size(s.hw, s.k, s.stride, s.pad, 1);
      const double flops = 2.0 * double(kBatch * s.cout * oh * oh) * double(s.cin * s.k * s.k);
      if (args.selected(fwd)) {
        Tensor y = conv2d(x, w, Tensor(), s.stride, s.pad);
        validate_conv(fwd, s, x, w, y, Tensor(), Tensor(), Tensor(), tf32);
        const Timing t = time_cuda([&] { y = conv2d(x, w, Tensor(), s.stride, s.pad); });
        report(fwd, t, "gflops", flops / (t.ms * 1e6));
      }
      if (args.selected(fb)) {
        const Tensor xg = x.detach().requires_grad_(true), wg = w.detach().requires_grad_(true);
        const Tensor g = Tensor::randn({kBatch, s.cout, oh, oh}, &gen).cuda();
        auto step = [&] {
          xg.zero_grad();
          wg.zero_grad();
          Tensor y = conv2d(xg, wg, Tensor(), s.stride, s.pad);
          y.backward(g);
          return y;
        };
        const Tensor y = step();
        validate_conv(fb, s, x, w, y, g, xg.grad(), wg.grad(), tf32);
        const Timing t = time_cuda([&] { step(); });
        report(fb, t, "gflops", 3.0 * flops / (t.ms * 1e6));
      }
    }
  }
  cuda::set_allow_tf32(false);
}

void bench_memory(const bench::Args& args) {
  const int64_t n = int64_t(1) << 28;  // 1 GiB of float32
  Generator gen(5);
  const Tensor src = Tensor::rand({n}, &gen).cuda();
  if (args.selected("cuda_copy_d2d_1GiB")) {
    Tensor dst = Tensor::empty({n}, DType::Float32, Device::cuda());
    dst.copy_(src);
    const auto a = src.narrow(0, n - 5, 5).cpu().to_vector<float>(), b = dst.narrow(0, n - 5, 5).cpu().to_vector<float>();
    if (a != b) throw std::runtime_error("cuda_copy_d2d_1GiB: validation failed");
    const Timing t = time_cuda([&] { dst.copy_(src); });
    report("cuda_copy_d2d_1GiB", t, "gbps", 2.0 * double(n) * 4 / (t.ms * 1e6));
  }
  if (args.selected("cuda_add_256M")) {
    Tensor out = add(src, src);
    const auto a = src.narrow(0, 12345, 3).cpu().to_vector<float>(), b = out.narrow(0, 12345, 3).cpu().to_vector<float>();
    for (int i = 0; i < 3; ++i)
      if (b[size_t(i)] != a[size_t(i)] * 2) throw std::runtime_error("cuda_add_256M: validation failed");
    const Timing t = time_cuda([&] { out = add(src, src); });
    report("cuda_add_256M", t, "gbps", 3.0 * double(n) * 4 / (t.ms * 1e6));
  }
  if (args.selected("cuda_sum_256M")) {
    const Tensor part = src.narrow(0, 0, 1 << 20);
    double exact = 0;
    for (float v : part.cpu().to_vector<float>()) exact += v;
    // the float32 result carries one rounding of the (double-accumulated) sum
    if (std::fabs(sum(part).item<double>() - exact) > 1e-6 * exact)
      throw std::runtime_error("cuda_sum_256M: validation failed");
    Tensor s;
    const Timing t = time_cuda([&] { s = sum(src); });
    report("cuda_sum_256M", t, "gbps", double(n) * 4 / (t.ms * 1e6));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args = bench::parse_args(argc, argv);
  if (args.device != "cuda") return 0;  // CUDA-only cases
  if (!cuda_available()) {
    std::fprintf(stderr, "bench-core_cuda: no CUDA device visible\n");
    return 0;
  }
  try {
    std::fprintf(stderr, "device: %s\n", cuda::device_properties(0).name);
    bench_memory(args);
    bench_gemm(args);
    bench_conv(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench-core_cuda: %s\n", e.what());
    return 1;
  }
  return 0;
}
#endif  // MRC_WITH_CUDA
