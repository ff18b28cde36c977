// Loader settings for Mask R-CNN and the Batch -> model inputs split (see inputs.h).
#include "train/inputs.h"

#include <stdexcept>
#include <string>

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

namespace {

// The loader's boxes and labels, read where they are (on the host: no transfer), checked for the model.
void check_on_host(const data::Target& t, int64_t num_classes) {
  const std::string where = "to_model_inputs: photo \"" + t.image_id + "\"";
  if (!t.boxes.defined() || !t.labels.defined()) throw std::invalid_argument(where + ": no boxes or labels");
  const Tensor boxes = t.boxes.cpu().to(DType::Float64).contiguous(), labels = t.labels.cpu().to(DType::Float64).contiguous();
  if (boxes.dim() != 2 || boxes.size(1) != 4 || labels.dim() != 1 || labels.size(0) != boxes.size(0))
    throw std::invalid_argument(where + ": boxes must be [n, 4] and labels [n], got " + boxes.str() + " and " + labels.str());
  maskrcnn::check_target_values(boxes.data<double>(), labels.data<double>(), labels.size(0), num_classes, where);
}

}  // namespace

ModelInputs to_model_inputs(const data::Batch& batch, Device device, int64_t num_classes) {
  ModelInputs in;
  for (size_t i = 0; i < batch.targets.size(); ++i) {
    const data::Target& t = batch.targets[i];
    if (num_classes > 0) check_on_host(t, num_classes);
    const Tensor image = batch.images.select(0, int64_t(i)).narrow(1, 0, t.height).narrow(2, 0, t.width);
    in.images.push_back(image.contiguous().to(device));
    in.targets.push_back({t.boxes.to(device), t.labels.to(device), t.masks.to(device), num_classes > 0});
  }
  return in;
}

}  // namespace mrc::train
