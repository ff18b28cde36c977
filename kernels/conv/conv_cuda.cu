// CUDA convolution on cuDNN's (legacy, still shipped in v9) convolution API. For each distinct problem —
// direction, dtype, shapes, params, math mode — a Plan holds the descriptors and the algorithm, chosen
// once and cached: by cuDNN's heuristics (cudnnGet*_v7, torch's default) or, with cudnn_benchmark(), by
// timing the candidates (cudnnFind*Ex on the call's own buffers). Deterministic algorithms are
// preferred unless cudnn_deterministic() is off. float32 uses FMA math (no TF32) unless allow_tf32().
// With bf16 autocast (autocast_bf16()), float32 operands are rounded to bfloat16 copies, cuDNN convolves
// them with float32 accumulation, and the result is widened back into the float32 output; the bias add
// and the bias gradient stay float32. conv2d_forward_fused (conv_fused.h) runs bias + residual + ReLU inside
// cuDNN's fused call on the same plan.
// Workspaces come from the caching allocator, so a steady-state loop makes no cudaMalloc.
#include <atomic>
#include <climits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kernels/conv/conv.h"
#include "kernels/conv/conv_fused.h"
#include "tensor/copy.h"
#include "tensor/cuda/autocast.h"
#include "tensor/cuda/context.h"

namespace mrc::cuda {

namespace {

enum class Dir : int { Forward, BackwardData, BackwardFilter };

constexpr size_t kWorkspaceLimit = size_t(1) << 30;

int as_int(int64_t v, const char* what) {
  if (v > INT_MAX || v < INT_MIN)
    throw std::invalid_argument(std::string("CUDA conv2d: ") + what + " " + std::to_string(v) + " exceeds cuDNN's int range");
  return int(v);
}

cudnnDataType_t data_type(DType t) {
  if (t == DType::Float32) return CUDNN_DATA_FLOAT;
  if (t == DType::Float64) return CUDNN_DATA_DOUBLE;
  if (t == DType::BFloat16) return CUDNN_DATA_BFLOAT16;
  throw_unsupported_dtype("conv2d", t);
}

// The accumulation type of a convolution: float32 for bfloat16 data (cuDNN's pseudo-bf16 configuration).
cudnnDataType_t compute_type(DType t) { return t == DType::BFloat16 ? CUDNN_DATA_FLOAT : data_type(t); }

bool autocast(const Tensor& t) { return t.dtype() == DType::Float32 && autocast_bf16(); }

// A contiguous bfloat16 copy of a float32 operand, or an empty bfloat16 tensor of `t`'s shape to write into.
Tensor bf16_copy(const Tensor& t) {
  Tensor r = Tensor::empty(t.shape(), DType::BFloat16, t.device());
  ::mrc::cuda::copy_strided(t, r);
  return r;
}
Tensor bf16_like(const Tensor& t) { return Tensor::empty(t.shape(), DType::BFloat16, t.device()); }

struct Plan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  int algo = 0;
  size_t workspace = 0;
  Plan() = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  ~Plan() {
    if (x) cudnnDestroyTensorDescriptor(x);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
  }
};

void set_tensor(cudnnTensorDescriptor_t d, cudnnDataType_t t, const Shape& s) {
  MRC_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, t, as_int(s[0], "batch"), as_int(s[1], "channels"),
                                             as_int(s[2], "height"), as_int(s[3], "width")));
}

// Picks the first usable candidate of a ranked list (heuristic order or measured time): successful,
// within the workspace limit, FMA-only for strict float32, deterministic when asked (else any).
template <class Perf>
const Perf* pick(const std::vector<Perf>& perf, bool strict_fp32, bool deterministic) {
  for (int pass = deterministic ? 0 : 1; pass < 2; ++pass) {
    for (const Perf& p : perf) {
      if (p.status != CUDNN_STATUS_SUCCESS || p.memory > kWorkspaceLimit) continue;
      if (strict_fp32 && (p.mathType == CUDNN_TENSOR_OP_MATH || p.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION))
        continue;
      if (pass == 0 && p.determinism != CUDNN_DETERMINISTIC) continue;
      return &p;
    }
  }
  throw std::runtime_error("CUDA conv2d: cuDNN offers no usable algorithm for this problem");
}

