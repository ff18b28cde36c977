// safetensors files (https://huggingface.co/docs/safetensors): an 8-byte little-endian header size,
// a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, then raw bytes.
// This file is the byte-level reader/writer; tensor-level helpers live in tensor/serialize.h.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

namespace mrc {

struct SafetensorsEntry {
  std::string dtype;             // "F32", "F64", "I32", "I64", "U8", "BF16", "F16", "BOOL"
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;    // little-endian, row-major, exactly numel * itemsize bytes

  int64_t numel() const;
  // Copies the payload as T (T must match dtype's width); throws naming the entry otherwise.
  template <class T> std::vector<T> as() const;
};

struct SafetensorsFile {
  std::map<std::string, SafetensorsEntry> tensors;
  std::map<std::string, std::string> metadata;

  const SafetensorsEntry& at(const std::string& name) const;  // throws std::runtime_error naming file+name
  bool contains(const std::string& name) const { return tensors.count(name) != 0; }
  std::string path;  // set by read_safetensors, used in error messages
};

// Throws std::runtime_error naming the file and what is wrong (missing, truncated, bad header JSON,
// offsets out of range or overlapping, unknown dtype, shape/size mismatch).
SafetensorsFile read_safetensors(const std::string& path);
// The same from a seekable stream (bytes in memory, a fuzzer's input); path names it in errors.
SafetensorsFile read_safetensors(std::istream& in, const std::string& path);

// Writes atomically: to "<path>.tmp.<pid>" then rename; nothing is left behind on failure.
void write_safetensors(const std::string& path, const SafetensorsFile& file);

size_t safetensors_itemsize(const std::string& dtype);  // throws on unknown dtype

}  // namespace mrc
