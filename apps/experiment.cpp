// mrc-experiment: the study's experiments (Adam against SGD, re-weighted losses, schedules, augmentation) as
// one sweep: variants x seeds, each an ordinary mrc-train run folder, then a report over the seeds.
//   mrc-experiment SWEEP.json --out DIR [--only K] [--report-only] [--slurm FILE]
// SWEEP.json (paths relative to the current folder):
//   {"train": "...json", "val": "...json", "config": "configs/shapes_sample.json",
//    "args": ["--schedule", "all:4:LR"],                 mrc-train arguments every run gets
//    "seeds": [1, 2, 3],
//    "variants": {"adam": ["--optimizer", "adam"], "sgd": ["--optimizer", "sgd", "--set", "LEARNING_RATE=0.02"]},
//    "evaluate_epochs": true}                             validation AP of every epoch's checkpoint
// Runs go to DIR/runs/<variant>/seed_<s>, one after another, each by running mrc-train (and mrc-evaluate) as
// a subprocess. Resumable: a run with eval.json is finished and skipped, a run with checkpoints continues
// with --resume last. --only K runs the K-th run alone (0-based, variant-major): --slurm FILE writes a Slurm
// job-array script doing exactly that, one task per run (then --report-only). Report: DIR/report.html with
// its PNG charts, viewable offline.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/app_util.h"
#include "apps/experiment_report.h"
#include "data/video.h"
#include "models/maskrcnn/config.h"
#include "tensor/atomic_file.h"
#include "train/history.h"

using namespace mrc;
using namespace mrc::apps;
namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

struct Sweep {
  std::string path, train, val, config;
  std::vector<std::string> args;
  std::vector<int64_t> seeds;
  std::vector<std::pair<std::string, std::vector<std::string>>> variants;
  bool evaluate_epochs = true;
};

struct RunSpec {
  std::string variant;
  int64_t seed;
  fs::path dir;
};

std::vector<std::string> string_list(const ojson& j, const std::string& where) {
  if (!j.is_array()) throw std::runtime_error(where + ": expected a list of strings");
  std::vector<std::string> v;
  for (const auto& x : j) {
    if (!x.is_string()) throw std::runtime_error(where + ": expected a list of strings, found " + x.dump());
    v.push_back(x.get<std::string>());
  }
  return v;
}

Sweep read_sweep(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": file not found");
  const ojson j = ojson::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw std::runtime_error(path + ": malformed JSON (expected an object)");
  Sweep s;
  s.path = path;
  auto text = [&](const char* key, bool required) {
    if (!j.contains(key)) {
      if (required) throw std::runtime_error(path + ": missing field '" + key + "'");
      return std::string();
    }
    if (!j[key].is_string()) throw std::runtime_error(path + ": field '" + key + "' should be a string");
    return j[key].get<std::string>();
  };
  s.train = text("train", true);
  s.val = text("val", true);
  s.config = text("config", false);
  if (j.contains("args")) s.args = string_list(j["args"], path + ": field 'args'");
  if (!j.contains("seeds") || !j["seeds"].is_array() || j["seeds"].empty())
    throw std::runtime_error(path + ": field 'seeds' should be a non-empty list of integers");
  for (const auto& x : j["seeds"]) {
    if (!x.is_number_integer() || x.get<int64_t>() <= 0)
      throw std::runtime_error(path + ": field 'seeds' holds " + x.dump() + " (expected positive integers)");
    s.seeds.push_back(x.get<int64_t>());
  }
  if (!j.contains("variants") || !j["variants"].is_object() || j["variants"].empty())
    throw std::runtime_error(path + ": field 'variants' should be an object {name: [mrc-train arguments]}");
  for (const auto& [name, a] : j["variants"].items())
    s.variants.emplace_back(name, string_list(a, path + ": variant '" + name + "'"));
  if (j.contains("evaluate_epochs")) s.evaluate_epochs = j["evaluate_epochs"].get<bool>();
  for (const auto& [k, v] : j.items())
    if (k.rfind("_", 0) != 0 && k != "train" && k != "val" && k != "config" && k != "args" && k != "seeds" &&
        k != "variants" && k != "evaluate_epochs")
      throw std::runtime_error(path + ": unknown field '" + k + "'");
  return s;
}

