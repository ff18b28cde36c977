// The generated shapes dataset (see shapes.h): layout, occlusion, boundary tracing, painting.
#include "data/shapes.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "data/augment/rng.h"
#include "data/image_io.h"
#include "data/progress.h"
#include "data/rasterize.h"
#include "data/via.h"

namespace mrc::data {

const std::vector<std::string>& shapes_class_names() {
  static const std::vector<std::string> names = {"BG", "circle", "square", "triangle", "hexagon", "star"};
  return names;
}

namespace {

using aug::Rng;
constexpr double kPi = 3.14159265358979323846;

struct Rgb {
  double r, g, b;
};

Rgb hsv(double h, double s, double v) {
  h = std::fmod(h, 1.0) * 6.0;
  const int i = int(h);
  const double f = h - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  switch (i % 6) {
    case 0: return {v, t, p};
    case 1: return {q, v, p};
    case 2: return {p, v, t};
    case 3: return {p, q, v};
    case 4: return {t, p, v};
    default: return {v, p, q};
  }
}

struct ShapeDraw {
  int class_id = 1;
  double cx = 0, cy = 0, radius = 0, angle = 0;
  Rgb colour{};
  Mask full;       // the whole shape
  Mask visible;    // after occlusion by the shapes in front
};

// Vertices of a regular polygon / star around (cx, cy).
void polygon_vertices(const ShapeDraw& s, std::vector<double>& xs, std::vector<double>& ys) {
  xs.clear();
  ys.clear();
  auto ring = [&](int n, double r_outer, double r_inner) {
    const int m = r_inner > 0 ? 2 * n : n;
    for (int k = 0; k < m; ++k) {
      const double r = (r_inner > 0 && k % 2 == 1) ? r_inner : r_outer;
      const double a = s.angle + 2 * kPi * k / m;
      xs.push_back(s.cx + r * std::cos(a));
      ys.push_back(s.cy + r * std::sin(a));
    }
  };
  switch (s.class_id) {
    case 2: ring(4, s.radius * 1.15, 0); break;           // square (circumradius: similar area to the circle)
    case 3: ring(3, s.radius * 1.3, 0); break;            // triangle
    case 4: ring(6, s.radius * 1.05, 0); break;           // hexagon
    case 5: ring(5, s.radius * 1.35, s.radius * 0.6); break;  // star
    default: break;
  }
}

Mask rasterize_shape(const ShapeDraw& s, int W, int H) {
  if (s.class_id == 1) return rasterize_ellipse(s.cx, s.cy, s.radius, s.radius, 0.0, W, H);
  std::vector<double> xs, ys;
  polygon_vertices(s, xs, ys);
  return rasterize_polygon(xs, ys, W, H);
}

// Background textures: noise, linear gradient, stripes, checkers; muted colours.
void paint_background(Image& im, Rng& rng) {
  const int W = im.width, H = im.height;
  const Rgb a = hsv(rng.uniform(), rng.uniform(0.0, 0.45), rng.uniform(0.15, 0.75));
  const Rgb b = hsv(rng.uniform(), rng.uniform(0.0, 0.45), rng.uniform(0.15, 0.75));
  const int kind = int(rng.integer(0, 3));
  const double angle = rng.uniform(0, kPi), ca = std::cos(angle), sa = std::sin(angle);
  const double period = rng.uniform(8, 40);
  const double noise_amp = kind == 0 ? rng.uniform(20, 60) : rng.uniform(0, 12);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      double t = 0;
      const double u = x * ca + y * sa;
      switch (kind) {
        case 0: t = 0; break;
        case 1: t = (u - std::min(0.0, W * ca) - std::min(0.0, H * sa)) / (std::abs(W * ca) + std::abs(H * sa) + 1); break;
        case 2: t = std::fmod(std::floor(u / period), 2.0) != 0 ? 1.0 : 0.0; break;
        default: t = (int(std::floor(x / period)) + int(std::floor(y / period))) % 2 ? 1.0 : 0.0; break;
      }
      t = std::clamp(std::abs(t), 0.0, 1.0);
      uint8_t* p = im.at(x, y);
      const double n = noise_amp * (rng.uniform() - 0.5);
      p[0] = uint8_t(std::clamp(255.0 * (a.r + (b.r - a.r) * t) + n, 0.0, 255.0));
      p[1] = uint8_t(std::clamp(255.0 * (a.g + (b.g - a.g) * t) + n, 0.0, 255.0));
      p[2] = uint8_t(std::clamp(255.0 * (a.b + (b.b - a.b) * t) + n, 0.0, 255.0));
    }
}

void paint_shape(Image& im, const Mask& m, const ShapeDraw& s, Rng& rng) {
  // A soft light from a random direction gives each shape some shading, as in a photo.
  const double la = rng.uniform(0, 2 * kPi), lx = std::cos(la), ly = std::sin(la);
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x) {
      if (!m.at(x, y)) continue;
      const double shade = 1.0 + 0.18 * ((x - s.cx) * lx + (y - s.cy) * ly) / std::max(s.radius, 1.0);
      const double n = 6.0 * (rng.uniform() - 0.5);
      uint8_t* p = im.at(x, y);
      p[0] = uint8_t(std::clamp(255.0 * s.colour.r * shade + n, 0.0, 255.0));
      p[1] = uint8_t(std::clamp(255.0 * s.colour.g * shade + n, 0.0, 255.0));
      p[2] = uint8_t(std::clamp(255.0 * s.colour.b * shade + n, 0.0, 255.0));
    }
}