// The operand pointers of one call, in cuDNN's roles (x: conv input, w: filter, y: conv output).
struct Buffers {
  const void* x;
  const void* w;
  const void* y;
  void* out;  // the one written: y (forward), x (backward data) or w (backward filter)
};

size_t max_memory_within_limit(const auto& perf) {
  size_t m = 0;
  for (const auto& p : perf)
    if (p.status == CUDNN_STATUS_SUCCESS && p.memory <= kWorkspaceLimit && p.memory > m) m = p.memory;
  return m;
}

// cuDNN's three families of algorithm queries, one per direction, behind one interface so that
// choose() is written once: heuristics (cudnnGet*_v7), timing on the call's buffers (cudnnFind*Ex) and
// the workspace size of the chosen algorithm. Descriptor roles follow cuDNN (x input, w filter, y output).
template <Dir D>
struct Algos;

template <>
struct Algos<Dir::Forward> {
  using Perf = cudnnConvolutionFwdAlgoPerf_t;
  using Algo = cudnnConvolutionFwdAlgo_t;
  static cudnnStatus_t max_count(cudnnHandle_t h, int* n) { return cudnnGetConvolutionForwardAlgorithmMaxCount(h, n); }
  static cudnnStatus_t heuristics(cudnnHandle_t h, const Plan& p, int n, int* got, Perf* perf) {
    return cudnnGetConvolutionForwardAlgorithm_v7(h, p.x, p.w, p.conv, p.y, n, got, perf);
  }
  static cudnnStatus_t find(cudnnHandle_t h, const Plan& p, const Buffers& b, int n, int* got, Perf* perf, void* ws,
                            size_t bytes) {
    return cudnnFindConvolutionForwardAlgorithmEx(h, p.x, b.x, p.w, b.w, p.conv, p.y, b.out, n, got, perf, ws, bytes);
  }
  static cudnnStatus_t workspace(cudnnHandle_t h, const Plan& p, Algo a, size_t* bytes) {
    return cudnnGetConvolutionForwardWorkspaceSize(h, p.x, p.w, p.conv, p.y, a, bytes);
  }
};

template <>
struct Algos<Dir::BackwardData> {
  using Perf = cudnnConvolutionBwdDataAlgoPerf_t;
  using Algo = cudnnConvolutionBwdDataAlgo_t;
  static cudnnStatus_t max_count(cudnnHandle_t h, int* n) {
    return cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, n);
  }
  static cudnnStatus_t heuristics(cudnnHandle_t h, const Plan& p, int n, int* got, Perf* perf) {
    return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w, p.y, p.conv, p.x, n, got, perf);
  }
  static cudnnStatus_t find(cudnnHandle_t h, const Plan& p, const Buffers& b, int n, int* got, Perf* perf, void* ws,
                            size_t bytes) {
    return cudnnFindConvolutionBackwardDataAlgorithmEx(h, p.w, b.w, p.y, b.y, p.conv, p.x, b.out, n, got, perf, ws,
                                                       bytes);
  }
  static cudnnStatus_t workspace(cudnnHandle_t h, const Plan& p, Algo a, size_t* bytes) {
    return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w, p.y, p.conv, p.x, a, bytes);
  }
};

template <>
struct Algos<Dir::BackwardFilter> {
  using Perf = cudnnConvolutionBwdFilterAlgoPerf_t;
  using Algo = cudnnConvolutionBwdFilterAlgo_t;
  static cudnnStatus_t max_count(cudnnHandle_t h, int* n) {
    return cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, n);
  }
  static cudnnStatus_t heuristics(cudnnHandle_t h, const Plan& p, int n, int* got, Perf* perf) {
    return cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x, p.y, p.conv, p.w, n, got, perf);
  }
  static cudnnStatus_t find(cudnnHandle_t h, const Plan& p, const Buffers& b, int n, int* got, Perf* perf, void* ws,
                            size_t bytes) {
    return cudnnFindConvolutionBackwardFilterAlgorithmEx(h, p.x, b.x, p.y, b.y, p.conv, p.w, b.out, n, got, perf, ws,
                                                         bytes);
  }
  static cudnnStatus_t workspace(cudnnHandle_t h, const Plan& p, Algo a, size_t* bytes) {
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x, p.y, p.conv, p.w, a, bytes);
  }
};

