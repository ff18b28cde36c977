// TensorBoard event files (see tensorboard.h).
#include "train/tensorboard.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "data/image_io.h"

namespace mrc::train {
namespace fs = std::filesystem;

namespace {

const std::array<uint32_t, 256>& crc32c_table() {
  static const std::array<uint32_t, 256> t = [] {
    std::array<uint32_t, 256> table{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      table[i] = c;
    }
    return table;
  }();
  return t;
}

// Protocol buffer wire format: a key is (field number << 3) | wire type; 0 varint, 1 fixed64, 2 bytes, 5 fixed32.
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char(uint8_t(v) | 0x80));
    v >>= 7;
  }
  out.push_back(char(v));
}
void put_key(std::string& out, int field, int wire_type) { put_varint(out, uint64_t(field) << 3 | uint64_t(wire_type)); }
template <class T>
void put_fixed(std::string& out, T v) {  // little-endian, as x86 stores it
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}
void put_bytes(std::string& out, int field, std::string_view bytes) {
  put_key(out, field, 2);
  put_varint(out, bytes.size());
  out.append(bytes);
}

// Summary { repeated Value value = 1; } with Value { string tag = 1; float simple_value = 2; Image image = 4; }
std::string summary_value(const std::string& tag, const std::string& value_field) {
  std::string value;
  put_bytes(value, 1, tag);
  value += value_field;
  std::string summary;
  put_bytes(summary, 1, value);
  return summary;
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || !name[0]) return "localhost";
  return name;
}

}  // namespace

uint32_t crc32c(std::string_view bytes) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) c = crc32c_table()[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(std::string_view bytes) {
  const uint32_t c = crc32c(bytes);
  return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

EventWriter::EventWriter(const std::string& dir) {
  fs::create_directories(dir);
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  path_ = (fs::path(dir) / ("events.out.tfevents." + std::to_string(seconds.count()) + "." + host_name() + "." +
                            std::to_string(getpid())))
              .string();
  out_.open(path_, std::ios::binary | std::ios::app);
  if (!out_) throw std::runtime_error(path_ + ": cannot open for writing (TensorBoard events)");
  write_event(0, "brain.Event:2", false);  // the first record names the format version
}

void EventWriter::write_event(int64_t step, const std::string& payload, bool is_summary) {
  // Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
  std::string event;
  put_key(event, 1, 1);
  put_fixed(event, std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  put_key(event, 2, 0);
  put_varint(event, uint64_t(step));
  put_bytes(event, is_summary ? 5 : 3, payload);
  std::string length;
  put_fixed(length, uint64_t(event.size()));
  std::string record = length;
  put_fixed(record, masked_crc32c(length));
  record += event;
  put_fixed(record, masked_crc32c(event));
  out_.write(record.data(), std::streamsize(record.size()));
  out_.flush();
  if (!out_) throw std::runtime_error(path_ + ": write failed (TensorBoard events)");
}

void EventWriter::scalar(const std::string& tag, double value, int64_t step) {
  std::string field;
  put_key(field, 2, 5);
  put_fixed(field, float(value));
  write_event(step, summary_value(tag, field), true);
}

void EventWriter::image(const std::string& tag, const data::Image& picture, int64_t step) {
  if (picture.channels != 3 && picture.channels != 4)
    throw std::invalid_argument("EventWriter::image " + tag + ": expected an RGB or RGBA picture, got " +
                                std::to_string(picture.channels) + " channel(s)");
  // Image { int32 height = 1; int32 width = 2; int32 colorspace = 3 (3 RGB, 4 RGBA); bytes encoded_image_string = 4; }
  std::string image;
  put_key(image, 1, 0);
  put_varint(image, uint64_t(picture.height));
  put_key(image, 2, 0);
  put_varint(image, uint64_t(picture.width));
  put_key(image, 3, 0);
  put_varint(image, uint64_t(picture.channels));
  const std::vector<uint8_t> png = data::encode_png(picture);
  put_bytes(image, 4, std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
  std::string field;
  put_bytes(field, 4, image);
  write_event(step, summary_value(tag, field), true);
}

}  // namespace mrc::train
