// The op table's timing mode (tests/ops/op_table.h, ggml test-backend-ops' perf mode, llm.c's validate-then-time):
// every entry at its table shapes in float32, first validated — on the CPU our float32 result against our own
// float64 run of the same inputs, on CUDA against the CPU — then timed: forward, and forward + backward of
// sum(out * w) (entries with a float result). Median after warm-up; one JSON line per case
//   {"bench": "op_<entry>_fwd" | "op_<entry>_fwdbwd", "device", "ours_ms", "cpu_ms", "max_rel_err"}
// and bench/op_table_ref.py times torch on the same entries for scripts/bench's ratio. The table's shapes are
// the tests' (small), so this measures per-op overhead as much as arithmetic; an entry whose validation fails
// is reported and not timed, and the exit code is 1.
//   bench-op_table [--device cpu|cuda] [--filter REGEX]
#include <cmath>
#include <cstdio>
#include <string>

#include "bench_util.h"
#include "tests/ops/op_table.h"
#ifdef MRC_WITH_CUDA
#include "tensor/cuda/context.h"
#endif

using namespace mrc;
using ops_table::OpEntry;

namespace {

// max |a - b| / max |b|: our float32 (or CUDA) result against the reference run.
double max_rel_err(const Tensor& got, const Tensor& ref) {
  const std::vector<double> g = got.cpu().to_vector<double>(), r = ref.cpu().to_vector<double>();
  if (g.size() != r.size()) return HUGE_VAL;
  double scale = 0, err = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    scale = std::max(scale, std::abs(r[i]));
    err = std::max(err, std::abs(g[i] - r[i]));
  }
  return scale > 0 ? err / scale : err;
}

std::vector<Tensor> to_device(const std::vector<Tensor>& in, Device dev) {
  std::vector<Tensor> out;
  for (const Tensor& t : in) {
    Tensor d = t.detach().to(dev);
    if (t.requires_grad()) d.requires_grad_();
    out.push_back(d);
  }
  return out;
}

void sync(Device dev) {
#ifdef MRC_WITH_CUDA
  if (dev.is_cuda()) cuda::synchronize(int(dev.index));
#else
  (void)dev;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args = bench::parse_args(argc, argv);
  const Device dev = args.device == "cuda" ? Device::cuda(0) : Device::cpu();
  if (dev.is_cuda() && !cuda_available()) {
    std::fprintf(stderr, "bench-op_table: --device cuda but no CUDA device is visible\n");
    return 1;
  }
  int failed = 0;
  for (const OpEntry& e : ops_table::op_table()) {
    const std::string name = std::string("op_") + e.name;
    if (!args.selected(name)) continue;
    Generator gen(5);
    const std::vector<Tensor> cpu32 = ops_table::make_inputs(e, gen, DType::Float32);
    const std::vector<Tensor> in = to_device(cpu32, dev);
    // validate: CPU float32 against CPU float64 (the same float32 numbers), CUDA against CPU float32
    std::vector<Tensor> ref_in;
    for (const Tensor& t : cpu32) ref_in.push_back(t.is_floating_point() ? t.detach().to(DType::Float64) : t);
    const Tensor ref = dev.is_cuda() ? e.ours(cpu32) : e.ours(ref_in);
    const Tensor out = e.ours(in);
    const double err = max_rel_err(out, ref);
    const bool index = !out.is_floating_point();
    const double allowed = index ? 0 : (e.flags & ops_table::kMultilinear) ? 1e-4 : 1e-5;
    if (!(err <= allowed)) {
      std::fprintf(stderr, "bench-op_table: %s on %s: max relative error %.3g over %.0e, not timed\n", e.name,
                   dev.str().c_str(), err, allowed);
      ++failed;
      continue;
    }
    char extra[64];
    std::snprintf(extra, sizeof extra, "\"max_rel_err\": %.3g", err);
    const double fwd = bench::median_ms([&] {
      NoGradGuard ng;
      (void)e.ours(in);
      sync(dev);
    }, 3, 21);
    bench::print_case(name + "_fwd", args.device, fwd, extra);
    std::vector<Tensor> wrt;
    for (const Tensor& t : in)
      if (t.requires_grad()) wrt.push_back(t);
    if (index || wrt.empty()) continue;
    const Tensor w = Tensor::ones(out.shape(), out.dtype(), dev);
    const double both = bench::median_ms([&] {
      (void)grad(sum(mul(e.ours(in), w)), wrt);
      sync(dev);
    }, 3, 21);
    bench::print_case(name + "_fwdbwd", args.device, both, extra);
  }
  return failed ? 1 : 0;
}
