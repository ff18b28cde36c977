// Loss history: JSON, CSV and PNG (see history.h).
#include "train/history.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "data/plot.h"
#include "tensor/atomic_file.h"

namespace mrc::train {
namespace fs = std::filesystem;
using maskrcnn::kLossNames;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// "loss", the five weighted, then the five unweighted.
std::vector<std::string> loss_columns() {
  std::vector<std::string> c{"loss"};
  c.insert(c.end(), kLossNames.begin(), kLossNames.end());
  for (const std::string& n : kLossNames) c.push_back(unweighted_name(n));
  return c;
}

bool is_unweighted_column(const std::string& c) {
  return std::any_of(kLossNames.begin(), kLossNames.end(), [&](const std::string& n) { return c == unweighted_name(n); });
}

double value_or_nan(const std::map<std::string, double>& m, const std::string& k) {
  const auto it = m.find(k);
  return it == m.end() ? kNaN : it->second;
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> f;
  std::string cur;
  std::istringstream in(line);
  while (std::getline(in, cur, ',')) f.push_back(cur);
  if (!line.empty() && line.back() == ',') f.emplace_back();
  return f;
}

// x of each step on the epoch axis: epoch e's k-th of n steps at e - 1 + k / n.
std::vector<double> step_positions(const std::vector<StepRecord>& steps) {
  std::map<int64_t, int64_t> per_epoch;
  for (const StepRecord& s : steps) ++per_epoch[s.epoch];
  std::map<int64_t, int64_t> seen;
  std::vector<double> xs;
  for (const StepRecord& s : steps)
    xs.push_back(double(s.epoch - 1) + double(++seen[s.epoch]) / double(per_epoch[s.epoch]));
  return xs;
}

std::string short_name(const std::string& loss) {
  return loss.size() > 5 && loss.compare(loss.size() - 5, 5, "_loss") == 0 ? loss.substr(0, loss.size() - 5) : loss;
}

}  // namespace

std::string unweighted_name(const std::string& loss) { return loss + "_unweighted"; }

std::vector<std::string> comparable_loss_columns() {
  std::vector<std::string> c{"loss"};
  for (const std::string& n : kLossNames) c.push_back(unweighted_name(n));
  return c;
}

std::map<std::string, double> recorded_losses(const std::map<std::string, double>& unweighted_and_total,
                                              const maskrcnn::Config& cfg) {
  std::map<std::string, double> r{{"loss", unweighted_and_total.at("loss")}};
  for (const std::string& n : kLossNames) {
    const double v = unweighted_and_total.at(n);
    r[n] = cfg.loss_weight(n) * v;
    r[unweighted_name(n)] = v;
  }
  return r;
}

nlohmann::json history_to_json(const std::vector<StepRecord>& steps, const std::vector<EpochRecord>& epochs) {
  nlohmann::json j;
  j["steps"] = nlohmann::json::array();
  for (const StepRecord& s : steps) j["steps"].push_back({{"step", s.step}, {"epoch", s.epoch}, {"lr", s.lr}, {"losses", s.losses}});
  j["epochs"] = nlohmann::json::array();
  for (const EpochRecord& e : epochs)
    j["epochs"].push_back({{"epoch", e.epoch}, {"layers", e.layers}, {"lr", e.lr}, {"train", e.train}, {"val", e.val},
                           {"ap", e.ap}, {"seconds", e.seconds}});
  return j;
}

void history_from_json(const nlohmann::json& j, std::vector<StepRecord>& steps, std::vector<EpochRecord>& epochs) {
  steps.clear();
  epochs.clear();
  for (const auto& s : j.at("steps"))
    steps.push_back({s.at("step").get<int64_t>(), s.at("epoch").get<int64_t>(), s.at("lr").get<double>(),
                     s.at("losses").get<std::map<std::string, double>>()});
  for (const auto& e : j.at("epochs"))
    epochs.push_back({e.at("epoch").get<int64_t>(), e.at("layers").get<std::string>(), e.at("lr").get<double>(),
                      e.at("train").get<std::map<std::string, double>>(), e.at("val").get<std::map<std::string, double>>(),
                      e.value("ap", std::map<std::string, double>{}),  // absent in checkpoints written before AP
                      e.at("seconds").get<double>()});
}

