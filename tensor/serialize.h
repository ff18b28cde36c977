// Tensor <-> safetensors: converting one tensor to a byte-level SafetensorsEntry and back, and saving /
// loading a whole name -> Tensor map. CUDA tensors are copied to the host for saving; loaded tensors are
// host tensors (move them with .to(device)). Errors name the file and the tensor.
#pragma once
#include <map>
#include <string>

#include "tensor/safetensors.h"
#include "tensor/tensor.h"

namespace mrc {

using TensorMap = std::map<std::string, Tensor>;
using StringMap = std::map<std::string, std::string>;

// "F32", "F64", "I32", "I64", "U8", "BF16", "F16".
std::string safetensors_dtype(DType dtype);
// The reverse; "BOOL" reads as UInt8. Throws std::runtime_error on a dtype the engine has no type for.
DType dtype_from_safetensors(const std::string& dtype);

// A contiguous little-endian copy of t's elements (from any device, any strides).
SafetensorsEntry to_safetensors_entry(const Tensor& t);
// A new host tensor holding the entry's data; `what` names the entry in error messages.
Tensor from_safetensors_entry(const SafetensorsEntry& e, const std::string& what = "tensor");

// Writes all tensors (and the string metadata) to one safetensors file, atomically.
void save_tensors(const std::string& path, const TensorMap& tensors, const StringMap& metadata = {});
// Reads every tensor of a safetensors file as host tensors; the metadata goes to *metadata when given.
TensorMap load_tensors(const std::string& path, StringMap* metadata = nullptr);

}  // namespace mrc
