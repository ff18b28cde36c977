// A small PNG bar-chart renderer for class distributions (one series, or two side by side for
// before/after), text drawn with stb_easy_font. No plotting library needed.
#pragma once
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

}  // namespace mrc::data
