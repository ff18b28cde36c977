// Resize kernels, matterport / torchvision resize plans and mini-masks (see resize.h).
#include "data/resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "data/rasterize.h"

namespace mrc::data {

namespace {

constexpr int kCoefBits = 11;
constexpr int kCoefScale = 1 << kCoefBits;

// For each destination index: the two source indices and the fixed-point weight of the first.
struct Taps {
  std::vector<int> i0, i1;
  std::vector<int> w0;   // weight of i0 in 1/2048; i1 gets 2048 - w0
};

Taps linear_taps(int in, int out) {
  Taps t;
  t.i0.resize(size_t(out));
  t.i1.resize(size_t(out));
  t.w0.resize(size_t(out));
  const double scale = double(in) / double(out);
  for (int d = 0; d < out; ++d) {
    double f = (d + 0.5) * scale - 0.5;
    if (f < 0) f = 0;
    int s = int(std::floor(f));
    double frac = f - s;
    if (s >= in - 1) {
      s = in - 1;
      frac = 0;
    }
    t.i0[size_t(d)] = s;
    t.i1[size_t(d)] = std::min(s + 1, in - 1);
    t.w0[size_t(d)] = int(std::lround((1.0 - frac) * kCoefScale));
  }
  return t;
}

template <int C>
void hresize_row(const uint8_t* src, int32_t* dst, const Taps& tx, int out_w, int channels) {
  const int nc = C > 0 ? C : channels;
  for (int x = 0; x < out_w; ++x) {
    const uint8_t* a = src + size_t(tx.i0[size_t(x)]) * nc;
    const uint8_t* b = src + size_t(tx.i1[size_t(x)]) * nc;
    const int w0 = tx.w0[size_t(x)], w1 = kCoefScale - w0;
    for (int k = 0; k < nc; ++k) dst[size_t(x) * nc + k] = a[k] * w0 + b[k] * w1;
  }
}

template <int C>
void resize_bilinear_impl(const Image& src, Image& dst) {
  const int nc = src.channels;
  const Taps tx = linear_taps(src.width, dst.width), ty = linear_taps(src.height, dst.height);
  const size_t row = size_t(dst.width) * nc;
  std::vector<int32_t> buf0(row), buf1(row);
  int have0 = -1, have1 = -1;   // source rows held in buf0 / buf1
  const size_t sstride = size_t(src.width) * nc;
  for (int y = 0; y < dst.height; ++y) {
    const int r0 = ty.i0[size_t(y)], r1 = ty.i1[size_t(y)];
    if (have0 != r0) {
      if (have1 == r0) {
        std::swap(buf0, buf1);
        std::swap(have0, have1);
      } else {
        hresize_row<C>(src.pixels.data() + size_t(r0) * sstride, buf0.data(), tx, dst.width, nc);
        have0 = r0;
      }
    }
    if (have1 != r1) {
      hresize_row<C>(src.pixels.data() + size_t(r1) * sstride, buf1.data(), tx, dst.width, nc);
      have1 = r1;
    }
    // 255 * 2048 * 2048 + 2^21 < 2^31: the sum fits int32, which lets the loop vectorize.
    const int32_t w0 = ty.w0[size_t(y)], w1 = kCoefScale - w0;
    uint8_t* d = dst.pixels.data() + size_t(y) * row;
    const int32_t* b0 = buf0.data();
    const int32_t* b1 = buf1.data();
    for (size_t i = 0; i < row; ++i) d[i] = uint8_t((b0[i] * w0 + b1[i] * w1 + (1 << (2 * kCoefBits - 1))) >> (2 * kCoefBits));
  }
}

int round_half_even(double v) { return int(std::nearbyint(v)); }

}  // namespace

Image resize_bilinear(const Image& src, int out_width, int out_height) {
  if (out_width <= 0 || out_height <= 0) throw std::invalid_argument("resize_bilinear: output size must be positive");
  if (src.width <= 0 || src.height <= 0) throw std::invalid_argument("resize_bilinear: empty input image");
  Image dst(out_width, out_height, src.channels);
  if (out_width == src.width && out_height == src.height) {
    dst.pixels = src.pixels;
    return dst;
  }
  if (src.channels == 3)
    resize_bilinear_impl<3>(src, dst);
  else if (src.channels == 1)
    resize_bilinear_impl<1>(src, dst);
  else
    resize_bilinear_impl<0>(src, dst);
  return dst;
}

Mask resize_mask(const Mask& src, int out_width, int out_height, MaskResample how) {
  if (out_width <= 0 || out_height <= 0) throw std::invalid_argument("resize_mask: output size must be positive");
  if (src.width <= 0 || src.height <= 0) throw std::invalid_argument("resize_mask: empty input mask");
  if (how == MaskResample::Bilinear) {
    // In double, as skimage.transform.resize(order=1) computes it, then > 0.5 (np.around).
    auto taps = [](int in, int out, std::vector<int>& i0, std::vector<double>& w1) {
      i0.resize(static_cast<size_t>(out));
      w1.resize(static_cast<size_t>(out));
      const double scale = double(in) / double(out);
      for (int d = 0; d < out; ++d) {
        const double f = std::clamp((d + 0.5) * scale - 0.5, 0.0, double(in - 1));
        const int s = std::min(int(std::floor(f)), in - 1);
        i0[size_t(d)] = s;
        w1[size_t(d)] = f - s;
      }
    };
    std::vector<int> x0, y0;
    std::vector<double> wx, wy;
    taps(src.width, out_width, x0, wx);
    taps(src.height, out_height, y0, wy);
    auto px = [&](int x, int y) { return src.at(std::min(x, src.width - 1), std::min(y, src.height - 1)) ? 1.0 : 0.0; };
    Mask out(out_width, out_height);
    for (int y = 0; y < out_height; ++y) {
      const int sy = y0[size_t(y)];
      const double b = wy[size_t(y)];
      for (int x = 0; x < out_width; ++x) {
        const int sx = x0[size_t(x)];
        const double a = wx[size_t(x)];
        const double top = px(sx, sy) * (1 - a) + px(sx + 1, sy) * a;
        const double bottom = px(sx, sy + 1) * (1 - a) + px(sx + 1, sy + 1) * a;
        out.at(x, y) = top * (1 - b) + bottom * b > 0.5;
      }
    }
    return out;
  }
  auto index_map = [how](int in, int out) {
    std::vector<int> m(static_cast<size_t>(out));
    for (int d = 0; d < out; ++d) {
      int s = 0;
      if (how == MaskResample::Nearest) {
        s = int(std::floor(d * (double(in) / out)));
      } else if (how == MaskResample::NearestCentre) {
        s = int(std::floor((d + 0.5) * (double(in) / out)));
      } else {  // AlignCorners
        s = out > 1 ? int(std::floor(d * (double(in - 1) / (out - 1)) + 0.5)) : 0;
      }
      m[size_t(d)] = std::clamp(s, 0, in - 1);
    }
    return m;
  };
  const auto mx = index_map(src.width, out_width), my = index_map(src.height, out_height);
  Mask out(out_width, out_height);
  for (int y = 0; y < out_height; ++y) {
    const uint8_t* s = src.pixels.data() + size_t(my[size_t(y)]) * src.width;
    uint8_t* d = out.pixels.data() + size_t(y) * out_width;
    for (int x = 0; x < out_width; ++x) d[x] = s[mx[size_t(x)]];
  }
  return out;
}

ResizeMode parse_resize_mode(const std::string& name) {
  if (name == "none") return ResizeMode::None;
  if (name == "square") return ResizeMode::Square;
  if (name == "pad64") return ResizeMode::Pad64;
  if (name == "crop") return ResizeMode::Crop;
  if (name == "torchvision") return ResizeMode::Torchvision;
  throw std::invalid_argument("unknown resize mode \"" + name + "\": expected none, square, pad64, crop or torchvision");
}

const char* resize_mode_name(ResizeMode mode) {
  switch (mode) {
    case ResizeMode::None: return "none";
    case ResizeMode::Square: return "square";
    case ResizeMode::Pad64: return "pad64";
    case ResizeMode::Crop: return "crop";
    case ResizeMode::Torchvision: return "torchvision";
  }
  return "?";
}

ResizeConfig ResizeConfig::matterport(ResizeMode mode, int min_dim, int max_dim, double min_scale) {
  ResizeConfig c;
  c.mode = mode;
  c.min_dim = min_dim;
  c.max_dim = max_dim;
  c.min_scale = min_scale;
  c.masks = MaskResample::AlignCorners;
  return c;
}

ResizeConfig ResizeConfig::torchvision(int min_size, int max_size, int size_divisible) {
  ResizeConfig c;
  c.mode = ResizeMode::Torchvision;
  c.min_dim = min_size;
  c.max_dim = max_size;
  c.size_divisible = size_divisible;
  c.masks = MaskResample::Nearest;
  return c;
}

Box ResizePlan::to_original(const Box& b) const {
  const double sx = scale_x(), sy = scale_y();
  const double ox = double(window.x1) - crop_x, oy = double(window.y1) - crop_y;
  auto cx = [&](double v) { return float(std::clamp((v - ox) / sx, 0.0, double(in_width))); };
  auto cy = [&](double v) { return float(std::clamp((v - oy) / sy, 0.0, double(in_height))); };
  return Box{cx(b.x1), cy(b.y1), cx(b.x2), cy(b.y2)};
}

Box ResizePlan::to_output(const Box& b) const {
  const double sx = scale_x(), sy = scale_y();
  const double ox = double(window.x1) - crop_x, oy = double(window.y1) - crop_y;
  return Box{float(b.x1 * sx + ox), float(b.y1 * sy + oy), float(b.x2 * sx + ox), float(b.y2 * sy + oy)};
}

ResizePlan plan_resize(int width, int height, const ResizeConfig& cfg, aug::Rng* rng) {
  if (width <= 0 || height <= 0)
    throw std::invalid_argument("plan_resize: image size " + std::to_string(width) + "x" + std::to_string(height) +
                                " is empty");
  ResizePlan p;
  p.in_width = p.out_width = p.resized_width = width;
  p.in_height = p.out_height = p.resized_height = height;
  p.window = Window{0, 0, height, width};
  if (cfg.mode == ResizeMode::None) return p;

  if (cfg.mode == ResizeMode::Torchvision) {
    // GeneralizedRCNNTransform: min_size / tensor(min side, float32), which torch evaluates as
    // reciprocal(min side) * min_size in float32 (Tensor.__rtruediv__); the output size is then
    // floor(size * scale) in double (interpolate with recompute_scale_factor=True).
    const float mn = float(std::min(width, height)), mx = float(std::max(width, height));
    const float by_min = (1.0f / mn) * float(cfg.min_dim), by_max = (1.0f / mx) * float(cfg.max_dim);
    const float scale = std::min(by_min, by_max);
    p.scale = double(scale);
    p.resized_width = int(std::floor(double(width) * p.scale));
    p.resized_height = int(std::floor(double(height) * p.scale));
    const int div = std::max(cfg.size_divisible, 1);
    p.out_width = (p.resized_width + div - 1) / div * div;
    p.out_height = (p.resized_height + div - 1) / div * div;
    p.pad_right = p.out_width - p.resized_width;
    p.pad_bottom = p.out_height - p.resized_height;
    p.window = Window{0, 0, p.resized_height, p.resized_width};
    return p;
  }

  // matterport utils.resize_image
  double scale = 1;
  if (cfg.min_dim > 0) scale = std::max(1.0, double(cfg.min_dim) / std::min(width, height));
  if (cfg.min_scale > 0 && scale < cfg.min_scale) scale = cfg.min_scale;
  if (cfg.max_dim > 0 && cfg.mode == ResizeMode::Square) {
    const int image_max = std::max(width, height);
    if (round_half_even(image_max * scale) > cfg.max_dim) scale = double(cfg.max_dim) / image_max;
  }
  p.scale = scale;
  if (scale != 1) {
    p.resized_width = round_half_even(width * scale);
    p.resized_height = round_half_even(height * scale);
  }
  const int h = p.resized_height, w = p.resized_width;
  if (cfg.mode == ResizeMode::Square) {
    if (h > cfg.max_dim || w > cfg.max_dim)
      throw std::invalid_argument("plan_resize: square mode needs IMAGE_MAX_DIM >= the resized size");
    p.pad_top = (cfg.max_dim - h) / 2;
    p.pad_bottom = cfg.max_dim - h - p.pad_top;
    p.pad_left = (cfg.max_dim - w) / 2;
    p.pad_right = cfg.max_dim - w - p.pad_left;
  } else if (cfg.mode == ResizeMode::Pad64) {
    if (cfg.min_dim % 64 != 0)
      throw std::invalid_argument("plan_resize: pad64 mode needs IMAGE_MIN_DIM to be a multiple of 64, got " +
                                  std::to_string(cfg.min_dim));
    auto split = [](int n, int& lo, int& hi) {
      if (n % 64 > 0) {
        const int m = n - n % 64 + 64;
        lo = (m - n) / 2;
        hi = m - n - lo;
      } else {
        lo = hi = 0;
      }
    };
    split(h, p.pad_top, p.pad_bottom);
    split(w, p.pad_left, p.pad_right);
  } else if (cfg.mode == ResizeMode::Crop) {
    const int d = cfg.min_dim;
    if (h < d || w < d)
      throw std::invalid_argument("plan_resize: crop mode needs the scaled photo (" + std::to_string(w) + "x" +
                                  std::to_string(h) + ") to be at least IMAGE_MIN_DIM=" + std::to_string(d));
    p.cropped = true;
    p.crop_y = rng ? int(rng->integer(0, h - d)) : (h - d) / 2;
    p.crop_x = rng ? int(rng->integer(0, w - d)) : (w - d) / 2;
    p.out_width = p.out_height = d;
    p.window = Window{0, 0, d, d};
    return p;
  }
  p.out_width = w + p.pad_left + p.pad_right;
  p.out_height = h + p.pad_top + p.pad_bottom;
  p.window = Window{p.pad_top, p.pad_left, h + p.pad_top, w + p.pad_left};
  return p;
}

namespace {
// Places `src` (already at the resized size) into the output: pad with zeros or crop.
template <class Px, class Plane>
Plane place(const Plane& src, const ResizePlan& p, int channels, Plane out) {
  const size_t nc = size_t(channels);
  for (int y = 0; y < p.out_height; ++y) {
    int sy, x0, sx0, n;
    if (p.cropped) {
      sy = y + p.crop_y;
      x0 = 0;
      sx0 = p.crop_x;
      n = p.out_width;
    } else {
      sy = y - p.pad_top;
      x0 = p.pad_left;
      sx0 = 0;
      n = p.resized_width;
    }
    if (sy < 0 || sy >= p.resized_height) continue;
    const Px* s = src.pixels.data() + (size_t(sy) * p.resized_width + size_t(sx0)) * nc;
    Px* d = out.pixels.data() + (size_t(y) * p.out_width + size_t(x0)) * nc;
    std::copy(s, s + size_t(n) * nc, d);
  }
  return out;
}
}  // namespace

Image apply_resize(const Image& image, const ResizePlan& p) {
  if (image.width != p.in_width || image.height != p.in_height)
    throw std::invalid_argument("apply_resize: image size does not match the plan");
  const Image scaled = (p.resized_width == image.width && p.resized_height == image.height)
                           ? image
                           : resize_bilinear(image, p.resized_width, p.resized_height);
  if (p.out_width == p.resized_width && p.out_height == p.resized_height && !p.cropped) return scaled;
  return place<uint8_t>(scaled, p, image.channels, Image(p.out_width, p.out_height, image.channels));
}

Mask apply_resize(const Mask& mask, const ResizePlan& p, MaskResample how) {
  if (mask.width != p.in_width || mask.height != p.in_height)
    throw std::invalid_argument("apply_resize: mask size does not match the plan");
  const Mask scaled = (p.resized_width == mask.width && p.resized_height == mask.height)
                          ? mask
                          : resize_mask(mask, p.resized_width, p.resized_height, how);
  if (p.out_width == p.resized_width && p.out_height == p.resized_height && !p.cropped) return scaled;
  return place<uint8_t>(scaled, p, 1, Mask(p.out_width, p.out_height));
}

void apply_resize(Sample& sample, const ResizePlan& plan, MaskResample how) {
  sample.image = apply_resize(sample.image, plan);
  std::vector<Instance> kept;
  for (auto& inst : sample.instances) {
    inst.mask = apply_resize(inst.mask, plan, how);
    inst.box = mask_to_box(inst.mask);
    if (inst.box.x2 > inst.box.x1 && inst.box.y2 > inst.box.y1) kept.push_back(std::move(inst));
  }
  sample.instances = std::move(kept);
}

Mask minimize_mask(const Mask& mask, const Box& box, int mini_width, int mini_height) {
  const int x1 = std::max(0, int(std::floor(box.x1))), y1 = std::max(0, int(std::floor(box.y1)));
  const int x2 = std::min(mask.width, int(std::ceil(box.x2))), y2 = std::min(mask.height, int(std::ceil(box.y2)));
  if (x2 <= x1 || y2 <= y1) throw std::invalid_argument("minimize_mask: box with zero area");
  Mask crop(x2 - x1, y2 - y1);
  for (int y = y1; y < y2; ++y)
    std::copy(mask.pixels.begin() + (size_t(y) * mask.width + x1), mask.pixels.begin() + (size_t(y) * mask.width + x2),
              crop.pixels.begin() + size_t(y - y1) * crop.width);
  return resize_mask(crop, mini_width, mini_height, MaskResample::Bilinear);
}

Mask expand_mask(const Mask& mini, const Box& box, int image_width, int image_height) {
  const int x1 = int(std::floor(box.x1)), y1 = int(std::floor(box.y1));
  const int x2 = int(std::ceil(box.x2)), y2 = int(std::ceil(box.y2));
  Mask out(image_width, image_height);
  if (x2 <= x1 || y2 <= y1) return out;
  const Mask m = resize_mask(mini, x2 - x1, y2 - y1, MaskResample::Bilinear);
  for (int y = std::max(y1, 0); y < std::min(y2, image_height); ++y)
    for (int x = std::max(x1, 0); x < std::min(x2, image_width); ++x) out.at(x, y) = m.at(x - x1, y - y1);
  return out;
}

}  // namespace mrc::data