// Ranks the candidates (heuristics, or timing with cudnn_benchmark()), picks one, and stores its
// algorithm, math type and workspace size in the plan.
template <Dir D>
void choose_for(Plan& plan, cudnnHandle_t h, bool strict_fp32, const Buffers& buf, Device dev) {
  using A = Algos<D>;
  int max_count = 0, got = 0;
  MRC_CUDNN_CHECK(A::max_count(h, &max_count));
  std::vector<typename A::Perf> perf(size_t(std::max(max_count, 1)));
  MRC_CUDNN_CHECK(A::heuristics(h, plan, max_count, &got, perf.data()));
  perf.resize(size_t(got));
  if (cudnn_benchmark()) {
    const size_t ws = max_memory_within_limit(perf);
    const Tensor t = ws ? Tensor::empty({int64_t(ws)}, DType::UInt8, dev) : Tensor();
    perf.assign(size_t(std::max(max_count, 1)), {});
    MRC_CUDNN_CHECK(A::find(h, plan, buf, max_count, &got, perf.data(), t.defined() ? t.raw_data() : nullptr, ws));
    perf.resize(size_t(got));
  }
  const typename A::Perf* p = pick(perf, strict_fp32, cudnn_deterministic());
  // strict float32 stays on FMA math (no TF32), whatever math type the candidate reports
  MRC_CUDNN_CHECK(cudnnSetConvolutionMathType(plan.conv, strict_fp32 ? CUDNN_FMA_MATH : p->mathType));
  plan.algo = int(p->algo);
  MRC_CUDNN_CHECK(A::workspace(h, plan, p->algo, &plan.workspace));
}

std::atomic<uint64_t> g_plans_chosen{0};

void choose(Plan& plan, Dir dir, cudnnHandle_t h, bool strict_fp32, const Buffers& buf, Device dev) {
  ++g_plans_chosen;
  switch (dir) {
    case Dir::Forward: return choose_for<Dir::Forward>(plan, h, strict_fp32, buf, dev);
    case Dir::BackwardData: return choose_for<Dir::BackwardData>(plan, h, strict_fp32, buf, dev);
    case Dir::BackwardFilter: return choose_for<Dir::BackwardFilter>(plan, h, strict_fp32, buf, dev);
  }
}

// The cached plan for (direction, conv input shape xs, filter shape ws, conv output shape ys, params).
// Plans are never freed: a handful per network, alive as long as the process.
const Plan& get_plan(Dir dir, DType dtype, const Shape& xs, const Shape& ws, const Shape& ys, const Conv2dParams& p,
                     const Buffers& buf, Device dev) {
  static std::mutex mutex;
  static auto* cache = new std::map<std::vector<int64_t>, std::unique_ptr<Plan>>();
  const bool strict_fp32 = dtype == DType::Float32 && !allow_tf32();
  std::vector<int64_t> key = {int64_t(dir), int64_t(dtype), dev.index, strict_fp32, cudnn_benchmark(),
                              cudnn_deterministic(), p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.dil_h, p.dil_w,
                              p.groups};
  for (const Shape* s : {&xs, &ws, &ys}) key.insert(key.end(), s->begin(), s->end());
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache->find(key);
  if (it != cache->end()) return *it->second;

  auto plan = std::make_unique<Plan>();
  const cudnnDataType_t t = data_type(dtype);
  MRC_CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan->x));
  MRC_CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan->y));
  MRC_CUDNN_CHECK(cudnnCreateFilterDescriptor(&plan->w));
  MRC_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&plan->conv));
  set_tensor(plan->x, t, xs);
  set_tensor(plan->y, t, ys);
  MRC_CUDNN_CHECK(cudnnSetFilter4dDescriptor(plan->w, t, CUDNN_TENSOR_NCHW, as_int(ws[0], "filters"),
                                             as_int(ws[1], "filter channels"), as_int(ws[2], "kernel height"),
                                             as_int(ws[3], "kernel width")));
  MRC_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(plan->conv, as_int(p.pad_h, "padding"), as_int(p.pad_w, "padding"),
                                                  as_int(p.stride_h, "stride"), as_int(p.stride_w, "stride"),
                                                  as_int(p.dil_h, "dilation"), as_int(p.dil_w, "dilation"),
                                                  CUDNN_CROSS_CORRELATION, compute_type(dtype)));
  MRC_CUDNN_CHECK(cudnnSetConvolutionGroupCount(plan->conv, as_int(p.groups, "groups")));
  MRC_CUDNN_CHECK(cudnnSetConvolutionMathType(plan->conv, strict_fp32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH));
  // cuDNN's own output size must be the one the caller allocated
  int on = 0, oc = 0, oh = 0, ow = 0;
  MRC_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(plan->conv, plan->x, plan->w, &on, &oc, &oh, &ow));
  if (on != ys[0] || oc != ys[1] || oh != ys[2] || ow != ys[3])
    throw std::invalid_argument("CUDA conv2d: cuDNN computes output " + shape_str({on, oc, oh, ow}) + " for input " +
                                shape_str(xs) + " and weight " + shape_str(ws) + ", but the output is " + shape_str(ys));
  choose(*plan, dir, cudnn_handle(dev.index), strict_fp32, buf, dev);
  const Plan& ref = *plan;
  cache->emplace(std::move(key), std::move(plan));
  return ref;
}

