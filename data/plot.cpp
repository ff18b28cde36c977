// Bar- and line-chart rendering into an RGB image (see plot.h), drawn with data/draw.h.
#include "data/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include "data/draw.h"
#include "data/image_io.h"

namespace mrc::data {
namespace {

constexpr Rgb kBlack{30, 30, 30}, kGrid{225, 225, 225}, kAxis{120, 120, 120};
constexpr Rgb kSeries[2] = {{66, 114, 196}, {237, 125, 49}};

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

// ---- line charts ----

namespace {

struct Axis {
  double lo = 0, hi = 1, step = 0.2;
};

// An axis of "nice" ticks (1, 2 or 5 times a power of ten) enclosing [lo, hi], about `target` steps.
Axis nice_axis(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (hi - lo <= std::fabs(hi) * 1e-12) {  // one value: centre it in a small range
    const double d = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= d;
    hi += d;
  }
  const double raw = (hi - lo) / target, p = std::pow(10.0, std::floor(std::log10(raw)));
  Axis a;
  a.step = raw <= p ? p : raw <= 2 * p ? 2 * p : raw <= 5 * p ? 5 * p : 10 * p;
  a.lo = std::floor(lo / a.step + 1e-9) * a.step;
  a.hi = std::ceil(hi / a.step - 1e-9) * a.step;
  return a;
}

std::string format_tick(double v, double step) {
  if (std::fabs(v) < step * 1e-6) v = 0;  // no "-0.0" from accumulated rounding
  char b[32];
  const double mag = std::max(std::fabs(v), step);
  if (mag >= 1e6 || step < 1e-4) {
    std::snprintf(b, sizeof b, "%.3g", v);
  } else {
    const int decimals = std::max(0, int(-std::floor(std::log10(step) + 1e-9)));
    std::snprintf(b, sizeof b, "%.*f", decimals, v);
  }
  return b;
}

// Text turned 90 degrees counter-clockwise (reading bottom to top), its left end at the bottom:
// drawn upright into a scratch image, then copied rotated.
void draw_text_vertical(Image& im, int x, int y_bottom, const std::string& s, Rgb c, int scale) {
  const int w = text_width(s, scale) + 2, h = 10 * scale;
  Image scratch(w, h, 3, 255);
  draw_text(scratch, 1, 0, s, c, scale);
  for (int sy = 0; sy < h; ++sy)
    for (int sx = 0; sx < w; ++sx) {
      const uint8_t* p = scratch.at(sx, sy);
      if (p[0] == 255 && p[1] == 255 && p[2] == 255) continue;
      fill_rect(im, x + sy, y_bottom - sx, x + sy + 1, y_bottom - sx + 1, c);
    }
}

// A 2-pixel-wide segment between two points in pixel coordinates, clipped to the plot rectangle:
// sampled every quarter pixel, each sample painting the 2x2 pixels around it.
void draw_segment(Image& im, double x0, double y0, double x1, double y1, Rgb c, const ChartFrame& f) {
  const double len = std::max(std::fabs(x1 - x0), std::fabs(y1 - y0));
  const int steps = std::max(1, int(std::ceil(len * 4)));
  for (int i = 0; i <= steps; ++i) {
    const double t = double(i) / steps, x = x0 + (x1 - x0) * t, y = y0 + (y1 - y0) * t;
    const int ix = int(std::lround(x)), iy = int(std::lround(y));
    const int xa = std::max(ix - 1, f.left), ya = std::max(iy - 1, f.top);
    const int xb = std::min(ix + 1, f.right), yb = std::min(iy + 1, f.bottom);
    if (xa < xb && ya < yb) fill_rect(im, xa, ya, xb, yb, c);
  }
}

}  // namespace

double ChartFrame::px(double x) const { return left + (x - x_min) / (x_max - x_min) * (right - 1 - left); }
double ChartFrame::py(double y) const { return bottom - 1 - (y - y_min) / (y_max - y_min) * (bottom - 1 - top); }

std::array<uint8_t, 3> line_chart_color(size_t i) {
  const Rgb c = palette_color(i);
  return {c.r, c.g, c.b};
}

Image render_line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                        const std::vector<LineSeries>& series, int width, int height, ChartFrame* frame_out) {
  if (width < 240 || height < 180)
    throw std::invalid_argument("line chart '" + title + "': size " + std::to_string(width) + "x" +
                                std::to_string(height) + " is below the minimum 240x180");
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  for (size_t i = 0; i < series.size(); ++i) {
    const LineSeries& s = series[i];
    if (s.xs.size() != s.ys.size())
      throw std::invalid_argument("line chart '" + title + "': series " + std::to_string(i) + " ('" + s.name +
                                  "') has " + std::to_string(s.xs.size()) + " x values but " +
                                  std::to_string(s.ys.size()) + " y values");
    for (size_t k = 0; k < s.xs.size(); ++k) {
      if (!std::isfinite(s.xs[k]) || !std::isfinite(s.ys[k])) continue;
      xlo = std::min(xlo, s.xs[k]);
      xhi = std::max(xhi, s.xs[k]);
      ylo = std::min(ylo, s.ys[k]);
      yhi = std::max(yhi, s.ys[k]);
    }
  }
  if (!(xlo <= xhi)) xlo = 0, xhi = 1, ylo = 0, yhi = 1;  // nothing finite to draw: an empty frame
  const Axis ax = nice_axis(xlo, xhi, 6), ay = nice_axis(ylo, yhi, 5);
  std::vector<double> yticks, xticks;
  for (int i = 0; ay.lo + i * ay.step <= ay.hi + ay.step * 1e-6; ++i) yticks.push_back(ay.lo + i * ay.step);
  for (int i = 0; ax.lo + i * ax.step <= ax.hi + ax.step * 1e-6; ++i) xticks.push_back(ax.lo + i * ax.step);

  Image im(width, height, 3, 255);
  // Legend entries flow into rows between the title and the plot.
  const int title_h = 14 + 8 * 3 + 8, row_h = 22, swatch = 22;
  std::vector<std::vector<size_t>> rows;
  {
    int x = 0;
    for (size_t i = 0; i < series.size(); ++i) {
      const int w = swatch + 6 + text_width(fit(series[i].name, width - 60, 2), 2) + 18;
      if (rows.empty() || (x + w > width - 40 && !rows.back().empty())) {
        rows.emplace_back();
        x = 0;
      }
      rows.back().push_back(i);
      x += w;
    }
  }
  int tick_w = 0;
  for (double t : yticks) tick_w = std::max(tick_w, text_width(format_tick(t, ay.step), 2));
  ChartFrame f;
  f.left = 8 + (y_label.empty() ? 0 : 20) + tick_w + 10;
  // The last x tick label is centred on the right edge of the plot: keep room for its half.
  f.right = width - std::max(24, text_width(format_tick(xticks.back(), ax.step), 2) / 2 + 8);
  f.top = title_h + int(rows.size()) * row_h + 10;
  f.bottom = height - 16 - (x_label.empty() ? 0 : 22) - 22;
  f.x_min = ax.lo;
  f.x_max = ax.hi;
  f.y_min = ay.lo;
  f.y_max = ay.hi;
  if (f.bottom - f.top < 40 || f.right - f.left < 60)
    throw std::invalid_argument("line chart '" + title + "': " + std::to_string(series.size()) +
                                " legend entries leave no room for the plot at " + std::to_string(width) + "x" +
                                std::to_string(height));

  draw_text(im, (width - text_width(fit(title, width - 20, 3), 3)) / 2, 14, fit(title, width - 20, 3), kBlack, 3);
  for (size_t r = 0; r < rows.size(); ++r) {
    int total = 0;
    for (size_t i : rows[r]) total += swatch + 6 + text_width(fit(series[i].name, width - 60, 2), 2) + 18;
    int x = (width - total + 18) / 2;
    const int y = title_h + int(r) * row_h;
    for (size_t i : rows[r]) {
      const std::string name = fit(series[i].name, width - 60, 2);
      fill_rect(im, x, y + 5, x + swatch, y + 9, palette_color(i));
      draw_text(im, x + swatch + 6, y, name, kBlack, 2);
      x += swatch + 6 + text_width(name, 2) + 18;
    }
  }

  for (double t : yticks) {
    const int y = int(std::lround(f.py(t)));
    fill_rect(im, f.left, y, f.right, y + 1, kGrid);
    fill_rect(im, f.left - 5, y, f.left, y + 1, kAxis);
    const std::string s = format_tick(t, ay.step);
    draw_text(im, f.left - 8 - text_width(s, 2), y - 6, s, kAxis, 2);
  }
  int last_label_end = -1000;
  for (double t : xticks) {
    const int x = int(std::lround(f.px(t)));
    fill_rect(im, x, f.top, x + 1, f.bottom, kGrid);
    fill_rect(im, x, f.bottom, x + 1, f.bottom + 5, kAxis);
    const std::string s = format_tick(t, ax.step);
    const int lx = x - text_width(s, 2) / 2;
    if (lx > last_label_end + 6) {  // skip a label that would run into its neighbour
      draw_text(im, lx, f.bottom + 9, s, kAxis, 2);
      last_label_end = lx + text_width(s, 2);
    }
  }
  if (!x_label.empty()) {
    const std::string s = fit(x_label, f.right - f.left, 2);
    draw_text(im, (f.left + f.right - text_width(s, 2)) / 2, height - 16 - 14, s, kBlack, 2);
  }
  if (!y_label.empty()) {
    const std::string s = fit(y_label, f.bottom - f.top, 2);
    draw_text_vertical(im, 8, (f.top + f.bottom + text_width(s, 2)) / 2, s, kBlack, 2);
  }

  for (size_t i = 0; i < series.size(); ++i) {
    const LineSeries& s = series[i];
    const Rgb c = palette_color(i);
    bool have_prev = false;
    double x0 = 0, y0 = 0;
    for (size_t k = 0; k < s.xs.size(); ++k) {
      if (!std::isfinite(s.xs[k]) || !std::isfinite(s.ys[k])) {
        have_prev = false;
        continue;
      }
      const double x = f.px(s.xs[k]), y = f.py(s.ys[k]);
      const bool isolated = !have_prev && (k + 1 >= s.xs.size() || !std::isfinite(s.xs[k + 1]) ||
                                           !std::isfinite(s.ys[k + 1]));
      if (have_prev) draw_segment(im, x0, y0, x, y, c, f);
      else if (isolated) {  // a point with no neighbour to join: a dot
        const int ix = int(std::lround(x)), iy = int(std::lround(y));
        fill_rect(im, std::max(ix - 2, f.left), std::max(iy - 2, f.top), std::min(ix + 3, f.right),
                  std::min(iy + 3, f.bottom), c);
      }
      x0 = x;
      y0 = y;
      have_prev = true;
    }
  }
  fill_rect(im, f.left, f.top, f.left + 1, f.bottom, kAxis);
  fill_rect(im, f.left, f.bottom, f.right, f.bottom + 1, kAxis);
  if (frame_out) *frame_out = f;
  return im;
}

void write_line_chart_png(const std::string& path, const std::string& title, const std::string& x_label,
                          const std::string& y_label, const std::vector<LineSeries>& series, int width, int height) {
  write_png(path, render_line_chart(title, x_label, y_label, series, width, height));
}


}  // namespace mrc::data