void write_history(const std::string& run_dir, const std::vector<StepRecord>& steps,
                   const std::vector<EpochRecord>& epochs) {
  const fs::path dir(run_dir);
  const std::vector<std::string> cols = loss_columns();
  std::ostringstream h;
  h << std::setprecision(9) << "step,epoch,lr";
  for (const std::string& c : cols) h << ',' << c;
  h << '\n';
  for (const StepRecord& s : steps) {
    h << s.step << ',' << s.epoch << ',' << s.lr;
    for (const std::string& c : cols) h << ',' << value_or_nan(s.losses, c);
    h << '\n';
  }
  write_file_atomic((dir / "history.csv").string(), h.str());

  std::ostringstream e;
  e << std::setprecision(9) << "epoch,layers,lr";
  for (const std::string& c : cols) e << ',' << c;
  for (const std::string& c : cols) e << ",val_" << c;
  for (const std::string& c : kApNames) e << ",val_" << c;
  e << ",seconds\n";
  for (const EpochRecord& r : epochs) {
    e << r.epoch << ',' << r.layers << ',' << r.lr;
    for (const std::string& c : cols) e << ',' << value_or_nan(r.train, c);
    for (const std::string& c : cols) e << ',' << value_or_nan(r.val, c);
    for (const std::string& c : kApNames) e << ',' << value_or_nan(r.ap, c);
    e << ',' << r.seconds << '\n';
  }
  write_file_atomic((dir / "epochs.csv").string(), e.str());

  data::LineSeries per_step{"train (each step)", step_positions(steps), {}};
  for (const StepRecord& s : steps) per_step.ys.push_back(value_or_nan(s.losses, "loss"));
  data::LineSeries train{"train (epoch mean)", {}, {}}, val{"validation", {}, {}};
  for (const EpochRecord& r : epochs) {
    train.xs.push_back(double(r.epoch));
    train.ys.push_back(value_or_nan(r.train, "loss"));
    val.xs.push_back(double(r.epoch));
    val.ys.push_back(value_or_nan(r.val, "loss"));
  }
  std::vector<data::LineSeries> total{per_step, train};
  if (!epochs.empty() && !epochs.front().val.empty()) total.push_back(val);
  data::write_line_chart_png((dir / "loss.png").string(), "Mask R-CNN loss (weighted total)", "epoch", "loss", total);

  std::vector<data::LineSeries> by_name;
  const bool has_val = !epochs.empty() && !epochs.front().val.empty();
  for (const std::string& name : kLossNames) {
    data::LineSeries s{short_name(name) + (has_val ? " (val)" : " (train)"), {}, {}};
    for (const EpochRecord& r : epochs) {
      s.xs.push_back(double(r.epoch));
      s.ys.push_back(value_or_nan(has_val ? r.val : r.train, name));
    }
    by_name.push_back(s);
  }
  data::write_line_chart_png((dir / "losses.png").string(),
                             has_val ? "validation losses per epoch (weighted by LOSS_WEIGHTS)"
                                     : "training losses per epoch (weighted by LOSS_WEIGHTS)",
                             "epoch", "loss",
                             by_name);

  std::vector<data::LineSeries> ap;
  for (const char* name : {"mask_AP", "mask_AP50", "box_AP", "box_AP50"}) {
    data::LineSeries s{name, {}, {}};
    for (const EpochRecord& r : epochs)
      if (r.ap.count(name)) s.xs.push_back(double(r.epoch)), s.ys.push_back(r.ap.at(name));
    if (!s.xs.empty()) ap.push_back(s);
  }
  if (!ap.empty())
    data::write_line_chart_png((dir / "ap.png").string(), "AP on the validation photos", "epoch", "AP", ap);
}

std::vector<EpochRecord> read_epochs_csv(const std::string& run_dir) {
  const std::string path = (fs::path(run_dir) / "epochs.csv").string();
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open (is " + run_dir + " a mrc-train run folder?)");
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> header = split_csv_line(line);
  std::map<std::string, size_t> column;
  for (size_t i = 0; i < header.size(); ++i) column[header[i]] = i;
  std::vector<std::string> required{"epoch", "layers", "lr", "seconds"};
  for (const std::string& c : loss_columns())  // runs written before the unweighted columns lack them
    if (!is_unweighted_column(c)) required.push_back(c), required.push_back("val_" + c);
  for (const std::string& c : required)
    if (!column.count(c))
      throw std::runtime_error(path + ": line 1: no column \"" + c + "\" (expected the header mrc-train writes)");
  std::vector<EpochRecord> records;
  for (int line_no = 2; std::getline(in, line); ++line_no) {
    if (line.empty()) continue;
    const std::vector<std::string> f = split_csv_line(line);
    const std::string where = path + ": line " + std::to_string(line_no);
    if (f.size() != header.size())
      throw std::runtime_error(where + ": expected " + std::to_string(header.size()) + " columns, got " + std::to_string(f.size()));
    auto number = [&](const std::string& name) {
      const size_t i = column.at(name);
      try {
        size_t used = 0;
        const double v = std::stod(f[i], &used);
        if (used == f[i].size()) return v;
      } catch (const std::exception&) {
      }
      throw std::runtime_error(where + ": column \"" + name + "\": expected a number, got \"" + f[i] + "\"");
    };
    EpochRecord r;
    r.epoch = int64_t(number("epoch"));
    r.layers = f[column.at("layers")];
    r.lr = number("lr");
    for (const std::string& c : loss_columns()) {
      if (!column.count(c)) continue;
      r.train[c] = number(c);
      if (const double v = number("val_" + c); v == v) r.val[c] = v;
    }
    for (const std::string& c : kApNames)  // older runs have no AP columns
      if (column.count("val_" + c))
        if (const double v = number("val_" + c); v == v) r.ap[c] = v;
    r.seconds = number("seconds");
    records.push_back(r);
  }
  return records;
}

void write_comparison_png(const std::string& path, const std::vector<std::string>& run_names,
                          const std::vector<std::vector<EpochRecord>>& runs, const std::string& loss) {
  if (run_names.size() != runs.size()) throw std::invalid_argument("write_comparison_png: names and runs differ in number");
  std::vector<data::LineSeries> series;
  for (size_t i = 0; i < runs.size(); ++i) {
    data::LineSeries train{run_names[i] + " train", {}, {}}, val{run_names[i] + " val", {}, {}};
    for (const EpochRecord& r : runs[i]) {
      train.xs.push_back(double(r.epoch));
      train.ys.push_back(value_or_nan(r.train, loss));
      if (!r.val.empty()) {
        val.xs.push_back(double(r.epoch));
        val.ys.push_back(value_or_nan(r.val, loss));
      }
    }
    series.push_back(train);
    if (!val.xs.empty()) series.push_back(val);
  }
  data::write_line_chart_png(path, short_name(loss) + " per epoch", "epoch", loss, series, 900, 560);
}

}  // namespace mrc::train
