// GeneralizedRCNNTransform: ImageNet mean/std normalization, resizing by torchvision's min/max-size rule
// (targets' boxes and masks with the images), zero-padded batching to a multiple of 32, and the
// postprocess that maps detections back onto the photos as given (boxes scaled, masks pasted).
#pragma once
#include <utility>
#include <vector>

#include "models/maskrcnn/common.h"
#include "models/maskrcnn/config.h"

namespace mrc::maskrcnn {

class GeneralizedRCNNTransform {
 public:
  explicit GeneralizedRCNNTransform(const Config& cfg);

  // images: float32 [3, H, W] with values in [0, 1], any sizes; targets (training) are resized in place.
  ImageList forward(const std::vector<Tensor>& images, std::vector<Target>* targets) const;
  // The size an H x W image is resized to: scale = min(min_size / min(H, W), max_size / max(H, W)) in
  // float32 as torch rounds it, each side floor(side * scale).
  std::pair<int64_t, int64_t> resized_size(int64_t h, int64_t w) const;
  float resize_scale(int64_t h, int64_t w) const;
  // Detections (boxes in resized-image coordinates, masks [n, 1, M, M]) -> the original photos.
  Detections postprocess(const Tensor& boxes, const Tensor& scores, const Tensor& labels, const Tensor& masks,
                         std::pair<int64_t, int64_t> image_size, std::pair<int64_t, int64_t> original_size) const;

  // Boxes [n, 4] scaled from an image of size `from` to one of size `to` (ratios in float32).
  static Tensor resize_boxes(const Tensor& boxes, std::pair<int64_t, int64_t> from, std::pair<int64_t, int64_t> to);

 private:
  int64_t min_size_, max_size_, size_divisible_;
  std::vector<double> mean_, std_;
};

}  // namespace mrc::maskrcnn
