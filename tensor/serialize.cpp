// Tensor <-> safetensors conversion (see serialize.h).
#include "tensor/serialize.h"

#include <cstring>
#include <stdexcept>

namespace mrc {

std::string safetensors_dtype(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::Int32: return "I32";
    case DType::Int64: return "I64";
    case DType::UInt8: return "U8";
    case DType::BFloat16: return "BF16";
    case DType::Float16: return "F16";
  }
  throw std::runtime_error("safetensors_dtype: unknown dtype");
}

DType dtype_from_safetensors(const std::string& dtype) {
  if (dtype == "F32") return DType::Float32;
  if (dtype == "F64") return DType::Float64;
  if (dtype == "I32") return DType::Int32;
  if (dtype == "I64") return DType::Int64;
  if (dtype == "U8" || dtype == "BOOL") return DType::UInt8;
  if (dtype == "BF16") return DType::BFloat16;
  if (dtype == "F16") return DType::Float16;
  throw std::runtime_error("safetensors dtype '" + dtype +
                           "' has no engine dtype (expected F32, F64, I32, I64, U8, BOOL, BF16 or F16)");
}

SafetensorsEntry to_safetensors_entry(const Tensor& t) {
  if (!t.defined()) throw std::invalid_argument("to_safetensors_entry: undefined tensor");
  SafetensorsEntry e;
  e.dtype = safetensors_dtype(t.dtype());
  e.shape = t.shape();
  // Only the bytes are needed: no history, and the host copy happens before making it contiguous so
  // that a CUDA tensor is transferred once.
  Tensor h = t.detach();
  if (h.is_cuda()) h = h.contiguous().cpu();
  if (!h.is_contiguous()) h = h.contiguous();
  e.bytes.resize(h.nbytes());
  if (h.nbytes()) std::memcpy(e.bytes.data(), h.raw_data(), h.nbytes());
  return e;
}

Tensor from_safetensors_entry(const SafetensorsEntry& e, const std::string& what) {
  DType dt;
  try {
    dt = dtype_from_safetensors(e.dtype);
  } catch (const std::exception& ex) {
    throw std::runtime_error(what + ": " + ex.what());
  }
  if (e.bytes.size() != size_t(e.numel()) * dtype_size(dt))
    throw std::runtime_error(what + ": holds " + std::to_string(e.bytes.size()) + " bytes, shape " +
                             shape_str(e.shape) + " of " + e.dtype + " needs " +
                             std::to_string(size_t(e.numel()) * dtype_size(dt)));
  return Tensor::from_blob(e.bytes.data(), e.shape, dt);
}

void save_tensors(const std::string& path, const TensorMap& tensors, const StringMap& metadata) {
  SafetensorsFile file;
  file.metadata = metadata;
  for (const auto& [name, t] : tensors) {
    if (name.empty() || name == "__metadata__")
      throw std::invalid_argument("save_tensors('" + path + "'): invalid tensor name '" + name + "'");
    if (!t.defined()) throw std::invalid_argument("save_tensors('" + path + "'): tensor '" + name + "' is undefined");
    try {
      file.tensors.emplace(name, to_safetensors_entry(t));
    } catch (const std::exception& ex) {
      throw std::runtime_error("save_tensors('" + path + "'): tensor '" + name + "' (" + t.str() + "): " + ex.what());
    }
  }
  write_safetensors(path, file);
}

TensorMap load_tensors(const std::string& path, StringMap* metadata) {
  SafetensorsFile file = read_safetensors(path);
  TensorMap out;
  for (const auto& [name, e] : file.tensors)
    out.emplace(name, from_safetensors_entry(e, "safetensors file '" + path + "': tensor '" + name + "'"));
  if (metadata) *metadata = std::move(file.metadata);
  return out;
}

}  // namespace mrc
