// The op table (tests/ops/*.def): each entry drives every mode from its one line — a float64 gradient check
// on every memory layout gradcheck knows (strided, offset, broadcast inputs and incoming gradients) over
// three seeds, and a float64 comparison with the torch expression of the same line (written by
// tests/fixtures/test_op_table.py). CUDA-against-CPU and timing modes are still to come.
#include <doctest/doctest.h>

#include "gradcheck.h"
#include "kernels/ops.h"
#include "torch_compare.h"

using namespace mrc;

namespace {

struct OpEntry {
  const char* name;
  int arity;
  double lo, hi;
  Tensor (*ours)(const std::vector<Tensor>&);
};

#define MRC_OP(NAME, ARITY, LO, HI, TORCH, OURS)                                                       \
  OpEntry{#NAME, ARITY, LO, HI, [](const std::vector<Tensor>& v) -> Tensor {                          \
            const Tensor& x = v[0];                                                                  \
            [[maybe_unused]] const Tensor& y = v.size() > 1 ? v[1] : v[0];                           \
            return OURS;                                                                             \
          }},
const std::vector<OpEntry> kElementwise = {
#include "ops/elementwise.def"
};
#undef MRC_OP

}  // namespace

TEST_CASE("op table: float64 gradient checks on every layout") {
  for (const OpEntry& op : kElementwise) {
    CAPTURE(op.name);
    for (uint64_t seed : {1, 2, 3}) {
      Generator gen(seed);
      std::vector<Tensor> in{test::rand_leaf({3, 4}, gen, op.lo, op.hi)};
      if (op.arity == 2) in.push_back(test::rand_leaf({4}, gen, op.lo, op.hi));
      test::gradcheck(op.ours, in, {.seed = seed});
    }
  }
}

TEST_CASE("op table: equal to torch in float64") {
  const auto ref = load_tensors(test::fixture("ops.safetensors"));
  for (const OpEntry& op : kElementwise) {
    CAPTURE(op.name);
    std::vector<std::pair<std::string, std::string>> inputs{{"x", std::string(op.name) + ".x"}};
    if (op.arity == 2) inputs.push_back({"y", std::string(op.name) + ".y"});
    test::against_torch(ref, op.name, inputs, op.ours, 1e-12, 1e-12);
  }
}
