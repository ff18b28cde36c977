// Geometric augmenters with imgaug 0.4's semantics: Fliplr, Flipud, Affine, Crop. They move the
// image and every instance mask together; masks are sampled nearest with fill 0.
#pragma once
#include <array>
#include <optional>

#include "data/augment/augmenter.h"
#include "data/augment/warp.h"

namespace mrc::data::aug {

// Flips each sample with probability p (imgaug's default p is 1).
class Fliplr : public Augmenter {
 public:
  explicit Fliplr(double p = 1.0) : p_(p) {}
  std::string name() const override { return "Fliplr"; }
  void apply(Sample& sample, Rng& rng) const override;

 private:
  double p_;
};

class Flipud : public Augmenter {
 public:
  explicit Flipud(double p = 1.0) : p_(p) {}
  std::string name() const override { return "Flipud"; }
  void apply(Sample& sample, Rng& rng) const override;

 private:
  double p_;
};

// imgaug.augmenters.Affine (constant fill). Parameter meanings, as imgaug 0.4:
//  scale: factor; one Param draws one value for both axes, {"x":..,"y":..} draws per axis.
//  translate_percent: fraction of the image width/height (0.1 = 10 %); translate_px: pixels
//    (discrete); one Param -> the same value on both axes, per axis with x/y.
//  rotate: degrees, clockwise on screen (y axis down).
//  shear: degrees; a single number shears along x only, a range or choice draws one value used
//    for both x and y (imgaug 0.4 does exactly this), {"x":..,"y":..} draws per axis.
//  order: 0 nearest, 1 bilinear (a Param: {"choice": [0, 1]} picks per sample).
//  cval: fill value, drawn per channel (as imgaug, truncated to an integer).
// The transform is centred on the image centre ((w-1)/2, (h-1)/2 in pixel-centre coordinates).
struct AffineSettings {
  Param scale_x = Param::constant(1), scale_y = Param::constant(1);
  bool scale_per_axis = false;
  enum class Translate { Percent, Pixels } translate_mode = Translate::Percent;
  Param translate_x = Param::constant(0), translate_y = Param::constant(0);
  bool translate_per_axis = false;
  Param rotate = Param::constant(0);
  enum class Shear { XOnly, SameBoth, PerAxis } shear_mode = Shear::XOnly;
  Param shear_x = Param::constant(0), shear_y = Param::constant(0);
  Param order = Param::constant(1);
  Param cval = Param::constant(0);
};

// One drawn set of Affine parameters (degrees, pixels).
struct AffineDraw {
  double scale_x = 1, scale_y = 1, translate_x_px = 0, translate_y_px = 0;
  double rotate_deg = 0, shear_x_deg = 0, shear_y_deg = 0;
};
// imgaug's _AffineSamplingResult.to_matrix for an image of this size (forward map).
AffineMatrix imgaug_affine_matrix(const AffineDraw& d, int width, int height);

class Affine : public Augmenter {
 public:
  explicit Affine(AffineSettings s) : s_(std::move(s)) {}
  std::string name() const override { return "Affine"; }
  void apply(Sample& sample, Rng& rng) const override;
  const AffineSettings& settings() const { return s_; }

 private:
  AffineSettings s_;
};

// imgaug.augmenters.Crop: removes rows/columns from each side, by a fraction of the side
// (percent) or pixels (px). One Param for all sides is drawn independently per side
// (sample_independently, default) or once for all four; four Params are top, right, bottom, left.
// Fractions are converted with round-half-even (np.round). Never crops below 1x1. keep_size
// (default true) resizes the crop back to the input size: bilinear for the image, nearest with
// centred pixels for the masks (imgaug uses cv2's INTER_AREA for the image and INTER_NEAREST, whose
// grid is half a pixel off, for the masks; we keep image and masks aligned instead).
struct CropSettings {
  bool percent = true;
  std::array<Param, 4> sides = {Param::constant(0), Param::constant(0), Param::constant(0), Param::constant(0)};
  bool one_param = true;              // sides[0] used for all four
  bool sample_independently = true;
  bool keep_size = true;
};

class Crop : public Augmenter {
 public:
  explicit Crop(CropSettings s) : s_(std::move(s)) {}
  std::string name() const override { return "Crop"; }
  void apply(Sample& sample, Rng& rng) const override;

  // imgaug's _crop_prevent_zero_size: amounts (top, right, bottom, left) reduced so >= 1x1 remains.
  static std::array<int, 4> prevent_zero_size(int height, int width, std::array<int, 4> trbl);

 private:
  CropSettings s_;
};

}  // namespace mrc::data::aug