// alpha = 1 / beta = 0 (or 1) in the data's precision, as cuDNN requires.
struct Scalars {
  float f1 = 1.f, f0 = 0.f;
  double d1 = 1.0, d0 = 0.0;
  bool dbl;
  explicit Scalars(DType t) : dbl(t == DType::Float64) {}
  const void* one() const { return dbl ? static_cast<const void*>(&d1) : &f1; }
  const void* zero() const { return dbl ? static_cast<const void*>(&d0) : &f0; }
};

Tensor workspace(const Plan& plan, Device dev) {
  return plan.workspace ? Tensor::empty({int64_t(plan.workspace)}, DType::UInt8, dev) : Tensor();
}

void* ptr(const Tensor& t) { return t.defined() ? t.raw_data() : nullptr; }

// A [1, C, 1, 1] descriptor for a bias; created per call (cheap host work).
struct BiasDesc {
  cudnnTensorDescriptor_t d = nullptr;
  BiasDesc(DType t, int64_t c) {
    MRC_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d));
    MRC_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, data_type(t), 1, as_int(c, "channels"), 1, 1));
  }
  ~BiasDesc() { cudnnDestroyTensorDescriptor(d); }
  BiasDesc(const BiasDesc&) = delete;
  BiasDesc& operator=(const BiasDesc&) = delete;
};

// A 4-d tensor descriptor for one call (cheap host work).
struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  explicit TensorDesc(const Tensor& t) {
    MRC_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d));
    set_tensor(d, data_type(t.dtype()), t.shape());
  }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d); }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
};

// out += b over channels (out [N, C, H, W] contiguous, b [C]), in out's dtype.
void add_bias(cudnnHandle_t h, const Tensor& b, const Tensor& out) {
  const TensorDesc yd(out);
  const BiasDesc bd(b.dtype(), b.numel());
  const Scalars s(out.dtype());
  MRC_CUDNN_CHECK(cudnnAddTensor(h, s.one(), bd.d, b.raw_data(), s.one(), yd.d, out.raw_data()));
}