// Drops vertices that lie on the straight line between their neighbours (same step direction).
void simplify_collinear(std::vector<float>& xs, std::vector<float>& ys) {
  const size_t n = xs.size();
  if (n < 4) return;
  std::vector<float> ox, oy;
  for (size_t i = 0; i < n; ++i) {
    const size_t p = (i + n - 1) % n, q = (i + 1) % n;
    const float ax = xs[i] - xs[p], ay = ys[i] - ys[p], bx = xs[q] - xs[i], by = ys[q] - ys[i];
    const bool collinear = ax * by - ay * bx == 0 && ax * bx + ay * by > 0;
    if (!collinear) {
      ox.push_back(xs[i]);
      oy.push_back(ys[i]);
    }
  }
  xs.swap(ox);
  ys.swap(oy);
}

bool try_layout(int n, const ShapesOptions& o, Rng& rng, std::vector<ShapeDraw>& shapes,
                std::vector<std::vector<float>>& pxs, std::vector<std::vector<float>>& pys) {
  const int W = o.width, H = o.height;
  const double md = std::min(W, H);
  shapes.assign(size_t(n), ShapeDraw{});
  for (auto& s : shapes) {
    s.class_id = int(rng.integer(1, 5));
    s.radius = rng.uniform(0.07, 0.2) * md;
    s.cx = rng.uniform(s.radius * 0.4, W - s.radius * 0.4);
    s.cy = rng.uniform(s.radius * 0.4, H - s.radius * 0.4);
    s.angle = rng.uniform(0, 2 * kPi);
    s.colour = hsv(rng.uniform(), rng.uniform(0.55, 1.0), rng.uniform(0.6, 1.0));
    s.full = rasterize_shape(s, W, H);
  }
  // Later shapes lie in front.
  Mask covered(W, H);
  pxs.assign(size_t(n), {});
  pys.assign(size_t(n), {});
  for (int k = n - 1; k >= 0; --k) {
    ShapeDraw& s = shapes[size_t(k)];
    s.visible = s.full;
    for (size_t i = 0; i < s.visible.pixels.size(); ++i) {
      if (covered.pixels[i]) s.visible.pixels[i] = 0;
      if (s.full.pixels[i]) covered.pixels[i] = 1;
    }
    const int64_t full = s.full.area(), vis = s.visible.area();
    if (vis < 40 || double(vis) < o.min_visible * double(full)) return false;
    trace_outer_boundary(s.visible, pxs[size_t(k)], pys[size_t(k)]);
    if (pxs[size_t(k)].size() < 3) return false;
    // The traced polygon must describe exactly the visible pixels: one blob, no holes.
    const Mask back = rasterize_polygon(pxs[size_t(k)], pys[size_t(k)], W, H);
    if (back.pixels != s.visible.pixels) return false;
  }
  return true;
}

}  // namespace

