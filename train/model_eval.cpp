// Dataset -> detections -> AP (see model_eval.h).
#include "train/model_eval.h"

#include "data/loader.h"
#include "data/progress.h"
#include "tensor/autograd.h"
#include "train/inputs.h"

namespace mrc::train {

DatasetDetections detect_dataset(maskrcnn::MaskRCNN& model, const data::Dataset& dataset, bool progress) {
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  data::LoaderOptions o = loader_options(model.config(), false, 0);
  o.batch_size = 1;
  o.max_gt_instances = 0;  // every instance counts
  data::Loader loader(dataset, o);
  loader.begin_epoch(0);
  DatasetDetections out;
  std::vector<GroundTruth>& truth = out.truth;
  std::vector<PhotoDetections>& dets = out.detections;
  const Device device = model.named_parameters().front().second.device();
  data::ProgressBar bar(loader.size(), "evaluate", progress ? stderr : nullptr);
  while (std::optional<data::Batch> b = loader.next()) {
    const ModelInputs in = to_model_inputs(*b, device);
    dets.push_back(to_photo_detections(model.detect(in.images).at(0), model.config().DETECTION_MASK_THRESHOLD));
    const maskrcnn::Target& t = in.targets[0];
    const Tensor boxes = t.boxes.cpu().contiguous(), labels = t.labels.cpu().contiguous();
    const Tensor masks = t.masks.cpu().contiguous();
    GroundTruth g;
    const int64_t h = masks.size(1), w = masks.size(2);
    for (int64_t i = 0; i < labels.size(0); ++i) {
      const float* bx = boxes.data<float>() + 4 * i;
      g.boxes.push_back({bx[0], bx[1], bx[2], bx[3]});
      g.labels.push_back(labels.data<int64_t>()[i]);
      data::Mask m{int(w), int(h)};
      const uint8_t* p = masks.data<uint8_t>() + i * h * w;
      std::copy(p, p + h * w, m.pixels.begin());
      g.masks.push_back(std::move(m));
    }
    truth.push_back(std::move(g));
    bar.update();
  }
  bar.finish();
  if (was_training) model.train();
  return out;
}

Evaluation evaluate_model(maskrcnn::MaskRCNN& model, const data::Dataset& dataset, bool progress) {
  const DatasetDetections d = detect_dataset(model, dataset, progress);
  return evaluate_detections(d.truth, d.detections);
}

}  // namespace mrc::train
