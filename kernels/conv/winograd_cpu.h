// Winograd F(2x2, 3x3) for the CPU forward of 3x3, stride-1, undilated, ungrouped float32 convolutions:
// each 4x4 input tile and each 3x3 filter go to the transform domain, where 16 GEMMs of [M x C] * [C x tiles]
// replace the im2col GEMM's 2.25x more multiplies; the inverse transform gives 2x2 outputs per tile, with
// the bias, the residual and the ReLU applied on the way out (conv_fused.h's epilogue).
//   U = G g G^T,  V = B^T d B,  Y = A^T [U . V] A   (Lavin and Gray, "Fast Algorithms for Convolutional
//   Neural Networks", 2016)
// The transforms add a few float32 roundings (factors 0.5 and sums of up to 9 input values): the result
// differs from the direct sum by the same order as the GEMM's own rounding; tests/test_conv.cpp measures it.
// On by default: with the transforms vectorized along tile rows it beats im2col + GEMM on every shape it takes
// (single-thread CPU time, this 2-core AVX-512 machine, ms direct -> Winograd: mask head 100x256x14x14
// 205 -> 115-129; 256 channels at 128x128 162 -> 110, at 64x64 41 -> 29, at 32x32 10.0 -> 8.1; 64 channels at
// 128x128 14.2 -> 12.2; 128 at 64x64 11.7 -> 9.0). MRC_WINOGRAD=0 switches it off; gemm_flops() counts its
// smaller GEMMs (2.25x fewer multiplies), not the direct convolution's work. The input gradient of the same
// convolutions takes this path too (winograd_backward_input); the weight gradient stays on im2col + GEMM.
#pragma once
#include "kernels/conv/im2col.h"

namespace mrc::cpu {

// Whether winograd_forward handles this convolution (and MRC_WINOGRAD=0 has not switched it off).
bool winograd_applies(const ConvGeom& g);
// Switches the Winograd path on or off for this process (on by default; MRC_WINOGRAD=0 starts it off).
void set_winograd_enabled(bool on);

// out [N, M, OH, OW] = conv(x, w) + bias (may be null), + residual (may be null, out's layout), ReLU if asked.
void winograd_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* out,
                      const float* residual, bool relu);

// The input gradient of a stride-1 3x3 convolution is a 3x3 convolution of the output gradient with the
// filters transposed (in and out channels swapped) and flipped, padding 2 - pad: the same forward path.
// Whether it takes this convolution's input gradient (geometry g of the forward).
bool winograd_backward_input_applies(const ConvGeom& g);
// grad_x [N, C, H, W] from grad_out [N, M, OH, OW] and w [M, C, 3, 3].
void winograd_backward_input(const ConvGeom& g, const float* grad_out, const float* w, float* grad_x);

}  // namespace mrc::cpu
