// Copies and conversions: the CPU strided copy/fill, cross-device transfers, and the differentiable
// contiguous / clone / to(dtype) / to(device) / copy_ / fill_ built on them.
#include "tensor/copy.h"

#include <cstring>

#include "tensor/autograd.h"
#include "tensor/strided_loop.h"

namespace mrc {

namespace cpu {

void copy_strided(const Tensor& src, const Tensor& dst) {
  MRC_DISPATCH_ALL(dst.dtype(), "copy", [&] {
    using out_t = scalar_t;
    MRC_DISPATCH_ALL(src.dtype(), "copy", [&] {
      using in_t = scalar_t;
      const in_t* s = static_cast<const in_t*>(src.raw_data());
      out_t* d = static_cast<out_t*>(dst.raw_data());
      for_each_strided<2>(dst.shape(), {dst.strides(), src.strides()},
                          [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
                            out_t* o = d + off[0];
                            const in_t* i = s + off[1];
                            if (st[0] == 1 && st[1] == 1) {
                              if constexpr (std::is_same_v<in_t, out_t>) {
                                std::memcpy(o, i, size_t(n) * sizeof(out_t));
                              } else {
                                for (int64_t k = 0; k < n; ++k) o[k] = out_t(i[k]);
                              }
                            } else {
                              for (int64_t k = 0; k < n; ++k) o[k * st[0]] = out_t(i[k * st[1]]);
                            }
                          });
    });
  });
}

void fill_strided(const Tensor& dst, double value) {
  MRC_DISPATCH_ALL(dst.dtype(), "fill", [&] {
    scalar_t* d = static_cast<scalar_t*>(dst.raw_data());
    const scalar_t v = scalar_t(value);
    for_each_strided<1>(dst.shape(), {dst.strides()},
                        [&](const std::array<int64_t, 1>& off, int64_t n, const std::array<int64_t, 1>& st) {
                          for (int64_t k = 0; k < n; ++k) d[off[0] + k * st[0]] = v;
                        });
  });
}

}  // namespace cpu

void copy_strided(const Tensor& src, const Tensor& dst) {
  if (src.shape() != dst.shape())
    throw_arg("copy", "shape mismatch " + shape_str(src.shape()) + " -> " + shape_str(dst.shape()));
  if (dst.numel() == 0) return;
  const Device sd = src.device(), dd = dst.device();
  if (sd.is_cpu() && dd.is_cpu()) return cpu::copy_strided(src, dst);
#ifdef MRC_WITH_CUDA
  if (sd == dd) return cuda::copy_strided(src, dst);
  if (sd.is_cuda() && dd.is_cuda()) {  // device to device through the host
    Tensor host = Tensor::empty(src.shape(), src.dtype());
    copy_strided(src, host);
    return copy_strided(host, dst);
  }
  if (sd.is_cpu()) {  // host -> device: contiguous on the host in the destination dtype, upload, place
    Tensor staged = Tensor::empty(src.shape(), dst.dtype());
    cpu::copy_strided(src, staged);
    Tensor dev = dst.is_contiguous() ? dst : Tensor::empty(dst.shape(), dst.dtype(), dd);
    cuda::copy_host_to_device(staged.raw_data(), dev.raw_data(), staged.nbytes(), dd.index);
    if (!dev.same(dst)) cuda::copy_strided(dev, dst);
    return;
  }
  // device -> host
  Tensor dev = src.is_contiguous() ? src : Tensor::empty(src.shape(), src.dtype(), sd);
  if (!dev.same(src)) cuda::copy_strided(src, dev);
  Tensor host = Tensor::empty(src.shape(), src.dtype());
  cuda::copy_device_to_host(dev.raw_data(), host.raw_data(), host.nbytes(), sd.index);
  cpu::copy_strided(host, dst);
#else
  throw_not_built_with_cuda("copy between devices");
#endif
}

void fill_strided(const Tensor& dst, double value) {
  if (dst.numel() == 0) return;
  if (dst.device().is_cpu()) return cpu::fill_strided(dst, value);
#ifdef MRC_WITH_CUDA
  cuda::fill_strided(dst, value);
#else
  throw_not_built_with_cuda("fill");
#endif
}

// ---------------------------------------------------------------- differentiable copies

static Tensor copy_as(const Tensor& x, DType dtype, Device device, const char* name) {
  Tensor out = Tensor::empty(x.shape(), dtype, device);
  copy_strided(x, out);
  const DType in_dtype = x.dtype();
  const Device in_device = x.device();
  return record(out, {x}, name, [in_dtype, in_device](const Tensor& g) -> std::vector<Tensor> {
    return {g.to(in_device).to(in_dtype)};
  });
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return copy_as(*this, dtype(), device(), "contiguous");
}

Tensor Tensor::clone() const { return copy_as(*this, dtype(), device(), "clone"); }

Tensor Tensor::to(DType t) const {
  if (t == dtype()) return *this;
  if (requires_grad() && !is_floating(t)) return detach().to(t);
  return copy_as(*this, t, device(), "to_dtype");
}

Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  return copy_as(*this, dtype(), d, "to_device");
}

static void check_inplace(const Tensor& t, const char* op) {
  if (grad_enabled() && t.requires_grad())
    throw std::logic_error(std::string(op) + ": in-place change of a tensor that requires grad (" + t.str() +
                           "); do it inside a NoGradGuard scope");
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace(*this, "copy_");
  check_defined("copy_", src, "src");
  Tensor s = src.detach();
  if (s.shape() != shape()) s = s.expand(shape());
  if (s.storage() == storage()) s = s.clone();  // overlapping source
  copy_strided(s, *this);
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::fill_(double value) {
  check_inplace(*this, "fill_");
  fill_strided(*this, value);
  storage()->bump_version();
  return *this;
}

}  // namespace mrc
