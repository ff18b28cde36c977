// RunContext (see common.h): the training samplers' choice between the hook, the device sampler and the
// Generator's randperm sampler.
#include "models/maskrcnn/common.h"

#include <atomic>
#include <stdexcept>

namespace mrc::maskrcnn {

namespace {
std::atomic<bool> g_device_samplers{false};
}  // namespace

void set_device_samplers(bool on) { g_device_samplers = on; }
bool device_samplers() { return g_device_samplers; }

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
