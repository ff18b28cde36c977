// PRECISION (see precision.h): the switch itself lives in tensor/cuda/context (TF32 math, bf16 autocast).
#include "tensor/precision.h"

#include <atomic>
#include <stdexcept>

#ifdef MRC_WITH_CUDA
#include "tensor/cuda/autocast.h"
#include "tensor/cuda/context.h"
#endif

namespace mrc {

namespace {
std::atomic<Precision> g_precision{Precision::FP32};
}

Precision parse_precision(const std::string& text, const std::string& where) {
  if (text == "fp32") return Precision::FP32;
  if (text == "tf32") return Precision::TF32;
  if (text == "bf16") return Precision::BF16;
  throw std::invalid_argument(where + ": expected fp32, tf32 or bf16, got \"" + text + "\"");
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::TF32: return "tf32";
    case Precision::BF16: return "bf16";
    default: return "fp32";
  }
}

void set_precision(Precision p, Device device, const std::string& where) {
  if (p != Precision::FP32 && !device.is_cuda())
    throw std::invalid_argument(where + "=" + precision_name(p) + " needs a CUDA device; the CPU computes in fp32 only (use fp32 with --device cpu)");
#ifdef MRC_WITH_CUDA
  cuda::set_allow_tf32(p == Precision::TF32);
  cuda::set_autocast_bf16(p == Precision::BF16);
#else
  if (p != Precision::FP32) throw_not_built_with_cuda((where + "=" + precision_name(p)).c_str());
#endif
  g_precision = p;
}

Precision precision() { return g_precision; }

}  // namespace mrc
