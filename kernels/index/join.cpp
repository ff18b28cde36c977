// Joining and splitting: cat / stack copy into slices of one output (the copy engine of the tensor core
// does the work on every device); split / chunk are narrow views, so their gradients come for free.
#include <string>

#include "kernels/index/index.h"
#include "kernels/index/read_scalars.h"
#include "tensor/autograd.h"

namespace mrc {

namespace {

// torch keeps accepting 1-D empty tensors in cat whatever the other shapes are.
bool legacy_empty(const Tensor& t) { return t.dim() == 1 && t.numel() == 0; }

std::string nth(const char* what, size_t i) { return std::string(what) + "[" + std::to_string(i) + "]"; }

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  if (tensors.empty()) throw_arg("cat", "needs at least one tensor");
  for (size_t i = 0; i < tensors.size(); ++i) check_defined("cat", tensors[i], nth("tensors", i).c_str());
  size_t ref = tensors.size();
  for (size_t i = 0; i < tensors.size() && ref == tensors.size(); ++i)
    if (!legacy_empty(tensors[i])) ref = i;
  if (ref == tensors.size()) ref = 0;
  const Tensor& r = tensors[ref];
  if (r.dim() == 0) throw_arg("cat", "zero-dimensional " + nth("tensors", ref) + " cannot be concatenated");
  const int64_t d = r.normalize_dim(dim);
  std::vector<Tensor> parts;
  std::vector<int64_t> offsets;
  int64_t total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (t.dtype() != r.dtype())
      throw_arg("cat", nth("tensors", i) + " has dtype " + dtype_name(t.dtype()) + " but " + nth("tensors", ref) + " has " +
                           dtype_name(r.dtype()));
    if (t.device() != r.device())
      throw_arg("cat", nth("tensors", i) + " is on " + t.device().str() + " but " + nth("tensors", ref) + " is on " +
                           r.device().str());
    if (i != ref && legacy_empty(t)) continue;
    bool ok = t.dim() == r.dim();
    for (int64_t k = 0; ok && k < r.dim(); ++k) ok = k == d || t.size(k) == r.size(k);
    if (!ok)
      throw_arg("cat", nth("tensors", i) + " has shape " + shape_str(t.shape()) + " but " + nth("tensors", ref) +
                           " has shape " + shape_str(r.shape()) + " (sizes must match except in dim " + std::to_string(d) + ")");
    parts.push_back(t);
    offsets.push_back(total);
    total += t.size(d);
  }
  Shape shape = r.shape();
  shape[size_t(d)] = total;
  Tensor out = Tensor::empty(shape, r.dtype(), r.device());
  {
    NoGradGuard ng;
    for (size_t i = 0; i < parts.size(); ++i)
      if (parts[i].numel() > 0) out.narrow(d, offsets[i], parts[i].size(d)).copy_(parts[i]);
  }
  std::vector<int64_t> sizes;
  for (const Tensor& p : parts) sizes.push_back(p.size(d));
  return record(out, parts, "cat", [d, offsets, sizes](const Tensor& g) -> std::vector<Tensor> {
    std::vector<Tensor> gs;
    for (size_t i = 0; i < sizes.size(); ++i) gs.push_back(g.narrow(d, offsets[i], sizes[i]));
    return gs;
  });
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  if (tensors.empty()) throw_arg("stack", "needs at least one tensor");
  for (size_t i = 0; i < tensors.size(); ++i) {
    check_defined("stack", tensors[i], nth("tensors", i).c_str());
    if (tensors[i].shape() != tensors[0].shape())
      throw_arg("stack", nth("tensors", i) + " has shape " + shape_str(tensors[i].shape()) + " but tensors[0] has " +
                             shape_str(tensors[0].shape()) + " (stack needs equal shapes)");
  }
  const int64_t nd = tensors[0].dim() + 1;
  const int64_t d = dim < 0 ? dim + nd : dim;
  if (d < 0 || d >= nd)
    throw std::out_of_range("stack: dimension " + std::to_string(dim) + " is out of range for " + std::to_string(nd) +
                            "-D results");
  std::vector<Tensor> parts;
  for (const Tensor& t : tensors) parts.push_back(t.unsqueeze(d));
  return cat(parts, d);
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  check_defined("split", x, "x");
  if (x.dim() == 0) throw_arg("split", "cannot split a 0-D tensor");
  const int64_t d = x.normalize_dim(dim);
  const int64_t n = x.size(d);
  if (split_size < 0 || (split_size == 0 && n != 0))
    throw_arg("split", "split_size must be positive, got " + std::to_string(split_size));
  std::vector<Tensor> out;
  if (n == 0) return {x.narrow(d, 0, 0)};
  for (int64_t off = 0; off < n; off += split_size) out.push_back(x.narrow(d, off, std::min(split_size, n - off)));
  return out;
}

std::vector<Tensor> split_with_sizes(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  check_defined("split", x, "x");
  if (x.dim() == 0) throw_arg("split", "cannot split a 0-D tensor");
  const int64_t d = x.normalize_dim(dim);
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) throw_arg("split", "sizes must be non-negative, got " + std::to_string(s));
    total += s;
  }
  if (total != x.size(d))
    throw_arg("split", "sizes add up to " + std::to_string(total) + " but dimension " + std::to_string(d) + " has size " +
                           std::to_string(x.size(d)));
  std::vector<Tensor> out;
  int64_t off = 0;
  for (int64_t s : sizes) {
    out.push_back(x.narrow(d, off, s));
    off += s;
  }
  return out;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  return split_with_sizes(x, sizes, dim);
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  check_defined("chunk", x, "x");
  if (chunks <= 0) throw_arg("chunk", "chunks must be positive, got " + std::to_string(chunks));
  if (x.dim() == 0) throw_arg("chunk", "cannot chunk a 0-D tensor");
  const int64_t n = x.size(dim);
  if (n == 0) return std::vector<Tensor>(size_t(chunks), x.narrow(dim, 0, 0));  // as torch
  return split(x, (n + chunks - 1) / chunks, dim);
}

std::vector<double> read_scalars(const std::vector<Tensor>& scalars) {
  if (scalars.empty()) return {};
  NoGradGuard ng;
  std::vector<Tensor> flat;
  flat.reserve(scalars.size());
  for (size_t i = 0; i < scalars.size(); ++i) {
    check_defined("read_scalars", scalars[i], nth("scalars", i).c_str());
    if (scalars[i].numel() != 1)
      throw_arg("read_scalars", nth("scalars", i) + " has shape " + shape_str(scalars[i].shape()) + ", expected one element");
    flat.push_back(scalars[i].detach().reshape({1}).to(DType::Float64));
  }
  return cat(flat).to_vector<double>();
}

}  // namespace mrc
