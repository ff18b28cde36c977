// The README's workflow block, run as written (extracted from README.md) on tiny generated data: the
// settings it reads from the environment (b, data, cfg, phases, steps) point it at the built apps, a folder
// of shapes photos and a tiny model, so the whole chain -- stats, augment, three trainings, compare,
// convert, evaluate, predict on a dataset and on a video -- runs in seconds.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "app_runner.h"
#include "test_util.h"
#include "tiny_model_config.h"

using namespace mrc;
using test::quoted;
namespace fs = std::filesystem;

namespace {

// The first ```bash block after the heading `heading` in README.md.
std::string readme_block(const std::string& heading) {
  const std::string text = test::read_text(fs::path(test::source_dir()) / "README.md");
  const size_t h = text.find(heading);
  REQUIRE_MESSAGE(h != std::string::npos, "README.md has no heading " << heading);
  const size_t start = text.find("```bash\n", h);
  REQUIRE(start != std::string::npos);
  const size_t end = text.find("```", start + 8);
  REQUIRE(end != std::string::npos);
  return text.substr(start + 8, end - start - 8);
}

}  // namespace

TEST_CASE("the README's workflow block runs as written on tiny data") {
  if (std::system("command -v ffmpeg >/dev/null 2>&1") != 0) {
    MESSAGE("skipped: ffmpeg not installed (the block segments a video; scripts/setup --test installs it)");
    return;
  }
  test::TempDir tmp;
  const fs::path& d = tmp.path;
  const fs::path bin = test::app_path("mrc-train").parent_path();
  REQUIRE(test::run_app("mrc-shapes", "--out " + quoted(d / "train") + " --count 6 --size 96x64 --seed 1 --quiet", d).code == 0);
  REQUIRE(test::run_app("mrc-shapes", "--out " + quoted(d / "test") + " --count 3 --size 96x64 --seed 2 --quiet", d).code == 0);
  REQUIRE(std::system(("ffmpeg -v error -y -framerate 5 -i " + quoted(d / "test" / "shapes_%05d.jpg") +
                       " -c:v libx264 -pix_fmt yuv420p " + quoted(d / "clip.mp4")).c_str()) == 0);
  test::write_tiny_model_config(d / "tiny.json");
  std::ofstream(d / "workflow.sh") << "set -euo pipefail\n" << readme_block("## The study's workflow");
  const std::string cmd = "cd " + quoted(fs::path(test::source_dir())) + " && b=" + quoted(bin) + " data=" + quoted(d) +
                          " cfg=" + quoted(d / "tiny.json") + " phases=all:1:LR steps=2 bash " + quoted(d / "workflow.sh");
  const test::AppRun r = test::run_app_command(cmd, d);
  INFO(r.out);
  INFO(r.err);
  REQUIRE(r.code == 0);
  for (const char* f : {"classes.png", "train_aug/via_region_data.json", "runs/sgd/eval.json", "runs/adam/eval.json",
                        "runs/mask2/eval.json", "test.coco.json", "predictions/detections.json",
                        "predictions/contact_sheet.png", "clip_pred/clip_segmented.mp4", "clip_pred/timing.json"}) {
    CAPTURE(f);
    CHECK(fs::exists(d / f));
  }
  CHECK(fs::is_directory(d / "compare"));
  CHECK(r.out.find("classes: region attribute 'class'") != std::string::npos);
  const auto cfg = nlohmann::json::parse(test::read_text(d / "runs/mask2/config.json"));
  CHECK(cfg["LOSS_WEIGHTS"]["mrcnn_mask_loss"] == 2.0);
}
