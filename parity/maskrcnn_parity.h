// Parity with torchvision: runs our Mask R-CNN (float32) on the weights, inputs and sampler choices that
// tests/fixtures/test_maskrcnn_parity.py exported from torchvision's maskrcnn_resnet50_fpn run in float64,
// and compares every recorded tensor by name: the inference pass, one training pass (losses, gradients)
// and, when the reference holds them, SGD and Adam trajectories (used by bin/mrc-parity, scripts/parity and
// tests/test_maskrcnn_parity).
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace mrc::parity {

// The tolerance rule, in one place. The oracle is torchvision in float64: its rounding does not depend on
// the CPU's instruction set (oneDNN's float32 kernels round differently on AVX2 and AVX-512 machines), so
// its error is ~1e-15 and every bound below is the float32 error growth of OUR computation alone:
// - a sum of n float32 products carries relative error ~ sqrt(n) * 6e-8 of its largest terms, and a
//   ResNet-50 + FPN feature is ~60 such layers deep: 1e-4 of the tensor's magnitude (measured 1e-6-2e-5);
// - the box head's fc6 sums 12544 products of features that already carry that error: 1e-3;
// - a gradient is a norm-wise sum over the whole backward pass: 1e-3 of its norm (measured <= 6e-4),
//   except where a ReLU input lies within float32 rounding of zero (kink_rtol of its tensor's magnitude)
//   and lands on the other side of it here: that flip reroutes the gradient at one position, so the
//   parameters upstream of the flip (and only those) are held to kink_grad_rtol, each named in the report;
// - trajectories: lambda times the spread of torch's own float32 trajectory (see trajectory.h).
struct ParityOptions {
  double feature_rtol = 1e-4;  // FPN features, RPN outputs: max|ours - ref| <= rtol * max|ref|
  double head_rtol = 1e-3;     // the box head's logits and deltas
  double box_rtol = 1e-4;      // proposal/detection boxes: |ours - ref| <= rtol * max(1, max|ref|)
  double score_atol = 1e-4;    // proposal/detection scores
  double tie = 1e-6;           // scores this close (plus their measured differences) may come in either order
  double decision_margin = 1e-3;  // an NMS decision at an IoU this close to the threshold may go either way
  double mask_iou = 0.99;      // binarized (> 0.5) pasted masks
  double mask_prob_margin = 5e-3;  // below mask_iou, every flipped pixel must be this close to 0.5 (thin masks)
  double loss_rtol = 1e-4;
  double grad_rtol = 1e-3;     // ||ours - ref|| <= rtol * ||ref|| per parameter
  double kink_rtol = 1e-5;
  double kink_grad_rtol = 5e-2;
  // Trajectories (see trajectory.h): the fixture measures the spread of torch's own float32 trajectory
  // against its float64 one (same choices replayed); ours may be trajectory_lambda times as far, and never
  // less than one pass allows (loss_rtol for the losses, grad_rtol of the distance travelled for the final
  // parameters). lambda is tests/tolerance.h's kRoundingLambda, fixed, not fitted: ours and torch's are two
  // float32 runs of one computation whose distances from float64 are draws of the same rounding process, so
  // ours 6 times farther than torch's is a different computation, not rounding. The sampler replay
  // matches torchvision's sampled ROIs to ours within trajectory_box_rtol (with the proposals replayed, the
  // boxes are the same up to their float32 storage).
  double trajectory_lambda = 6;
  double trajectory_box_rtol = 1e-3;
  std::vector<std::string> optimizers = {"sgd", "adam"};  // the trajectories to run (when the reference holds them)
  bool eval = true, train = true, trajectory = true;  // the parts to run (each when the reference holds it)
  bool verbose = false;        // one line per parameter gradient too
  std::string dump_path;       // when set, our traces (eval.*, train.*), gradients (grad.*) and trajectories
                               // (<opt>.<k>.{grad,param}.*) are saved there
};

struct ParityCheck {
  std::string name;
  bool pass = false;
  std::string detail;
};

// Loads the reference file, runs the parts it holds that `options` selects, prints one line per failed or
// relaxed comparison (every one with verbose) to `log` (when not null) and returns every comparison made.
// The last one, "reference.coverage", fails when a reference tensor of a part that ran was never compared.
// Throws std::runtime_error naming the file and tensor when the reference is malformed.
std::vector<ParityCheck> run_parity(const std::string& ref_path, const ParityOptions& options, std::ostream* log);

}  // namespace mrc::parity
