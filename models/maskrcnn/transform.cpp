// GeneralizedRCNNTransform (see transform.h), as torchvision's transform.py.
#include "models/maskrcnn/transform.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kernels/masks/masks_op.h"
#include "kernels/ops.h"
#include "models/maskrcnn/fpn.h"

namespace mrc::maskrcnn {

GeneralizedRCNNTransform::GeneralizedRCNNTransform(const Config& cfg)
    : min_size_(cfg.IMAGE_MIN_DIM),
      max_size_(cfg.IMAGE_MAX_DIM),
      size_divisible_(cfg.IMAGE_SIZE_DIVISIBLE),
      mean_(cfg.IMAGE_MEAN),
      std_(cfg.IMAGE_STD) {}

float GeneralizedRCNNTransform::resize_scale(int64_t h, int64_t w) const {
  // torch: min(float(min_size) / min_side, float(max_size) / max_side) with float32 tensor sides; a Python
  // number divided by a tensor is computed as reciprocal(tensor) * number, which can differ from the
  // correctly rounded quotient in the last bit (and then floor() of the size by one pixel).
  const float lo = float(std::min(h, w)), hi = float(std::max(h, w));
  const float a = (1.0f / lo) * float(min_size_), b = (1.0f / hi) * float(max_size_);
  return std::min(a, b);
}

std::pair<int64_t, int64_t> GeneralizedRCNNTransform::resized_size(int64_t h, int64_t w) const {
  const double s = double(resize_scale(h, w));  // scale.item(), then F.interpolate's floor(size * scale)
  return {int64_t(std::floor(double(h) * s)), int64_t(std::floor(double(w) * s))};
}

Tensor GeneralizedRCNNTransform::resize_boxes(const Tensor& boxes, std::pair<int64_t, int64_t> from,
                                              std::pair<int64_t, int64_t> to) {
  const float rh = float(to.first) / float(from.first), rw = float(to.second) / float(from.second);
  const Tensor ratios = Tensor::from_vector<float>({rw, rh, rw, rh}, {4}, boxes.device());
  return mul(boxes, ratios);
}

ImageList GeneralizedRCNNTransform::forward(const std::vector<Tensor>& images, std::vector<Target>* targets) const {
  if (images.empty()) throw std::invalid_argument("GeneralizedRCNNTransform: no images");
  if (targets && targets->size() != images.size())
    throw std::invalid_argument("GeneralizedRCNNTransform: " + std::to_string(targets->size()) + " targets for " +
                                std::to_string(images.size()) + " images");
  NoGradGuard ng;
  const Device dev = images[0].device();
  const Tensor mean = Tensor::from_vector<float>({float(mean_[0]), float(mean_[1]), float(mean_[2])}, {3, 1, 1}, dev);
  const Tensor sd = Tensor::from_vector<float>({float(std_[0]), float(std_[1]), float(std_[2])}, {3, 1, 1}, dev);
  std::vector<Tensor> resized;
  ImageList out;
  for (size_t i = 0; i < images.size(); ++i) {
    const Tensor& img = images[i];
    if (img.dim() != 3 || img.size(0) != 3 || img.dtype() != DType::Float32 || img.size(1) < 1 || img.size(2) < 1)
      throw std::invalid_argument("GeneralizedRCNNTransform: image " + std::to_string(i) +
                                  " must be float32 [3, H, W] with values in [0, 1], got " + img.str());
    if (img.device() != dev) throw std::invalid_argument("GeneralizedRCNNTransform: images on different devices");
    const int64_t h = img.size(1), w = img.size(2);
    const auto [nh, nw] = resized_size(h, w);
    Tensor x = div(sub(img, mean), sd);
    if (nh != h || nw != w) x = resize_bilinear(x, nh, nw);
    resized.push_back(x);
    out.image_sizes.push_back({nh, nw});
    if (targets) {
      Target& t = (*targets)[i];
      if (!t.boxes.defined() || t.boxes.dim() != 2 || t.boxes.size(1) != 4 || t.boxes.dtype() != DType::Float32)
        throw std::invalid_argument("target " + std::to_string(i) + ": boxes must be float32 [n, 4], got " +
                                    (t.boxes.defined() ? t.boxes.str() : std::string("nothing")));
      t.boxes = resize_boxes(t.boxes, {h, w}, {nh, nw});
      if (t.masks.defined() && t.masks.numel() && (nh != h || nw != w)) {
        if (t.masks.dim() != 3 || t.masks.size(1) != h || t.masks.size(2) != w)
          throw std::invalid_argument("target " + std::to_string(i) + ": masks must be [n, " + std::to_string(h) + ", " +
                                      std::to_string(w) + "], got " + t.masks.str());
        t.masks = resize_nearest(t.masks.to(DType::Float32), nh, nw).to(DType::UInt8);  // F.interpolate default mode
      }
    }
  }
  int64_t max_h = 0, max_w = 0;
  for (const auto& [h, w] : out.image_sizes) {
    max_h = std::max(max_h, h);
    max_w = std::max(max_w, w);
  }
  const double stride = double(size_divisible_);
  max_h = int64_t(std::ceil(double(max_h) / stride) * stride);
  max_w = int64_t(std::ceil(double(max_w) / stride) * stride);
  out.tensors = Tensor::zeros({int64_t(images.size()), 3, max_h, max_w}, DType::Float32, dev);
  for (size_t i = 0; i < resized.size(); ++i)
    out.tensors.select(0, int64_t(i)).narrow(1, 0, resized[i].size(1)).narrow(2, 0, resized[i].size(2)).copy_(resized[i]);
  return out;
}

Detections GeneralizedRCNNTransform::postprocess(const Tensor& boxes, const Tensor& scores, const Tensor& labels,
                                                 const Tensor& masks, std::pair<int64_t, int64_t> image_size,
                                                 std::pair<int64_t, int64_t> original_size) const {
  NoGradGuard ng;
  Detections d;
  d.boxes = resize_boxes(boxes, image_size, original_size);
  d.scores = scores;
  d.labels = labels;
  d.masks = paste_masks_in_image(masks, d.boxes, original_size.first, original_size.second);
  return d;
}

}  // namespace mrc::maskrcnn
