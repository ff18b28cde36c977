// Weight initializers with torch.nn.init's semantics (fan computation included), drawing from a Generator.
#pragma once
#include <utility>

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace mrc::init {

// (fan_in, fan_out) of a weight as torch computes them: dim 1 and dim 0 times the receptive field.
std::pair<int64_t, int64_t> fans(const Tensor& w);
double calculate_gain(const char* nonlinearity, double param = 0);  // "relu", "leaky_relu", "linear", ...

void uniform_(Tensor& t, double lo, double hi, Generator* gen = nullptr);
void normal_(Tensor& t, double mean, double std, Generator* gen = nullptr);
void constant_(Tensor& t, double value);
// mode: "fan_in" or "fan_out"; nonlinearity: "relu" or "leaky_relu" (with a).
void kaiming_uniform_(Tensor& t, double a = 0, const char* mode = "fan_in", const char* nonlinearity = "leaky_relu",
                      Generator* gen = nullptr);
void kaiming_normal_(Tensor& t, double a = 0, const char* mode = "fan_in", const char* nonlinearity = "leaky_relu",
                     Generator* gen = nullptr);
void xavier_uniform_(Tensor& t, double gain = 1, Generator* gen = nullptr);

}  // namespace mrc::init
