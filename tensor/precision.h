// The math of float32 convolutions and matrix products (PRECISION = fp32 | tf32 | bf16), process-wide:
//   fp32  strict float32 (FMA math), the default: CUDA equals the CPU to rounding
//   tf32  CUDA tensor cores with inputs rounded to TF32 (10-bit mantissa), float32 accumulation
//   bf16  autocast on CUDA: conv and GEMM operands rounded to bfloat16 on the fly, products accumulated in
//         float32, results widened back to float32; weights (the master copy), gradients, losses and every
//         reduction stay float32
// The CPU computes in FP32 only: tf32 and bf16 are refused for a CPU device (not emulated).
#pragma once
#include <string>

#include "tensor/device.h"

namespace mrc {

enum class Precision { FP32, TF32, BF16 };

// "fp32" | "tf32" | "bf16"; throws std::invalid_argument naming `where` and the accepted values otherwise.
Precision parse_precision(const std::string& text, const std::string& where);
const char* precision_name(Precision p);

// Sets the math for work on `device`; throws std::invalid_argument (naming `where`) for tf32/bf16 on the
// CPU or in a build without CUDA.
void set_precision(Precision p, Device device, const std::string& where = "PRECISION");
Precision precision();

}  // namespace mrc
