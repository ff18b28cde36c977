// The engine's smallest end-to-end job: a little CNN that tells filled circles, squares and triangles
// apart on generated 32x32 RGB images. It exercises conv, batch norm, pooling, linear, cross-entropy,
// autograd and the optimizers together (the main job until the Mask R-CNN apps exist, and a test).
#pragma once
#include <memory>

#include "layers/layers.h"
#include "tensor/generator.h"

namespace mrc::toy {

constexpr int64_t kImageSize = 32;
constexpr int64_t kNumShapes = 3;  // circle, square, triangle

// A batch of generated images [n, 3, 32, 32] (float32, roughly zero-mean) and labels [n] (int64).
struct Batch {
  Tensor images, labels;
};
Batch make_shapes_batch(int64_t n, Generator& gen);

class ShapesCNN : public UnaryModule {
 public:
  explicit ShapesCNN(uint64_t seed);
  Tensor forward(const Tensor& x) override;  // logits [n, 3]
  std::string type_name() const override { return "ShapesCNN"; }

 private:
  std::shared_ptr<Sequential> features_;
  std::shared_ptr<Linear> classifier_;
};

}  // namespace mrc::toy
