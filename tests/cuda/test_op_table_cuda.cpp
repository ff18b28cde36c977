// The op table's CUDA mode (tests/ops/op_table.h): every entry run on the GPU and on the CPU from the same float32
// inputs, contiguous and with every input transposed (the device copy keeps the strides), forward and the
// gradients of sum(out * w) compared (tests/cuda/cuda_test_util.h). Sums of products get float32 room for a
// different summation order (cuBLAS/cuDNN against our GEMM); index results compare exactly. Skips without a GPU.
#ifdef MRC_WITH_CUDA
#include <doctest/doctest.h>

#include "cuda_test_util.h"
#include "gradcheck.h"
#include "ops/op_table.h"

using namespace mrc;
using namespace mrc::test;
using ops_table::OpEntry;

TEST_CASE("op table: CUDA equals CPU, contiguous and transposed inputs") {
  if (!gpu()) return;
  int checked = 0;
  for (const OpEntry& e : ops_table::op_table()) {
    const std::string entry = e.name;
    CAPTURE(entry);
    Generator gen(7);
    const std::vector<Tensor> in = ops_table::make_inputs(e, gen, DType::Float32);
    if (!e.ours(in).is_floating_point()) {
      std::vector<Tensor> constants;  // nothing to differentiate
      for (const Tensor& t : in) constants.push_back(t.detach());
      check_op(entry + " (indices)", e.ours, constants, {0, 0});
      continue;
    }
    const bool products = e.flags & ops_table::kMultilinear;
    const Tolerance fwd = products ? Tolerance{1e-5, 1e-4} : Tolerance{1e-6, 1e-5};
    const Tolerance bwd = products ? Tolerance{1e-4, 1e-4} : Tolerance{1e-5, 1e-5};
    check_op(e.name, e.ours, in, fwd, bwd);
    check_op(entry + " transposed inputs", e.ours,
             gradcheck_detail::relayout(in, gradcheck_detail::transposed, false), fwd, bwd);
    ++checked;
  }
  MESSAGE(checked << " entries compared on CUDA and CPU");
}
#endif  // MRC_WITH_CUDA
