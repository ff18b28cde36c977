// Tensor metadata, factories, raw access and argument checks. Views: tensor/views.cpp; copies and
// conversions: tensor/copy.cpp; autograd: tensor/autograd.cpp.
#include "tensor/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "tensor/autograd.h"
#include "tensor/copy.h"
#include "tensor/generator.h"
#include "tensor/host_sync.h"

namespace mrc {

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ']';
  return os.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (int64_t i = int64_t(s.size()) - 1; i >= 0; --i) {
    st[size_t(i)] = acc;
    acc *= std::max<int64_t>(s[size_t(i)], 1);
  }
  return st;
}

void throw_arg(const std::string& op, const std::string& what) { throw std::invalid_argument(op + ": " + what); }

void check_defined(const std::string& op, const Tensor& t, const char* arg) {
  if (!t.defined()) throw_arg(op, std::string(arg) + " is an undefined tensor");
}

void check_same_device(const std::string& op, const Tensor& a, const Tensor& b) {
  if (a.device() != b.device())
    throw_arg(op, "tensors on different devices (" + a.device().str() + " and " + b.device().str() + ")");
}

void check_same_dtype(const std::string& op, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    throw_arg(op, std::string("dtype mismatch (") + dtype_name(a.dtype()) + " and " + dtype_name(b.dtype()) + ")");
}

void check_dim(const std::string& op, const Tensor& t, int64_t dim, const char* arg) {
  if (t.dim() != dim)
    throw_arg(op, std::string(arg) + " must be " + std::to_string(dim) + "-D, got shape " + shape_str(t.shape()));
}

const TensorImpl& Tensor::impl() const {
  if (!impl_) throw std::logic_error("use of an undefined Tensor");
  return *impl_;
}

// ---------------------------------------------------------------- factories

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape)
    if (d < 0) throw_arg("Tensor::empty", "negative dimension in shape " + shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(size_t(shape_numel(shape)) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  fill_strided(t, value);
  return t;
}
Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0, dtype, device); }
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1, dtype, device); }
Tensor Tensor::scalar(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Tensor Tensor::arange(double start, double end, double step, DType dtype, Device device) {
  if (step == 0) throw_arg("arange", "step must be non-zero");
  const int64_t n = std::max<int64_t>(0, int64_t(std::ceil((end - start) / step)));
  Tensor t = empty({n}, dtype, Device::cpu());
  MRC_DISPATCH_ALL(dtype, "arange", [&] {
    scalar_t* p = t.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i) p[i] = scalar_t(start + double(i) * step);
  });
  return device.is_cpu() ? t : t.to(device);
}

Tensor Tensor::from_blob(const void* data, const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, Device::cpu());
  if (t.nbytes()) std::memcpy(t.raw_data(), data, t.nbytes());
  return device.is_cpu() ? t : t.to(device);
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  if (shape_numel(shape) != int64_t(values.size()))
    throw_arg("Tensor::from_vector", std::to_string(values.size()) + " values do not fill shape " + shape_str(shape));
  return from_blob(values.data(), shape, dtype_of<T>::value, device);
}
template Tensor Tensor::from_vector(const std::vector<float>&, const Shape&, Device);
template Tensor Tensor::from_vector(const std::vector<double>&, const Shape&, Device);
template Tensor Tensor::from_vector(const std::vector<int32_t>&, const Shape&, Device);
template Tensor Tensor::from_vector(const std::vector<int64_t>&, const Shape&, Device);
template Tensor Tensor::from_vector(const std::vector<uint8_t>&, const Shape&, Device);

namespace {
template <class F>
Tensor random_fill(const Shape& shape, Generator* gen, DType dtype, Device device, const char* op, F draw) {
  Generator& g = gen ? *gen : default_generator();
  Tensor t = Tensor::empty(shape, dtype, Device::cpu());
  const int64_t n = t.numel();
  MRC_DISPATCH_ALL(dtype, op, [&] {
    scalar_t* p = t.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i) p[i] = scalar_t(draw(g));
  });
  return device.is_cpu() ? t : t.to(device);
}
}  // namespace

