// Shape rasterizers that reproduce the reference tools pixel for pixel (skimage 0.19's draw.polygon
// and draw.ellipse, pycocotools' rleFrPoly), mask utilities, and load_sample(). See rasterize.h.
//
// Exactness needs the same floating-point operations in the same order as the references, which were
// compiled without FMA: keep the compiler from contracting a*b+c into fused multiply-adds here.
#pragma GCC optimize("fp-contract=off")

#include "data/rasterize.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <stdexcept>

#include "data/rle.h"

namespace mrc::data {
namespace {

// Python's float % (result has the divisor's sign), as skimage applies it to the rotation.
// A pixel bound from a coordinate. Clamped first: converting a double beyond long's range (a vertex at
// 1e30 in a fuzzed file) is undefined behaviour; every clamped value still lies outside any image.
long pixel_bound(double v) {
  constexpr double kFar = 0x1p52;
  if (!(v > -kFar)) return -(long(1) << 52);  // NaN too
  if (!(v < kFar)) return long(1) << 52;
  return long(v);
}

double py_mod(double a, double b) {
  double m = std::fmod(a, b);
  if (m != 0) {
    if ((b < 0) != (m < 0)) m += b;
  } else {
    m = std::copysign(0.0, b);
  }
  return m;
}

std::string size_str(int w, int h) { return std::to_string(w) + "x" + std::to_string(h); }

}  // namespace

Mask rasterize_polygon(const std::vector<double>& xs, const std::vector<double>& ys, int width, int height) {
  if (xs.size() != ys.size())
    throw std::invalid_argument("rasterize_polygon: " + std::to_string(xs.size()) + " x coordinates but " +
                                std::to_string(ys.size()) + " y coordinates");
  Mask m(width, height);
  const size_t n = xs.size();
  if (n == 0 || width <= 0 || height <= 0) return m;
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(xs[i]) || !std::isfinite(ys[i]))
      throw std::invalid_argument("rasterize_polygon: vertex " + std::to_string(i) + " is not finite");

  // skimage visits the vertices' bounding box: int(max(0, min)) .. min(shape-1, int(ceil(max))).
  auto [rmin_it, rmax_it] = std::minmax_element(ys.begin(), ys.end());
  auto [cmin_it, cmax_it] = std::minmax_element(xs.begin(), xs.end());
  const long minr = pixel_bound(std::max(0.0, *rmin_it));
  const long maxr = std::min<long>(height - 1, pixel_bound(std::ceil(*rmax_it)));
  const long minc = pixel_bound(std::max(0.0, *cmin_it));
  const long maxc = std::min<long>(width - 1, pixel_bound(std::ceil(*cmax_it)));
  if (minr > maxr || minc > maxc) return m;
  const long ncols = maxc - minc + 1;

  // Per pixel, skimage counts edges crossing the horizontal ray to the right (r_cross) and to the
  // left (l_cross) with f = (x0*y1 - x1*y0)/(y1 - y0), the signed distance to the crossing; the pixel
  // is in when either count is odd (inside, or on an edge) or it sits on a vertex. f falls with x,
  // so only the pixels next to the crossing need the exact expression: the rest are decided by side
  // and handled as range toggles on a parity-difference array.
  std::vector<uint8_t> rdiff(static_cast<size_t>(ncols) + 1), ldiff(static_cast<size_t>(ncols) + 1),
      vertex(static_cast<size_t>(ncols));
  constexpr double eps = 1e-12;
  for (long r = minr; r <= maxr; ++r) {
    const double y = double(r);
    std::fill(rdiff.begin(), rdiff.end(), 0);
    std::fill(ldiff.begin(), ldiff.end(), 0);
    std::fill(vertex.begin(), vertex.end(), 0);
    auto toggle = [&](std::vector<uint8_t>& d, long a, long b) {  // columns a..b inclusive
      a = std::max(a, minc);
      b = std::min(b, maxc);
      if (a > b) return;
      d[size_t(a - minc)] ^= 1;
      d[size_t(b - minc + 1)] ^= 1;
    };
    for (size_t i = 0; i < n; ++i) {
      const size_t j = i == 0 ? n - 1 : i - 1;
      const double y0 = ys[i] - y, y1 = ys[j] - y;
      if (y0 > -eps && y0 < eps) {  // vertex test: |x0| < eps and |y0| < eps
        for (long c = pixel_bound(std::floor(xs[i])); c <= pixel_bound(std::ceil(xs[i])); ++c) {
          const double x0 = xs[i] - double(c);
          if (c >= minc && c <= maxc && x0 > -eps && x0 < eps) vertex[size_t(c - minc)] = 1;
        }
      }
      const bool rs = (y0 > 0) != (y1 > 0);
      const bool ls = (y0 < 0) != (y1 < 0);
      if (!rs && !ls) continue;
      const double xc = (xs[i] * y1 - xs[j] * y0) / (y1 - y0);  // where f changes sign
      const long lo = pixel_bound(std::floor(xc)) - 2, hi = pixel_bound(std::ceil(xc)) + 2;
      if (rs) toggle(rdiff, minc, lo - 1);  // f > 0 for sure
      if (ls) toggle(ldiff, hi + 1, maxc);  // f < 0 for sure
      for (long c = std::max(lo, minc); c <= std::min(hi, maxc); ++c) {
        const double x = double(c);
        const double x0 = xs[i] - x, x1 = xs[j] - x;
        const double f = (x0 * y1 - x1 * y0) / (y1 - y0);
        if (rs && f > 0) toggle(rdiff, c, c);
        if (ls && f < 0) toggle(ldiff, c, c);
      }
    }
    uint8_t rp = 0, lp = 0;
    uint8_t* row = m.pixels.data() + size_t(r) * width;
    for (long k = 0; k < ncols; ++k) {
      rp ^= rdiff[size_t(k)];
      lp ^= ldiff[size_t(k)];
      row[minc + k] = (rp | lp | vertex[size_t(k)]) ? 1 : 0;
    }
  }
  return m;
}