// cuDNN's legacy descriptors hold int sizes and strides: a tensor past 2^31 elements is refused here,
// with its shape, instead of failing inside cuDNN.
void check_args(const char* op, const Tensor& a, const Tensor& b, const Tensor& c) {
  for (const Tensor* t : {&a, &b, &c}) {
    if (!t->is_contiguous() || t->dim() != 4)
      throw std::invalid_argument(std::string("CUDA ") + op + ": operands must be contiguous 4-d tensors");
    if (t->numel() > INT_MAX)
      throw std::invalid_argument(std::string("CUDA ") + op + ": operand " + shape_str(t->shape()) +
                                  " has more than 2^31 - 1 elements, which cuDNN's descriptors cannot describe");
  }
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p, const Tensor& out) {
  check_args("conv2d_forward", x, w, out);
  const Device dev = x.device();
  DeviceGuard guard(dev.index);
  if (out.numel() == 0) return;
  if (x.numel() == 0 || w.numel() == 0) {  // no input channels: cuDNN rejects zero-sized descriptors
    ::mrc::cuda::fill_strided(out, 0.0);
    if (b.defined()) {
      const Tensor bias = make_view(b, out.shape(), {0, 1, 0, 0}, b.offset());
      ::mrc::cuda::copy_strided(bias, out);
    }
    return;
  }
  if (autocast(x)) {
    const Tensor y = bf16_like(out);
    conv2d_forward(bf16_copy(x), bf16_copy(w), Tensor(), p, y);
    ::mrc::cuda::copy_strided(y, out);
    if (b.defined()) add_bias(cudnn_handle(dev.index), b, out);
    return;
  }
  const cudnnHandle_t h = cudnn_handle(dev.index);
  const Plan& plan = get_plan(Dir::Forward, x.dtype(), x.shape(), w.shape(), out.shape(), p,
                              {x.raw_data(), w.raw_data(), nullptr, out.raw_data()}, dev);
  const Tensor ws = workspace(plan, dev);
  const Scalars s(x.dtype());
  MRC_CUDNN_CHECK(cudnnConvolutionForward(h, s.one(), plan.x, x.raw_data(), plan.w, w.raw_data(), plan.conv,
                                          cudnnConvolutionFwdAlgo_t(plan.algo), ptr(ws), plan.workspace, s.zero(),
                                          plan.y, out.raw_data()));
  if (b.defined()) add_bias(h, b, out);
}

namespace {

// An activation descriptor for ReLU (no ceiling) for one call.
struct ReluDesc {
  cudnnActivationDescriptor_t d = nullptr;
  ReluDesc() {
    MRC_CUDNN_CHECK(cudnnCreateActivationDescriptor(&d));
    MRC_CUDNN_CHECK(cudnnSetActivationDescriptor(d, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0));
  }
  ~ReluDesc() { cudnnDestroyActivationDescriptor(d); }
  ReluDesc(const ReluDesc&) = delete;
  ReluDesc& operator=(const ReluDesc&) = delete;
};

}  // namespace

uint64_t conv_plans_chosen() { return g_plans_chosen; }

bool conv2d_forward_fused(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p, const Tensor& out,
                          const Tensor& residual, bool relu) {
  if (!relu || x.dtype() != DType::Float32 || autocast(x) || x.numel() == 0 || w.numel() == 0 || out.numel() == 0)
    return false;
  check_args("conv2d_forward_fused", x, w, out);
  const Device dev = x.device();
  DeviceGuard guard(dev.index);
  const cudnnHandle_t h = cudnn_handle(dev.index);
  const Plan& plan = get_plan(Dir::Forward, x.dtype(), x.shape(), w.shape(), out.shape(), p,
                              {x.raw_data(), w.raw_data(), nullptr, out.raw_data()}, dev);
  const Tensor ws = workspace(plan, dev);
  // cuDNN's call needs a bias; without a residual, z is the output itself, zeroed, with a zero scale
  const Tensor bias = b.defined() ? b : Tensor::zeros({w.size(0)}, DType::Float32, dev);
  if (!residual.defined()) ::mrc::cuda::fill_strided(out, 0.0);
  const void* z = residual.defined() ? residual.raw_data() : out.raw_data();
  const BiasDesc bd(DType::Float32, w.size(0));
  const ReluDesc act;
  const float one = 1.f, alpha2 = residual.defined() ? 1.f : 0.f;
  const cudnnStatus_t st = cudnnConvolutionBiasActivationForward(
      h, &one, plan.x, x.raw_data(), plan.w, w.raw_data(), plan.conv, cudnnConvolutionFwdAlgo_t(plan.algo), ptr(ws),
      plan.workspace, &alpha2, plan.y, z, bd.d, bias.raw_data(), act.d, plan.y, out.raw_data());
  if (st == CUDNN_STATUS_NOT_SUPPORTED) return false;  // this algorithm or layout: composed instead
  MRC_CUDNN_CHECK(st);
  return true;
}

