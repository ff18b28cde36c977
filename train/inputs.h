// From the data loader to the model: loader settings that hand Mask R-CNN photos the way it wants them
// (decoded, optionally augmented, NOT resized or normalized: the model's own transform does both, as
// torchvision's GeneralizedRCNNTransform), and a Batch split into the model's per-image inputs.
#pragma once
#include <string>
#include <vector>

#include "data/loader.h"
#include "models/maskrcnn/common.h"
#include "models/maskrcnn/config.h"

namespace mrc::train {

// batch_size = IMAGES_PER_GPU, pixels on [0, 1], no resize (the model resizes to IMAGE_MIN/MAX_DIM),
// at most MAX_GT_INSTANCES instances, images without regions skipped when training.
data::LoaderOptions loader_options(const maskrcnn::Config& cfg, bool training, uint64_t seed);

struct ModelInputs {
  std::vector<Tensor> images;               // float32 [3, h, w] on [0, 1], each at its own size
  std::vector<maskrcnn::Target> targets;    // boxes, labels, masks of each image
};

// Crops each photo out of the padded batch and moves everything to `device`. With num_classes > 0 each
// target's boxes and labels are first checked on the host (maskrcnn::check_target_values, the photo named in
// errors) and marked checked, so forward_train reads nothing back from the device to check them.
ModelInputs to_model_inputs(const data::Batch& batch, Device device, int64_t num_classes = 0);

}  // namespace mrc::train
