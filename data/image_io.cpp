// Image decoding/encoding through stb (the one place its implementations are compiled), with the
// checks stb does not do itself: file existence, format sniffing and JPEG truncation. See image_io.h.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image.h>
#include <stb_image_write.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "data/image_io.h"
#include "tensor/atomic_file.h"

namespace mrc::data {
namespace {

enum class Kind { Jpeg, Png, Bmp, Other };

Kind sniff(const uint8_t* d, size_t n) {
  if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return Kind::Jpeg;
  if (n >= 8 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return Kind::Png;
  if (n >= 2 && d[0] == 'B' && d[1] == 'M') return Kind::Bmp;
  return Kind::Other;
}

// stb decodes a JPEG cut short without complaint (the missing rows come out gray), so look for the
// end-of-image marker after the first scan. Inside entropy-coded data 0xFF is always followed by 0x00
// or a restart marker, so FF D9 there can only be the real end.
bool jpeg_complete(const uint8_t* d, size_t n) {
  size_t pos = 2;
  while (pos + 4 <= n) {
    if (d[pos] != 0xFF) return false;
    uint8_t m = d[pos + 1];
    if (m == 0xFF) { ++pos; continue; }
    if ((m >= 0xD0 && m <= 0xD7) || m == 0x01) { pos += 2; continue; }
    if (m == 0xD9) return true;
    size_t len = (size_t(d[pos + 2]) << 8) | d[pos + 3];
    if (m == 0xDA) { pos += 2 + len; break; }
    pos += 2 + len;
  }
  for (size_t i = pos; i + 1 < n; ++i)
    if (d[i] == 0xFF && d[i + 1] == 0xD9) return true;
  return false;
}

std::vector<uint8_t> read_all(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw std::runtime_error("image file not found: " + path);
  if (std::filesystem::is_directory(path, ec)) throw std::runtime_error("image path is a directory: " + path);
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open image file: " + path);
  f.seekg(0, std::ios::end);
  std::streamoff size = f.tellg();
  f.seekg(0);
  std::vector<uint8_t> bytes(size_t(size > 0 ? size : 0));
  if (!bytes.empty()) f.read(reinterpret_cast<char*>(bytes.data()), size);
  if (!f) throw std::runtime_error("cannot read image file: " + path);
  return bytes;
}

void check_channels(int channels, const std::string& name) {
  if (channels != 0 && channels != 1 && channels != 3 && channels != 4)
    throw std::invalid_argument("decode_image(" + name + "): channels must be 0, 1, 3 or 4, got " +
                                std::to_string(channels));
}

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* p = static_cast<const uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

void check_image(const Image& im, const char* what) {
  if (im.width <= 0 || im.height <= 0 || im.pixels.size() != size_t(im.width) * im.height * im.channels)
    throw std::invalid_argument(std::string(what) + ": image is empty or its pixel buffer does not match " +
                                std::to_string(im.width) + "x" + std::to_string(im.height) + "x" +
                                std::to_string(im.channels));
}

}  // namespace

namespace {

Image decode_impl(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options,
                  ImageInfo* info) {
  check_channels(options.channels, name);
  if (size == 0) throw std::runtime_error("image file is empty: " + name);
  Kind kind = sniff(data, size);
  int w = 0, h = 0, stored = 0;
  if (size > size_t(INT32_MAX) || !stbi_info_from_memory(data, int(size), &w, &h, &stored)) {
    if (kind == Kind::Other)
      throw std::runtime_error("unsupported image format: " + name + " (expected JPEG, PNG or BMP)");
    throw std::runtime_error("corrupt image file: " + name + " (" + stbi_failure_reason() + ")");
  }
  if (kind == Kind::Jpeg && !jpeg_complete(data, size))
    throw std::runtime_error("corrupt image file: " + name + " (JPEG data is truncated: no end-of-image marker)");
  int want = options.channels ? options.channels : (stored == 2 ? 4 : stored);
  int got = 0;
  stbi_uc* px = stbi_load_from_memory(data, int(size), &w, &h, &got, want);
  if (!px) throw std::runtime_error("corrupt image file: " + name + " (" + stbi_failure_reason() + ")");
  Image im;
  im.width = w;
  im.height = h;
  im.channels = want;
  im.pixels.assign(px, px + size_t(w) * h * want);
  stbi_image_free(px);
  const int o = kind == Kind::Jpeg ? exif_orientation(data, size) : 1;
  if (info) *info = ImageInfo{w, h, stored, o};
  if (options.apply_exif && o != 1) im = apply_exif_orientation(im, o);
  return im;
}

}  // namespace

Image decode_image_memory(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options) {
  return decode_impl(data, size, name, options, nullptr);
}

Image decode_image(const std::string& path, const DecodeOptions& options) {
  return decode_image(path, options, nullptr);
}

Image decode_image(const std::string& path, const DecodeOptions& options, ImageInfo* info) {
  std::vector<uint8_t> bytes = read_all(path);
  return decode_impl(bytes.data(), bytes.size(), path, options, info);
}

ImageInfo read_image_info(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw std::runtime_error("image file not found: " + path);
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open image file: " + path);
  // Headers (and EXIF) sit at the front; a PNG/BMP header is tiny, a JPEG's SOF follows the APPn blocks.
  std::vector<uint8_t> head(256 * 1024);
  f.read(reinterpret_cast<char*>(head.data()), std::streamsize(head.size()));
  head.resize(size_t(f.gcount()));
  if (head.empty()) throw std::runtime_error("image file is empty: " + path);
  ImageInfo info;
  if (!stbi_info_from_memory(head.data(), int(head.size()), &info.width, &info.height, &info.channels)) {
    if (sniff(head.data(), head.size()) == Kind::Other)
      throw std::runtime_error("unsupported image format: " + path + " (expected JPEG, PNG or BMP)");
    throw std::runtime_error("corrupt image file: " + path + " (" + stbi_failure_reason() + ")");
  }
  info.orientation = exif_orientation(head.data(), head.size());
  return info;
}

std::vector<uint8_t> encode_jpeg(const Image& image, int quality) {
  check_image(image, "encode_jpeg");
  if (quality < 1 || quality > 100)
    throw std::invalid_argument("encode_jpeg: quality must be in 1..100, got " + std::to_string(quality));
  const Image* src = &image;
  Image rgb;
  if (image.channels == 4 || image.channels == 2) {  // JPEG has no alpha
    rgb = Image(image.width, image.height, 3);
    for (size_t i = 0, n = size_t(image.width) * image.height; i < n; ++i)
      for (int c = 0; c < 3; ++c)
        rgb.pixels[i * 3 + c] = image.pixels[i * image.channels + (image.channels == 4 ? c : 0)];
    src = &rgb;
  }
  std::vector<uint8_t> out;
  if (!stbi_write_jpg_to_func(append_bytes, &out, src->width, src->height, src->channels, src->pixels.data(), quality))
    throw std::runtime_error("encode_jpeg: stb failed to encode a " + std::to_string(image.width) + "x" +
                             std::to_string(image.height) + " image");
  return out;
}

std::vector<uint8_t> encode_png(const Image& image) {
  check_image(image, "encode_png");
  std::vector<uint8_t> out;
  if (!stbi_write_png_to_func(append_bytes, &out, image.width, image.height, image.channels, image.pixels.data(),
                              image.width * image.channels))
    throw std::runtime_error("encode_png: stb failed to encode a " + std::to_string(image.width) + "x" +
                             std::to_string(image.height) + " image");
  return out;
}

static void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  AtomicFile f(path);
  f.write(bytes.data(), bytes.size());
  f.commit();
}

void write_jpeg(const std::string& path, const Image& image, int quality) {
  write_bytes(path, encode_jpeg(image, quality));
}

void write_png(const std::string& path, const Image& image) { write_bytes(path, encode_png(image)); }

void write_mask_png(const std::string& path, const Mask& mask, uint8_t on_value) {
  Image im(mask.width, mask.height, 1);
  for (size_t i = 0; i < mask.pixels.size(); ++i) im.pixels[i] = mask.pixels[i] ? on_value : 0;
  write_png(path, im);
}

Mask read_mask_png(const std::string& path) {
  Image im = decode_image(path, {0, false});
  Mask m(im.width, im.height);
  for (size_t i = 0; i < m.pixels.size(); ++i) m.pixels[i] = im.pixels[i * im.channels] != 0;
  return m;
}

}  // namespace mrc::data
