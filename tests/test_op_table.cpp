// The op table's CPU modes (tests/ops/op_table.h; CUDA against CPU in tests/cuda/test_op_table_cuda.cpp, timing
// in bench/op_table.cpp). For every entry:
//   - a float64 central-difference gradient check on every memory layout tests/gradcheck.h knows (offset,
//     stepped, transposed and broadcast inputs; stepped and broadcast incoming gradients), over three seeds;
//     entries whose result is an index tensor get the same layouts, forward only, compared exactly;
//   - the torch oracle in float64 (tests/fixtures/test_op_table.py on the same lines): our float64 run within
//     1e-12 of it; our float32 run (same float32 input numbers) within tests/tolerance.h's rounding bound for
//     sums of products (kMultilinear), within 1e-5 forward / 1e-4 gradients (relative to the largest reference
//     element) for the rest, ATen-style kernels whose float32 error does not grow with the input size.
#include <doctest/doctest.h>

#include <set>

#include "gradcheck.h"
#include "ops/op_table.h"
#include "tensor/parallel.h"
#include "torch_compare.h"

using namespace mrc;
using ops_table::OpEntry;

namespace {

// Index results (argmax, sort and topk indices) on every input layout: equal to the plain run.
void index_result_on_every_layout(const OpEntry& e, const std::vector<Tensor>& in) {
  namespace gd = test::gradcheck_detail;
  const std::vector<int64_t> plain = e.ours(in).to_vector<int64_t>();
  const std::pair<Tensor (*)(const Tensor&), const char*> layouts[] = {
      {gd::at_offset, "inputs at a storage offset"}, {gd::stepped, "inputs stepped"}, {gd::transposed, "inputs transposed"}};
  for (const auto& [how, what] : layouts) {
    CAPTURE(what);
    CHECK(e.ours(gd::relayout(in, how, false)).to_vector<int64_t>() == plain);
  }
}

// Our run of a non-multilinear entry in `dt` from the fixture's inputs, against torch's float64 results.
void against_float64_reference(const std::map<std::string, Tensor>& ref, const OpEntry& e, DType dt) {
  const std::string tag = std::string(e.name) + (dt == DType::Float32 ? " float32" : " float64");
  const double fwd_rtol = dt == DType::Float32 ? 1e-5 : 1e-12, bwd_rtol = dt == DType::Float32 ? 1e-4 : 1e-12;
  std::vector<Tensor> xs, wrt;
  std::vector<std::string> wrt_names;
  for (const ops_table::InputSpec& in : ops_table::input_specs(e)) {
    const std::string key = std::string(e.name) + "." + in.name;
    REQUIRE_MESSAGE(ref.count(key), "the fixture has no input " << key << " (rerun tests/fixtures/test_op_table.py)");
    Tensor t = ref.at(key).clone();
    if (t.is_floating_point()) t = t.to(dt);
    if (ref.count(std::string(e.name) + ".grad." + in.name)) {
      t.requires_grad_();
      wrt.push_back(t);
      wrt_names.push_back(in.name);
    }
    xs.push_back(t);
  }
  const Tensor out = e.ours(xs);
  const Tensor& want = ref.at(std::string(e.name) + ".out");
  if (!want.is_floating_point()) {
    CHECK_MESSAGE(out.dtype() == DType::Int64, tag << ": index result dtype");
    CHECK_MESSAGE(out.shape() == want.shape(), tag << ": shape " << shape_str(out.shape()));
    CHECK_MESSAGE(out.to_vector<int64_t>() == want.to_vector<int64_t>(), tag << ": indices differ from torch's");
    return;
  }
  REQUIRE_MESSAGE(out.dtype() == dt, tag << ": result dtype");
  test::expect_close(out, want, fwd_rtol, tag + " forward");
  if (wrt.empty()) return;
  const auto grads = grad(sum(mul(out, ref.at(std::string(e.name) + ".w").to(dt))), wrt);
  for (size_t i = 0; i < wrt.size(); ++i)
    test::expect_close(grads[i], ref.at(std::string(e.name) + ".grad." + wrt_names[i]), bwd_rtol, tag + " grad " + wrt_names[i]);
}

}  // namespace

TEST_CASE("op table: every entry reads, names are unique") {
  std::set<std::string> names;
  for (const OpEntry& e : ops_table::op_table()) {
    const std::string entry = e.name;
    CAPTURE(entry);
    CHECK(names.insert(e.name).second);
    CHECK_NOTHROW(ops_table::input_specs(e));
  }
  CHECK(names.size() >= 150);
  const OpEntry bad{"bad", 0, "x[3,4](2,1) w[2]", "", nullptr};
  CHECK_THROWS_WITH(ops_table::input_specs(bad), doctest::Contains("lo < hi"));
  const OpEntry misnamed{"misnamed", 0, "y[3]", "", nullptr};
  CHECK_THROWS_WITH(ops_table::input_specs(misnamed), doctest::Contains("must be named x"));
}

TEST_CASE("op table: float64 gradient checks on every layout") {
  // One thread: thousands of runs on tensors of a few dozen elements, where a second OpenMP thread only adds
  // wake-ups (4x the CPU time on a busy 2-core machine). The torch comparison below keeps ctest's two threads.
  const int threads = num_threads();
  set_num_threads(1);
  struct Restore {
    int n;
    ~Restore() { set_num_threads(n); }
  } restore{threads};
  int differentiated = 0, index_results = 0, skipped = 0;
  for (const OpEntry& e : ops_table::op_table()) {
    const std::string entry = e.name;
    CAPTURE(entry);
    unsigned layouts = test::AllLayouts;
    if (e.flags & ops_table::kNoBroadcastInputs) layouts &= ~unsigned(test::InputsBroadcast);
    if (e.flags & ops_table::kNoGradcheck) {
      ++skipped;
      continue;
    }
    for (uint64_t seed : {1, 2, 3}) {
      CAPTURE(seed);
      Generator gen(seed);
      const std::vector<Tensor> in = ops_table::make_inputs(e, gen, DType::Float64);
      if (!e.ours(in).is_floating_point()) {
        index_result_on_every_layout(e, in);
        index_results += seed == 1;
        continue;
      }
      test::gradcheck(e.ours, in, {.seed = seed, .layouts = layouts});
      differentiated += seed == 1;
    }
  }
  MESSAGE(differentiated << " entries gradient-checked, " << index_results << " index results checked on every layout, "
                         << skipped << " skipped (kNoGradcheck: too large for central differences)");
}

TEST_CASE("op table: equal to torch's float64, in float64 and in float32") {
  const auto ref = load_tensors(test::fixture("ops.safetensors"));
  test::RoundingReport report;
  for (const OpEntry& e : ops_table::op_table()) {
    const std::string entry = e.name;
    CAPTURE(entry);
    if (e.flags & ops_table::kMultilinear) {
      std::vector<std::pair<std::string, std::string>> inputs;
      for (const ops_table::InputSpec& in : ops_table::input_specs(e)) inputs.push_back({in.name, std::string(e.name) + "." + in.name});
      test::against_float64_torch(ref, e.name, inputs, e.ours, &report);
      continue;
    }
    for (DType dt : {DType::Float64, DType::Float32}) against_float64_reference(ref, e, dt);
  }
  MESSAGE("sums of products: " << report.str());
}
