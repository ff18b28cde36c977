// Byte-level safetensors reader and writer (see safetensors.h).
#include "tensor/safetensors.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <stdexcept>

#include "tensor/atomic_file.h"

namespace mrc {

namespace {
[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("safetensors file '" + path + "': " + what);
}
}  // namespace

size_t safetensors_itemsize(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "U8" || dtype == "I8" || dtype == "BOOL") return 1;
  throw std::runtime_error("unknown safetensors dtype '" + dtype + "'");
}

int64_t SafetensorsEntry::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

template <class T>
std::vector<T> SafetensorsEntry::as() const {
  if (safetensors_itemsize(dtype) != sizeof(T))
    throw std::runtime_error("safetensors entry of dtype " + dtype + " read with an element of " +
                             std::to_string(sizeof(T)) + " bytes");
  std::vector<T> out(bytes.size() / sizeof(T));
  if (!bytes.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}
template std::vector<float> SafetensorsEntry::as<float>() const;
template std::vector<double> SafetensorsEntry::as<double>() const;
template std::vector<int32_t> SafetensorsEntry::as<int32_t>() const;
template std::vector<int64_t> SafetensorsEntry::as<int64_t>() const;
template std::vector<uint8_t> SafetensorsEntry::as<uint8_t>() const;

const SafetensorsEntry& SafetensorsFile::at(const std::string& name) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) fail(path, "has no tensor named '" + name + "'");
  return it->second;
}

SafetensorsFile read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot be opened");
  return read_safetensors(in, path);
}

SafetensorsFile read_safetensors(std::istream& in, const std::string& path) {
  in.seekg(0, std::ios::end);
  const uint64_t file_size = uint64_t(in.tellg());
  in.seekg(0);
  if (file_size < 8) fail(path, "is truncated: " + std::to_string(file_size) + " bytes, expected at least 8");
  uint8_t len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len > file_size - 8 || header_len > (uint64_t(100) << 20))
    fail(path, "header size " + std::to_string(header_len) + " does not fit in a file of " +
                   std::to_string(file_size) + " bytes (not a safetensors file, or truncated)");
  std::string header(header_len, '\0');
  in.read(header.data(), std::streamsize(header_len));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header);
  } catch (const std::exception& e) {
    fail(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) fail(path, "header is not a JSON object");
  const uint64_t data_size = file_size - 8 - header_len;
  SafetensorsFile file;
  file.path = path;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) fail(path, "__metadata__ is not an object");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) fail(path, "__metadata__." + m.key() + " is not a string");
        file.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const auto& v = it.value();
    const std::string where = "tensor '" + it.key() + "'";
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      fail(path, where + " needs fields dtype, shape and data_offsets");
    SafetensorsEntry e;
    try {
      e.dtype = v.at("dtype").get<std::string>();
      e.shape = v.at("shape").get<std::vector<int64_t>>();
    } catch (const std::exception&) {
      fail(path, where + ": dtype must be a string and shape a list of integers");
    }
    size_t itemsize = 0;
    try {
      itemsize = safetensors_itemsize(e.dtype);
    } catch (const std::exception&) {
      fail(path, where + " has unknown dtype '" + e.dtype + "'");
    }
    // numel without overflow: a shape like [2^32, 2^32] must not wrap around to a size that fits
    uint64_t numel = 1;
    for (int64_t s : e.shape) {
      if (s < 0) fail(path, where + " has a negative dimension");
      if (s != 0 && numel > (uint64_t(1) << 62) / uint64_t(s))
        fail(path, where + " has a shape whose element count does not fit in 64 bits");
      numel *= uint64_t(s);
    }
    const auto& off = v.at("data_offsets");
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail(path, where + ": data_offsets must be [begin, end]");
    const uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
    if (b > en || en > data_size)
      fail(path, where + " data_offsets [" + std::to_string(b) + ", " + std::to_string(en) +
                     "] fall outside the " + std::to_string(data_size) + " data bytes (truncated file?)");
    if (numel > data_size / itemsize || en - b != numel * itemsize)
      fail(path, where + " holds " + std::to_string(en - b) + " bytes, its shape needs " +
                     (numel > data_size / itemsize ? "more than the file holds" : std::to_string(numel * itemsize)));
    e.bytes.resize(en - b);
    in.seekg(std::streamoff(8 + header_len + b));
    in.read(reinterpret_cast<char*>(e.bytes.data()), std::streamsize(en - b));
    if (!in) fail(path, where + ": could not read its bytes");
    ranges.push_back({b, en});
    file.tensors.emplace(it.key(), std::move(e));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second) fail(path, "tensor data ranges overlap");
  return file;
}

void write_safetensors(const std::string& path, const SafetensorsFile& file) {
  nlohmann::json j = nlohmann::json::object();
  if (!file.metadata.empty()) j["__metadata__"] = file.metadata;
  uint64_t offset = 0;
  for (const auto& [name, e] : file.tensors) {
    const uint64_t expect = uint64_t(e.numel()) * safetensors_itemsize(e.dtype);
    if (e.bytes.size() != expect)
      throw std::runtime_error("write_safetensors('" + path + "'): tensor '" + name + "' has " +
                               std::to_string(e.bytes.size()) + " bytes, its shape needs " + std::to_string(expect));
    j[name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {offset, offset + expect}}};
    offset += expect;
  }
  std::string header = j.dump();
  while ((header.size() + 8) % 8 != 0) header.push_back(' ');  // keep the data 8-byte aligned
  AtomicFile out(path);
  uint8_t len_bytes[8];
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) len_bytes[i] = uint8_t(n >> (8 * i));
  out.write(len_bytes, 8);
  out.write(header.data(), header.size());
  for (const auto& [name, e] : file.tensors) out.write(e.bytes.data(), e.bytes.size());
  out.commit();
}

}  // namespace mrc
