// Winograd F(2x2, 3x3) for the CPU forward of 3x3, stride-1, undilated, ungrouped float32 convolutions:
// each 4x4 input tile and each 3x3 filter go to the transform domain, where 16 GEMMs of [M x C] * [C x tiles]
// replace the im2col GEMM's 2.25x more multiplies; the inverse transform gives 2x2 outputs per tile, with
// the bias, the residual and the ReLU applied on the way out (conv_fused.h's epilogue).
//   U = G g G^T,  V = B^T d B,  Y = A^T [U . V] A   (Lavin and Gray, "Fast Algorithms for Convolutional
//   Neural Networks", 2016)
// The transforms add a few float32 roundings (factors 0.5 and sums of up to 9 input values): the result
// differs from the direct sum by the same order as the GEMM's own rounding; tests/test_conv.cpp measures it.
// Off by default: with scalar transforms and 96-column GEMMs it is not faster than im2col + GEMM yet
// (single-thread CPU time, this 2-core AVX-512 machine: mask head 100x256x14x14 211-261 vs 218-250 ms,
// 64 channels at 128x128 25 vs 16 ms). MRC_WINOGRAD=1 switches it on; gemm_flops() then counts its
// smaller GEMMs, not the direct convolution's work.
#pragma once
#include "kernels/conv/im2col.h"

namespace mrc::cpu {

// Whether winograd_forward handles this convolution (and MRC_WINOGRAD=0 has not switched it off).
bool winograd_applies(const ConvGeom& g);
// Switches the Winograd path on or off for this process (off by default; MRC_WINOGRAD=1 starts it on).
void set_winograd_enabled(bool on);

// out [N, M, OH, OW] = conv(x, w) + bias (may be null), + residual (may be null, out's layout), ReLU if asked.
void winograd_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* out,
                      const float* residual, bool relu);

}  // namespace mrc::cpu
