// A parity reference file (tests/fixtures/test_maskrcnn_parity.py): torchvision's weights, the inputs and
// everything it recorded, with the model configuration its metadata describes.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/maskrcnn/maskrcnn.h"
#include "tensor/serialize.h"

namespace mrc::parity {

struct Reference {
  std::string path;
  TensorMap tensors;
  StringMap meta;
  maskrcnn::Config config;
  std::vector<Tensor> images;                 // input.<i>, float32 [3, H, W]
  std::vector<maskrcnn::Target> targets;      // target.{boxes,labels,masks}.<i>
};

// Metadata: num_classes, min_size, max_size (or size for both), images, norm (frozen | bn),
// trainable_layers (default 5), loss_weights (five numbers in kLossNames order, default all 1), and
// torchvision's constructor arguments rpn_{pre,post}_nms_top_n_{train,test}, box_batch_size_per_image,
// box_detections_per_img when set.
Reference load_reference(const std::string& path);

int64_t meta_int(const Reference& r, const std::string& key);
double meta_double(const Reference& r, const std::string& key);
bool meta_has(const Reference& r, const std::string& key);

// Our model with the reference's weights (state.<name>), in training or eval mode as the caller sets.
std::unique_ptr<maskrcnn::MaskRCNN> reference_model(const Reference& r);

}  // namespace mrc::parity