void trace_outer_boundary(const Mask& m, std::vector<float>& xs, std::vector<float>& ys) {
  xs.clear();
  ys.clear();
  const int W = m.width, H = m.height;
  // Neighbours clockwise on screen (y down), starting west.
  static const int dx[8] = {-1, -1, 0, 1, 1, 1, 0, -1};
  static const int dy[8] = {0, -1, -1, -1, 0, 1, 1, 1};
  auto fg = [&](int x, int y) { return x >= 0 && y >= 0 && x < W && y < H && m.at(x, y) != 0; };
  auto dir_of = [&](int ox, int oy) {
    for (int d = 0; d < 8; ++d)
      if (dx[d] == ox && dy[d] == oy) return d;
    return 0;
  };
  int sx = -1, sy = -1;
  for (int y = 0; y < H && sx < 0; ++y)
    for (int x = 0; x < W; ++x)
      if (m.at(x, y)) {
        sx = x;
        sy = y;
        break;
      }
  if (sx < 0) return;
  // Moore-neighbour step: from (x, y) entered with its backtrack neighbour in direction `back`.
  auto step = [&](int x, int y, int back, int& nx, int& ny, int& nback) {
    for (int k = 1; k <= 8; ++k) {
      const int d = (back + k) % 8;
      if (fg(x + dx[d], y + dy[d])) {
        nx = x + dx[d];
        ny = y + dy[d];
        const int pd = (d + 7) % 8;   // the last background neighbour examined
        nback = dir_of(x + dx[pd] - nx, y + dy[pd] - ny);
        return true;
      }
    }
    return false;
  };
  int x1, y1, b1;
  xs.push_back(float(sx));
  ys.push_back(float(sy));
  if (!step(sx, sy, 0, x1, y1, b1)) return;   // a single pixel
  int cx = x1, cy = y1, cb = b1;
  const int64_t limit = 4 * int64_t(W) * H + 8;
  for (int64_t it = 0; it < limit; ++it) {
    int nx = cx, ny = cy, nb = cb;
    step(cx, cy, cb, nx, ny, nb);
    if (cx == sx && cy == sy && nx == x1 && ny == y1) break;
    xs.push_back(float(cx));
    ys.push_back(float(cy));
    cx = nx;
    cy = ny;
    cb = nb;
  }
  simplify_collinear(xs, ys);
}

ShapesPhoto generate_shapes_photo(int index, const ShapesOptions& o) {
  if (o.width < 16 || o.height < 16) throw std::invalid_argument("shapes: image size must be at least 16x16");
  if (o.min_shapes < 1 || o.max_shapes < o.min_shapes)
    throw std::invalid_argument("shapes: need 1 <= min_shapes <= max_shapes");
  Rng rng(aug::derive_seed(o.seed, uint64_t(index), 0x5A4E));
  int n = int(rng.integer(o.min_shapes, o.max_shapes));
  std::vector<ShapeDraw> shapes;
  std::vector<std::vector<float>> pxs, pys;
  bool ok = false;
  for (int attempt = 0; attempt < 400 && !ok; ++attempt) {
    if (attempt > 0 && attempt % 25 == 0 && n > 1) --n;   // crowded: fewer shapes
    ok = try_layout(n, o, rng, shapes, pxs, pys);
  }
  if (!ok) throw std::runtime_error("shapes: could not lay out photo " + std::to_string(index));

  ShapesPhoto out;
  char name[64];
  std::snprintf(name, sizeof name, "shapes_%05d.jpg", index);
  out.sample.image_id = name;
  out.sample.image = Image(o.width, o.height, 3);
  paint_background(out.sample.image, rng);
  for (size_t k = 0; k < shapes.size(); ++k) {
    paint_shape(out.sample.image, shapes[k].visible, shapes[k], rng);
    Instance inst;
    inst.class_id = shapes[k].class_id;
    inst.mask = std::move(shapes[k].visible);
    inst.box = mask_to_box(inst.mask);
    out.sample.instances.push_back(std::move(inst));
    Region r;
    r.kind = ShapeKind::Polygon;
    r.xs = std::move(pxs[k]);
    r.ys = std::move(pys[k]);
    r.class_id = shapes[k].class_id;
    out.regions.push_back(std::move(r));
  }
  return out;
}

std::vector<Sample> generate_shapes(int count, const ShapesOptions& o) {
  std::vector<Sample> out;
  out.reserve(size_t(std::max(count, 0)));
  for (int i = 0; i < count; ++i) out.push_back(generate_shapes_photo(i, o).sample);
  return out;
}

void write_shapes_dataset(const std::string& out_dir, int count, const ShapesOptions& o, bool overwrite,
                          bool progress, int jpeg_quality) {
  if (count < 1) throw std::invalid_argument("shapes: --count must be at least 1");
  StagedDir dir(out_dir, overwrite);
  Dataset ds;
  ds.source = out_dir + "/via_region_data.json";
  ds.format = "via2";
  ds.class_names = shapes_class_names();
  ProgressBar bar(count, "shapes", progress ? stderr : nullptr);
  for (int i = 0; i < count; ++i) {
    ShapesPhoto photo = generate_shapes_photo(i, o);
    ImageRecord rec;
    rec.image_id = photo.sample.image_id;
    rec.path = dir.file(rec.image_id);
    rec.width = o.width;
    rec.height = o.height;
    rec.regions = std::move(photo.regions);
    write_jpeg(rec.path, photo.sample.image, jpeg_quality);
    ds.images.push_back(std::move(rec));
    bar.update();
  }
  bar.finish();
  ViaWriteOptions vo;
  vo.class_attribute = "class";
  write_via(dir.file("via_region_data.json"), ds, vo);
  dir.commit();
}

}  // namespace mrc::data
