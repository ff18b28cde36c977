// The CPU twin of the multi-tensor Adam kernel (see multi_tensor.h): adam_element over every element of
// every tensor, each tensor split across threads in fixed chunks. Contraction stays off (-ffp-contract=off), so each
// product rounds as the per-parameter path's does.
#include <algorithm>

#include "kernels/multi_tensor/multi_tensor.h"
#include "tensor/parallel.h"

namespace mrc::kernels {

void adam_multi_tensor_cpu(const std::vector<AdamTensor>& tensors, const AdamHyper& h) {
  for (const AdamTensor& t : tensors)
    parallel_for(t.n, 1 << 14, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) adam_element(t, h, i);
    });
}

}  // namespace mrc::kernels