Tensor Tensor::rand(const Shape& shape, Generator* gen, DType dtype, Device device) {
  // [0, 1) in every dtype: a double in (1 - 2^-25, 1) would round to 1.0f; below that nothing changes.
  const double below_one = dtype == DType::Float32 ? double(std::nextafter(1.0f, 0.0f)) : 1.0;
  return random_fill(shape, gen, dtype, device, "rand", [below_one](Generator& g) { return std::min(g.uniform(), below_one); });
}
Tensor Tensor::uniform(const Shape& shape, double lo, double hi, Generator* gen, DType dtype, Device device) {
  return random_fill(shape, gen, dtype, device, "uniform", [&](Generator& g) { return g.uniform(lo, hi); });
}
Tensor Tensor::randn(const Shape& shape, Generator* gen, DType dtype, Device device) {
  return random_fill(shape, gen, dtype, device, "randn", [](Generator& g) { return g.normal(); });
}
Tensor Tensor::normal(const Shape& shape, double mean, double std, Generator* gen, DType dtype, Device device) {
  return random_fill(shape, gen, dtype, device, "normal", [&](Generator& g) { return mean + std * g.normal(); });
}
Tensor Tensor::randint(int64_t low, int64_t high, const Shape& shape, Generator* gen, DType dtype, Device device) {
  return random_fill(shape, gen, dtype, device, "randint", [&](Generator& g) { return double(g.randint(low, high)); });
}
Tensor Tensor::randperm(int64_t n, Generator* gen, Device device) {
  Generator& g = gen ? *gen : default_generator();
  return from_vector(g.randperm(n), {n}, device);
}

// ---------------------------------------------------------------- metadata

int64_t Tensor::normalize_dim(int64_t dim) const {
  const int64_t nd = this->dim();
  const int64_t d = dim < 0 ? dim + nd : dim;
  if (d < 0 || d >= std::max<int64_t>(nd, 1))
    throw std::out_of_range("dimension " + std::to_string(dim) + " is out of range for a " + std::to_string(nd) +
                            "-D tensor of shape " + shape_str(shape()));
  return d;
}

int64_t Tensor::size(int64_t dim) const { return shape()[size_t(normalize_dim(dim))]; }
int64_t Tensor::stride(int64_t dim) const { return strides()[size_t(normalize_dim(dim))]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    const int64_t s = shape()[size_t(i)];
    if (s == 1) continue;
    if (strides()[size_t(i)] != expected) return false;
    expected *= s;
  }
  return true;
}

std::string Tensor::str() const {
  if (!defined()) return "Tensor(undefined)";
  return std::string(dtype_name(dtype())) + shape_str(shape()) + " " + device().str();
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl().storage->data()) + impl().offset * int64_t(itemsize());
}

template <class T>
T* Tensor::data() const {
  if (dtype() != dtype_of<T>::value)
    throw std::invalid_argument(std::string("Tensor::data<") + dtype_name(dtype_of<T>::value) + ">() on a " +
                                dtype_name(dtype()) + " tensor");
  return static_cast<T*>(raw_data());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template int32_t* Tensor::data<int32_t>() const;
template int64_t* Tensor::data<int64_t>() const;
template uint8_t* Tensor::data<uint8_t>() const;

template <class T>
std::vector<T> Tensor::to_vector() const {
  if (device().is_cpu()) count_host_sync();  // from the device, the copy to the host counts it
  Tensor c = detach().to(Device::cpu()).to(dtype_of<T>::value).contiguous();
  const T* p = c.data<T>();
  return std::vector<T>(p, p + c.numel());
}
template std::vector<float> Tensor::to_vector() const;
template std::vector<double> Tensor::to_vector() const;
template std::vector<int32_t> Tensor::to_vector() const;
template std::vector<int64_t> Tensor::to_vector() const;
template std::vector<uint8_t> Tensor::to_vector() const;

template <class T>
T Tensor::item() const {
  if (numel() != 1) throw_arg("Tensor::item", "needs a one-element tensor, got shape " + shape_str(shape()));
  return to_vector<T>()[0];
}
template float Tensor::item() const;
template double Tensor::item() const;
template int32_t Tensor::item() const;
template int64_t Tensor::item() const;
template uint8_t Tensor::item() const;

double Tensor::item_double() const { return item<double>(); }

// ---------------------------------------------------------------- autograd glue

Tensor& Tensor::requires_grad_(bool on) {
  if (!is_leaf()) throw std::logic_error("requires_grad_() can only be set on leaf tensors (this one has history from " + impl().grad_fn->name() + ")");
  if (on && !is_floating_point()) throw_arg("requires_grad_", std::string("only floating-point tensors can require grad, not ") + dtype_name(dtype()));
  impl_->requires_grad = on;
  return *this;
}

void Tensor::set_grad(const Tensor& g) const {
  if (g.defined() && g.shape() != shape())
    throw_arg("set_grad", "gradient shape " + shape_str(g.shape()) + " differs from tensor shape " + shape_str(shape()));
  impl_->grad = g.defined() ? g.impl_shared() : nullptr;
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = this->impl().storage;
  impl->shape = shape();
  impl->strides = strides();
  impl->offset = offset();
  impl->dtype = dtype();
  impl->name = this->impl().name;
  return Tensor(std::move(impl));
}

void Tensor::backward(const Tensor& grad, bool retain_graph) const { run_backward(*this, grad, retain_graph); }

Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

}  // namespace mrc
