// Where a tensor's memory lives: the host or one CUDA device.
#pragma once
#include <string>

namespace mrc {

struct Device {
  enum class Kind : uint8_t { CPU, CUDA };
  Kind kind = Kind::CPU;
  int index = 0;

  static Device cpu() { return {}; }
  static Device cuda(int i = 0) { return {Kind::CUDA, i}; }
  bool is_cpu() const { return kind == Kind::CPU; }
  bool is_cuda() const { return kind == Kind::CUDA; }
  bool operator==(const Device& o) const { return kind == o.kind && (kind == Kind::CPU || index == o.index); }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
  // Parses "cpu", "cuda", "cuda:1"; throws std::invalid_argument otherwise.
  static Device parse(const std::string& s);
};

// True when the library was built with CUDA and at least one device is visible.
bool cuda_available();
int cuda_device_count();
bool built_with_cuda();

[[noreturn]] void throw_not_built_with_cuda(const char* what);

}  // namespace mrc