std::vector<RunSpec> plan_runs(const Sweep& s, const fs::path& out) {
  std::vector<RunSpec> runs;
  for (const auto& [name, args] : s.variants)
    for (int64_t seed : s.seeds) runs.push_back({name, seed, out / "runs" / name / ("seed_" + std::to_string(seed))});
  return runs;
}

fs::path app_dir() { return fs::read_symlink("/proc/self/exe").parent_path(); }

std::string join_quoted(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += " " + data::shell_quote(w);
  return s;
}

void run_command(const std::string& cmd, const std::string& what) {
  std::fflush(stdout);
  const int status = std::system(cmd.c_str());
  if (status != 0) throw std::runtime_error(what + " failed (exit status " + std::to_string(status) + "): " + cmd);
}

std::vector<fs::path> epoch_checkpoints(const fs::path& run) {
  std::vector<fs::path> v;
  if (!fs::is_directory(run / "checkpoints")) return v;
  for (const auto& e : fs::directory_iterator(run / "checkpoints"))
    if (e.path().filename().string().rfind("epoch_", 0) == 0 && e.path().extension() == ".safetensors") v.push_back(e.path());
  std::sort(v.begin(), v.end());
  return v;
}

// Trains (or resumes, or skips) one run, then evaluates every epoch's checkpoint not yet evaluated.
void execute(const Sweep& s, const RunSpec& r, size_t index, size_t total) {
  const std::vector<std::string>& vargs =
      std::find_if(s.variants.begin(), s.variants.end(), [&](const auto& v) { return v.first == r.variant; })->second;
  const bool finished = fs::exists(r.dir / "eval.json");
  std::printf("[%zu/%zu] %s seed %lld: %s\n", index + 1, total, r.variant.c_str(), (long long)r.seed,
              finished ? "finished, skipped" : fs::exists(r.dir / "checkpoints") ? "resuming" : "training");
  if (!finished) {
    std::vector<std::string> a = {"--train", s.train, "--val", s.val};
    if (!s.config.empty()) a.insert(a.end(), {"--config", s.config});
    a.insert(a.end(), s.args.begin(), s.args.end());
    a.insert(a.end(), vargs.begin(), vargs.end());
    a.insert(a.end(), {"--seed", std::to_string(r.seed), "--evaluate", "--quiet", "--out", r.dir.string()});
    if (!epoch_checkpoints(r.dir).empty()) a.insert(a.end(), {"--resume", "last"});
    fs::create_directories(r.dir.parent_path());
    run_command(data::shell_quote((app_dir() / "mrc-train").string()) + join_quoted(a), "mrc-train");
  }
  if (!s.evaluate_epochs) return;
  for (const fs::path& ck : epoch_checkpoints(r.dir)) {
    const fs::path ev = r.dir / ("eval_" + ck.stem().string() + ".json");
    if (fs::exists(ev)) continue;
    run_command(data::shell_quote((app_dir() / "mrc-evaluate").string()) +
                    join_quoted({"--run", r.dir.string(), "--checkpoint", ck.string(), "--data", s.val, "--quiet",
                                 "--out", ev.string()}) + " >/dev/null",
                "mrc-evaluate");
  }
}

double json_metric(const fs::path& file, const char* kind, const char* key) {
  std::ifstream in(file);
  if (!in) return NAN;
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains(kind)) return NAN;
  return j[kind].value(key, NAN);
}

