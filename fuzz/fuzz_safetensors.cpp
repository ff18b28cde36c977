// libFuzzer target: the safetensors reader (tensor/safetensors.cpp): the 8-byte header length, the
// JSON header (dtypes, shapes, data offsets, __metadata__) and the data ranges, from bytes in memory.
// Whatever it accepts must be self-consistent: each entry holds exactly numel * itemsize bytes.
#include <sstream>
#include <string>

#include "fuzz_util.h"
#include "tensor/safetensors.h"

using namespace mrc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size), std::ios::binary);
  fuzz::expect_clean_errors([&] {
    const SafetensorsFile f = read_safetensors(in, "fuzz.safetensors");
    for (const auto& [name, e] : f.tensors) {
      const size_t item = safetensors_itemsize(e.dtype);
      fuzz::check(e.numel() >= 0, "negative element count", name);
      fuzz::check(e.bytes.size() == size_t(e.numel()) * item, "entry bytes differ from numel * itemsize", name);
      if (item == 4) fuzz::check(e.as<float>().size() == size_t(e.numel()), "as<float> size", name);
      if (item == 8) fuzz::check(e.as<int64_t>().size() == size_t(e.numel()), "as<int64_t> size", name);
      if (item == 1) fuzz::check(e.as<uint8_t>().size() == size_t(e.numel()), "as<uint8_t> size", name);
    }
    (void)f.at("missing name, must throw");
  });
  return 0;
}
