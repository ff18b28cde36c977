// Fliplr, Flipud, Affine and Crop (see geometric.h).
#include "data/augment/geometric.h"

#include <algorithm>
#include <cmath>

#include "data/resize.h"

namespace mrc::data::aug {

void Fliplr::apply(Sample& s, Rng& rng) const {
  if (!rng.bernoulli(p_)) return;
  flip_horizontal(s.image);
  for (auto& inst : s.instances) flip_horizontal(inst.mask);
}

void Flipud::apply(Sample& s, Rng& rng) const {
  if (!rng.bernoulli(p_)) return;
  flip_vertical(s.image);
  for (auto& inst : s.instances) flip_vertical(inst.mask);
}

namespace {

// skimage.transform.AffineTransform(scale, rotation, shear, translation) as of skimage 0.19.
AffineMatrix skimage_affine(double sx, double sy, double rot, double shear, double tx, double ty) {
  return {sx * std::cos(rot), -sy * std::sin(rot + shear), tx, sx * std::sin(rot), sy * std::cos(rot + shear), ty};
}

constexpr double kPi = 3.14159265358979323846;

}  // namespace

AffineMatrix imgaug_affine_matrix(const AffineDraw& d, int width, int height) {
  // imgaug 0.4 to_matrix with shift_add = (0.5, 0.5): centre at the middle pixel centre. shear_y is
  // built as rotate(-90°) · shear · rotate(+90°), i.e. an x-shear seen from the rotated frame.
  const double shift_x = width / 2.0 - 0.5, shift_y = height / 2.0 - 0.5;
  const double deg = kPi / 180.0;
  const AffineMatrix to_topleft = AffineMatrix::translation(-shift_x, -shift_y);
  const AffineMatrix rot_neg = skimage_affine(1, 1, -kPi / 2, 0, 0, 0);
  const AffineMatrix shear_y = skimage_affine(1, 1, 0, d.shear_y_deg * deg, 0, 0);
  const AffineMatrix rot_pos = skimage_affine(1, 1, kPi / 2, 0, 0, 0);
  const AffineMatrix transforms = skimage_affine(d.scale_x, d.scale_y, d.rotate_deg * deg, d.shear_x_deg * deg,
                                                 d.translate_x_px, d.translate_y_px);
  const AffineMatrix to_center = AffineMatrix::translation(shift_x, shift_y);
  // skimage's "A + B" applies A first: the product is written right to left.
  return to_center * transforms * rot_pos * shear_y * rot_neg * to_topleft;
}

void Affine::apply(Sample& s, Rng& rng) const {
  const int W = s.image.width, H = s.image.height;
  AffineDraw d;
  d.scale_x = s_.scale_x.draw(rng);
  d.scale_y = s_.scale_per_axis ? s_.scale_y.draw(rng) : d.scale_x;
  double tx = s_.translate_x.draw(rng);
  double ty = s_.translate_per_axis ? s_.translate_y.draw(rng) : tx;
  if (s_.translate_mode == AffineSettings::Translate::Percent) {
    tx *= W;
    ty *= H;
  }
  d.translate_x_px = tx;
  d.translate_y_px = ty;
  d.rotate_deg = s_.rotate.draw(rng);
  d.shear_x_deg = s_.shear_x.draw(rng);
  switch (s_.shear_mode) {
    case AffineSettings::Shear::XOnly: d.shear_y_deg = 0; break;
    case AffineSettings::Shear::SameBoth: d.shear_y_deg = d.shear_x_deg; break;
    case AffineSettings::Shear::PerAxis: d.shear_y_deg = s_.shear_y.draw(rng); break;
  }
  const int order = int(s_.order.draw(rng));
  uint8_t cval[16] = {0};
  for (int c = 0; c < std::min(s.image.channels, 16); ++c)
    cval[c] = uint8_t(std::clamp(int(s_.cval.draw(rng)), 0, 255));

  if (W == 0 || H == 0) return;
  const AffineMatrix m = imgaug_affine_matrix(d, W, H);
  if (is_identity(m)) return;   // imgaug leaves such images untouched
  s.image = warp_affine(s.image, m, W, H, order == 0 ? Interp::Nearest : Interp::Bilinear, cval);
  warp_affine_masks(s.instances, m, W, H);
}

namespace {

// One axis of imgaug's _prevent_zero_sizes_after_crops_: when crops `first` + `second` leave under one
// pixel of `size`, give back 1 - remaining pixels, half to each side (the odd one to `first`), and what
// one side cannot give back to the other.
void regain_axis(int size, int& first, int& second) {
  const int remaining = size - (first + second);
  if (remaining >= 1) return;
  const int regain = std::abs(remaining) + 1;
  int rf = regain / 2, rs = regain / 2;
  if (rf + rs < regain) rf += 1;
  if (rf > first) {
    rs += rf - first;
    rf = first;
  } else if (rs > second) {
    rf += rs - second;
    rs = second;
  }
  first -= rf;
  second -= rs;
}

}  // namespace

std::array<int, 4> Crop::prevent_zero_size(int height, int width, std::array<int, 4> a) {
  regain_axis(height, a[0], a[2]);  // top, bottom
  regain_axis(width, a[1], a[3]);   // right, left
  for (int& v : a) v = std::max(v, 0);
  return a;
}

void Crop::apply(Sample& s, Rng& rng) const {
  const int W = s.image.width, H = s.image.height;
  std::array<double, 4> v;
  if (s_.one_param && !s_.sample_independently) {
    v.fill(s_.sides[0].draw(rng));
  } else {
    for (int i = 0; i < 4; ++i) v[size_t(i)] = (s_.one_param ? s_.sides[0] : s_.sides[size_t(i)]).draw(rng);
  }
  std::array<int, 4> px;
  for (int i = 0; i < 4; ++i) {
    const double side = (i % 2 == 0) ? H : W;   // top, right, bottom, left
    px[size_t(i)] = s_.percent ? int(std::nearbyint(side * v[size_t(i)])) : int(v[size_t(i)]);
  }
  if (W == 0 || H == 0) return;
  px = prevent_zero_size(H, W, px);
  const int x1 = px[3], y1 = px[0];
  const int cw = std::max(W - px[1] - x1, 0), ch = std::max(H - px[2] - y1, 0);
  if (cw == W && ch == H) return;

  const int nc = s.image.channels;
  Image cropped(cw, ch, nc);
  for (int y = 0; y < ch; ++y) {
    const uint8_t* src = s.image.at(x1, y1 + y);
    std::copy(src, src + size_t(cw) * nc, cropped.pixels.data() + size_t(y) * cw * nc);
  }
  s.image = s_.keep_size ? resize_bilinear(cropped, W, H) : std::move(cropped);
  for (auto& inst : s.instances) {
    Mask m(cw, ch);
    for (int y = 0; y < ch; ++y) {
      const uint8_t* src = inst.mask.pixels.data() + size_t(y1 + y) * W + x1;
      std::copy(src, src + cw, m.pixels.data() + size_t(y) * cw);
    }
    inst.mask = s_.keep_size ? resize_mask(m, W, H, MaskResample::NearestCentre) : std::move(m);
  }
}

}  // namespace mrc::data::aug
