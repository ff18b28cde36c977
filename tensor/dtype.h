// Element types, their sizes and names, and the switch macros that turn a runtime DType into a C++ type.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace mrc {

// BFloat16 and Float16 are reserved for the CUDA backend (storage only for now).
enum class DType : uint8_t { Float32, Float64, Int32, Int64, UInt8, BFloat16, Float16 };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int32: return 4;
    case DType::Int64: return 8;
    case DType::UInt8: return 1;
    case DType::BFloat16: return 2;
    case DType::Float16: return 2;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::UInt8: return "uint8";
    case DType::BFloat16: return "bfloat16";
    case DType::Float16: return "float16";
  }
  return "?";
}

inline bool is_floating(DType t) {
  return t == DType::Float32 || t == DType::Float64 || t == DType::BFloat16 || t == DType::Float16;
}

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::Int32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::UInt8; };

[[noreturn]] inline void throw_unsupported_dtype(const char* op, DType t) {
  throw std::invalid_argument(std::string(op) + ": unsupported dtype " + dtype_name(t));
}

}  // namespace mrc

// MRC_DISPATCH_FLOATING(dtype, "op", [&] { using scalar_t = ...; body }) — float32 / float64.
#define MRC_DISPATCH_CASE(DT, T, ...) \
  case DT: {                          \
    using scalar_t = T;               \
    return __VA_ARGS__();             \
  }

#define MRC_DISPATCH_FLOATING(DTYPE, NAME, ...)                          \
  [&] {                                                                  \
    switch (DTYPE) {                                                     \
      MRC_DISPATCH_CASE(::mrc::DType::Float32, float, __VA_ARGS__)       \
      MRC_DISPATCH_CASE(::mrc::DType::Float64, double, __VA_ARGS__)      \
      default: ::mrc::throw_unsupported_dtype(NAME, DTYPE);              \
    }                                                                    \
  }()

// The five core dtypes' cases; MRC_DISPATCH_ALL and the CUDA storage dispatch (which adds the 16-bit
// floats) both list them through this one macro.
#define MRC_DISPATCH_CORE_CASES(...)                                     \
  MRC_DISPATCH_CASE(::mrc::DType::Float32, float, __VA_ARGS__)           \
  MRC_DISPATCH_CASE(::mrc::DType::Float64, double, __VA_ARGS__)          \
  MRC_DISPATCH_CASE(::mrc::DType::Int32, int32_t, __VA_ARGS__)           \
  MRC_DISPATCH_CASE(::mrc::DType::Int64, int64_t, __VA_ARGS__)           \
  MRC_DISPATCH_CASE(::mrc::DType::UInt8, uint8_t, __VA_ARGS__)

#define MRC_DISPATCH_ALL(DTYPE, NAME, ...)                               \
  [&] {                                                                  \
    switch (DTYPE) {                                                     \
      MRC_DISPATCH_CORE_CASES(__VA_ARGS__)                               \
      default: ::mrc::throw_unsupported_dtype(NAME, DTYPE);              \
    }                                                                    \
  }()