void conv2d_backward_input(const Tensor& grad_out, const Tensor& w, const Conv2dParams& p, const Tensor& grad_x) {
  check_args("conv2d_backward_input", grad_out, w, grad_x);
  const Device dev = grad_out.device();
  DeviceGuard guard(dev.index);
  if (grad_x.numel() == 0) return;
  if (grad_out.numel() == 0 || w.numel() == 0) {  // no output channels: nothing flows back
    ::mrc::cuda::fill_strided(grad_x, 0.0);
    return;
  }
  if (autocast(grad_out)) {
    const Tensor gx = bf16_like(grad_x);
    conv2d_backward_input(bf16_copy(grad_out), bf16_copy(w), p, gx);
    ::mrc::cuda::copy_strided(gx, grad_x);
    return;
  }
  const cudnnHandle_t h = cudnn_handle(dev.index);
  const Plan& plan = get_plan(Dir::BackwardData, grad_out.dtype(), grad_x.shape(), w.shape(), grad_out.shape(), p,
                              {nullptr, w.raw_data(), grad_out.raw_data(), grad_x.raw_data()}, dev);
  const Tensor ws = workspace(plan, dev);
  const Scalars s(grad_out.dtype());
  MRC_CUDNN_CHECK(cudnnConvolutionBackwardData(h, s.one(), plan.w, w.raw_data(), plan.y, grad_out.raw_data(), plan.conv,
                                               cudnnConvolutionBwdDataAlgo_t(plan.algo), ptr(ws), plan.workspace,
                                               s.zero(), plan.x, grad_x.raw_data()));
}

void conv2d_backward_weight(const Tensor& x, const Tensor& grad_out, const Conv2dParams& p, const Tensor& grad_w) {
  check_args("conv2d_backward_weight", x, grad_out, grad_w);
  const Device dev = x.device();
  DeviceGuard guard(dev.index);
  if (grad_w.numel() == 0) return;
  if (x.numel() == 0 || grad_out.numel() == 0) {  // an empty batch contributes nothing
    ::mrc::cuda::fill_strided(grad_w, 0.0);
    return;
  }
  if (autocast(x)) {
    const Tensor gw = bf16_like(grad_w);
    conv2d_backward_weight(bf16_copy(x), bf16_copy(grad_out), p, gw);
    ::mrc::cuda::copy_strided(gw, grad_w);
    return;
  }
  const cudnnHandle_t h = cudnn_handle(dev.index);
  const Plan& plan = get_plan(Dir::BackwardFilter, x.dtype(), x.shape(), grad_w.shape(), grad_out.shape(), p,
                              {x.raw_data(), nullptr, grad_out.raw_data(), grad_w.raw_data()}, dev);
  const Tensor ws = workspace(plan, dev);
  const Scalars s(x.dtype());
  MRC_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, s.one(), plan.x, x.raw_data(), plan.y, grad_out.raw_data(),
                                                 plan.conv, cudnnConvolutionBwdFilterAlgo_t(plan.algo), ptr(ws),
                                                 plan.workspace, s.zero(), plan.w, grad_w.raw_data()));
}

void conv2d_backward_bias(const Tensor& grad_out, const Tensor& grad_b) {
  if (!grad_out.is_contiguous() || grad_out.dim() != 4)
    throw std::invalid_argument("CUDA conv2d_backward_bias: grad_out must be a contiguous 4-d tensor");
  const Device dev = grad_out.device();
  DeviceGuard guard(dev.index);
  if (grad_b.numel() == 0) return;
  if (grad_out.numel() == 0) {
    ::mrc::cuda::fill_strided(grad_b, 0.0);
    return;
  }
  const cudnnHandle_t h = cudnn_handle(dev.index);
  const TensorDesc dy(grad_out);
  const BiasDesc bd(grad_b.dtype(), grad_b.numel());
  const Scalars s(grad_out.dtype());
  MRC_CUDNN_CHECK(cudnnConvolutionBackwardBias(h, s.one(), dy.d, grad_out.raw_data(), s.zero(), bd.d, grad_b.raw_data()));
}

}  // namespace mrc::cuda
