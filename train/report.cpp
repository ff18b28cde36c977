// Precision-recall curves and the confusion matrix (see report.h).
#include "train/report.h"

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <sstream>

#include "data/draw.h"
#include "data/image_io.h"
#include "data/plot.h"
#include "tensor/atomic_file.h"

namespace mrc::train {
namespace fs = std::filesystem;

namespace {

double iou(const data::Mask& a, const data::Mask& b) {
  int64_t inter = 0, uni = 0;
  for (size_t k = 0; k < a.pixels.size(); ++k) {
    inter += a.pixels[k] && b.pixels[k];
    uni += a.pixels[k] || b.pixels[k];
  }
  return uni ? double(inter) / double(uni) : 0.0;
}

std::vector<double> recall_axis() {
  std::vector<double> r;
  for (int i = 0; i <= 100; ++i) r.push_back(i / 100.0);
  return r;
}

std::string class_name(const std::vector<std::string>& names, int64_t c) {
  return size_t(c) < names.size() ? names[size_t(c)] : "class " + std::to_string(c);
}

// Each class's curve and, first, their mean (COCO's AP50 is the mean's average).
std::vector<data::LineSeries> pr_series(const ApResult& r, const std::vector<std::string>& names) {
  data::LineSeries mean{"all classes (AP50 " + std::to_string(r.ap50).substr(0, 5) + ")", recall_axis(),
                        std::vector<double>(101, 0.0)};
  std::vector<data::LineSeries> out;
  for (const auto& [c, k] : r.per_class) {
    out.push_back({class_name(names, c), recall_axis(), {k.precision50.begin(), k.precision50.end()}});
    for (size_t i = 0; i < 101; ++i) mean.ys[i] += k.precision50[i] / double(r.per_class.size());
  }
  out.insert(out.begin(), mean);
  return out;
}

// A safe file name for a class.
std::string file_name(const std::string& s) {
  std::string o;
  for (char ch : s) o += std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' ? ch : '_';
  return o.empty() ? "_" : o;
}

data::Image render_confusion(const std::vector<std::vector<int64_t>>& m, const std::vector<std::string>& labels) {
  const int n = int(m.size()), cell = 44, scale = 1, label_w = 110, top = 150;
  data::Image im(label_w + n * cell + 10, top + n * cell + 30, 3, 255);
  const data::Rgb black{0, 0, 0};
  data::draw_text(im, 8, 8, "confusion at mask IoU 0.5: rows ground truth, columns detections (BG: none)", black, scale);
  for (int i = 0; i < n; ++i) {
    const std::string name = labels[size_t(i)].substr(0, 16);
    data::draw_text(im, 4, top + i * cell + cell / 2 - 5, name, black, scale);
    // column labels written vertically, one character a line
    for (size_t k = 0; k < name.size() && k < 10; ++k)
      data::draw_text(im, label_w + i * cell + cell / 2 - 3, 30 + int(k) * 11, std::string(1, name[k]), black, scale);
  }
  for (int t = 0; t < n; ++t) {
    const int64_t row = std::accumulate(m[size_t(t)].begin(), m[size_t(t)].end(), int64_t(0));
    for (int p = 0; p < n; ++p) {
      const double share = row ? double(m[size_t(t)][size_t(p)]) / double(row) : 0.0;  // row-normalized shade
      const auto fade = [&](int full) { return uint8_t(255 - share * (255 - full)); };
      const int x = label_w + p * cell, y = top + t * cell;
      data::fill_rect(im, x, y, x + cell - 1, y + cell - 1, {fade(31), fade(119), fade(180)});
      const std::string v = std::to_string(m[size_t(t)][size_t(p)]);
      data::draw_text(im, x + (cell - data::text_width(v, scale)) / 2, y + cell / 2 - 5, v,
                      share > 0.5 ? data::Rgb{255, 255, 255} : black, scale);
    }
  }
  return im;
}

}  // namespace

std::vector<std::vector<int64_t>> confusion_matrix(const std::vector<GroundTruth>& truth,
                                                   const std::vector<PhotoDetections>& detections, int64_t num_classes,
                                                   double min_iou, double min_score) {
  std::vector<std::vector<int64_t>> m(size_t(num_classes), std::vector<int64_t>(size_t(num_classes), 0));
  auto at = [&](int64_t t, int64_t p) -> int64_t& {
    if (t < 0 || t >= num_classes || p < 0 || p >= num_classes)
      throw std::invalid_argument("confusion_matrix: class " + std::to_string(std::max(t, p)) + " outside 0.." +
                                  std::to_string(num_classes - 1));
    return m[size_t(t)][size_t(p)];
  };
  for (size_t i = 0; i < truth.size(); ++i) {
    const GroundTruth& g = truth[i];
    const PhotoDetections& d = detections[i];
    std::vector<size_t> order(d.scores.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return d.scores[a] > d.scores[b]; });
    std::vector<bool> taken(g.labels.size(), false);
    for (size_t k : order) {
      if (d.scores[k] < min_score) continue;
      double best = 0;
      int hit = -1;
      for (size_t j = 0; j < g.labels.size(); ++j) {
        if (taken[j]) continue;
        const double v = iou(d.masks[k], g.masks[j]);
        if (v >= min_iou && (hit < 0 || v > best)) best = v, hit = int(j);  // ties: the first
      }
      if (hit < 0) {
        ++at(0, d.labels[k]);
      } else {
        taken[size_t(hit)] = true;
        ++at(g.labels[size_t(hit)], d.labels[k]);
      }
    }
    for (size_t j = 0; j < g.labels.size(); ++j)
      if (!taken[j]) ++at(g.labels[j], 0);
  }
  return m;
}

