// The sample job's model (configs/shapes_sample.json, what scripts/run-sample trains) learns, checked cheaply:
// two short epochs on a few shapes photos of the job's size, with the job's optimizer, must lower the total,
// the RPN's objectness and the mask loss (the class loss of so few steps is too noisy to order). The full job (160+ steps, mask AP50 >= 0.3 on the
// validation photos) is scripts/run-sample's business; this guards the config against a change that stops
// the training from converging (a learning rate, a layer size, a sampler setting) in seconds.
#include <doctest/doctest.h>

#include <filesystem>

#include "app_runner.h"
#include "test_util.h"
#include "train/history.h"

using namespace mrc;
using test::quoted;
namespace fs = std::filesystem;

TEST_CASE("configs/shapes_sample.json: two short epochs lower the training losses") {
  test::TempDir tmp;
  const fs::path& d = tmp.path;
  REQUIRE(test::run_app("mrc-shapes", "--out " + quoted(d / "train") + " --count 8 --size 256x192 --seed 1 --quiet", d).code == 0);
  const fs::path config = fs::path(test::source_dir()) / "configs" / "shapes_sample.json";
  const test::AppRun r = test::run_app(
      "mrc-train", "--train " + quoted(d / "train" / "via_region_data.json") + " --val-fraction 0 --config " + quoted(config) +
                       " --optimizer adam --schedule all:2:LR --steps-per-epoch 5 --quiet --out " + quoted(d / "run"),
      d);
  INFO(r.out);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const std::vector<train::EpochRecord> epochs = train::read_epochs_csv((d / "run").string());
  REQUIRE(epochs.size() == 2);
  for (const char* loss : {"loss", "rpn_class_loss", "mrcnn_mask_loss"}) {
    CAPTURE(loss);
    CHECK(epochs[1].train.at(loss) < epochs[0].train.at(loss));
  }
}
