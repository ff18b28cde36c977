// Device dispatch: MRC_DISPATCH_DEVICE(tensor, fn, args...) calls mrc::cuda::fn for CUDA tensors and
// mrc::cpu::fn otherwise. Without the CUDA backend no CUDA tensor can exist, so only the CPU call remains.
#pragma once
#include "tensor/device.h"

#ifdef MRC_WITH_CUDA
#define MRC_DISPATCH_DEVICE(t, fn, ...) ((t).is_cuda() ? ::mrc::cuda::fn(__VA_ARGS__) : ::mrc::cpu::fn(__VA_ARGS__))
#else
#define MRC_DISPATCH_DEVICE(t, fn, ...) (::mrc::cpu::fn(__VA_ARGS__))
#endif
