// Detections drawn over a photo (see overlay.h).
#include "data/overlay.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "data/draw.h"

namespace mrc::data {
namespace {

bool inside(const Mask& m, int x, int y) { return x >= 0 && y >= 0 && x < m.width && y < m.height && m.at(x, y); }

void draw_mask(Image& im, const Mask& m, Rgb c, double alpha) {
  const double col[3] = {double(c.r), double(c.g), double(c.b)};
  for (int y = 0; y < m.height; ++y)
    for (int x = 0; x < m.width; ++x) {
      if (!m.at(x, y)) continue;
      uint8_t* p = im.at(x, y);
      const bool edge = !inside(m, x - 1, y) || !inside(m, x + 1, y) || !inside(m, x, y - 1) || !inside(m, x, y + 1);
      for (int k = 0; k < 3; ++k)
        p[k] = edge ? uint8_t(col[k]) : uint8_t(std::lround((1 - alpha) * double(p[k]) + alpha * col[k]));
    }
}

void draw_box(Image& im, const float b[4], Rgb c) {
  const int x0 = int(std::floor(b[0])), y0 = int(std::floor(b[1]));
  const int x1 = int(std::ceil(b[2])), y1 = int(std::ceil(b[3]));
  fill_rect(im, x0, y0, x1, y0 + 2, c);
  fill_rect(im, x0, y1 - 2, x1, y1, c);
  fill_rect(im, x0, y0, x0 + 2, y1, c);
  fill_rect(im, x1 - 2, y0, x1, y1, c);
}

void draw_caption(Image& im, const float b[4], const std::string& caption, Rgb c) {
  if (caption.empty()) return;
  const int scale = im.width >= 640 ? 2 : 1, h = 10 * scale + 4, w = text_width(caption, scale) + 6;
  int x = std::clamp(int(std::floor(b[0])), 0, std::max(0, im.width - w));
  int y = int(std::floor(b[1])) - h;
  if (y < 0) y = std::min(int(std::floor(b[1])) + 2, std::max(0, im.height - h));  // inside the box at the top
  fill_rect(im, x, y, x + w, y + h, c);
  const bool light = 0.299 * c.r + 0.587 * c.g + 0.114 * c.b > 150;
  draw_text(im, x + 3, y + 3, caption, light ? Rgb{0, 0, 0} : Rgb{255, 255, 255}, scale);
}

}  // namespace

Image render_overlay(const Image& photo, const std::vector<OverlayInstance>& instances, double alpha) {
  Image im = to_rgb(photo);
  for (size_t i = 0; i < instances.size(); ++i) {
    const Mask& m = instances[i].mask;
    if (!m.pixels.empty() && (m.width != photo.width || m.height != photo.height))
      throw std::invalid_argument("render_overlay: instance " + std::to_string(i) + " has a " + std::to_string(m.width) +
                                  "x" + std::to_string(m.height) + " mask on a " + std::to_string(photo.width) + "x" +
                                  std::to_string(photo.height) + " photo");
    draw_mask(im, m, palette_color(i), alpha);
  }
  for (size_t i = 0; i < instances.size(); ++i) draw_box(im, instances[i].box, palette_color(i));
  for (size_t i = 0; i < instances.size(); ++i) draw_caption(im, instances[i].box, instances[i].caption, palette_color(i));
  return im;
}

}  // namespace mrc::data