Mask rasterize_polygon(const std::vector<float>& xs, const std::vector<float>& ys, int width, int height) {
  return rasterize_polygon(std::vector<double>(xs.begin(), xs.end()), std::vector<double>(ys.begin(), ys.end()),
                           width, height);
}

Mask rasterize_ellipse(double cx, double cy, double rx, double ry, double theta, int width, int height) {
  Mask m(width, height);
  if (width <= 0 || height <= 0) return m;
  if (!std::isfinite(cx) || !std::isfinite(cy) || !std::isfinite(rx) || !std::isfinite(ry) || !std::isfinite(theta))
    throw std::invalid_argument("rasterize_ellipse: parameters must be finite");
  // skimage.draw.ellipse(r=cy, c=cx, r_radius=ry, c_radius=rx, rotation=-theta): the same steps.
  const double rot = py_mod(-theta, std::numbers::pi);
  const double r_rad_rot = std::fabs(ry * std::cos(rot)) + rx * std::sin(rot);
  const double c_rad_rot = ry * std::sin(rot) + std::fabs(rx * std::cos(rot));
  long ul_r = pixel_bound(std::ceil(cy - r_rad_rot)), ul_c = pixel_bound(std::ceil(cx - c_rad_rot));
  long lr_r = pixel_bound(std::floor(cy + r_rad_rot)), lr_c = pixel_bound(std::floor(cx + c_rad_rot));
  ul_r = std::max(ul_r, 0L);
  ul_c = std::max(ul_c, 0L);
  lr_r = std::min(lr_r, long(height) - 1);
  lr_c = std::min(lr_c, long(width) - 1);
  if (ul_r > lr_r || ul_c > lr_c) return m;
  const double sr = cy - double(ul_r), sc = cx - double(ul_c);  // centre within the bounding box
  const double rot2 = py_mod(rot, std::numbers::pi);
  const double sa = std::sin(rot2), ca = std::cos(rot2);
  for (long i = 0; i <= lr_r - ul_r; ++i) {
    const double r = double(i) - sr;
    for (long j = 0; j <= lr_c - ul_c; ++j) {
      const double c = double(j) - sc;
      const double a = (r * ca + c * sa) / ry;
      const double b = (r * sa - c * ca) / rx;
      if (a * a + b * b < 1) m.at(int(ul_c + j), int(ul_r + i)) = 1;
    }
  }
  return m;
}

