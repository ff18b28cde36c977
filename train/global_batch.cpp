// Keyed sampling, global-batch losses and the gradient all-reduce (see global_batch.h).
#include "train/global_batch.h"

#include <array>
#include <stdexcept>

#include "data/augment/rng.h"
#include "kernels/index/read_scalars.h"
#include "kernels/ops.h"
#include "tensor/autograd.h"

namespace mrc::train {
namespace {

using maskrcnn::kLossNames;

// Which sample count normalizes each loss (in kLossNames order): RPN sampled anchors, sampled proposals,
// positive proposals (the mask loss is a mean over their M x M pixels; M cancels).
constexpr int kDenominator[5] = {0, 0, 1, 1, 2};

// The five losses in kLossNames' order, then the weighted total: read to the host in one transfer.
std::vector<Tensor> loss_tensors(const maskrcnn::Losses& l) {
  std::vector<Tensor> v;
  for (const std::string& name : kLossNames) v.push_back(l.by_name.at(name));
  v.push_back(l.total);
  return v;
}
constexpr uint64_t kSamplerSalt = 0x73616d70ull;

}  // namespace

GlobalBatch::GlobalBatch(maskrcnn::MaskRCNN& model, uint64_t seed, const Distributed* dist, int micro_batches)
    : model_(model), seed_(seed), dist_(dist), micro_batches_(micro_batches) {
  if (micro_batches_ < 1) throw std::invalid_argument("GlobalBatch: micro_batches must be >= 1, got " + std::to_string(micro_batches_));
  const maskrcnn::Config& cfg = model_.config();
  model_.sampler_hook = [this, &cfg](maskrcnn::SamplerStage stage, int64_t image, const Tensor& labels, const Tensor&) {
    const bool rpn = stage == maskrcnn::SamplerStage::Rpn;
    const uint64_t photo = uint64_t(first_image_ + image);
    Generator gen(data::aug::derive_seed(data::aug::derive_seed(seed_, kSamplerSalt + uint64_t(rpn), key_), photo));
    SampledMasks m = rpn ? maskrcnn::draw_balanced(labels, cfg.RPN_TRAIN_ANCHORS_PER_IMAGE, cfg.RPN_POSITIVE_RATIO, gen)
                         : maskrcnn::draw_balanced(labels, cfg.TRAIN_ROIS_PER_IMAGE, cfg.ROI_POSITIVE_RATIO, gen);
    // The counts normalize the losses across parts and ranks; a lone batch's losses are already normalized,
    // and counting would read two numbers to the host per photo and stage (a sync on CUDA).
    if (dist_ ? dist_->size() == 1 && micro_batches_ == 1 : micro_batches_ == 1) return m;
    const int64_t pos = count_nonzero(m.positive), neg = count_nonzero(m.negative);
    if (rpn) {
      rpn_sampled_ += pos + neg;
    } else {
      roi_sampled_ += pos + neg;
      roi_positive_ += pos;
    }
    return m;
  };
}

GlobalBatch::~GlobalBatch() { model_.sampler_hook = nullptr; }

GlobalBatch::Result GlobalBatch::forward(Stream stream, uint64_t counter, const ModelInputs& in) {
  const maskrcnn::Config& cfg = model_.config();
  const int64_t n = int64_t(in.images.size()), k_parts = micro_batches_;
  if (n == 0 || n % k_parts)
    throw std::invalid_argument("GlobalBatch: " + std::to_string(n) + " photos do not split into " + std::to_string(k_parts) +
                                " equal parts");
  const int64_t part = n / k_parts;
  key_ = data::aug::derive_seed(uint64_t(stream), counter);
  std::vector<maskrcnn::Losses> parts;
  std::vector<std::array<double, 3>> counts;  // per part: RPN sampled, ROI sampled, ROI positive
  for (int64_t p = 0; p < k_parts; ++p) {
    first_image_ = (dist_ ? dist_->rank() : 0) * n + p * part;
    rpn_sampled_ = roi_sampled_ = roi_positive_ = 0;
    const auto first = in.images.begin() + p * part;
    const auto first_target = in.targets.begin() + p * part;
    parts.push_back(model_.forward_train(std::vector<Tensor>(first, first + part),
                                         std::vector<maskrcnn::Target>(first_target, first_target + part)));
    counts.push_back({double(rpn_sampled_), double(roi_sampled_), double(roi_positive_)});
  }
  Result r;
  const bool alone = (!dist_ || dist_->size() == 1) && k_parts == 1;
  if (alone) {  // the batch's own normalization is already the global one
    const std::vector<double> read = read_scalars(loss_tensors(parts[0]));  // one transfer
    for (size_t k = 0; k < kLossNames.size(); ++k) r.losses[kLossNames[k]] = read[k];
    r.losses["loss"] = read.back();
    r.objectives = {parts[0].total};
    return r;
  }
  // Counts C (3), then sum of c * L per loss (5): summed over the parts in order, then over the ranks in one
  // all-reduce; the same additions in the same order as one process with the ranks' parts as its own.
  std::vector<double> v(8, 0.0);
  for (int64_t p = 0; p < k_parts; ++p) {
    for (size_t j = 0; j < 3; ++j) v[j] += counts[size_t(p)][j];
    const std::vector<double> read = read_scalars(loss_tensors(parts[size_t(p)]));
    for (size_t k = 0; k < 5; ++k) v[3 + k] += counts[size_t(p)][size_t(kDenominator[k])] * read[k];
  }
  if (dist_) dist_->all_reduce_sum(v);
  double total = 0;
  for (size_t k = 0; k < 5; ++k) {
    const double all = v[size_t(kDenominator[k])];
    r.losses[kLossNames[k]] = all > 0 ? v[3 + k] / all : 0.0;
    total += cfg.loss_weight(kLossNames[k]) * r.losses[kLossNames[k]];
  }
  r.losses["loss"] = total;
  for (int64_t p = 0; p < k_parts; ++p) {
    Tensor objective;
    for (size_t k = 0; k < 5; ++k) {
      const double all = v[size_t(kDenominator[k])];
      const double share = all > 0 ? counts[size_t(p)][size_t(kDenominator[k])] / all : 0.0;
      const Tensor term = mul(parts[size_t(p)].by_name.at(kLossNames[k]), cfg.loss_weight(kLossNames[k]) * share);
      objective = objective.defined() ? add(objective, term) : term;
    }
    r.objectives.push_back(objective);
  }
  return r;
}

void GlobalBatch::backward(const Result& r, const NamedTensors& params) const {
  if (r.objectives.size() == 1) {
    r.objectives[0].backward();
  } else {
    // Each part's gradient whole (as a rank computes it), then the parts added: the sums a set of ranks makes.
    std::vector<Tensor> sum(params.size());
    for (const Tensor& objective : r.objectives) {
      for (const auto& [name, p] : params) p.zero_grad();
      objective.backward();
      NoGradGuard no_grad;
      for (size_t i = 0; i < params.size(); ++i)
        if (const Tensor g = params[i].second.grad(); g.defined()) sum[i] = sum[i].defined() ? add(sum[i], g) : g;
    }
    for (size_t i = 0; i < params.size(); ++i) {
      params[i].second.zero_grad();
      if (sum[i].defined()) params[i].second.set_grad(sum[i]);
    }
  }
  sum_gradients(params);
}

void GlobalBatch::sum_gradients(const NamedTensors& params) const {
  if (!dist_ || dist_->size() == 1) return;
  NoGradGuard no_grad;
  std::vector<Tensor> grads;
  std::vector<float> has(params.size(), 0.f);
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i].second;
    Tensor g = p.grad();
    if (g.defined() && !g.is_contiguous()) g = g.contiguous(), p.set_grad(g);
    has[i] = g.defined() ? 1.f : 0.f;
    grads.push_back(g.defined() ? g : Tensor::zeros_like(p));
  }
  const Device device = params.empty() ? Device::cpu() : params.front().second.device();
  grads.push_back(Tensor::from_vector(has, {int64_t(has.size())}, device));  // rides in the same bucket
  dist_->all_reduce_sum(grads);
  const std::vector<float> anywhere = grads.back().to_vector<float>();
  for (size_t i = 0; i < params.size(); ++i)
    if (anywhere[i] > 0 && has[i] == 0) params[i].second.set_grad(grads[i]);
}

}  // namespace mrc::train
