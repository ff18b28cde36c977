// Multiply, LinearContrast, GaussianBlur, AdditiveGaussianNoise (see photometric.h).
#include "data/augment/photometric.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

namespace mrc::data::aug {

namespace {

// One 256-entry table per channel, applied in place.
void apply_tables(Image& im, const std::vector<std::array<uint8_t, 256>>& tables) {
  const int nc = im.channels;
  uint8_t* p = im.pixels.data();
  const size_t n = size_t(im.width) * im.height;
  if (nc == 3) {
    const auto &t0 = tables[0], &t1 = tables[1], &t2 = tables[2];
    for (size_t i = 0; i < n; ++i, p += 3) {
      p[0] = t0[p[0]];
      p[1] = t1[p[1]];
      p[2] = t2[p[2]];
    }
    return;
  }
  for (size_t i = 0; i < n; ++i, p += nc)
    for (int k = 0; k < nc; ++k) p[k] = tables[size_t(k)][p[k]];
}

// Draws one value (or one per channel with probability per_channel).
std::vector<float> draw_per_channel(const Param& param, double per_channel, int channels, Rng& rng) {
  const bool per = rng.bernoulli(per_channel);
  std::vector<float> v(size_t(std::max(channels, 1)));
  if (per) {
    for (auto& x : v) x = float(param.draw(rng));
  } else {
    std::fill(v.begin(), v.end(), float(param.draw(rng)));
  }
  return v;
}

int reflect101(int i, int n) {
  if (n == 1) return 0;
  while (i < 0 || i >= n) {
    if (i < 0) i = -i;
    if (i >= n) i = 2 * n - 2 - i;
  }
  return i;
}

// numpy's float32 arithmetic, one rounding per operation: each product below is exact in double
// and is rounded to float explicitly, so a fused multiply-add cannot change the result.
float float32_contrast(float alpha, int v) {
  const float prod = float(double(alpha) * double(v - 127));
  return float(127.0 + double(prod));
}

}  // namespace

void multiply_image(Image& im, const float* mul) {
  std::vector<std::array<uint8_t, 256>> tables(size_t(im.channels));
  for (int c = 0; c < im.channels; ++c)
    for (int v = 0; v < 256; ++v) tables[size_t(c)][size_t(v)] = uint8_t(std::clamp(float(v) * mul[c], 0.0f, 255.0f));
  apply_tables(im, tables);
}

void linear_contrast_image(Image& im, const float* alpha) {
  std::vector<std::array<uint8_t, 256>> tables(size_t(im.channels));
  for (int c = 0; c < im.channels; ++c)
    for (int v = 0; v < 256; ++v)
      tables[size_t(c)][size_t(v)] = uint8_t(std::clamp(float32_contrast(alpha[c], v), 0.0f, 255.0f));
  apply_tables(im, tables);
}

void Multiply::apply(Sample& s, Rng& rng) const {
  const auto mul = draw_per_channel(mul_, per_channel_, s.image.channels, rng);
  if (!s.image.empty()) multiply_image(s.image, mul.data());
}

void LinearContrast::apply(Sample& s, Rng& rng) const {
  const auto alpha = draw_per_channel(alpha_, per_channel_, s.image.channels, rng);
  if (!s.image.empty()) linear_contrast_image(s.image, alpha.data());
}

int gaussian_kernel_size(double sigma) {
  double k = sigma < 3.0 ? 3.3 * sigma : sigma < 5.0 ? 2.9 * sigma : 2.6 * sigma;
  int ksize = int(std::max(k, 5.0));
  if (ksize % 2 == 0) ksize += 1;
  return ksize;
}

void gaussian_blur_image(Image& im, double sigma) {
  if (!(sigma > 1e-3) || im.empty()) return;
  const int ksize = gaussian_kernel_size(sigma), r = ksize / 2;
  std::vector<float> kernel(static_cast<size_t>(ksize));
  double sum = 0;
  for (int i = 0; i < ksize; ++i) {
    const double x = i - (ksize - 1) / 2.0;
    kernel[size_t(i)] = float(std::exp(-x * x / (2 * sigma * sigma)));
    sum += kernel[size_t(i)];
  }
  for (auto& k : kernel) k = float(k / sum);

  const int W = im.width, H = im.height, nc = im.channels;
  std::vector<float> tmp(size_t(W) * H * nc);
  std::vector<int> xs(size_t(W + 2 * r));
  for (int i = -r; i < W + r; ++i) xs[size_t(i + r)] = reflect101(i, W);
  for (int y = 0; y < H; ++y) {
    const uint8_t* row = im.pixels.data() + size_t(y) * W * nc;
    float* out = tmp.data() + size_t(y) * W * nc;
    for (int x = 0; x < W; ++x)
      for (int c = 0; c < nc; ++c) {
        float acc = 0;
        for (int k = 0; k < ksize; ++k) acc += kernel[size_t(k)] * row[size_t(xs[size_t(x + k)]) * nc + c];
        out[size_t(x) * nc + c] = acc;
      }
  }
  const size_t stride = size_t(W) * nc;
  std::vector<const float*> rows(static_cast<size_t>(ksize));
  for (int y = 0; y < H; ++y) {
    for (int k = 0; k < ksize; ++k) rows[size_t(k)] = tmp.data() + size_t(reflect101(y + k - r, H)) * stride;
    uint8_t* out = im.pixels.data() + size_t(y) * stride;
    for (size_t i = 0; i < stride; ++i) {
      float acc = 0;
      for (int k = 0; k < ksize; ++k) acc += kernel[size_t(k)] * rows[size_t(k)][i];
      out[i] = uint8_t(std::clamp(std::nearbyint(acc), 0.0f, 255.0f));
    }
  }
}

void GaussianBlur::apply(Sample& s, Rng& rng) const { gaussian_blur_image(s.image, sigma_.draw(rng)); }

void AdditiveGaussianNoise::apply(Sample& s, Rng& rng) const {
  const bool per = rng.bernoulli(per_channel_);
  const double loc = loc_.draw(rng), scale = scale_.draw(rng);
  const int nc = s.image.channels;
  const size_t n = size_t(s.image.width) * s.image.height;
  uint8_t* p = s.image.pixels.data();
  auto add = [](uint8_t v, double noise) {
    const double q = std::clamp(std::nearbyint(noise), -255.0, 255.0);
    return uint8_t(std::clamp(int(v) + int(q), 0, 255));
  };
  if (scale == 0) {  // no randomness needed: loc alone is added
    for (size_t i = 0; i < n * size_t(nc); ++i) p[i] = add(p[i], loc);
    return;
  }
  for (size_t i = 0; i < n; ++i, p += nc) {
    if (per) {
      for (int k = 0; k < nc; ++k) p[k] = add(p[k], rng.normal(loc, scale));
    } else {
      const double noise = rng.normal(loc, scale);
      for (int k = 0; k < nc; ++k) p[k] = add(p[k], noise);
    }
  }
}

}  // namespace mrc::data::aug
