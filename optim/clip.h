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

}  // namespace mrc
