// View ops: new shape/strides/offset over the same storage, each with its backward.
#include <algorithm>
#include <numeric>

#include "tensor/autograd.h"
#include "tensor/copy.h"

namespace mrc {

namespace {

Shape infer_shape(const Shape& shape, int64_t numel, const char* op) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      if (infer >= 0) throw_arg(op, "only one dimension can be -1 in " + shape_str(shape));
      infer = int64_t(i);
    } else if (out[i] < 0) {
      throw_arg(op, "invalid dimension in " + shape_str(shape));
    } else {
      known *= out[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel % known != 0)
      throw_arg(op, "shape " + shape_str(shape) + " is invalid for " + std::to_string(numel) + " elements");
    out[size_t(infer)] = numel / known;
  }
  if (shape_numel(out) != numel)
    throw_arg(op, "shape " + shape_str(shape) + " is invalid for " + std::to_string(numel) + " elements");
  return out;
}

// Strides for viewing (shape, strides) as new_shape without copying, if possible (torch's rule).
bool view_strides(const Shape& shape, const Shape& strides, const Shape& new_shape, Shape& out) {
  out.assign(new_shape.size(), 0);
  if (shape_numel(shape) == 0 || shape.empty()) {
    out = contiguous_strides(new_shape);
    return true;
  }
  int64_t view_d = int64_t(new_shape.size()) - 1;
  int64_t chunk_base_stride = strides.empty() ? 1 : strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= shape[size_t(d)];
    if (d == 0 || (shape[size_t(d - 1)] != 1 && strides[size_t(d - 1)] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[size_t(view_d)] == 1)) {
        out[size_t(view_d)] = view_numel * chunk_base_stride;
        view_numel *= new_shape[size_t(view_d)];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (d > 0) {
        chunk_base_stride = strides[size_t(d - 1)];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

}  // namespace

Tensor Tensor::view(const Shape& shape_in) const {
  const Shape ns = infer_shape(shape_in, numel(), "view");
  Shape st;
  if (!view_strides(shape(), strides(), ns, st))
    throw_arg("view", "cannot view a tensor of shape " + shape_str(shape()) + " and strides " + shape_str(strides()) +
                          " as " + shape_str(ns) + " without a copy; use reshape()");
  const Shape in_shape = shape();
  return record(make_view(*this, ns, st, offset()), {*this}, "view",
                [in_shape](const Tensor& g) -> std::vector<Tensor> { return {g.reshape(in_shape)}; });
}

Tensor Tensor::reshape(const Shape& shape_in) const {
  const Shape ns = infer_shape(shape_in, numel(), "reshape");
  Shape st;
  if (view_strides(shape(), strides(), ns, st)) return view(ns);
  return contiguous().view(ns);
}

Tensor Tensor::flatten(int64_t start, int64_t end) const {
  if (dim() == 0) return reshape({1});
  const int64_t s = normalize_dim(start), e = normalize_dim(end);
  Shape ns(shape().begin(), shape().begin() + s);
  int64_t m = 1;
  for (int64_t d = s; d <= e; ++d) m *= shape()[size_t(d)];
  ns.push_back(m);
  ns.insert(ns.end(), shape().begin() + e + 1, shape().end());
  return reshape(ns);
}

Tensor Tensor::slice(int64_t dim_in, int64_t start, int64_t end, int64_t step) const {
  const int64_t d = normalize_dim(dim_in);
  const int64_t n = shape()[size_t(d)];
  if (step <= 0) throw_arg("slice", "step must be positive");
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape ns = shape(), st = strides();
  ns[size_t(d)] = (end - start + step - 1) / step;
  st[size_t(d)] *= step;
  const Shape in_shape = shape();
  return record(make_view(*this, ns, st, offset() + start * strides()[size_t(d)]), {*this}, "slice",
                [in_shape, d, start, end, step](const Tensor& g) -> std::vector<Tensor> {
                  Tensor z = Tensor::zeros(in_shape, g.dtype(), g.device());
                  z.slice(d, start, end, step).copy_(g);
                  return {z};
                });
}

Tensor Tensor::narrow(int64_t dim_in, int64_t start, int64_t length) const {
  const int64_t d = normalize_dim(dim_in);
  const int64_t n = shape()[size_t(d)];
  if (start < 0) start += n;
  if (start < 0 || length < 0 || start + length > n)
    throw_arg("narrow", "range [" + std::to_string(start) + ", " + std::to_string(start + length) +
                            ") is outside dimension " + std::to_string(d) + " of size " + std::to_string(n));
  return slice(d, start, start + length);
}

Tensor Tensor::select(int64_t dim_in, int64_t index) const {
  const int64_t d = normalize_dim(dim_in);
  const int64_t n = shape()[size_t(d)];
  if (index < -n || index >= n)
    throw std::out_of_range("select: index " + std::to_string(index) + " is out of range for dimension " +
                            std::to_string(d) + " of size " + std::to_string(n));
  if (index < 0) index += n;
  return narrow(d, index, 1).squeeze(d);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  if (int64_t(dims.size()) != dim()) throw_arg("permute", "needs " + std::to_string(dim()) + " dims");
  Shape ns(dims.size()), st(dims.size());
  std::vector<int64_t> inverse(dims.size(), -1);
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = normalize_dim(dims[i]);
    if (inverse[size_t(d)] != -1) throw_arg("permute", "repeated dim " + std::to_string(d));
    inverse[size_t(d)] = int64_t(i);
    ns[i] = shape()[size_t(d)];
    st[i] = strides()[size_t(d)];
  }
  return record(make_view(*this, ns, st, offset()), {*this}, "permute",
                [inverse](const Tensor& g) -> std::vector<Tensor> { return {g.permute(inverse)}; });
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  std::vector<int64_t> p(static_cast<size_t>(this->dim()));
  std::iota(p.begin(), p.end(), 0);
  std::swap(p[size_t(normalize_dim(d0))], p[size_t(normalize_dim(d1))]);
  return permute(p);
}

Tensor Tensor::expand(const Shape& shape_in) const {
  if (int64_t(shape_in.size()) < dim())
    throw_arg("expand", "cannot expand " + shape_str(shape()) + " to fewer dims " + shape_str(shape_in));
  const size_t lead = shape_in.size() - size_t(dim());
  Shape ns(shape_in.size()), st(shape_in.size());
  for (size_t i = 0; i < shape_in.size(); ++i) {
    if (i < lead) {
      if (shape_in[i] < 0) throw_arg("expand", "-1 is not allowed for new leading dims");
      ns[i] = shape_in[i];
      st[i] = 0;
      continue;
    }
    const int64_t cur = shape()[i - lead];
    const int64_t want = shape_in[i] == -1 ? cur : shape_in[i];
    if (cur == want) {
      ns[i] = cur;
      st[i] = strides()[i - lead];
    } else if (cur == 1) {
      ns[i] = want;
      st[i] = 0;
    } else {
      throw_arg("expand", "cannot expand " + shape_str(shape()) + " to " + shape_str(shape_in));
    }
  }
  if (ns == shape()) return *this;
  const Shape in_shape = shape();
  return record(make_view(*this, ns, st, offset()), {*this}, "expand",
                [in_shape](const Tensor& g) -> std::vector<Tensor> { return {sum_to(g, in_shape)}; });
}

Tensor Tensor::squeeze(int64_t dim_in) const {
  const int64_t d = normalize_dim(dim_in);
  if (shape()[size_t(d)] != 1) return *this;
  Shape ns = shape();
  ns.erase(ns.begin() + d);
  return view(ns);
}

Tensor Tensor::squeeze() const {
  Shape ns;
  for (int64_t s : shape())
    if (s != 1) ns.push_back(s);
  return ns == shape() ? *this : view(ns);
}

Tensor Tensor::unsqueeze(int64_t dim_in) const {
  const int64_t nd = dim() + 1;
  const int64_t d = dim_in < 0 ? dim_in + nd : dim_in;
  if (d < 0 || d >= nd) throw std::out_of_range("unsqueeze: dimension " + std::to_string(dim_in) + " out of range");
  Shape ns = shape();
  ns.insert(ns.begin() + d, 1);
  return view(ns);
}

}  // namespace mrc
