// Float64 central-difference gradient check (the Jacobian test every differentiable op gets).
// f maps the inputs to any tensor; the check compares d(sum(f(x) * w))/dx from backward against
// central differences, w a fixed random weight so every output element matters.
//
// Every check also runs the op on the memory layouts real graphs feed it (each can be switched off in
// GradcheckOptions::layouts where the op cannot take it, with a comment saying why):
//   - the incoming gradient stepped with an offset, and broadcast (stride 0, as sum/expand backward give);
//   - every input at a storage offset, stepped (stride 2 along its last dim > 1), and transposed (its last
//     two dims swapped in memory);
//   - the inputs that require grad broadcast (stride 0) along their first dim > 1.
// Layouts that keep the values (all but the broadcast inputs) must reproduce the forward output and the
// gradients of the plain run to rounding; the broadcast inputs change the values, so they get their
// own central differences, summed over the elements that share one memory location.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kernels/ops.h"

namespace mrc::test {

enum GradcheckLayout : unsigned {
  UpstreamStepped = 1u << 0,    // incoming gradient at an offset with stride 2
  UpstreamBroadcast = 1u << 1,  // incoming gradient with a stride-0 dim
  InputsOffset = 1u << 2,       // every input starts at a storage offset
  InputsStepped = 1u << 3,      // every input has stride 2 along its last dim > 1
  InputsBroadcast = 1u << 4,    // inputs that require grad have a stride-0 dim
  InputsTransposed = 1u << 5,   // every input of 2+ dims is the transpose of a contiguous buffer
  AllLayouts = (1u << 6) - 1,
};

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-5;
  uint64_t seed = 1234;
  unsigned layouts = AllLayouts;
};

namespace gradcheck_detail {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// Same values, different layout: two float64 runs differ only by summation order.
inline bool same_values(const Tensor& a, const Tensor& b, const std::string& what, const std::string& layout) {
  const std::vector<double> va = a.to(DType::Float64).to_vector<double>(), vb = b.to(DType::Float64).to_vector<double>();
  REQUIRE(va.size() == vb.size());
  int bad = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    const bool ok = std::abs(va[i] - vb[i]) <= 1e-12 + 1e-9 * std::abs(vb[i]) || (std::isnan(va[i]) && std::isnan(vb[i]));
    if (!ok && bad++ < 5) MESSAGE(layout << ": " << what << " element " << i << " is " << va[i] << ", plain layout gives " << vb[i]);
  }
  CHECK_MESSAGE(bad == 0, layout << ": " << bad << " " << what << " elements differ from the plain layout");
  return bad == 0;
}

inline int64_t first_dim_above_one(const Shape& s, bool from_back) {
  for (size_t k = 0; k < s.size(); ++k) {
    const size_t d = from_back ? s.size() - 1 - k : k;
    if (s[d] > 1) return int64_t(d);
  }
  return -1;
}

// x's values at a storage offset of 3 elements (contiguous after it).
inline Tensor at_offset(const Tensor& x) {
  Tensor buf = Tensor::zeros({x.numel() + 3}, x.dtype(), x.device());
  Tensor v = buf.narrow(0, 3, x.numel()).view(x.shape());
  v.copy_(x.detach());
  return v;
}

// x's values with stride 2 along its last dim > 1 (x itself when there is none).
inline Tensor stepped(const Tensor& x) {
  const int64_t d = first_dim_above_one(x.shape(), true);
  if (d < 0) return at_offset(x);
  Shape s = x.shape();
  s[size_t(d)] = 2 * s[size_t(d)] + 1;
  Tensor v = Tensor::zeros(s, x.dtype(), x.device()).slice(d, 1, s[size_t(d)], 2);
  v.copy_(x.detach());
  return v;
}

// x's values in a buffer whose last two dims are swapped (column-major in those dims); x itself below 2-D.
inline Tensor transposed(const Tensor& x) {
  if (x.dim() < 2) return at_offset(x);
  Shape s = x.shape();
  std::swap(s[s.size() - 1], s[s.size() - 2]);
  Tensor v = Tensor::zeros(s, x.dtype(), x.device()).transpose(-1, -2);
  v.copy_(x.detach());
  return v;
}

// The first slice of x along its first dim > 1, broadcast back to x's shape with stride 0.
inline Tensor broadcast(const Tensor& x) {
  const int64_t d = first_dim_above_one(x.shape(), false);
  if (d < 0) return x.detach();
  return x.detach().narrow(d, 0, 1).contiguous().expand(x.shape());
}

inline std::vector<Tensor> relayout(const std::vector<Tensor>& inputs, Tensor (*how)(const Tensor&), bool only_grad) {
  std::vector<Tensor> out;
  NoGradGuard ng;
  for (const Tensor& t : inputs) {
    if (!t.defined() || (only_grad && !t.requires_grad())) {
      out.push_back(t);
      continue;
    }
    Tensor v = how(t);
    if (t.requires_grad()) v.requires_grad_();
    out.push_back(v);
  }
  return out;
}

