// Parity with torchvision: runs our Mask R-CNN on the weights, inputs and sampler choices that
// tests/fixtures/test_maskrcnn_parity.py exported from torchvision's maskrcnn_resnet50_fpn, and compares
// every recorded tensor by name (used by bin/mrc-parity, scripts/parity and tests/test_maskrcnn_parity).
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "models/maskrcnn/config.h"
#include "tensor/serialize.h"

namespace mrc::maskrcnn {

struct ParityOptions {
  double feature_rtol = 1e-4;  // FPN features, RPN outputs: max|ours - ref| <= rtol * max|ref|
  double head_rtol = 1e-3;     // the box head's logits and deltas (fc6 sums 12544 products; not in the list)
  double box_rtol = 1e-4;      // proposal/detection boxes: |ours - ref| <= rtol * max(1, max|ref|)
  double score_atol = 1e-4;    // proposal/detection scores
  double tie = 1e-6;           // scores this close (plus their measured differences) may come in either order
  double decision_margin = 1e-3;  // an NMS decision at an IoU this close to the threshold may go either way
  double mask_iou = 0.99;      // binarized (> 0.5) pasted masks
  double mask_prob_margin = 5e-3;  // below mask_iou, every flipped pixel must be this close to 0.5 (thin masks)
  double loss_rtol = 1e-4;
  double grad_rtol = 1e-3;     // ||ours - ref|| <= rtol * ||ref|| per parameter
  // A ReLU input within kink_rtol (relative to its tensor's magnitude) of zero may round to the other side
  // in torchvision; parameters upstream of such a flip are held to kink_grad_rtol instead of grad_rtol.
  double kink_rtol = 1e-5;
  double kink_grad_rtol = 5e-2;
  bool eval = true, train = true;
  bool verbose = false;        // one line per parameter gradient too
  std::string dump_path;       // when set, our traces (eval.*, train.*) and gradients (grad.*) are saved there
};

struct ParityCheck {
  std::string name;
  bool pass = false;
  std::string detail;
};

// The model the reference describes (metadata num_classes, size, norm): torchvision's defaults with
// min_size = max_size = size and its norm layer, all 5 backbone stages trainable.
Config parity_config(const StringMap& metadata, const std::string& where);

// Loads the reference file, runs the inference pass then the training pass (samplers replaying
// torchvision's choices), prints one line per comparison to `log` (when not null) and returns them all.
// Throws std::runtime_error naming the file and tensor when the reference is malformed.
std::vector<ParityCheck> run_parity(const std::string& ref_path, const ParityOptions& options, std::ostream* log);

}  // namespace mrc::maskrcnn
