// mrc-compare: several mrc-train runs side by side (Adam against SGD, re-weighted losses): one chart per
// loss with each run's training and validation curve, and a table of the last epoch's losses and, where
// mrc-evaluate wrote RUN/eval.json, the mask AP50.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/app_util.h"
#include "data/progress.h"
#include "train/history.h"

using namespace mrc;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  CLI::App app{"Compare mrc-train runs: loss curves per loss (PNG) and a table of final losses and AP"};
  std::vector<std::string> runs, names;
  std::string out;
  bool overwrite = false;
  app.add_option("runs", runs, "run folders")->required()->check(CLI::ExistingDirectory);
  app.add_option("--names", names, "legend names (default: the folders' names)");
  app.add_option("--out", out, "output folder for the charts (appears whole)")->required();
  app.add_flag("--overwrite", overwrite, "replace an existing output folder");
  if (const auto code = apps::parse_command_line(app, argc, argv, "mrc-compare")) return *code;
  return apps::run_reporting_errors("mrc-compare", [&] {
    if (names.empty())
      for (const std::string& r : runs) names.push_back(fs::path(r).filename().empty() ? fs::path(r).parent_path().filename().string()
                                                                                       : fs::path(r).filename().string());
    if (names.size() != runs.size())
      throw std::runtime_error("--names: " + std::to_string(names.size()) + " names for " + std::to_string(runs.size()) + " runs");
    std::vector<std::vector<train::EpochRecord>> histories;
    for (const std::string& r : runs) {
      histories.push_back(train::read_epochs_csv(r));
      if (histories.back().empty()) throw std::runtime_error(r + "/epochs.csv: no epoch recorded yet");
    }
    data::StagedDir staged(out, overwrite);
    for (const std::string& loss : train::comparable_loss_columns())
      train::write_comparison_png((fs::path(staged.path()) / (loss + ".png")).string(), names, histories, loss);
    staged.commit();
    std::printf("%-20s %6s %10s %10s %10s %10s\n", "run", "epochs", "loss", "val_loss", "val_mask", "mask AP50");
    for (size_t i = 0; i < runs.size(); ++i) {
      const train::EpochRecord& last = histories[i].back();
      double ap50 = -1;
      std::ifstream ev{fs::path(runs[i]) / "eval.json"};
      if (ev) {
        const nlohmann::json j = nlohmann::json::parse(ev, nullptr, false);
        if (!j.is_discarded() && j.contains("segm")) ap50 = j["segm"].value("AP50", -1.0);
      }
      auto val = [&](const std::string& k) { return last.val.count(k) ? last.val.at(k) : -1.0; };
      std::printf("%-20s %6lld %10.4f %10.4f %10.4f %10s\n", names[i].c_str(), (long long)last.epoch, last.train.at("loss"),
                  val("loss"), val(train::unweighted_name("mrcnn_mask_loss")), ap50 >= 0 ? std::to_string(ap50).substr(0, 6).c_str() : "-");
    }
    std::printf("wrote %s: loss.png and one chart per loss\n", out.c_str());
    return 0;
  });
}