namespace {

// pycocotools' rleFrPoly: vertices scaled by 5 and rounded, every edge walked one step at a time along
// its longer axis, then each step that changes x by one upsampled column yields, when that column
// lands on a pixel centre, the first covered row of that pixel column; those points sorted in
// column-major order toggle the mask on and off.
std::vector<uint32_t> coco_polygon_runs(const std::vector<double>& xy, int w, int h) {
  const size_t k = xy.size() / 2;
  const double scale = 5;
  std::vector<int> x(k + 1), y(k + 1);
  for (size_t j = 0; j < k; ++j) {
    x[j] = int(scale * xy[2 * j] + .5);  // C cast: truncates toward zero
    y[j] = int(scale * xy[2 * j + 1] + .5);
  }
  x[k] = x[0];
  y[k] = y[0];
  std::vector<int> u, v;
  for (size_t j = 0; j < k; ++j) {
    int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const int dx = std::abs(xe - xs), dy = std::abs(ys - ye);
    // Walk from the smaller end of the major axis so both directions round the same way, but emit
    // the points in the edge's own order.
    const bool flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      std::swap(xs, xe);
      std::swap(ys, ye);
    }
    if (dx >= dy) {
      const double s = dx == 0 ? 0.0 : double(ye - ys) / dx;
      for (int d = 0; d <= dx; ++d) {
        const int t = flip ? dx - d : d;
        u.push_back(t + xs);
        v.push_back(int(ys + s * t + .5));
      }
    } else {
      const double s = double(xe - xs) / dy;
      for (int d = 0; d <= dy; ++d) {
        const int t = flip ? dy - d : d;
        v.push_back(t + ys);
        u.push_back(int(xs + s * t + .5));
      }
    }
  }
  std::vector<uint32_t> a;
  for (size_t j = 1; j < u.size(); ++j) {
    if (u[j] == u[j - 1]) continue;
    double xd = double(u[j] < u[j - 1] ? u[j] : u[j] - 1);
    xd = (xd + .5) / scale - .5;
    if (std::floor(xd) != xd || xd < 0 || xd > w - 1) continue;
    double yd = double(v[j] < v[j - 1] ? v[j] : v[j - 1]);
    yd = (yd + .5) / scale - .5;
    if (yd < 0) yd = 0;
    else if (yd > h) yd = h;
    yd = std::ceil(yd);
    a.push_back(uint32_t(int(xd) * h + int(yd)));
  }
  a.push_back(uint32_t(int64_t(h) * w));
  std::sort(a.begin(), a.end());
  uint32_t prev = 0;
  for (auto& t : a) {
    const uint32_t cur = t;
    t -= prev;
    prev = cur;
  }
  // Two toggles at the same place cancel: a zero gap merges its neighbours.
  std::vector<uint32_t> runs;
  size_t j = 0;
  runs.push_back(a[j++]);
  while (j < a.size()) {
    if (a[j] > 0) {
      runs.push_back(a[j++]);
    } else {
      ++j;
      if (j < a.size()) runs.back() += a[j++];
    }
  }
  return runs;
}

// Sets the pixels of the odd (foreground) column-major runs.
void or_runs(Mask& m, const std::vector<uint32_t>& runs) {
  const int64_t h = m.height, total = int64_t(m.width) * h;
  int64_t pos = 0;
  for (size_t i = 0; i < runs.size() && pos < total; ++i) {
    const int64_t end = std::min(total, pos + int64_t(runs[i]));
    if (i % 2 == 1)
      for (int64_t p = pos; p < end; ++p) m.pixels[size_t((p % h) * m.width + p / h)] = 1;
    pos = end;
  }
}

}  // namespace

Mask rasterize_coco_polygons(const std::vector<std::vector<double>>& polygons, int width, int height) {
  Mask m(std::max(width, 0), std::max(height, 0));
  if (width <= 0 || height <= 0) return m;
  for (size_t p = 0; p < polygons.size(); ++p) {
    const auto& poly = polygons[p];
    if (poly.size() % 2 != 0)
      throw std::invalid_argument("COCO polygon " + std::to_string(p) + " has an odd number of coordinates (" +
                                  std::to_string(poly.size()) + ")");
    // pycocotools walks every edge in 1/5-pixel steps: a far-away point would cost gigabytes.
    for (double c : poly)
      if (!std::isfinite(c) || std::fabs(c) > 1e6)
        throw std::invalid_argument("COCO polygon " + std::to_string(p) + " has coordinate " + std::to_string(c) +
                                    " (expected a finite value within +-1e6)");
    if (poly.empty()) continue;
    or_runs(m, coco_polygon_runs(poly, width, height));
  }
  return m;
}

Mask rasterize_coco_box(double x, double y, double w, double h, int width, int height) {
  // pycocotools rleFrBbox: the polygon (xs,ys) (xs,ye) (xe,ye) (xe,ys).
  const double xe = x + w, ye = y + h;
  return rasterize_coco_polygons({{x, y, x, ye, xe, ye, xe, y}}, width, height);
}

