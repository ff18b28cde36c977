// One training (or validation) step of Mask R-CNN over a global batch, whole in one process or split
// across the ranks of a Distributed job, with the same result either way:
//
// - Sampling: the RPN's and ROI heads' balanced samplers draw for each photo from a generator keyed by
//   (seed, stream, step, the photo's position in the global batch), not from one sequence shared by
//   the batch, so a photo gets the same anchors and proposals whichever rank holds it.
// - Losses: torchvision normalizes each loss over the whole batch (sampled anchors, sampled proposals,
//   positive proposals), so the mean of per-rank losses is not the batch's loss. Each rank counts its
//   samples; one all-reduce of the counts and count-weighted losses gives the global batch's five losses
//   on every rank, and the rank's objective Σ_k w_k (c_rk / C_k) L_rk has gradients that, summed over
//   the ranks, are the gradient of the global batch's loss.
// - Gradients: summed across the ranks in one bucketed all-reduce (Distributed::all_reduce_sum), so
//   every rank applies the same update. For two ranks the sum a + b is the one a single process makes
//   when it accumulates the same two parts (micro_batches), so the two runs are bit-identical.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "models/maskrcnn/maskrcnn.h"
#include "train/distributed.h"
#include "train/inputs.h"

namespace mrc::train {

class GlobalBatch {
 public:
  enum class Stream : uint64_t { Training = 1, Validation = 2 };

  // Installs the keyed sampler on the model (the destructor removes it). seed: the training loader's.
  // dist null: a world of one. micro_batches K: each rank's photos go through the model in K equal parts
  // (gradient accumulation: one process with K parts computes what K ranks compute, bit for bit).
  GlobalBatch(maskrcnn::MaskRCNN& model, uint64_t seed, const Distributed* dist, int micro_batches = 1);
  ~GlobalBatch();
  GlobalBatch(const GlobalBatch&) = delete;
  GlobalBatch& operator=(const GlobalBatch&) = delete;

  struct Result {
    std::map<std::string, double> losses;  // the global batch's five losses by name and "loss" (weighted total)
    std::vector<Tensor> objectives;        // what this rank backpropagates, one per part
  };
  // forward_train of this rank's photos (a collective: every rank calls it once per global batch).
  // `counter` numbers the global batch within its stream (the 1-based training step; for validation,
  // the epoch and the batch). The photos' count must be a multiple of micro_batches.
  Result forward(Stream stream, uint64_t counter, const ModelInputs& in);

  // Backpropagates the parts one by one, adds their gradients in part order, and sums them across the
  // ranks (sum_gradients): `params` end with the gradient of the global batch's loss on every rank.
  void backward(const Result& r, const NamedTensors& params) const;

  // Sums the gradients of `params` across the ranks with one all-reduce. A parameter that has no
  // gradient on any rank keeps none; one that has a gradient somewhere gets the sum (zeros elsewhere).
  void sum_gradients(const NamedTensors& params) const;

 private:
  maskrcnn::MaskRCNN& model_;
  uint64_t seed_;
  const Distributed* dist_;
  int micro_batches_;
  uint64_t key_ = 0;           // stream and counter of the current step
  int64_t first_image_ = 0;    // the current part's first photo within the global batch
  int64_t rpn_sampled_ = 0, roi_sampled_ = 0, roi_positive_ = 0;  // the current part's sample counts
};

}  // namespace mrc::train
