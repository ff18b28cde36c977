// The basic layers, with torch's parameter names, shapes and default initializers.
#pragma once
#include <array>
#include <memory>
#include <vector>

#include "layers/module.h"
#include "tensor/generator.h"

namespace mrc {

using Pair = std::array<int64_t, 2>;

struct Conv2dOptions {
  int64_t in_channels = 0, out_channels = 0;
  Pair kernel{1, 1}, stride{1, 1}, padding{0, 0}, dilation{1, 1};
  int64_t groups = 1;
  bool bias = true;
};

class Conv2d : public UnaryModule {
 public:
  Conv2d(const Conv2dOptions& o, Generator* gen = nullptr);  // weight, bias: kaiming_uniform(a=sqrt(5)) as torch
  Conv2d(int64_t in, int64_t out, int64_t k, int64_t stride = 1, int64_t padding = 0, bool bias = true,
         Generator* gen = nullptr, int64_t dilation = 1, int64_t groups = 1);
  Tensor forward(const Tensor& x) override;
  // relu(forward(x)) with the ReLU in the convolution's epilogue (kernels/conv/conv_fused.h): one pass over memory.
  Tensor forward_relu(const Tensor& x);
  std::string type_name() const override { return "Conv2d"; }
  Conv2dOptions options;
  Tensor weight, bias;  // [out, in/groups, kh, kw], [out] (undefined without bias)
};

struct ConvTranspose2dOptions {
  int64_t in_channels = 0, out_channels = 0;
  Pair kernel{1, 1}, stride{1, 1}, padding{0, 0}, output_padding{0, 0}, dilation{1, 1};
  int64_t groups = 1;
  bool bias = true;
};

class ConvTranspose2d : public UnaryModule {
 public:
  ConvTranspose2d(const ConvTranspose2dOptions& o, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ConvTranspose2d"; }
  ConvTranspose2dOptions options;
  Tensor weight, bias;  // [in, out/groups, kh, kw], [out]
};

class Linear : public UnaryModule {
 public:
  Linear(int64_t in, int64_t out, bool bias = true, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }
  int64_t in_features, out_features;
  Tensor weight, bias;  // [out, in], [out]
};

class BatchNorm2d : public UnaryModule {
 public:
  explicit BatchNorm2d(int64_t channels, double eps = 1e-5, double momentum = 0.1);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BatchNorm2d"; }
  int64_t channels;
  double eps, momentum;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
};

// torchvision.ops.FrozenBatchNorm2d: fixed affine transform from stored statistics (eps 1e-5).
class FrozenBatchNorm2d : public UnaryModule {
 public:
  explicit FrozenBatchNorm2d(int64_t channels, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "FrozenBatchNorm2d"; }
  int64_t channels;
  double eps;
  Tensor weight, bias, running_mean, running_var;  // all buffers
};

class GroupNorm : public UnaryModule {
 public:
  GroupNorm(int64_t groups, int64_t channels, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GroupNorm"; }
  int64_t groups, channels;
  double eps;
  Tensor weight, bias;
};

class ReLU : public UnaryModule {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ReLU"; }
};

class MaxPool2d : public UnaryModule {
 public:
  MaxPool2d(int64_t kernel, int64_t stride, int64_t padding = 0, bool ceil_mode = false)
      : kernel(kernel), stride(stride), padding(padding), ceil_mode(ceil_mode) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "MaxPool2d"; }
  int64_t kernel, stride, padding;
  bool ceil_mode;
};

class Sequential : public UnaryModule {
 public:
  Sequential() = default;
  // Children are named "0", "1", ... as torch.nn.Sequential.
  Sequential& push_back(std::shared_ptr<UnaryModule> m);
  Sequential& push_back(const std::string& name, std::shared_ptr<UnaryModule> m);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
  size_t size() const { return layers_.size(); }
  UnaryModule& operator[](size_t i) { return *layers_[i]; }

 private:
  std::vector<std::shared_ptr<UnaryModule>> layers_;
};

// Normalization layer choice for backbones: torchvision's pretrained default is frozen BN.
enum class NormKind { FrozenBatchNorm, BatchNorm, GroupNorm };
std::shared_ptr<UnaryModule> make_norm(NormKind kind, int64_t channels, int64_t gn_groups = 32);

}  // namespace mrc
