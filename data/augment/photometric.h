// Photometric augmenters with imgaug 0.4's uint8 semantics. They change the image only; masks and
// boxes are untouched. per_channel is a probability: for that fraction of the samples one value
// is drawn per channel, otherwise one value for all channels (true = 1, false = 0).
#pragma once
#include "data/augment/augmenter.h"

namespace mrc::data::aug {

// v -> clip(v * mul, 0, 255), truncated to an integer (imgaug's uint8 lookup table, float32 math).
class Multiply : public Augmenter {
 public:
  Multiply(Param mul, double per_channel) : mul_(std::move(mul)), per_channel_(per_channel) {}
  std::string name() const override { return "Multiply"; }
  void apply(Sample& sample, Rng& rng) const override;

 private:
  Param mul_;
  double per_channel_;
};

// v -> clip(127 + alpha * (v - 127), 0, 255), truncated. imgaug's centre for uint8 is
// int(0.5 * 255) = 127 (its docstrings say 128). ContrastNormalization is the same augmenter
// (imgaug 0.4 turned it into a deprecated alias).
class LinearContrast : public Augmenter {
 public:
  LinearContrast(Param alpha, double per_channel, std::string name = "LinearContrast")
      : alpha_(std::move(alpha)), per_channel_(per_channel), name_(std::move(name)) {}
  std::string name() const override { return name_; }
  void apply(Sample& sample, Rng& rng) const override;

 private:
  Param alpha_;
  double per_channel_;
  std::string name_;
};

// Gaussian blur with standard deviation sigma (pixels); sigma <= 0.001 leaves the image alone.
// Kernel size as imgaug picks it for cv2.GaussianBlur (3.3 sigma below 3, 2.9 sigma below 5,
// 2.6 sigma above, at least 5, made odd), border reflect-101.
class GaussianBlur : public Augmenter {
 public:
  explicit GaussianBlur(Param sigma) : sigma_(std::move(sigma)) {}
  std::string name() const override { return "GaussianBlur"; }
  void apply(Sample& sample, Rng& rng) const override;

 private:
  Param sigma_;
};

// Adds N(loc, scale) noise, scale in 0..255 units (imgaug: scale=0.05*255 is 5 % of the range).
// loc and scale are drawn once per sample; the noise per pixel (and per channel when per-channel),
// rounded half to even, then the sum clipped to 0..255.
class AdditiveGaussianNoise : public Augmenter {
 public:
  AdditiveGaussianNoise(Param loc, Param scale, double per_channel)
      : loc_(std::move(loc)), scale_(std::move(scale)), per_channel_(per_channel) {}
  std::string name() const override { return "AdditiveGaussianNoise"; }
  void apply(Sample& sample, Rng& rng) const override;

 private:
  Param loc_, scale_;
  double per_channel_;
};

// Low-level kernels (also used by the tests against imgaug).
void multiply_image(Image& image, const float* mul_per_channel);        // one factor per channel
void linear_contrast_image(Image& image, const float* alpha_per_channel);
int gaussian_kernel_size(double sigma);
void gaussian_blur_image(Image& image, double sigma);

}  // namespace mrc::data::aug
