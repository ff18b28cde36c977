// Pixel normalization into the model's float CHW layout: torchvision's per-channel (x/255 - mean) / std
// or matterport's mean-pixel subtraction (x - MEAN_PIXEL, no scaling), and the inverse for display.
#pragma once
#include <array>
#include <vector>

#include "data/image.h"

namespace mrc::data {

struct Normalization {
  float input_scale = 1.0f / 255.0f;              // applied to the uint8 value first
  std::array<float, 4> mean = {0.485f, 0.456f, 0.406f, 0.0f};
  std::array<float, 4> std = {0.229f, 0.224f, 0.225f, 1.0f};

  // GeneralizedRCNNTransform's defaults (ImageNet statistics on 0..1 pixels).
  static Normalization torchvision();
  // matterport's mold_image: x - MEAN_PIXEL on 0..255 pixels.
  static Normalization mean_pixel(std::array<float, 3> mean_pixel = {123.7f, 116.8f, 103.9f});
  static Normalization mean_std(std::array<float, 3> mean, std::array<float, 3> std, float input_scale);
};

// out[c][y][x] = (pixel(x, y, c) * input_scale - mean[c]) / std[c], for an image of 1..4 channels.
// The padded form writes a (channels, out_height, out_width) buffer with the image at the top-left
// and pad_value elsewhere (torchvision pads normalized images with 0).
void normalize_to_chw(const Image& image, const Normalization& n, float* out);
void normalize_to_chw(const Image& image, const Normalization& n, float* out, int out_width, int out_height,
                      float pad_value = 0.0f);
std::vector<float> normalize_to_chw(const Image& image, const Normalization& n);
// The inverse, rounded and clipped to 0..255.
Image denormalize_chw(const float* chw, int channels, int height, int width, const Normalization& n);

}  // namespace mrc::data
