// Loader settings for Mask R-CNN and the Batch -> model inputs split (see inputs.h).
#include "train/inputs.h"

namespace mrc::train {

data::LoaderOptions loader_options(const maskrcnn::Config& cfg, bool training, uint64_t seed) {
  data::LoaderOptions o;
  o.batch_size = int(cfg.IMAGES_PER_GPU);
  o.shuffle = training;
  o.seed = seed;
  o.resize = data::ResizeConfig::matterport(data::ResizeMode::None);
  o.normalization = data::Normalization::mean_std({0.f, 0.f, 0.f}, {1.f, 1.f, 1.f}, 1.0f / 255.0f);
  o.max_gt_instances = int(cfg.MAX_GT_INSTANCES);
  o.skip_images_without_regions = training;
  return o;
}

ModelInputs to_model_inputs(const data::Batch& batch, Device device) {
  ModelInputs in;
  for (size_t i = 0; i < batch.targets.size(); ++i) {
    const data::Target& t = batch.targets[i];
    const Tensor image = batch.images.select(0, int64_t(i)).narrow(1, 0, t.height).narrow(2, 0, t.width);
    in.images.push_back(image.contiguous().to(device));
    in.targets.push_back({t.boxes.to(device), t.labels.to(device), t.masks.to(device)});
  }
  return in;
}

}  // namespace mrc::train
