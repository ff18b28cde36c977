// Float64 central-difference gradient check (the Jacobian test every differentiable op gets).
// f maps the inputs to any tensor; the check compares d(sum(f(x) * w))/dx from backward against
// central differences, w a fixed random weight so every output element matters.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "kernels/ops.h"

namespace mrc::test {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-5;
  uint64_t seed = 1234;
};

// Inputs must be float64 CPU tensors (any strides); those with requires_grad are checked.
inline void gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& inputs,
                      const GradcheckOptions& opt = {}) {
  Generator gen(opt.seed);
  Tensor out0 = f(inputs);
  REQUIRE(out0.dtype() == DType::Float64);
  const Tensor w = Tensor::randn(out0.shape(), &gen, DType::Float64);
  auto objective = [&](const std::vector<Tensor>& xs) { return sum(mul(f(xs), w)); };
  std::vector<Tensor> wrt;
  for (const Tensor& t : inputs)
    if (t.requires_grad()) wrt.push_back(t);
  REQUIRE(!wrt.empty());
  const std::vector<Tensor> analytic = grad(objective(inputs), wrt);
  for (size_t k = 0; k < wrt.size(); ++k) {
    const Tensor& x = wrt[k];
    REQUIRE(x.dtype() == DType::Float64);
    const std::vector<double> ga = analytic[k].to_vector<double>();
    double* base = static_cast<double*>(x.storage()->data());
    const Shape& shape = x.shape();
    const Shape& strides = x.strides();
    std::vector<int64_t> idx(shape.size(), 0);
    int mismatches = 0;
    for (int64_t lin = 0; lin < x.numel(); ++lin) {
      int64_t off = x.offset(), rem = lin;
      for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
        off += (rem % shape[size_t(d)]) * strides[size_t(d)];
        rem /= shape[size_t(d)];
      }
      const double orig = base[off];
      double plus, minus;
      {
        NoGradGuard ng;
        base[off] = orig + opt.eps;
        plus = objective(inputs).item<double>();
        base[off] = orig - opt.eps;
        minus = objective(inputs).item<double>();
        base[off] = orig;
      }
      const double numeric = (plus - minus) / (2 * opt.eps);
      const double a = ga[size_t(lin)];
      if (std::abs(a - numeric) > opt.atol + opt.rtol * std::abs(numeric)) {
        if (mismatches++ < 5)
          MESSAGE("input " << k << " element " << lin << ": backward " << a << " vs numeric " << numeric);
      }
    }
    CHECK_MESSAGE(mismatches == 0, "gradient mismatches in input " << k << ": " << mismatches);
  }
}

// A float64 tensor of hand-written values, for cases computed by hand.
inline Tensor f64(const std::vector<double>& v, const Shape& shape) { return Tensor::from_vector(v, shape); }

// A float64 leaf with random values that requires grad.
inline Tensor rand_leaf(const Shape& shape, Generator& gen, double lo = -1, double hi = 1) {
  return Tensor::uniform(shape, lo, hi, &gen, DType::Float64).requires_grad_();
}

// A non-contiguous float64 leaf: the transpose of a random (shape reversed in the last two dims) tensor.
inline Tensor rand_leaf_transposed(const Shape& shape, Generator& gen, double lo = -1, double hi = 1) {
  Shape s = shape;
  REQUIRE(s.size() >= 2);
  std::swap(s[s.size() - 1], s[s.size() - 2]);
  Tensor base = Tensor::uniform(s, lo, hi, &gen, DType::Float64);
  Tensor t = base.transpose(-1, -2);
  t.requires_grad_();
  return t;
}

}  // namespace mrc::test
