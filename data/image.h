// Plain image, mask and annotated-sample types shared by every part of data/ (readers, rasterizers,
// augmentation, the loader). Pixels are interleaved HWC uint8, rows top to bottom, no padding.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mrc::data {

struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;              // 1 (gray), 3 (RGB) or 4 (RGBA)
  std::vector<uint8_t> pixels;   // height * width * channels

  Image() = default;
  Image(int w, int h, int c, uint8_t fill = 0)
      : width(w), height(h), channels(c), pixels(size_t(w) * h * c, fill) {}
  bool empty() const { return pixels.empty(); }
  uint8_t* at(int x, int y) { return pixels.data() + (size_t(y) * width + x) * channels; }
  const uint8_t* at(int x, int y) const { return pixels.data() + (size_t(y) * width + x) * channels; }
};

// Binary instance mask: one byte per pixel, 0 or 1.
struct Mask {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;   // height * width

  Mask() = default;
  Mask(int w, int h) : width(w), height(h), pixels(size_t(w) * h, 0) {}
  uint8_t& at(int x, int y) { return pixels[size_t(y) * width + x]; }
  uint8_t at(int x, int y) const { return pixels[size_t(y) * width + x]; }
  int64_t area() const {
    int64_t a = 0;
    for (uint8_t p : pixels) a += p != 0;
    return a;
  }
};

// Axis-aligned box in pixel coordinates, (x1, y1) inclusive top-left corner, (x2, y2) exclusive
// bottom-right corner (torchvision's XYXY convention: a mask covering columns 3..5 has x1=3, x2=6).
struct Box {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  float width() const { return x2 - x1; }
  float height() const { return y2 - y1; }
};

struct Instance {
  int class_id = 0;      // 1..num_classes; 0 is background and never stored
  Mask mask;             // same size as the sample's image
  Box box;               // tight box around the mask
  bool iscrowd = false;
};

// One annotated photo, decoded.
struct Sample {
  std::string image_id;            // file name as written in the annotation file
  std::string image_path;          // resolved path on disk
  Image image;
  std::vector<Instance> instances;
};

}  // namespace mrc::data
