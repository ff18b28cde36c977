// bf16 autocast of float32 conv and GEMM on CUDA (tensor/precision.h's PRECISION=bf16): operands rounded
// to bfloat16, float32 accumulation and float32 results. Off by default; state in context.cu.
#pragma once

namespace mrc::cuda {

bool autocast_bf16();
void set_autocast_bf16(bool on);

}  // namespace mrc::cuda
