// Image files: decoding JPEG/PNG/BMP through stb (gray and alpha kept or expanded, EXIF orientation
// applied by default), a small EXIF reader for the orientation tag, and atomic JPEG/PNG writers
// (PNG is lossless and is what masks are written as). Errors name the file and what is wrong.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"

namespace mrc::data {

struct DecodeOptions {
  // 0: as stored (gray 1, RGB 3, RGBA 4; gray+alpha comes back as RGBA); 1, 3 or 4: converted to that.
  int channels = 0;
  bool apply_exif = true;   // rotate/flip by the JPEG's EXIF orientation tag (VIA ignores it)
};

// Throws std::runtime_error naming the file: missing, unreadable, truncated/corrupt, unsupported format.
Image decode_image(const std::string& path, const DecodeOptions& options = {});
// `name` is used in error messages only.
Image decode_image_memory(const uint8_t* data, size_t size, const std::string& name,
                          const DecodeOptions& options = {});

struct ImageInfo;
// Same, also telling what the file held (stored size, channels, EXIF orientation) through *info.
Image decode_image(const std::string& path, const DecodeOptions& options, ImageInfo* info);

// Header-only look at a file (no pixel decode): size as stored, channels, EXIF orientation.
struct ImageInfo {
  int width = 0, height = 0;    // as stored in the file
  int channels = 0;
  int orientation = 1;          // EXIF orientation 1..8 (1 when absent or not a JPEG)
  // Size after applying the orientation (width/height swapped for orientations 5..8).
  int oriented_width() const { return orientation >= 5 ? height : width; }
  int oriented_height() const { return orientation >= 5 ? width : height; }
};
ImageInfo read_image_info(const std::string& path);   // throws like decode_image

// EXIF orientation (1..8) from a JPEG's APP1 segment; 1 when none, not a JPEG, or the EXIF is damaged.
int exif_orientation(const uint8_t* data, size_t size);
int read_exif_orientation(const std::string& path);   // reads only the file's head; throws if missing
// True when the file carries an EXIF orientation other than 1 (pixels would be rotated/flipped).
bool has_exif_rotation(const std::string& path);
// Applies orientation 1..8 (TIFF/EXIF semantics) to an image.
Image apply_exif_orientation(const Image& image, int orientation);

// Encoders (in memory). JPEG needs 1 or 3 channels (4 drops alpha); quality 1..100.
std::vector<uint8_t> encode_jpeg(const Image& image, int quality = 95);
std::vector<uint8_t> encode_png(const Image& image);

// Atomic writers: the file appears whole or not at all. Throw naming the file on failure.
void write_jpeg(const std::string& path, const Image& image, int quality = 95);
void write_png(const std::string& path, const Image& image);
// A binary mask as an 8-bit gray PNG with 0 / on_value.
void write_mask_png(const std::string& path, const Mask& mask, uint8_t on_value = 255);
// Reads a gray (or any) PNG as a mask: pixel != 0 -> 1 (first channel).
Mask read_mask_png(const std::string& path);

}  // namespace mrc::data
