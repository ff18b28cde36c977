// The basic layers (see layers.h): parameter registration with torch's names and initializers, and
// forward() as a call into the op of the same name.
#include "layers/layers.h"

#include <cmath>
#include <stdexcept>

#include "kernels/conv/conv_fused.h"
#include "kernels/ops.h"
#include "layers/init.h"

namespace mrc {

namespace {
// torch's default for Conv/Linear: weight kaiming_uniform(a=sqrt(5)), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
void torch_default_init(Tensor& w, Tensor& b, Generator* gen) {
  init::kaiming_uniform_(w, std::sqrt(5.0), "fan_in", "leaky_relu", gen);
  if (b.defined()) {
    const double bound = 1.0 / std::sqrt(double(init::fans(w).first));
    init::uniform_(b, -bound, bound, gen);
  }
}
void check_positive(const char* layer, const char* what, int64_t v) {
  if (v <= 0) throw std::invalid_argument(std::string(layer) + ": " + what + " must be positive, got " + std::to_string(v));
}
}  // namespace

Conv2d::Conv2d(const Conv2dOptions& o, Generator* gen) : options(o) {
  check_positive("Conv2d", "in_channels", o.in_channels);
  check_positive("Conv2d", "out_channels", o.out_channels);
  if (o.in_channels % o.groups || o.out_channels % o.groups)
    throw std::invalid_argument("Conv2d: groups (" + std::to_string(o.groups) + ") must divide in and out channels");
  weight = register_parameter("weight", Tensor::empty({o.out_channels, o.in_channels / o.groups, o.kernel[0], o.kernel[1]}));
  if (o.bias) bias = register_parameter("bias", Tensor::empty({o.out_channels}));
  torch_default_init(weight, bias, gen);
}

Conv2d::Conv2d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t padding, bool bias, Generator* gen,
               int64_t dilation, int64_t groups)
    : Conv2d(Conv2dOptions{in, out, {k, k}, {stride, stride}, {padding, padding}, {dilation, dilation}, groups, bias}, gen) {}

Tensor Conv2d::forward(const Tensor& x) {
  const auto& o = options;
  return conv2d(x, weight, bias, Int2(o.stride[0], o.stride[1]), Int2(o.padding[0], o.padding[1]),
                Int2(o.dilation[0], o.dilation[1]), o.groups);
}

Tensor Conv2d::forward_relu(const Tensor& x) {
  const auto& o = options;
  return conv2d_fused(x, weight, bias, Tensor(), true, Int2(o.stride[0], o.stride[1]), Int2(o.padding[0], o.padding[1]),
                      Int2(o.dilation[0], o.dilation[1]), o.groups);
}

ConvTranspose2d::ConvTranspose2d(const ConvTranspose2dOptions& o, Generator* gen) : options(o) {
  check_positive("ConvTranspose2d", "in_channels", o.in_channels);
  check_positive("ConvTranspose2d", "out_channels", o.out_channels);
  weight = register_parameter("weight", Tensor::empty({o.in_channels, o.out_channels / o.groups, o.kernel[0], o.kernel[1]}));
  if (o.bias) bias = register_parameter("bias", Tensor::empty({o.out_channels}));
  // torch computes the transposed conv's fans on the [in, out/groups, k, k] weight as stored
  torch_default_init(weight, bias, gen);
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  const auto& o = options;
  return conv_transpose2d(x, weight, bias, Int2(o.stride[0], o.stride[1]), Int2(o.padding[0], o.padding[1]),
                          Int2(o.output_padding[0], o.output_padding[1]), o.groups, Int2(o.dilation[0], o.dilation[1]));
}

Linear::Linear(int64_t in, int64_t out, bool with_bias, Generator* gen) : in_features(in), out_features(out) {
  check_positive("Linear", "in_features", in);
  check_positive("Linear", "out_features", out);
  weight = register_parameter("weight", Tensor::empty({out, in}));
  if (with_bias) bias = register_parameter("bias", Tensor::empty({out}));
  torch_default_init(weight, bias, gen);
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

BatchNorm2d::BatchNorm2d(int64_t c, double eps_, double momentum_) : channels(c), eps(eps_), momentum(momentum_) {
  check_positive("BatchNorm2d", "channels", c);
  weight = register_parameter("weight", Tensor::ones({c}));
  bias = register_parameter("bias", Tensor::zeros({c}));
  running_mean = register_buffer("running_mean", Tensor::zeros({c}));
  running_var = register_buffer("running_var", Tensor::ones({c}));
  num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}, DType::Int64));
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  if (is_training()) {
    NoGradGuard ng;
    num_batches_tracked.add_(Tensor::ones({}, DType::Int64, num_batches_tracked.device()));
  }
  return batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum, eps);
}

FrozenBatchNorm2d::FrozenBatchNorm2d(int64_t c, double eps_) : channels(c), eps(eps_) {
  check_positive("FrozenBatchNorm2d", "channels", c);
  weight = register_buffer("weight", Tensor::ones({c}));
  bias = register_buffer("bias", Tensor::zeros({c}));
  running_mean = register_buffer("running_mean", Tensor::zeros({c}));
  running_var = register_buffer("running_var", Tensor::ones({c}));
}

Tensor FrozenBatchNorm2d::forward(const Tensor& x) { return frozen_batch_norm(x, weight, bias, running_mean, running_var, eps); }

GroupNorm::GroupNorm(int64_t g, int64_t c, double eps_) : groups(g), channels(c), eps(eps_) {
  check_positive("GroupNorm", "groups", g);
  if (c % g) throw std::invalid_argument("GroupNorm: groups (" + std::to_string(g) + ") must divide channels (" + std::to_string(c) + ")");
  weight = register_parameter("weight", Tensor::ones({c}));
  bias = register_parameter("bias", Tensor::zeros({c}));
}

Tensor GroupNorm::forward(const Tensor& x) { return group_norm(x, groups, weight, bias, eps); }

Tensor ReLU::forward(const Tensor& x) { return relu(x); }

Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, kernel, stride, padding, 1, ceil_mode); }

Sequential& Sequential::push_back(std::shared_ptr<UnaryModule> m) { return push_back(std::to_string(layers_.size()), std::move(m)); }

Sequential& Sequential::push_back(const std::string& name, std::shared_ptr<UnaryModule> m) {
  register_module(name, m);
  layers_.push_back(std::move(m));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& l : layers_) h = l->forward(h);
  return h;
}

std::shared_ptr<UnaryModule> make_norm(NormKind kind, int64_t channels, int64_t gn_groups) {
  switch (kind) {
    case NormKind::FrozenBatchNorm: return std::make_shared<FrozenBatchNorm2d>(channels);
    case NormKind::BatchNorm: return std::make_shared<BatchNorm2d>(channels);
    case NormKind::GroupNorm: return std::make_shared<GroupNorm>(gn_groups, channels);
  }
  throw std::invalid_argument("make_norm: unknown kind");
}

}  // namespace mrc
