// mrc-experiment on tiny data: variants x seeds as ordinary mrc-train run folders, resumable (finished runs
// skipped, a killed one resumed), a Slurm array script instead of running, and the report: charts with mean
// +- spread, the final table and the differences beyond the seed spread, rendered by headless Chromium
// (its screenshot is left in the test's output folder, build/test_output/experiment_report.png).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "app_runner.h"
#include "data/image_io.h"
#include "test_util.h"
#include "tiny_model_config.h"

using namespace mrc;
using test::quoted;
namespace fs = std::filesystem;

namespace {

std::string chromium() {
  for (const char* c : {"chromium", "chromium-browser", "google-chrome"})
    if (std::system((std::string("command -v ") + c + " >/dev/null 2>&1").c_str()) == 0) return c;
  return "";
}

}  // namespace

TEST_CASE("mrc-experiment: runs, resumes, Slurm script, report with charts and table") {
  test::TempDir tmp;
  const fs::path& d = tmp.path;
  REQUIRE(test::run_app("mrc-shapes", "--out " + quoted(d / "train") + " --count 4 --size 96x64 --seed 1 --quiet", d).code == 0);
  REQUIRE(test::run_app("mrc-shapes", "--out " + quoted(d / "val") + " --count 2 --size 96x64 --seed 2 --quiet", d).code == 0);
  test::write_tiny_model_config(d / "tiny.json");
  std::ofstream(d / "sweep.json") << R"({"train": "train/via_region_data.json", "val": "val/via_region_data.json",
    "config": "tiny.json", "args": ["--schedule", "all:2:LR", "--steps-per-epoch", "1"], "seeds": [1, 2],
    "variants": {"adam": ["--optimizer", "adam"], "sgd": ["--optimizer", "sgd", "--set", "LEARNING_RATE=0.01"]}})";
  const std::string app = quoted(test::app_path("mrc-experiment"));
  const std::string base = "cd " + quoted(d) + " && " + app + " sweep.json --out exp";

  test::AppRun r = test::run_app_command(base, d);
  INFO(r.out);
  INFO(r.err);
  REQUIRE(r.code == 0);
  for (const char* run : {"adam/seed_1", "adam/seed_2", "sgd/seed_1", "sgd/seed_2"}) {
    CAPTURE(run);
    const fs::path dir = d / "exp/runs" / run;
    for (const char* f : {"epochs.csv", "eval.json", "eval_epoch_0001.json", "eval_epoch_0002.json", "config.json"})
      CHECK(fs::exists(dir / f));
  }
  const std::string html = test::read_text(d / "exp/report.html");
  CHECK(html.find("<table id=\"final\">") != std::string::npos);
  CHECK(html.find("<td>adam</td><td>2</td>") != std::string::npos);
  CHECK(html.find("<table id=\"differences\">") != std::string::npos);
  for (const char* png : {"train_loss.png", "val_loss.png", "train_mrcnn_mask_loss_unweighted.png", "val_mask_AP50.png"}) {
    CAPTURE(png);
    CHECK(html.find(std::string("charts/") + png) != std::string::npos);
    CHECK(data::decode_image((d / "exp/charts" / png).string()).width == 800);
  }

  // Resumable: finished runs are skipped; a run killed after its first epoch continues from it.
  const fs::path killed = d / "exp/runs/sgd/seed_2";
  fs::remove(killed / "eval.json");
  fs::remove(killed / "checkpoints/epoch_0002.safetensors");
  r = test::run_app_command(base, d);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("[1/4] adam seed 1: finished, skipped") != std::string::npos);
  CHECK(r.out.find("[4/4] sgd seed 2: resuming") != std::string::npos);
  CHECK(fs::exists(killed / "eval.json"));
  CHECK(fs::exists(killed / "checkpoints/epoch_0002.safetensors"));

  // A Slurm job array instead of running.
  r = test::run_app_command(base + " --slurm job.sh", d);
  REQUIRE(r.code == 0);
  const std::string job = test::read_text(d / "job.sh");
  CHECK(job.find("#SBATCH --array=0-3") != std::string::npos);
  CHECK(job.find("--only \"$SLURM_ARRAY_TASK_ID\"") != std::string::npos);

  // Bad sweep: one line naming the file and the field.
  std::ofstream(d / "bad.json") << R"({"train": "train/via_region_data.json", "val": "val/via_region_data.json", "seeds": []})";
  r = test::run_app_command("cd " + quoted(d) + " && " + app + " bad.json --out exp2", d);
  CHECK(r.code == 2);
  CHECK(r.err.find("bad.json: field 'seeds'") != std::string::npos);

  // The report renders in a browser: a headless Chromium screenshot, kept for a person to look at.
  const std::string browser = chromium();
  if (browser.empty()) {
    MESSAGE("skipped: the browser check (Chromium not installed; scripts/setup --test installs it)");
    return;
  }
  const fs::path shots = fs::path(test::app_path("mrc-experiment")).parent_path().parent_path() / "test_output";
  fs::create_directories(shots);
  const fs::path shot = shots / "experiment_report.png";
  fs::remove(shot);
  r = test::run_app_command(browser + " --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,2400 "
                                      "--screenshot=" + quoted(shot) + " " + quoted(fs::path("file://" + (d / "exp/report.html").string())),
                            d);
  INFO(r.err);
  REQUIRE(fs::exists(shot));
  const data::Image im = data::decode_image(shot.string(), {3, false});
  CHECK(im.width == 1400);
  // The charts rendered: the tab10 blue of the first variant's curve appears in the screenshot.
  size_t blue = 0;
  for (size_t i = 0; i + 2 < im.pixels.size(); i += 3)
    blue += std::abs(im.pixels[i] - 31) < 12 && std::abs(im.pixels[i + 1] - 119) < 12 && std::abs(im.pixels[i + 2] - 180) < 12;
  CHECK(blue > 200);
  MESSAGE("report screenshot: " << shot.string());
}