void region_extent(const Region& r, double& x0, double& y0, double& x1, double& y1) {
  x0 = y0 = HUGE_VAL;
  x1 = y1 = -HUGE_VAL;
  auto add = [&](double x, double y) {
    x0 = std::min(x0, x);
    y0 = std::min(y0, y);
    x1 = std::max(x1, x);
    y1 = std::max(y1, y);
  };
  switch (r.kind) {
    case ShapeKind::Polygon:
    case ShapeKind::Polyline:
      if (r.coco_coordinates || !r.coco_polygons.empty()) {
        for (const auto& p : r.coco_polygons)
          for (size_t i = 0; i + 1 < p.size(); i += 2) add(p[i] - 0.5, p[i + 1] - 0.5);
      } else {
        for (size_t i = 0; i < r.xs.size() && i < r.ys.size(); ++i) add(r.xs[i], r.ys[i]);
      }
      break;
    case ShapeKind::Rect:
      if (!r.xs.empty() && !r.ys.empty()) {
        add(r.xs[0], r.ys[0]);
        add(double(r.xs[0]) + r.width, double(r.ys[0]) + r.height);
      }
      break;
    case ShapeKind::Circle:
    case ShapeKind::Ellipse: {
      const double rr = std::max(r.rx, r.kind == ShapeKind::Circle ? r.rx : r.ry);
      add(r.cx - rr, r.cy - rr);
      add(r.cx + rr, r.cy + rr);
      break;
    }
    case ShapeKind::Rle: break;
  }
}

std::string far_outside_problem(const Region& region, int width, int height) {
  if (width <= 0 || height <= 0 || region.kind == ShapeKind::Rle) return "";
  double x0, y0, x1, y1;
  region_extent(region, x0, y0, x1, y1);
  if (!(x0 <= x1)) return "";  // no vertex
  auto fmt = [](double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", v);
    return std::string(b);
  };
  const double w = width, h = height;
  std::string bad;
  if (x0 < -w) bad = "x " + fmt(x0);
  else if (x1 > 2 * w) bad = "x " + fmt(x1);
  else if (y0 < -h) bad = "y " + fmt(y0);
  else if (y1 > 2 * h) bad = "y " + fmt(y1);
  if (bad.empty()) return "";
  return "coordinate " + bad + " lies far outside the " + size_str(width, height) +
         " photo (more than a photo's size beyond its border; expected x in " + fmt(-w) + ".." + fmt(2 * w) +
         ", y in " + fmt(-h) + ".." + fmt(2 * h) + ")";
}

Mask rasterize_region(const Region& region, int width, int height) {
  if (const std::string far = far_outside_problem(region, width, height); !far.empty())
    throw std::invalid_argument(far);
  switch (region.kind) {
    case ShapeKind::Polygon:
    case ShapeKind::Polyline: {
      if (region.coco_coordinates || !region.coco_polygons.empty()) {
        std::vector<std::vector<double>> polys;
        for (const auto& p : region.coco_polygons) {
          if (p.size() < 6)
            throw std::invalid_argument("COCO polygon with " + std::to_string(p.size() / 2) +
                                        " points (at least 3 needed)");
          polys.emplace_back(p.begin(), p.end());
        }
        if (polys.empty()) throw std::invalid_argument("COCO segmentation with no polygon");
        return rasterize_coco_polygons(polys, width, height);
      }
      if (region.xs.size() != region.ys.size())
        throw std::invalid_argument("polygon has " + std::to_string(region.xs.size()) + " x and " +
                                    std::to_string(region.ys.size()) + " y coordinates");
      if (region.xs.size() < 3)
        throw std::invalid_argument("polygon with " + std::to_string(region.xs.size()) +
                                    " points (at least 3 needed)");
      return rasterize_polygon(region.xs, region.ys, width, height);
    }
    case ShapeKind::Rect: {
      if (!(region.width > 0) || !(region.height > 0))
        throw std::invalid_argument("rect with non-positive size " + std::to_string(region.width) + "x" +
                                    std::to_string(region.height));
      if (region.xs.empty() || region.ys.empty()) throw std::invalid_argument("rect without a corner");
      const double x = region.xs[0], y = region.ys[0], w = region.width, h = region.height;
      if (region.coco_coordinates) return rasterize_coco_box(x, y, w, h, width, height);
      return rasterize_polygon(std::vector<double>{x, x + w, x + w, x}, std::vector<double>{y, y, y + h, y + h},
                               width, height);
    }
    case ShapeKind::Circle:
    case ShapeKind::Ellipse: {
      const double rx = region.rx, ry = region.kind == ShapeKind::Circle ? region.rx : region.ry;
      if (!(rx > 0) || !(ry > 0))
        throw std::invalid_argument("ellipse/circle with non-positive radius " + std::to_string(rx) + ", " +
                                    std::to_string(ry));
      return rasterize_ellipse(region.cx, region.cy, rx, ry, region.kind == ShapeKind::Ellipse ? region.theta : 0.0,
                               width, height);
    }
    case ShapeKind::Rle: {
      Rle rle{width, height, region.rle_counts};
      try {
        return rle_to_mask(rle);
      } catch (const std::exception& e) {
        throw std::invalid_argument(std::string(e.what()) + " for an image of " + size_str(width, height));
      }
    }
  }
  throw std::invalid_argument("unknown region shape");
}

