// mrc-experiment's report: per variant, the mean and spread (standard deviation) over seeds of every loss
// per epoch and of the validation AP per epoch, drawn as PNG charts (mean line, shaded mean +- std band),
// a final table (mean +- std) and which variant differences exceed the seed-to-seed spread, in one
// offline HTML page.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "data/image_io.h"
#include "data/plot.h"
#include "tensor/atomic_file.h"

namespace mrc::apps {

struct MeanStd {
  double mean = NAN, std = NAN;  // std: sample standard deviation (n - 1); 0 for one seed
  size_t n = 0;
};

inline MeanStd mean_std(const std::vector<double>& values) {
  MeanStd m;
  std::vector<double> v;
  for (double x : values)
    if (std::isfinite(x)) v.push_back(x);
  m.n = v.size();
  if (v.empty()) return m;
  double s = 0;
  for (double x : v) s += x;
  m.mean = s / double(v.size());
  double q = 0;
  for (double x : v) q += (x - m.mean) * (x - m.mean);
  m.std = v.size() > 1 ? std::sqrt(q / double(v.size() - 1)) : 0.0;
  return m;
}

// Two variants differ beyond the seed spread when their means are further apart than the sum of their
// standard deviations (so the mean +- std intervals do not overlap). Needs two seeds on each side.
inline bool beyond_spread(const MeanStd& a, const MeanStd& b) {
  return a.n >= 2 && b.n >= 2 && std::fabs(a.mean - b.mean) > a.std + b.std;
}

// One curve per variant: per x (epoch) the values of every seed.
struct SpreadCurve {
  std::string name;
  std::vector<double> xs;
  std::vector<std::vector<double>> per_seed;  // [x index][seed]
};

// Line chart of the means with a shaded band of mean +- std in the same colour.
inline void write_spread_chart(const std::string& path, const std::string& title, const std::string& y_label,
                               const std::vector<SpreadCurve>& curves) {
  std::vector<data::LineSeries> series;
  std::vector<std::vector<MeanStd>> stats;
  for (const auto& c : curves) {
    data::LineSeries s{c.name, {}, {}};
    stats.emplace_back();
    for (size_t i = 0; i < c.xs.size(); ++i) {
      const MeanStd m = mean_std(c.per_seed[i]);
      stats.back().push_back(m);
      s.xs.push_back(c.xs[i]);
      s.ys.push_back(m.mean);
    }
    series.push_back(std::move(s));
  }
  data::ChartFrame f;  // the band is clipped to the plot (the axes enclose the means)
  data::Image im = data::render_line_chart(title, "epoch", y_label, series, 800, 500, &f);
  for (size_t k = 0; k < curves.size(); ++k) {
    const auto col = data::line_chart_color(k);
    const auto& c = curves[k];
    for (size_t i = 0; i + 1 < c.xs.size(); ++i) {
      const MeanStd &a = stats[k][i], &b = stats[k][i + 1];
      if (!std::isfinite(a.mean) || !std::isfinite(b.mean)) continue;
      const int x0 = int(std::lround(f.px(c.xs[i]))), x1 = int(std::lround(f.px(c.xs[i + 1])));
      for (int x = x0; x <= x1; ++x) {
        const double t = x1 > x0 ? double(x - x0) / (x1 - x0) : 0.0;
        const double m = a.mean + t * (b.mean - a.mean), s = a.std + t * (b.std - a.std);
        int y0 = int(std::lround(f.py(m + s))), y1 = int(std::lround(f.py(m - s)));
        y0 = std::max(y0, f.top);
        y1 = std::min(y1, f.bottom - 1);
        for (int y = y0; y <= y1; ++y) {
          if (x < f.left || x >= f.right) continue;
          uint8_t* p = im.at(x, y);
          for (int ch = 0; ch < 3; ++ch) p[ch] = uint8_t(std::lround(0.8 * p[ch] + 0.2 * col[size_t(ch)]));
        }
      }
    }
  }
  data::write_png(path, im);
}

inline std::string html_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else o += c;
  }
  return o;
}

inline std::string format_mean_std(const MeanStd& m, int digits = 4) {
  if (m.n == 0) return "-";
  char b[64];
  std::snprintf(b, sizeof b, "%.*f &plusmn; %.*f", digits, m.mean, digits, m.std);
  return b;
}

}  // namespace mrc::apps
