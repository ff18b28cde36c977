// Photo -> detections -> JSON / overlay (see predict.h).
#include "train/predict.h"

#include "data/coco.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "data/overlay.h"
#include "data/rle.h"
#include "tensor/autograd.h"

namespace mrc::train {

Tensor photo_to_tensor(const data::Image& photo) {
  const int64_t h = photo.height, w = photo.width;
  std::vector<float> v(size_t(3 * h * w));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const uint8_t* p = photo.at(int(x), int(y));
      for (int64_t c = 0; c < 3; ++c) v[size_t((c * h + y) * w + x)] = float(p[photo.channels < 3 ? 0 : c]) / 255.0f;
    }
  return Tensor::from_vector(v, {3, h, w});
}

PhotoDetections to_photo_detections(const maskrcnn::Detections& d, double mask_threshold) {
  PhotoDetections out;
  const Tensor boxes = d.boxes.cpu().contiguous(), scores = d.scores.cpu().contiguous();
  const Tensor labels = d.labels.cpu().contiguous(), masks = d.masks.cpu().contiguous();
  const int64_t n = boxes.size(0), h = masks.dim() == 4 ? masks.size(2) : 0, w = masks.dim() == 4 ? masks.size(3) : 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* b = boxes.data<float>() + 4 * i;
    out.boxes.push_back({b[0], b[1], b[2], b[3]});
    out.scores.push_back(scores.data<float>()[i]);
    out.labels.push_back(labels.data<int64_t>()[i]);
    data::Mask m{int(w), int(h)};
    const float* p = masks.data<float>() + i * h * w;
    for (int64_t k = 0; k < h * w; ++k) m.pixels[size_t(k)] = p[k] > mask_threshold;
    out.masks.push_back(std::move(m));
  }
  return out;
}

PhotoDetections detect_photo(maskrcnn::MaskRCNN& model, const data::Image& photo) {
  NoGradGuard no_grad;
  const Device device = model.named_parameters().front().second.device();
  const std::vector<maskrcnn::Detections> d = model.detect({photo_to_tensor(photo).to(device)});
  return to_photo_detections(d.at(0), model.config().DETECTION_MASK_THRESHOLD);
}

nlohmann::json detections_to_json(const PhotoDetections& d, const std::string& image,
                                  const std::vector<std::string>& class_names, int64_t image_id,
                                  const std::vector<int64_t>& category_ids) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < d.boxes.size(); ++i) {
    const auto& b = d.boxes[i];
    const int64_t label = d.labels[i];
    const data::Rle rle = data::mask_to_rle(d.masks[i]);
    out.push_back({{"image", image},
                   {"category_id", label},
                   {"category", label >= 0 && size_t(label) < class_names.size() ? class_names[size_t(label)] : "?"},
                   {"score", d.scores[i]},
                   {"bbox", {b[0], b[1], b[2] - b[0], b[3] - b[1]}},
                   {"segmentation", {{"size", {rle.height, rle.width}}, {"counts", data::rle_to_string(rle.counts)}}}});
    if (image_id >= 0) out.back()["image_id"] = image_id;
    if (!category_ids.empty()) out.back()["category_id"] = category_ids.at(size_t(label));
  }
  return out;
}

std::vector<int64_t> category_ids_for(const data::Dataset& dataset, const std::vector<std::string>& model_classes) {
  const std::vector<int64_t> dataset_ids = data::coco_category_ids(dataset);
  std::vector<int64_t> ids = {0};
  for (size_t k = 1; k < model_classes.size(); ++k) {
    const auto it = std::find(dataset.class_names.begin() + 1, dataset.class_names.end(), model_classes[k]);
    if (it == dataset.class_names.end())
      throw std::runtime_error(dataset.source + ": the model's class '" + model_classes[k] +
                               "' is not one of the dataset's classes");
    ids.push_back(dataset_ids[size_t(it - dataset.class_names.begin())]);
  }
  return ids;
}

data::Image render_detections(const data::Image& photo, const PhotoDetections& d,
                              const std::vector<std::string>& class_names, double min_score) {
  std::vector<data::OverlayInstance> shown;
  for (size_t i = 0; i < d.boxes.size(); ++i) {
    if (d.scores[i] < min_score) continue;
    data::OverlayInstance o;
    o.mask = d.masks[i];
    for (int k = 0; k < 4; ++k) o.box[k] = d.boxes[i][size_t(k)];
    char score[16];
    std::snprintf(score, sizeof score, " %.2f", double(d.scores[i]));
    const size_t label = size_t(d.labels[i]);
    o.caption = (label < class_names.size() ? class_names[label] : std::to_string(label)) + score;
    shown.push_back(std::move(o));
  }
  return data::render_overlay(photo, shown);
}

}  // namespace mrc::train
