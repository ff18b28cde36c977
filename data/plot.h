// Small PNG chart renderers, text drawn with stb_easy_font, no plotting library needed: bar charts
// for class distributions (one series, or two side by side for before/after) and line charts for
// training curves (loss per iteration or epoch: training vs validation, SGD vs Adam).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"

namespace mrc::data {

// Renders an RGB chart: title on top, one group of bars per label with the count above each bar,
// labels below, a legend when there are two series. `second` empty: one series. Sizes must match
// (throws otherwise).
Image render_bar_chart(const std::string& title, const std::vector<std::string>& labels,
                       const std::vector<double>& values, const std::vector<double>& second = {},
                       const std::string& first_name = "before", const std::string& second_name = "after");

// Same, written as PNG atomically.
void write_bar_chart_png(const std::string& path, const std::string& title, const std::vector<std::string>& labels,
                         const std::vector<double>& values, const std::vector<double>& second = {},
                         const std::string& first_name = "before", const std::string& second_name = "after");

// ---- line charts ----

struct LineSeries {
  std::string name;                // legend entry
  std::vector<double> xs, ys;      // same length; non-finite points break the line
};

// Where the data lands in a rendered line chart: the plot rectangle (pixels, [left, right) x
// [top, bottom)) and the axis ranges it spans, which are "nice" numbers enclosing every finite point.
struct ChartFrame {
  int left = 0, top = 0, right = 0, bottom = 0;
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  double px(double x) const;       // data x -> pixel column
  double py(double y) const;       // data y -> pixel row (up is larger y)
};

// The colour of series i (matplotlib's tab10 cycle: blue, orange, green, red, purple, ...).
std::array<uint8_t, 3> line_chart_color(size_t i);

// Renders an RGB chart: title, a legend row per few series above the plot (never over the data),
// axes with ticks and tick labels, grid lines, the x label below and the y label along the left
// side, each series as a 2-pixel polyline (a lone point as a dot). Throws std::invalid_argument
// naming the series when its xs and ys differ in length, or on a size below 240 x 180.
Image render_line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                        const std::vector<LineSeries>& series, int width = 800, int height = 500,
                        ChartFrame* frame = nullptr);

// Same, written as PNG atomically (the file appears whole or not at all).
void write_line_chart_png(const std::string& path, const std::string& title, const std::string& x_label,
                          const std::string& y_label, const std::vector<LineSeries>& series, int width = 800,
                          int height = 500);

}  // namespace mrc::data
