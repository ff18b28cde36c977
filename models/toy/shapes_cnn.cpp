// ShapesCNN and its generated data (see shapes_cnn.h).
#include "models/toy/shapes_cnn.h"

#include <cmath>

#include "kernels/ops.h"

namespace mrc::toy {

namespace {
// Inside test for the three shapes, centred at (cx, cy) with "radius" r, in pixel-centre coordinates.
bool inside(int64_t shape, double x, double y, double cx, double cy, double r) {
  const double dx = x - cx, dy = y - cy;
  switch (shape) {
    case 0: return dx * dx + dy * dy <= r * r;
    case 1: return std::abs(dx) <= r * 0.85 && std::abs(dy) <= r * 0.85;
    default: {  // upright triangle: apex at top, base at the bottom
      const double t = (dy + r) / (2 * r);  // 0 at apex, 1 at base
      return t >= 0 && t <= 1 && std::abs(dx) <= t * r;
    }
  }
}
}  // namespace

Batch make_shapes_batch(int64_t n, Generator& gen) {
  const int64_t S = kImageSize;
  std::vector<float> px(static_cast<size_t>(n * 3 * S * S));
  std::vector<int64_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t shape = gen.randint(0, kNumShapes);
    labels[size_t(i)] = shape;
    const double r = gen.uniform(6, 11);
    const double cx = gen.uniform(r, S - r), cy = gen.uniform(r, S - r);
    // random colours, with the shape always clearly lighter or darker than the background
    const double polarity = gen.uniform() < 0.5 ? 1 : -1;
    float fg[3], bg[3];
    for (int c = 0; c < 3; ++c) {
      bg[c] = float(-polarity * gen.uniform(0.2, 1));
      fg[c] = float(polarity * gen.uniform(0.2, 1));
    }
    for (int64_t y = 0; y < S; ++y)
      for (int64_t x = 0; x < S; ++x) {
        const bool in = inside(shape, double(x) + 0.5, double(y) + 0.5, cx, cy, r);
        for (int c = 0; c < 3; ++c)
          px[size_t(((i * 3 + c) * S + y) * S + x)] = (in ? fg[c] : bg[c]) + float(0.1 * gen.normal());
      }
  }
  return {Tensor::from_vector(px, {n, 3, S, S}), Tensor::from_vector(labels, {n})};
}

ShapesCNN::ShapesCNN(uint64_t seed) {
  Generator gen(seed);
  features_ = std::make_shared<Sequential>();
  features_->push_back(std::make_shared<Conv2d>(3, 16, 3, 1, 1, false, &gen));
  features_->push_back(std::make_shared<BatchNorm2d>(16));
  features_->push_back(std::make_shared<ReLU>());
  features_->push_back(std::make_shared<MaxPool2d>(2, 2));
  features_->push_back(std::make_shared<Conv2d>(16, 32, 3, 1, 1, false, &gen));
  features_->push_back(std::make_shared<BatchNorm2d>(32));
  features_->push_back(std::make_shared<ReLU>());
  features_->push_back(std::make_shared<MaxPool2d>(2, 2));
  features_->push_back(std::make_shared<Conv2d>(32, 32, 3, 1, 1, true, &gen));
  features_->push_back(std::make_shared<ReLU>());
  register_module("features", features_);
  classifier_ = register_module("classifier", std::make_shared<Linear>(32, kNumShapes, true, &gen));
}

Tensor ShapesCNN::forward(const Tensor& x) {
  const Tensor f = features_->forward(x);     // [n, 32, 8, 8]
  return classifier_->forward(mean(f, {2, 3}));  // global average pool, then logits
}

}  // namespace mrc::toy
