// Affine warps and flips (see warp.h). Fixed-point layout as in OpenCV's warpAffine: coordinates
// carry 10 fractional bits while being accumulated, then are rounded to 5 bits (1/32 pixel) for
// bilinear sampling or to whole pixels for nearest.
#include "data/augment/warp.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <stdexcept>

namespace mrc::data::aug {

AffineMatrix operator*(const AffineMatrix& l, const AffineMatrix& r) {
  return {l.a * r.a + l.b * r.d, l.a * r.b + l.b * r.e, l.a * r.c + l.b * r.f + l.c,
          l.d * r.a + l.e * r.d, l.d * r.b + l.e * r.e, l.d * r.c + l.e * r.f + l.f};
}

AffineMatrix inverse(const AffineMatrix& m) {
  double det = m.a * m.e - m.b * m.d;
  det = det != 0.0 ? 1.0 / det : 0.0;
  AffineMatrix r;
  r.a = m.e * det;
  r.e = m.a * det;
  r.b = -m.b * det;
  r.d = -m.d * det;
  r.c = -r.a * m.c - r.b * m.f;
  r.f = -r.d * m.c - r.e * m.f;
  return r;
}

bool is_identity(const AffineMatrix& m, double eps) {
  const double s = std::abs(m.a - 1) + std::abs(m.b) + std::abs(m.c) + std::abs(m.d) + std::abs(m.e - 1) +
                   std::abs(m.f);
  return s / 9.0 <= eps;  // the 3x3 mean, the bottom row being exact
}

namespace {

constexpr int kAbBits = 10;
constexpr double kAbScale = double(1 << kAbBits);
constexpr int kInterBits = 5;
constexpr int kTab = 1 << kInterBits;

int64_t round_fixed(double v) {
  v *= kAbScale;
  if (v >= double(INT64_MAX / 4)) return INT64_MAX / 4;
  if (v <= double(INT64_MIN / 4)) return INT64_MIN / 4;
  return int64_t(std::nearbyint(v));   // round half to even, like cvRound
}

// Per-column and per-row parts of the inverse map in fixed point.
struct FixedMap {
  std::vector<int64_t> adelta, bdelta;   // inv.a * x, inv.d * x
  AffineMatrix inv;
  FixedMap(const AffineMatrix& forward, int out_width) : inv(inverse(forward)) {
    adelta.resize(size_t(out_width));
    bdelta.resize(size_t(out_width));
    for (int x = 0; x < out_width; ++x) {
      adelta[size_t(x)] = round_fixed(inv.a * x);
      bdelta[size_t(x)] = round_fixed(inv.d * x);
    }
  }
  int64_t row_x(int y) const { return round_fixed(inv.b * y + inv.c); }
  int64_t row_y(int y) const { return round_fixed(inv.e * y + inv.f); }
};

template <int C>
void warp_bilinear(const Image& src, Image& dst, const FixedMap& map, const uint8_t* cval, int channels) {
  const int nc = C > 0 ? C : channels;
  const int W = src.width, H = src.height;
  const size_t stride = size_t(W) * nc;
  const uint8_t* s = src.pixels.data();
  constexpr int64_t round_delta = (1 << kAbBits) / kTab / 2;
  for (int y = 0; y < dst.height; ++y) {
    const int64_t X0 = map.row_x(y) + round_delta, Y0 = map.row_y(y) + round_delta;
    uint8_t* d = dst.pixels.data() + size_t(y) * dst.width * nc;
    for (int x = 0; x < dst.width; ++x, d += nc) {
      const int64_t X = (X0 + map.adelta[size_t(x)]) >> (kAbBits - kInterBits);
      const int64_t Y = (Y0 + map.bdelta[size_t(x)]) >> (kAbBits - kInterBits);
      const int64_t sx = X >> kInterBits, sy = Y >> kInterBits;
      const int fx = int(X & (kTab - 1)), fy = int(Y & (kTab - 1));
      const int w00 = (kTab - fx) * (kTab - fy), w01 = fx * (kTab - fy), w10 = (kTab - fx) * fy, w11 = fx * fy;
      if (uint64_t(sx) < uint64_t(W - 1) && uint64_t(sy) < uint64_t(H - 1)) {
        const uint8_t* p = s + size_t(sy) * stride + size_t(sx) * nc;
        for (int k = 0; k < nc; ++k)
          d[k] = uint8_t((p[k] * w00 + p[k + nc] * w01 + p[k + stride] * w10 + p[k + stride + nc] * w11 + 512) >> 10);
      } else if (sx >= -1 && sx < W && sy >= -1 && sy < H) {
        const bool x0in = sx >= 0, x1in = sx + 1 < W, y0in = sy >= 0, y1in = sy + 1 < H;
        for (int k = 0; k < nc; ++k) {
          auto px = [&](bool in, int64_t xx, int64_t yy) {
            return in ? int(s[size_t(yy) * stride + size_t(xx) * nc + k]) : int(cval[k]);
          };
          const int v = px(x0in && y0in, sx, sy) * w00 + px(x1in && y0in, sx + 1, sy) * w01 +
                        px(x0in && y1in, sx, sy + 1) * w10 + px(x1in && y1in, sx + 1, sy + 1) * w11;
          d[k] = uint8_t((v + 512) >> 10);
        }
      } else {
        for (int k = 0; k < nc; ++k) d[k] = cval[k];
      }
    }
  }
}

// Source offset (pixel index) of each destination pixel under nearest sampling; -1 outside.
void nearest_offsets(int W, int H, int out_w, int out_h, const FixedMap& map, std::vector<int32_t>& off) {
  if (int64_t(W) * H >= INT32_MAX) throw std::invalid_argument("warp_affine: image too large");
  off.resize(size_t(out_w) * out_h);
  constexpr int64_t round_delta = (1 << kAbBits) / 2;
  for (int y = 0; y < out_h; ++y) {
    const int64_t X0 = map.row_x(y) + round_delta, Y0 = map.row_y(y) + round_delta;
    int32_t* o = off.data() + size_t(y) * out_w;
    for (int x = 0; x < out_w; ++x) {
      const int64_t sx = (X0 + map.adelta[size_t(x)]) >> kAbBits;
      const int64_t sy = (Y0 + map.bdelta[size_t(x)]) >> kAbBits;
      o[x] = (uint64_t(sx) < uint64_t(W) && uint64_t(sy) < uint64_t(H)) ? int32_t(sy * W + sx) : -1;
    }
  }
}

}  // namespace

Image warp_affine(const Image& src, const AffineMatrix& forward, int out_width, int out_height, Interp interp,
                  const uint8_t* cval) {
  if (out_width < 0 || out_height < 0) throw std::invalid_argument("warp_affine: negative output size");
  const int nc = src.channels;
  uint8_t zeros[16] = {0};
  if (!cval) cval = zeros;
  Image dst(out_width, out_height, nc);
  if (dst.pixels.empty()) return dst;
  if (src.pixels.empty()) {
    for (size_t i = 0; i < dst.pixels.size(); ++i) dst.pixels[i] = cval[i % size_t(nc)];
    return dst;
  }
  const FixedMap map(forward, out_width);
  if (interp == Interp::Bilinear) {
    if (nc == 3)
      warp_bilinear<3>(src, dst, map, cval, nc);
    else if (nc == 1)
      warp_bilinear<1>(src, dst, map, cval, nc);
    else
      warp_bilinear<0>(src, dst, map, cval, nc);
    return dst;
  }
  std::vector<int32_t> off;
  nearest_offsets(src.width, src.height, out_width, out_height, map, off);
  for (size_t i = 0; i < off.size(); ++i) {
    uint8_t* d = dst.pixels.data() + i * nc;
    if (off[i] >= 0) {
      const uint8_t* p = src.pixels.data() + size_t(off[i]) * nc;
      for (int k = 0; k < nc; ++k) d[k] = p[k];
    } else {
      for (int k = 0; k < nc; ++k) d[k] = cval[k];
    }
  }
  return dst;
}

void warp_affine_masks(std::vector<Instance>& instances, const AffineMatrix& forward, int out_width, int out_height) {
  if (instances.empty()) return;
  const int W = instances[0].mask.width, H = instances[0].mask.height;
  const FixedMap map(forward, out_width);
  std::vector<int32_t> off;
  nearest_offsets(W, H, out_width, out_height, map, off);
  for (auto& inst : instances) {
    if (inst.mask.width != W || inst.mask.height != H)
      throw std::invalid_argument("warp_affine_masks: instance masks differ in size");
    Mask out(out_width, out_height);
    const uint8_t* s = inst.mask.pixels.data();
    uint8_t* d = out.pixels.data();
    for (size_t i = 0; i < off.size(); ++i) d[i] = off[i] >= 0 ? s[off[i]] : uint8_t(0);
    inst.mask = std::move(out);
  }
}

Mask warp_affine_mask(const Mask& src, const AffineMatrix& forward, int out_width, int out_height) {
  std::vector<Instance> one(1);
  one[0].mask = src;
  warp_affine_masks(one, forward, out_width, out_height);
  return std::move(one[0].mask);
}

namespace {
template <class Px>
void flip_rows(Px* data, int width, int height, int channels) {
  for (int y = 0; y < height; ++y) {
    Px* row = data + size_t(y) * width * channels;
    for (int l = 0, r = width - 1; l < r; ++l, --r)
      for (int k = 0; k < channels; ++k) std::swap(row[size_t(l) * channels + k], row[size_t(r) * channels + k]);
  }
}
void flip_cols(uint8_t* data, int width, int height, int channels) {
  const size_t stride = size_t(width) * channels;
  for (int t = 0, b = height - 1; t < b; ++t, --b)
    std::swap_ranges(data + size_t(t) * stride, data + size_t(t + 1) * stride, data + size_t(b) * stride);
}
}  // namespace

void flip_horizontal(Image& im) { flip_rows(im.pixels.data(), im.width, im.height, im.channels); }
void flip_vertical(Image& im) { flip_cols(im.pixels.data(), im.width, im.height, im.channels); }
void flip_horizontal(Mask& m) { flip_rows(m.pixels.data(), m.width, m.height, 1); }
void flip_vertical(Mask& m) { flip_cols(m.pixels.data(), m.width, m.height, 1); }

}  // namespace mrc::data::aug
