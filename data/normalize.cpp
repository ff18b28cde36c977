// Normalization to float CHW (see normalize.h).
#include "data/normalize.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace mrc::data {

Normalization Normalization::torchvision() { return Normalization{}; }

Normalization Normalization::mean_pixel(std::array<float, 3> m) {
  return Normalization{1.0f, {m[0], m[1], m[2], 0.0f}, {1.0f, 1.0f, 1.0f, 1.0f}};
}

Normalization Normalization::mean_std(std::array<float, 3> mean, std::array<float, 3> std, float input_scale) {
  for (float s : std)
    if (!(s > 0)) throw std::invalid_argument("Normalization: std must be positive");
  return Normalization{input_scale, {mean[0], mean[1], mean[2], 0.0f}, {std[0], std[1], std[2], 1.0f}};
}

void normalize_to_chw(const Image& im, const Normalization& n, float* out, int out_w, int out_h, float pad) {
  const int C = im.channels, W = im.width, H = im.height;
  if (C < 1 || C > 4) throw std::invalid_argument("normalize_to_chw: expected 1..4 channels");
  if (out_w < W || out_h < H) throw std::invalid_argument("normalize_to_chw: output smaller than the image");
  for (int c = 0; c < C; ++c) {
    // (x * s - m) / d as one multiply-add per pixel, through a 256-entry table.
    float table[256];
    for (int v = 0; v < 256; ++v) table[v] = (float(v) * n.input_scale - n.mean[size_t(c)]) / n.std[size_t(c)];
    float* plane = out + size_t(c) * out_h * out_w;
    for (int y = 0; y < out_h; ++y) {
      float* row = plane + size_t(y) * out_w;
      if (y >= H) {
        std::fill(row, row + out_w, pad);
        continue;
      }
      const uint8_t* src = im.pixels.data() + size_t(y) * W * C + c;
      for (int x = 0; x < W; ++x) row[x] = table[src[size_t(x) * C]];
      std::fill(row + W, row + out_w, pad);
    }
  }
}

void normalize_to_chw(const Image& im, const Normalization& n, float* out) {
  normalize_to_chw(im, n, out, im.width, im.height, 0.0f);
}

std::vector<float> normalize_to_chw(const Image& im, const Normalization& n) {
  std::vector<float> out(size_t(im.channels) * im.height * im.width);
  normalize_to_chw(im, n, out.data());
  return out;
}

Image denormalize_chw(const float* chw, int C, int H, int W, const Normalization& n) {
  Image im(W, H, C);
  for (int c = 0; c < C; ++c)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        const float v = (chw[(size_t(c) * H + y) * W + x] * n.std[size_t(c)] + n.mean[size_t(c)]) / n.input_scale;
        im.at(x, y)[c] = uint8_t(std::clamp(std::nearbyint(v), 0.0f, 255.0f));
      }
  return im;
}

}  // namespace mrc::data
