// Mask R-CNN against torchvision's maskrcnn_resnet50_fpn on the same weights, inputs and sampler choices
// (tests/fixtures/test_maskrcnn_parity.py: 2 classes, size 128, one image, frozen batch norm). Every
// comparison of models/maskrcnn/parity.h must hold: FPN and RPN outputs within 1e-4, the same proposals
// and detections (with their masks), the five losses within 1e-4 and every gradient within 1e-3.
#include <doctest/doctest.h>

#include <sstream>

#include "models/maskrcnn/parity.h"
#include "test_util.h"

using namespace mrc;

TEST_CASE("Mask R-CNN equals torchvision's maskrcnn_resnet50_fpn (inference and one training pass)") {
  std::ostringstream log;
  maskrcnn::ParityOptions o;
  const auto checks = maskrcnn::run_parity(test::fixture("maskrcnn_parity.safetensors"), o, &log);
  MESSAGE(log.str());
  int failed = 0, losses = 0, grads = 0, detections = 0;
  for (const auto& c : checks) {
    CHECK_MESSAGE(c.pass, c.name << ": " << c.detail);
    failed += !c.pass;
    losses += c.name.rfind("train.loss.", 0) == 0;
    grads += c.name.rfind("grad.", 0) == 0;
    detections += c.name.rfind("eval.det.", 0) == 0;
  }
  // the comparisons that matter were all made
  CHECK(losses == 5);
  CHECK(grads > 90);       // every trainable parameter (frozen BN: 95)
  CHECK(detections == 2);  // boxes/scores/labels and masks of the one image
  CHECK(failed == 0);
}