Box mask_to_box(const Mask& mask) {
  int x1 = mask.width, y1 = mask.height, x2 = -1, y2 = -1;
  for (int y = 0; y < mask.height; ++y) {
    const uint8_t* row = mask.pixels.data() + size_t(y) * mask.width;
    int first = -1, last = -1;
    for (int x = 0; x < mask.width; ++x)
      if (row[x]) {
        if (first < 0) first = x;
        last = x;
      }
    if (first < 0) continue;
    x1 = std::min(x1, first);
    x2 = std::max(x2, last);
    y1 = std::min(y1, y);
    y2 = y;
  }
  if (x2 < 0) return Box{};
  return Box{float(x1), float(y1), float(x2 + 1), float(y2 + 1)};
}

double mask_iou(const Mask& a, const Mask& b) {
  if (a.width != b.width || a.height != b.height)
    throw std::invalid_argument("mask_iou: masks of different sizes " + size_str(a.width, a.height) + " and " +
                                size_str(b.width, b.height));
  int64_t inter = 0, uni = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) {
    const bool pa = a.pixels[i] != 0, pb = b.pixels[i] != 0;
    inter += pa && pb;
    uni += pa || pb;
  }
  return uni == 0 ? 0.0 : double(inter) / double(uni);
}

Sample load_sample(const Dataset& dataset, size_t index, const LoadOptions& options, Warnings* warnings) {
  if (index >= dataset.images.size())
    throw std::out_of_range("load_sample: index " + std::to_string(index) + " out of range for " + dataset.source +
                            " (" + std::to_string(dataset.images.size()) + " images)");
  const ImageRecord& rec = dataset.images[index];
  Sample s;
  s.image_id = rec.image_id;
  s.image_path = rec.path;
  ImageInfo info;
  try {
    s.image = decode_image(rec.path, options.decode, &info);
  } catch (const std::exception& e) {
    throw std::runtime_error(dataset.source + ": image '" + rec.image_id + "': " + e.what());
  }
  // VIA shows photos as stored, so a rotated photo's regions were drawn on the unrotated pixels.
  if (info.orientation != 1 && warnings)
    warnings->add("exif rotation", dataset.source + ": image '" + rec.image_id + "' carries EXIF orientation " +
                                       std::to_string(info.orientation) +
                                       (options.decode.apply_exif ? " (applied: check that its regions line up)"
                                                                  : " (ignored, as requested)"));
  const int w = s.image.width, h = s.image.height;
  if (options.check_size && rec.width > 0 && rec.height > 0 && (rec.width != w || rec.height != h))
    throw std::runtime_error(dataset.source + ": image '" + rec.image_id + "' is annotated as " +
                             size_str(rec.width, rec.height) + " but " + rec.path + " decodes to " + size_str(w, h) +
                             (options.decode.apply_exif ? " (after its EXIF orientation)" : ""));
  for (size_t k = 0; k < rec.regions.size(); ++k) {
    const Region& reg = rec.regions[k];
    const std::string where = dataset.source + ": image '" + rec.image_id + "' region " + std::to_string(k);
    std::string problem;
    Mask mask;
    try {
      mask = rasterize_region(reg, w, h);
      if (mask.area() == 0) problem = "covers no pixel of the " + size_str(w, h) + " image (outside it or degenerate)";
    } catch (const std::invalid_argument& e) {
      problem = e.what();
    }
    if (!problem.empty()) {
      if (!options.skip_bad_regions) throw std::runtime_error(where + ": " + problem);
      if (warnings) warnings->add("bad region", where + ": " + problem + "; skipped");
      continue;
    }
    if (reg.class_id < 1 || (dataset.num_classes() > 0 && reg.class_id > dataset.num_classes())) {
      const std::string msg = where + ": class id " + std::to_string(reg.class_id) + " outside 1.." +
                              std::to_string(dataset.num_classes());
      if (!options.skip_bad_regions) throw std::runtime_error(msg);
      if (warnings) warnings->add("unknown class", msg + "; skipped");
      continue;
    }
    Instance inst;
    inst.class_id = reg.class_id;
    inst.iscrowd = reg.iscrowd;
    inst.box = mask_to_box(mask);
    inst.mask = std::move(mask);
    s.instances.push_back(std::move(inst));
  }
  return s;
}

}  // namespace mrc::data
