// RunContext (see common.h): the training samplers' choice between the hook, the device sampler and the
// Generator's randperm sampler; the check of a target's values.
#include "models/maskrcnn/common.h"

#include <atomic>
#include <sstream>
#include <stdexcept>

namespace mrc::maskrcnn {

namespace {
std::atomic<bool> g_device_samplers{false};
}  // namespace

void set_device_samplers(bool on) { g_device_samplers = on; }
bool device_samplers() { return g_device_samplers; }

void check_target_values(const double* boxes, const double* labels, int64_t n, int64_t num_classes,
                         const std::string& where) {
  for (int64_t j = 0; j < n; ++j) {
    const double* b = boxes + 4 * j;
    if (!(b[2] > b[0] && b[3] > b[1]))
      throw std::invalid_argument(where + ": box " + std::to_string(j) +
                                  " has no positive width and height (x1 < x2 and y1 < y2 expected)");
  }
  for (int64_t j = 0; j < n; ++j)
    if (!(labels[j] >= 1 && labels[j] < double(num_classes))) {
      std::ostringstream label;  // an integer as such ("3"), whatever its size
      label.precision(17);
      label << labels[j];
      throw std::invalid_argument(where + ": label " + label.str() + " outside [1, NUM_CLASSES=" +
                                  std::to_string(num_classes) + ")");
    }
}

SampledMasks draw_balanced(const Tensor& labels, int64_t batch_size, double positive_fraction, Generator& gen) {
  return device_samplers() ? balanced_sample_device(labels, batch_size, positive_fraction, gen)
                           : balanced_sample(labels, batch_size, positive_fraction, gen);
}

SampledMasks RunContext::sample(SamplerStage stage, int64_t image, const Tensor& labels, const Tensor& candidates,
                                int64_t batch_size, double positive_fraction) const {
  if (sampler && *sampler) {
    SampledMasks m = (*sampler)(stage, image, labels, candidates);
    const char* what = stage == SamplerStage::Rpn ? "RPN" : "ROI";
    if (!m.positive.defined() || !m.negative.defined() || m.positive.numel() != labels.numel() ||
        m.negative.numel() != labels.numel())
      throw std::runtime_error(std::string("sampler hook: the ") + what + " masks of image " + std::to_string(image) +
                               " must have " + std::to_string(labels.numel()) + " entries (one per candidate)");
    return {m.positive.to(DType::UInt8).to(labels.device()).reshape({-1}),
            m.negative.to(DType::UInt8).to(labels.device()).reshape({-1})};
  }
  if (!gen) throw std::logic_error("RunContext: no generator for the training samplers");
  return draw_balanced(labels, batch_size, positive_fraction, *gen);
}

}  // namespace mrc::maskrcnn
