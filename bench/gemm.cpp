// sgemm: our matmul (2 threads: a lone large product is split in two halves fixed by the shape) against
// Eigen's own product C.noalias() = A * B on the same row-major operands in the same process (Eigen runs
// single-threaded in this build: EIGEN_DONT_PARALLELIZE). Each case is validated against the reference
// before it is timed. Cases: square sizes, ResNet-50 im2col shapes (out channels x cin*k*k x pixels),
// and the classifier's linear layer x @ w^T (a transposed operand read in place).
#include <Eigen/Core>

#include <cmath>
#include <cstdio>

#include "bench_util.h"
#include "kernels/ops.h"
#include "tensor/parallel.h"

using namespace mrc;

namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct Case {
  int64_t m, k, n;
  bool b_transposed;  // b is stored [n, k] and used as its transpose
};

}  // namespace

int main(int argc, char** argv) {
  const auto args = bench::parse_args(argc, argv);
  if (args.device != "cpu") return 0;  // the CUDA GEMM has its own bench
  const Case cases[] = {{256, 256, 256, false},   {512, 512, 512, false},   {1024, 1024, 1024, false},
                        {2048, 2048, 2048, false}, {64, 576, 3136, false},   {128, 1152, 784, false},
                        {256, 2304, 196, false},   {512, 4608, 49, false},   {256, 64, 3136, false},
                        {2048, 512, 49, false},    {1, 2048, 1000, true},    {512, 1024, 1024, true}};
  int failures = 0;
  for (const Case& c : cases) {
    const std::string name = "sgemm_" + std::to_string(c.m) + "x" + std::to_string(c.k) + "x" + std::to_string(c.n) +
                             (c.b_transposed ? "_bT" : "");
    if (!args.selected(name)) continue;
    Generator gen(1);
    const Tensor a = Tensor::randn({c.m, c.k}, &gen);
    const Tensor b_store = c.b_transposed ? Tensor::randn({c.n, c.k}, &gen) : Tensor::randn({c.k, c.n}, &gen);
    const Tensor b = c.b_transposed ? b_store.t() : b_store;
    NoGradGuard ng;
    Eigen::Map<const RowMat> A(a.data<float>(), c.m, c.k);
    RowMat B = c.b_transposed ? RowMat(Eigen::Map<const RowMat>(b_store.data<float>(), c.n, c.k).transpose())
                              : RowMat(Eigen::Map<const RowMat>(b_store.data<float>(), c.k, c.n));
    RowMat C(c.m, c.n);
    C.noalias() = A * B;
    // validate: same products up to float32 rounding of K-term sums
    const std::vector<float> ours_c = matmul(a, b).to_vector<float>();
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < c.m * c.n; ++i) {
      worst = std::max(worst, double(std::abs(ours_c[size_t(i)] - C.data()[i])));
      scale = std::max(scale, double(std::abs(C.data()[i])));
    }
    if (worst > 1e-4 * scale) {
      std::fprintf(stderr, "gemm: %s differs from Eigen by %g (scale %g)\n", name.c_str(), worst, scale);
      ++failures;
      continue;
    }
    const double flops = 2.0 * double(c.m) * double(c.n) * double(c.k);
    const int reps = flops > 4e9 ? 5 : 9;
    const double ours = bench::median_ms([&] { matmul(a, b); }, 2, reps);
    const double ref = bench::median_ms([&] { C.noalias() = A * B; }, 2, reps);
    // the same call on one thread: the per-core overhead of ours over Eigen, free of scheduling noise
    const int threads = num_threads();
    set_num_threads(1);
    const double ours_1t = bench::median_ms([&] { matmul(a, b); }, 1, reps);
    set_num_threads(threads);
    char extra[320];
    std::snprintf(extra, sizeof extra,
                  "\"ref\": \"eigen_1thread\", \"ref_ms\": %.4f, \"ratio\": %.3f, \"gflops\": %.1f, \"ref_gflops\": %.1f, "
                  "\"threads\": %d, \"ours_1thread_ms\": %.4f",
                  ref, ours / ref, flops / (ours * 1e6), flops / (ref * 1e6), threads, ours_1t);
    bench::print_case(name, "cpu", ours, extra);
  }
  return failures ? 1 : 0;
}