// The report over every run that has an epochs.csv.
void write_report(const Sweep& s, const std::vector<RunSpec>& runs, const fs::path& out) {
  const std::vector<std::string> losses = train::comparable_loss_columns();
  struct VariantData {
    std::string name;
    std::vector<std::vector<train::EpochRecord>> seeds;
    std::vector<fs::path> dirs;
  };
  std::vector<VariantData> vd;
  for (const auto& [name, args] : s.variants) {
    VariantData v{name, {}, {}};
    for (const RunSpec& r : runs)
      if (r.variant == name && fs::exists(r.dir / "epochs.csv")) {
        v.seeds.push_back(train::read_epochs_csv(r.dir.string()));
        v.dirs.push_back(r.dir);
      }
    vd.push_back(std::move(v));
  }
  const fs::path charts = out / "charts";
  fs::create_directories(charts);
  // Per epoch, per seed: a value of a run.
  auto curve = [&](const VariantData& v, const std::function<double(size_t seed, const train::EpochRecord&)>& value) {
    SpreadCurve c{v.name, {}, {}};
    size_t epochs = 0;
    for (const auto& h : v.seeds) epochs = std::max(epochs, h.size());
    for (size_t e = 0; e < epochs; ++e) {
      c.xs.push_back(double(e + 1));
      std::vector<double> vals;
      for (size_t k = 0; k < v.seeds.size(); ++k)
        if (e < v.seeds[k].size()) vals.push_back(value(k, v.seeds[k][e]));
      c.per_seed.push_back(vals);
    }
    return c;
  };
  std::string html = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>mrc-experiment report</title><style>"
                     "body{font-family:sans-serif;margin:24px}table{border-collapse:collapse}td,th{border:1px solid #999;"
                     "padding:4px 8px;text-align:right}th{background:#eee}img{width:640px;margin:4px}"
                     ".beyond{background:#cfc}</style></head><body>\n";
  html += "<h1>Experiment " + html_escape(s.path) + "</h1>\n<p>" + std::to_string(s.variants.size()) + " variants &times; " +
          std::to_string(s.seeds.size()) + " seeds; curves show the mean over seeds with a band of &plusmn; one standard "
          "deviation.</p>\n<h2>Losses per epoch</h2>\n";
  for (const std::string& loss : losses)
    for (const bool val : {false, true}) {
      std::vector<SpreadCurve> cs;
      for (const auto& v : vd)
        cs.push_back(curve(v, [&](size_t, const train::EpochRecord& e) {
          const auto& m = val ? e.val : e.train;
          return m.count(loss) ? m.at(loss) : NAN;
        }));
      const std::string png = (val ? "val_" : "train_") + loss + ".png";
      write_spread_chart((charts / png).string(), std::string(val ? "validation " : "training ") + loss, loss, cs);
      html += "<img src=\"charts/" + png + "\" alt=\"" + png + "\">\n";
    }
  html += "<h2>Validation AP per epoch</h2>\n";
  for (const char* key : {"AP50", "AP"}) {
    std::vector<SpreadCurve> cs;
    for (const auto& v : vd)
      cs.push_back(curve(v, [&](size_t k, const train::EpochRecord& e) {
        char name[64];
        std::snprintf(name, sizeof name, "eval_epoch_%04lld.json", (long long)e.epoch);
        return json_metric(v.dirs[k] / name, "segm", key);
      }));
    const std::string png = std::string("val_mask_") + key + ".png";
    write_spread_chart((charts / png).string(), std::string("validation mask ") + key, key, cs);
    html += "<img src=\"charts/" + png + "\" alt=\"" + png + "\">\n";
  }
  // Final table.
  struct Metric {
    std::string title;
    std::function<double(const VariantData&, size_t)> value;
  };
  const std::vector<Metric> metrics = {
      {"final training loss", [](const VariantData& v, size_t k) { return v.seeds[k].back().train.at("loss"); }},
      {"final validation loss", [](const VariantData& v, size_t k) {
         const auto& m = v.seeds[k].back().val;
         return m.count("loss") ? m.at("loss") : NAN;
       }},
      {"mask AP50", [](const VariantData& v, size_t k) { return json_metric(v.dirs[k] / "eval.json", "segm", "AP50"); }},
      {"mask AP", [](const VariantData& v, size_t k) { return json_metric(v.dirs[k] / "eval.json", "segm", "AP"); }},
      {"box AP50", [](const VariantData& v, size_t k) { return json_metric(v.dirs[k] / "eval.json", "bbox", "AP50"); }}};
  std::vector<std::vector<MeanStd>> table(vd.size());
  html += "<h2>Final results (mean &plusmn; std over seeds)</h2>\n<table id=\"final\"><tr><th>variant</th><th>seeds</th>";
  for (const auto& m : metrics) html += "<th>" + m.title + "</th>";
  html += "</tr>\n";
  for (size_t i = 0; i < vd.size(); ++i) {
    html += "<tr><td>" + html_escape(vd[i].name) + "</td><td>" + std::to_string(vd[i].seeds.size()) + "</td>";
    for (const auto& m : metrics) {
      std::vector<double> vals;
      for (size_t k = 0; k < vd[i].seeds.size(); ++k) vals.push_back(m.value(vd[i], k));
      table[i].push_back(mean_std(vals));
      html += "<td>" + format_mean_std(table[i].back()) + "</td>";
    }
    html += "</tr>\n";
  }
  html += "</table>\n<h2>Differences larger than the seed-to-seed spread</h2>\n<p>|mean<sub>a</sub> &minus; "
          "mean<sub>b</sub>| &gt; std<sub>a</sub> + std<sub>b</sub> (needs two seeds per variant).</p>\n"
          "<table id=\"differences\"><tr><th>variant a</th><th>variant b</th>";
  for (const auto& m : metrics) html += "<th>" + m.title + "</th>";
  html += "</tr>\n";
  size_t beyond = 0;
  for (size_t a = 0; a < vd.size(); ++a)
    for (size_t b = a + 1; b < vd.size(); ++b) {
      html += "<tr><td>" + html_escape(vd[a].name) + "</td><td>" + html_escape(vd[b].name) + "</td>";
      for (size_t m = 0; m < metrics.size(); ++m) {
        const bool yes = beyond_spread(table[a][m], table[b][m]);
        beyond += yes;
        char d[48];
        std::snprintf(d, sizeof d, "%+.4f", table[a][m].mean - table[b][m].mean);
        html += std::string("<td") + (yes ? " class=\"beyond\">" : ">") + d + (yes ? " (beyond spread)" : "") + "</td>";
      }
      html += "</tr>\n";
    }
  html += "</table>\n</body></html>\n";
  write_file_atomic((out / "report.html").string(), html);
  std::printf("report: %s (%zu differences beyond the seed spread)\n", (out / "report.html").string().c_str(), beyond);
}

