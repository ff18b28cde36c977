// Global-norm gradient clipping with torch.nn.utils.clip_grad_norm_'s semantics: the norm of all
// gradients together; every gradient is scaled by min(1, max_norm / (total_norm + 1e-6)).
#pragma once
#include <vector>

#include "optim/optimizer.h"

namespace mrc {

struct ClipOptions {
  double norm_type = 2.0;           // any p > 0, or INFINITY for the max-abs norm
  bool error_if_nonfinite = false;  // throw instead of scaling by a NaN/inf norm
};

// Returns the total norm before clipping (0 when no parameter has a gradient). Gradients are scaled
// in place.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, const ClipOptions& options = {});
double clip_grad_norm(const NamedTensors& params, double max_norm, const ClipOptions& options = {});
// The same scaling with nothing read to the host (no sync on CUDA): the total norm and the coefficient stay on
// the gradients' device, the same values as above (IEEE sqrt, add and divide in float64 there too). Returns
// the total norm as a float64 scalar tensor (undefined when no parameter has a gradient).
// error_if_nonfinite needs the norm on the host: use clip_grad_norm for it.
Tensor clip_grad_norm_on_device(const NamedTensors& params, double max_norm, const ClipOptions& options = {});

}  // namespace mrc