inline std::vector<Tensor> grad_inputs(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> wrt;
  for (const Tensor& t : inputs)
    if (t.requires_grad()) wrt.push_back(t);
  REQUIRE(!wrt.empty());
  return wrt;
}

// Storage offset of each element of x, in row-major element order.
inline std::vector<int64_t> element_offsets(const Tensor& x) {
  std::vector<int64_t> offs(size_t(x.numel()));
  const Shape& shape = x.shape();
  const Shape& strides = x.strides();
  for (int64_t lin = 0; lin < x.numel(); ++lin) {
    int64_t off = x.offset(), rem = lin;
    for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
      off += (rem % shape[size_t(d)]) * strides[size_t(d)];
      rem /= shape[size_t(d)];
    }
    offs[size_t(lin)] = off;
  }
  return offs;
}

// Central differences of sum(f(inputs) * w) at every memory location of each input that requires grad,
// against the analytic gradient summed over the elements stored there.
inline void compare_with_numeric(const Fn& f, const std::vector<Tensor>& inputs, const Tensor& w, const GradcheckOptions& opt,
                                 const std::string& layout) {
  auto objective = [&](const std::vector<Tensor>& xs) { return sum(mul(f(xs), w)); };
  const std::vector<Tensor> wrt = grad_inputs(inputs);
  const std::vector<Tensor> analytic = grad(objective(inputs), wrt);
  for (size_t k = 0; k < wrt.size(); ++k) {
    const Tensor& x = wrt[k];
    REQUIRE(x.dtype() == DType::Float64);
    const std::vector<double> ga = analytic[k].to_vector<double>();
    std::map<int64_t, double> by_location;  // offset -> summed analytic gradient
    const std::vector<int64_t> offs = element_offsets(x);
    for (size_t i = 0; i < offs.size(); ++i) by_location[offs[i]] += ga[i];
    double* base = static_cast<double*>(x.storage()->data());
    int mismatches = 0;
    for (const auto& [off, a] : by_location) {
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
      if (std::abs(a - numeric) > opt.atol + opt.rtol * std::abs(numeric) && mismatches++ < 5)
        MESSAGE(layout << ": input " << k << " storage element " << off << ": backward " << a << " vs numeric " << numeric);
    }
    CHECK_MESSAGE(mismatches == 0, layout << ": gradient mismatches in input " << k << ": " << mismatches);
  }
}

}  // namespace gradcheck_detail

// Inputs must be float64 CPU tensors (any strides); those with requires_grad are checked.
inline void gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& inputs,
                      const GradcheckOptions& opt = {}) {
  namespace gd = gradcheck_detail;
  Generator gen(opt.seed);
  const Tensor out0 = f(inputs);
  REQUIRE(out0.dtype() == DType::Float64);
  const Tensor w = Tensor::randn(out0.shape(), &gen, DType::Float64);
  gd::compare_with_numeric(f, inputs, w, opt, "plain layout");

  const std::vector<Tensor> wrt0 = gd::grad_inputs(inputs);
  const std::vector<Tensor> plain = grad(f(inputs), wrt0, w);
  auto upstream = [&](const Tensor& g, const Tensor& reference_g, const char* layout) {
    const std::vector<Tensor> ga = grad(f(inputs), wrt0, g), gr = grad(f(inputs), wrt0, reference_g);
    for (size_t k = 0; k < ga.size(); ++k) gd::same_values(ga[k], gr[k], "gradient", layout);
  };
  if (opt.layouts & UpstreamStepped) upstream(gd::stepped(w), w, "incoming gradient stepped at an offset");
  if ((opt.layouts & UpstreamBroadcast) && gd::first_dim_above_one(w.shape(), false) >= 0) {
    const Tensor wb = gd::broadcast(w);
    upstream(wb, wb.contiguous(), "incoming gradient broadcast (stride 0)");
  }
  auto same_layout_values = [&](Tensor (*how)(const Tensor&), const char* layout) {
    const std::vector<Tensor> xs = gd::relayout(inputs, how, false);
    gd::same_values(f(xs), out0, "forward output", layout);
    const std::vector<Tensor> g = grad(f(xs), gd::grad_inputs(xs), w);
    for (size_t k = 0; k < g.size(); ++k) gd::same_values(g[k], plain[k], "gradient", layout);
  };
  if (opt.layouts & InputsOffset) same_layout_values(gd::at_offset, "inputs at a storage offset");
  if (opt.layouts & InputsStepped) same_layout_values(gd::stepped, "inputs stepped (stride 2)");
  if (opt.layouts & InputsTransposed) same_layout_values(gd::transposed, "inputs transposed");
  if (opt.layouts & InputsBroadcast) {
    const std::vector<Tensor> xs = gd::relayout(inputs, gd::broadcast, true);
    gd::compare_with_numeric(f, xs, w, opt, "inputs broadcast (stride 0)");
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