void write_slurm(const std::string& path, const Sweep& s, const fs::path& out, size_t n) {
  std::string script = "#!/bin/bash\n# Written by mrc-experiment: one array task per run of " + s.path +
                       "; afterwards run\n#   mrc-experiment " + s.path + " --out " + out.string() +
                       " --report-only\n#SBATCH --job-name=mrc-experiment\n#SBATCH --array=0-" + std::to_string(n - 1) +
                       "\n#SBATCH --cpus-per-task=2\n#SBATCH --output=" + (out / "slurm_%a.log").string() + "\nset -euo pipefail\n" +
                       "cd " + data::shell_quote(fs::current_path().string()) + "\n" +
                       data::shell_quote((app_dir() / "mrc-experiment").string()) + " " + data::shell_quote(s.path) +
                       " --out " + data::shell_quote(out.string()) + " --only \"$SLURM_ARRAY_TASK_ID\" --no-report\n";
  write_file_atomic(path, script);
  std::printf("wrote %s: sbatch %s runs the %zu runs as a job array\n", path.c_str(), path.c_str(), n);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Run a sweep of mrc-train variants x seeds and report mean +- spread over seeds"};
  std::string sweep_path, out, slurm;
  int64_t only = -1;
  bool report_only = false, no_report = false;
  app.add_option("sweep", sweep_path, "sweep JSON (see configs/experiments/)")->required();
  app.add_option("--out", out, "experiment folder: runs/<variant>/seed_<s>/, report.html, charts/")->required();
  app.add_option("--only", only, "run only the K-th run (0-based; e.g. a Slurm array task)");
  app.add_option("--slurm", slurm, "write a Slurm job-array script (one task per run) instead of running");
  app.add_flag("--report-only", report_only, "write the report from the runs done so far");
  app.add_flag("--no-report", no_report, "run, but leave the report for later");
  if (const auto code = apps::parse_command_line(app, argc, argv, "mrc-experiment")) return *code;
  return apps::run_reporting_errors("mrc-experiment", [&] {
    const Sweep s = read_sweep(sweep_path);
    for (const std::string& f : {s.train, s.val, s.config})
      if (!f.empty() && !fs::exists(f)) throw std::runtime_error(sweep_path + ": " + f + ": file not found");
    const fs::path dir = fs::absolute(out);
    const std::vector<RunSpec> runs = plan_runs(s, dir);
    fs::create_directories(dir);
    if (!slurm.empty()) {
      write_slurm(slurm, s, dir, runs.size());
      return 0;
    }
    if (only >= int64_t(runs.size()))
      throw std::runtime_error("--only " + std::to_string(only) + ": the sweep has runs 0.." + std::to_string(runs.size() - 1));
    if (!report_only)
      for (size_t i = 0; i < runs.size(); ++i)
        if (only < 0 || size_t(only) == i) execute(s, runs[i], i, runs.size());
    if (!no_report) write_report(s, runs, dir);
    return 0;
  });
}
