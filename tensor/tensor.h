// Tensor: a strided view (shape, strides, offset) of a Storage, with dtype, device and autograd state.
// Views share storage; ops live in kernels/ (include "kernels/ops.h" for all of them).
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/storage.h"

namespace mrc {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);
Shape contiguous_strides(const Shape& s);

class Node;
class Generator;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape, strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::Float32;
  // autograd
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;          // null for leaves
  std::shared_ptr<TensorImpl> grad;       // accumulated gradient of a leaf
  std::string name;                       // optional, for error messages and debugging
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories ----
  static Tensor empty(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::Float32, Device device = Device::cpu());
  static Tensor scalar(double value, DType dtype = DType::Float32, Device device = Device::cpu());
  static Tensor arange(double start, double end, double step = 1, DType dtype = DType::Int64,
                       Device device = Device::cpu());
  static Tensor arange(int64_t end, DType dtype = DType::Int64, Device device = Device::cpu()) {
    return arange(0, double(end), 1, dtype, device);
  }
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device = Device::cpu());
  template <class T>
  static Tensor from_vector(const std::vector<T>& values) { return from_vector(values, {int64_t(values.size())}); }
  // Wraps copies of raw host data of the given dtype.
  static Tensor from_blob(const void* data, const Shape& shape, DType dtype, Device device = Device::cpu());
  static Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype(), t.device()); }
  static Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }
  static Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype(), t.device()); }
  // Random numbers from a Generator (tensor/generator.h); the default generator when gen is null.
  static Tensor rand(const Shape& shape, Generator* gen = nullptr, DType dtype = DType::Float32, Device device = Device::cpu());
  static Tensor randn(const Shape& shape, Generator* gen = nullptr, DType dtype = DType::Float32, Device device = Device::cpu());
  static Tensor uniform(const Shape& shape, double lo, double hi, Generator* gen = nullptr, DType dtype = DType::Float32,
                        Device device = Device::cpu());
  static Tensor normal(const Shape& shape, double mean, double std, Generator* gen = nullptr,
                       DType dtype = DType::Float32, Device device = Device::cpu());
  static Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator* gen = nullptr,
                        DType dtype = DType::Int64, Device device = Device::cpu());
  static Tensor randperm(int64_t n, Generator* gen = nullptr, Device device = Device::cpu());

  // ---- metadata ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t size(int64_t dim) const;       // negative dims count from the end
  int64_t stride(int64_t dim) const;
  int64_t dim() const { return int64_t(impl().shape.size()); }
  int64_t numel() const { return shape_numel(impl().shape); }
  int64_t offset() const { return impl().offset; }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  bool is_cuda() const { return device().is_cuda(); }
  bool is_floating_point() const { return is_floating(dtype()); }
  bool is_contiguous() const;
  size_t itemsize() const { return dtype_size(dtype()); }
  size_t nbytes() const { return size_t(numel()) * itemsize(); }
  std::string str() const;  // "float32[2, 3] cpu"
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  TensorImpl* impl_ptr() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_shared() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }
  int64_t normalize_dim(int64_t dim) const;  // throws std::out_of_range naming the dim

  // ---- raw access (host tensors; data<T>() checks the dtype) ----
  void* raw_data() const;
  template <class T> T* data() const;
  template <class T> T item() const;                 // one-element tensor, any device
  double item_double() const;                       // any dtype
  template <class T> std::vector<T> to_vector() const;  // any device, any strides

  // ---- views (share storage; differentiable) ----
  Tensor view(const Shape& shape) const;     // requires compatible strides; one dim may be -1
  Tensor reshape(const Shape& shape) const;  // view when possible, else a contiguous copy
  Tensor flatten(int64_t start = 0, int64_t end = -1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor operator[](int64_t index) const { return select(0, index); }
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const { return transpose(0, 1); }
  Tensor expand(const Shape& shape) const;   // -1 keeps a dim
  Tensor expand_as(const Tensor& o) const { return expand(o.shape()); }
  Tensor squeeze(int64_t dim) const;
  Tensor squeeze() const;
  Tensor unsqueeze(int64_t dim) const;

  // ---- copies and conversions (differentiable) ----
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  Tensor to(Device device, DType dtype) const { return to(device).to(dtype); }
  Tensor cpu() const { return to(Device::cpu()); }
  Tensor cuda(int index = 0) const { return to(Device::cuda(index)); }

  // ---- in place (bump the storage version; not allowed on leaves that require grad unless in a
  //      no-grad scope, as torch) ----
  Tensor& copy_(const Tensor& src);      // broadcasts src, converts dtype/device
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0); }
  Tensor& add_(const Tensor& other, double alpha = 1);
  Tensor& mul_(double value);
  Tensor& mul_(const Tensor& other);
  Tensor& div_(const Tensor& other);
  Tensor& addcmul_(const Tensor& a, const Tensor& b, double value = 1);  // this += value * a * b
  Tensor& addcdiv_(const Tensor& a, const Tensor& b, double value = 1);  // this += value * a / b
  Tensor& clamp_(double lo, double hi);

  // ---- autograd ----
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }
  Tensor grad() const { return impl().grad ? Tensor(impl().grad) : Tensor(); }
  void set_grad(const Tensor& g) const;
  void zero_grad() const { impl_->grad.reset(); }
  // Gradient of this tensor w.r.t. the leaves; `grad` may be omitted for one-element tensors.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;
  Tensor detach() const;                // shares storage, no history
  Tensor& set_name(const std::string& n) { impl_->name = n; return *this; }
  const std::string& name() const { return impl().name; }

 private:
  const TensorImpl& impl() const;
  std::shared_ptr<TensorImpl> impl_;
};

// Raises std::invalid_argument "<op>: <what>" — used by every op to report bad arguments.
[[noreturn]] void throw_arg(const std::string& op, const std::string& what);
void check_same_device(const std::string& op, const Tensor& a, const Tensor& b);
void check_same_dtype(const std::string& op, const Tensor& a, const Tensor& b);
void check_dim(const std::string& op, const Tensor& t, int64_t dim, const char* arg);
void check_defined(const std::string& op, const Tensor& t, const char* arg);

// Low-level: a tensor over existing storage (no autograd), used by kernels and views.
Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset);

}  // namespace mrc
