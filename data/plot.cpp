// Bar-chart rendering into an RGB image (see plot.h). Text comes from stb_easy_font, whose glyphs
// are quads: each quad is filled as a rectangle, scaled up for legibility.
#include "data/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb_easy_font.h>
#pragma GCC diagnostic pop

#include "data/image_io.h"

namespace mrc::data {
namespace {

struct Rgb {
  uint8_t r, g, b;
};
constexpr Rgb kBlack{30, 30, 30}, kGrid{225, 225, 225}, kAxis{120, 120, 120};
constexpr Rgb kSeries[2] = {{66, 114, 196}, {237, 125, 49}};

void fill_rect(Image& im, int x0, int y0, int x1, int y1, Rgb c) {  // [x0, x1) x [y0, y1)
  x0 = std::max(x0, 0);
  y0 = std::max(y0, 0);
  x1 = std::min(x1, im.width);
  y1 = std::min(y1, im.height);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      uint8_t* p = im.at(x, y);
      p[0] = c.r;
      p[1] = c.g;
      p[2] = c.b;
    }
}

int text_width(const std::string& s, int scale) {
  std::string t = s;
  return stb_easy_font_width(t.data()) * scale;
}

void draw_text(Image& im, int x, int y, const std::string& s, Rgb c, int scale) {
  std::string t = s;
  std::vector<char> buf(t.size() * 270 + 1024);  // ~ at most 64 quads of 64 bytes per character
  unsigned char col[4] = {c.r, c.g, c.b, 255};
  const int quads = stb_easy_font_print(0, 0, t.data(), col, buf.data(), int(buf.size()));
  for (int q = 0; q < quads; ++q) {
    const float* v0 = reinterpret_cast<const float*>(buf.data() + size_t(q) * 64);       // top-left
    const float* v2 = reinterpret_cast<const float*>(buf.data() + size_t(q) * 64 + 32);  // bottom-right
    fill_rect(im, x + int(v0[0] * scale), y + int(v0[1] * scale), x + int(v2[0] * scale), y + int(v2[1] * scale), c);
  }
}

std::string fit(const std::string& s, int max_width, int scale) {
  if (text_width(s, scale) <= max_width) return s;
  std::string t = s;
  while (!t.empty() && text_width(t + "..", scale) > max_width) t.pop_back();
  return t + "..";
}

std::string format_count(double v) {
  char b[32];
  if (v == std::floor(v) && std::fabs(v) < 1e15) std::snprintf(b, sizeof b, "%.0f", v);
  else std::snprintf(b, sizeof b, "%.3g", v);
  return b;
}

}  // namespace

Image render_bar_chart(const std::string& title, const std::vector<std::string>& labels,
                       const std::vector<double>& values, const std::vector<double>& second,
                       const std::string& first_name, const std::string& second_name) {
  if (values.size() != labels.size())
    throw std::invalid_argument("bar chart '" + title + "': " + std::to_string(labels.size()) + " labels but " +
                                std::to_string(values.size()) + " values");
  if (!second.empty() && second.size() != labels.size())
    throw std::invalid_argument("bar chart '" + title + "': second series has " + std::to_string(second.size()) +
                                " values, expected " + std::to_string(labels.size()));
  const int nseries = second.empty() ? 1 : 2;
  const int n = int(labels.size());
  const int bar_w = nseries == 1 ? 36 : 26, group_w = nseries * bar_w + 24;
  const int left = 70, right = 30, top = 84, bottom = 80;
  const int plot_w = std::max(560, n * group_w);
  const int W = left + plot_w + right, H = 480;
  const int plot_h = H - top - bottom;
  Image im(W, H, 3, 255);

  double vmax = 0;
  for (double v : values) vmax = std::max(vmax, v);
  for (double v : second) vmax = std::max(vmax, v);
  // Axis top: a "nice" number (1, 2 or 5 times a power of ten) above the largest value.
  double step = 1;
  if (vmax > 0) {
    const double raw = vmax / 5, p = std::pow(10.0, std::floor(std::log10(raw)));
    step = raw <= p ? p : raw <= 2 * p ? 2 * p : raw <= 5 * p ? 5 * p : 10 * p;
  }
  const double ymax = std::max(step, std::ceil(vmax * 1.08 / step) * step);
  auto ypix = [&](double v) { return top + plot_h - int(std::lround(v / ymax * plot_h)); };

  for (double t = 0; t <= ymax + 1e-9; t += step) {
    const int y = ypix(t);
    fill_rect(im, left, y, left + plot_w, y + 1, kGrid);
    const std::string s = format_count(t);
    draw_text(im, left - 8 - text_width(s, 2), y - 6, s, kAxis, 2);
  }
  fill_rect(im, left, top, left + 1, top + plot_h + 1, kAxis);
  fill_rect(im, left, top + plot_h, left + plot_w, top + plot_h + 1, kAxis);
  draw_text(im, (W - text_width(title, 3)) / 2, 18, fit(title, W - 20, 3), kBlack, 3);

  const int slot = n > 0 ? plot_w / n : plot_w;
  const bool stagger = n > 0 && [&] {
    for (const auto& l : labels)
      if (text_width(l, 2) > slot - 4) return true;
    return false;
  }();
  int count_scale = 2;  // one size for every count label: the larger one when all of them fit their bar
  for (int s = 0; s < nseries; ++s)
    for (double v : s == 0 ? values : second)
      if (text_width(format_count(v), 2) > bar_w + 4) count_scale = 1;
  for (int i = 0; i < n; ++i) {
    const int gx = left + i * slot + (slot - nseries * bar_w) / 2;
    for (int s = 0; s < nseries; ++s) {
      const double v = s == 0 ? values[size_t(i)] : second[size_t(i)];
      const int x0 = gx + s * bar_w, x1 = x0 + bar_w - 4, y0 = ypix(std::max(v, 0.0));
      fill_rect(im, x0, y0, x1, top + plot_h, kSeries[s]);
      const std::string c = format_count(v);
      draw_text(im, (x0 + x1 - text_width(c, count_scale)) / 2, y0 - 8 * count_scale - 2, c, kBlack, count_scale);
    }
    const int lw = stagger ? 2 * slot - 4 : slot - 4;
    const std::string l = fit(labels[size_t(i)], lw, 2);
    const int ly = top + plot_h + 10 + (stagger && i % 2 ? 22 : 0);
    draw_text(im, left + i * slot + (slot - text_width(l, 2)) / 2, ly, l, kBlack, 2);
  }
  if (nseries == 2) {
    int x = W - right - 10;
    for (int s = 1; s >= 0; --s) {
      const std::string& name = s == 0 ? first_name : second_name;
      x -= text_width(name, 2);
      draw_text(im, x, top - 26, name, kBlack, 2);
      x -= 20;
      fill_rect(im, x, top - 26, x + 14, top - 12, kSeries[s]);
      x -= 20;
    }
  }
  return im;
}

void write_bar_chart_png(const std::string& path, const std::string& title, const std::vector<std::string>& labels,
                         const std::vector<double>& values, const std::vector<double>& second,
                         const std::string& first_name, const std::string& second_name) {
  write_png(path, render_bar_chart(title, labels, values, second, first_name, second_name));
}

}  // namespace mrc::data
