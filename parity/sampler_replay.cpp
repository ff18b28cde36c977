// Sampler replay of the parity check (see sampler_replay.h).
#include "parity/sampler_replay.h"

#include <stdexcept>

#include "kernels/ops.h"

namespace mrc::parity {

maskrcnn::SamplerHook replay_sampler(ParityChecker& c, const std::string& prefix,
                                     const std::vector<maskrcnn::Target>& targets, double box_rtol) {
  return [&c, prefix, &targets, box_rtol](maskrcnn::SamplerStage stage, int64_t image, const Tensor& labels,
                                           const Tensor& candidates) {
    const std::string base = prefix + (stage == maskrcnn::SamplerStage::Rpn ? "rpn" : "roi");
    const std::string s = std::to_string(image);
    const Tensor ref_pos = c.at(base + ".sampled_pos." + s), ref_neg = c.at(base + ".sampled_neg." + s);
    const int64_t n = labels.numel();
    std::vector<int64_t> to_ours(size_t(ref_pos.numel()), -1);
    if (stage == maskrcnn::SamplerStage::Rpn) {
      if (ref_pos.numel() != n)
        throw std::runtime_error(base + " sampler of image " + s + ": torchvision chose among " +
                                 std::to_string(ref_pos.numel()) + " anchors, ours has " + std::to_string(n));
      for (int64_t k = 0; k < n; ++k) to_ours[size_t(k)] = k;
    } else {
      const Tensor props = c.at(prefix + "rpn.proposals." + s).to(DType::Float32);
      const int64_t n_gt = targets[size_t(image)].boxes.size(0);
      const Tensor ref_cand = cat({props, candidates.narrow(0, n - n_gt, n_gt)}, 0);
      if (ref_cand.size(0) != ref_pos.numel())
        throw std::runtime_error(base + " sampler of image " + s + ": the reference masks do not cover its candidates");
      to_ours = c.map_boxes(ref_cand, candidates, ref_pos, ref_neg, box_rtol);
    }
    const auto lab = labels.to(DType::Int64).to_vector<int64_t>();
    const auto rp = ref_pos.to_vector<uint8_t>(), rn = ref_neg.to_vector<uint8_t>();
    std::vector<uint8_t> pos(size_t(n), 0), neg(size_t(n), 0);
    int64_t picks = 0, unmapped = 0, relabelled = 0;
    for (size_t k = 0; k < rp.size(); ++k) {
      if (!rp[k] && !rn[k]) continue;
      ++picks;
      const int64_t q = to_ours[k];
      if (q < 0) {
        ++unmapped;
        continue;
      }
      pos[size_t(q)] = rp[k];
      neg[size_t(q)] = rn[k];
      relabelled += (rp[k] && lab[size_t(q)] < 1) + (rn[k] && lab[size_t(q)] != 0);
    }
    c.add(base + ".sampled." + s, unmapped == 0 && relabelled == 0,
          std::to_string(picks) + " of torchvision's picks replayed: " + std::to_string(unmapped) +
              " without a counterpart here, " + std::to_string(relabelled) + " labelled otherwise here",
          true);
    return SampledMasks{Tensor::from_vector(pos, {n}), Tensor::from_vector(neg, {n})};
  };
}

}  // namespace mrc::parity