void write_evaluation_report(const std::string& json_path, const Evaluation& e, const std::vector<GroundTruth>& truth,
                             const std::vector<PhotoDetections>& detections, const std::vector<std::string>& class_names) {
  const fs::path json(json_path);
  const fs::path dir = json.parent_path(), stem = json.stem();
  auto beside = [&](const std::string& suffix) { return (dir / (stem.string() + suffix)).string(); };
  data::write_line_chart_png(beside("_pr_mask.png"), "mask precision-recall at IoU 0.5", "recall", "precision",
                             pr_series(e.mask, class_names), 900, 600);
  data::write_line_chart_png(beside("_pr_box.png"), "box precision-recall at IoU 0.5", "recall", "precision",
                             pr_series(e.box, class_names), 900, 600);
  fs::create_directories(beside("_pr"));
  for (const auto& [c, k] : e.mask.per_class) {
    std::vector<data::LineSeries> s{{"mask", recall_axis(), {k.precision50.begin(), k.precision50.end()}}};
    if (const auto b = e.box.per_class.find(c); b != e.box.per_class.end())
      s.push_back({"box", recall_axis(), {b->second.precision50.begin(), b->second.precision50.end()}});
    data::write_line_chart_png((fs::path(beside("_pr")) / (file_name(class_name(class_names, c)) + ".png")).string(),
                               class_name(class_names, c) + ": precision-recall at IoU 0.5", "recall", "precision", s);
  }
  const auto m = confusion_matrix(truth, detections, int64_t(class_names.size()));
  std::vector<std::string> labels = class_names;
  if (!labels.empty()) labels[0] = "BG";
  std::ostringstream csv;
  csv << "truth\\detected";
  for (const std::string& l : labels) csv << ',' << l;
  csv << '\n';
  for (size_t t = 0; t < m.size(); ++t) {
    csv << labels[t];
    for (int64_t v : m[t]) csv << ',' << v;
    csv << '\n';
  }
  write_file_atomic(beside("_confusion.csv"), csv.str());
  const std::vector<uint8_t> png = data::encode_png(render_confusion(m, labels));
  write_file_atomic(beside("_confusion.png"), std::string(png.begin(), png.end()));
}

}  // namespace mrc::train
