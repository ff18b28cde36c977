// The gradient all-reduce of data-parallel training (train/distributed.h) at Mask R-CNN's size: 44 M
// float32 values in 400 tensors (the model's parameter count and tensor count), packed into one bucket,
// summed across the ranks, unpacked. Validated first (rank r holds r + 1 everywhere: the sum is
// N(N+1)/2), then timed: median of 5 after one warm-up. Ring all-reduce moves 2(N-1)/N of the bytes
// per rank; "busbw" is that volume over the time (NCCL's convention), comparable with a link's bandwidth.
// One JSON line on stdout from rank 0. Run under MPI:
//   mpirun -np 2 --oversubscribe build/bin/bench-allreduce [--device cpu|cuda] [--values N]
// Outside mpirun (a world of one) it says so and exits 0.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "train/distributed.h"

using namespace mrc;

int main(int argc, char** argv) {
  std::string device_name = "cpu";
  int64_t values = 43997043;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--device") device_name = argv[i + 1];
    else if (a == "--values") values = std::stoll(argv[i + 1]);
  }
  train::Distributed dist;
  if (dist.size() == 1) {
    std::fprintf(stderr, "bench-allreduce: skipped (a world of one: run under mpirun -np N)\n");
    return 0;
  }
  const Device device = Device::parse(device_name);
  const int64_t tensors = 400, each = values / tensors;
  std::vector<Tensor> grads;
  for (int64_t i = 0; i < tensors; ++i)
    grads.push_back(Tensor::full({i + 1 == tensors ? values - each * (tensors - 1) : each}, double(dist.rank() + 1),
                                 DType::Float32, device));
  dist.all_reduce_sum(grads);  // warm-up and validation
  const double expect = dist.size() * (dist.size() + 1) / 2.0;
  for (const Tensor& g : grads)
    if (min(g).item_double() != expect || max(g).item_double() != expect) {
      std::fprintf(stderr, "bench-allreduce: %s: wrong sum (expected %g)\n", dist.where().c_str(), expect);
      return 1;
    }
  std::vector<double> ms;
  for (int rep = 0; rep < 5; ++rep) {
    dist.barrier();
    const auto t0 = std::chrono::steady_clock::now();
    dist.all_reduce_sum(grads);
    if (device.is_cuda()) (void)grads.back().item_double();  // waits for the device
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[2], bytes = double(values) * 4, n = dist.size();
  if (dist.is_root()) {
    const nlohmann::json j{{"bench", "allreduce_" + std::to_string(dist.size()) + "ranks"},
                           {"device", device.str()},
                           {"values", values},
                           {"ours_ms", median},
                           {"algbw_gbs", bytes / median / 1e6},
                           {"busbw_gbs", 2 * (n - 1) / n * bytes / median / 1e6}};
    std::printf("%s\n", j.dump().c_str());
    std::fprintf(stderr, "all-reduce of %lld float32 in %lld tensors, %d ranks on %s: %.1f ms median (bus %.2f GB/s)\n",
                 (long long)values, (long long)tensors, dist.size(), device.str().c_str(), median,
                 2 * (n - 1) / n * bytes / median / 1e6);
  }
  return 0;
}
