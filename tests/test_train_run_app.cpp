// mrc-train's run folder as a matterport user relies on it: AP on the validation photos every epoch (epochs.csv,
// the console, ap.png, eval.json), the best checkpoint kept apart and only the last KEEP_CHECKPOINTS, TensorBoard
// events read back by the tensorboard package's own reader, --resume restoring everything from the folder,
// contradicting flags and restarts refused, --overwrite, and mrc-evaluate --run writing beside the run.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "app_runner.h"
#include "test_util.h"

using namespace mrc;
using test::quoted;
namespace fs = std::filesystem;

namespace {

const char* kTinyConfig = R"({"IMAGE_MIN_DIM": 64, "IMAGE_MAX_DIM": 96, "BACKBONE_NORM": "gn", "TRAINABLE_LAYERS": 5,
  "RPN_ANCHOR_SCALES": [8, 16, 32, 64, 128], "PRE_NMS_LIMIT": 200, "POST_NMS_ROIS_TRAINING": 200,
  "POST_NMS_ROIS_INFERENCE": 100, "TRAIN_ROIS_PER_IMAGE": 32, "RPN_TRAIN_ANCHORS_PER_IMAGE": 64, "IMAGES_PER_GPU": 2,
  "LEARNING_RATE": 0.01, "SEED": 4, "KEEP_CHECKPOINTS": 2})";

nlohmann::json read_json(const fs::path& p) { return nlohmann::json::parse(test::read_text(p)); }

std::vector<std::string> lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

std::vector<std::string> fields(const std::string& line) {
  std::vector<std::string> f;
  std::string cur;
  std::istringstream in(line);
  while (std::getline(in, cur, ',')) f.push_back(cur);
  return f;
}

std::vector<int64_t> epoch_files(const fs::path& run) {
  std::vector<int64_t> e;
  for (int64_t i = 1; i <= 9; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "checkpoints/epoch_%04lld.safetensors", (long long)i);
    if (fs::exists(run / name)) e.push_back(i);
  }
  return e;
}

}  // namespace

TEST_CASE("evaluation every epoch, best and last checkpoints, TensorBoard, resume, refusals, mrc-evaluate --run") {
  test::TempDir tmp;
  const fs::path& dir = tmp.path;
  auto run = [&](const std::string& app, const std::string& args) { return test::run_app(app, args, dir); };
  std::ofstream(dir / "tiny.json") << kTinyConfig;
  REQUIRE(run("mrc-shapes", "--out " + quoted(dir / "train") + " --count 6 --size 96x64 --seed 1").code == 0);
  REQUIRE(run("mrc-shapes", "--out " + quoted(dir / "val") + " --count 3 --size 96x64 --seed 2").code == 0);
  const fs::path out = dir / "run";
  const std::string data = "--train " + quoted(dir / "train/via_region_data.json") + " --val " +
                           quoted(dir / "val/via_region_data.json");
  const std::string first = data + " --config " + quoted(dir / "tiny.json") +
                            " --schedule heads:1:LR,all:@3:LR/10 --steps-per-epoch 2 --validation-steps 1 --quiet --out " +
                            quoted(out);
  test::AppRun r = run("mrc-train", first);
  INFO(r.err);
  REQUIRE(r.code == 0);
  for (const char* line : {"epoch 1/3 [heads, lr 0.01]", "epoch 2/3 [all, lr 0.001]", "epoch 3/3 [all, lr 0.001]"}) {
    const size_t at = r.out.find(line);
    REQUIRE_MESSAGE(at != std::string::npos, line);
    CHECK(r.out.substr(at, r.out.find('\n', at) - at).find("mask AP ") != std::string::npos);  // evaluated every epoch
  }

  // epochs.csv: the AP of every epoch beside the losses; eval.json is the last evaluation.
  const std::vector<std::string> csv = lines(out / "epochs.csv");
  REQUIRE(csv.size() == 4);
  const std::vector<std::string> header = fields(csv[0]);
  const auto col = std::find(header.begin(), header.end(), "val_mask_AP") - header.begin();
  REQUIRE(size_t(col) < header.size());
  CHECK(std::find(header.begin(), header.end(), "val_box_AP50") != header.end());
  double last_ap = -1;
  for (size_t i = 1; i < csv.size(); ++i) {
    last_ap = std::stod(fields(csv[i])[size_t(col)]);
    CHECK(last_ap >= 0.0);
  }
  const nlohmann::json ev = read_json(out / "eval.json");
  CHECK(ev.at("epoch") == 3);
  CHECK(ev.at("segm").at("AP").get<double>() == doctest::Approx(last_ap).epsilon(1e-6));
  for (const char* f : {"ap.png", "run.json", "checkpoints/best.safetensors", "eval_pr_mask.png", "eval_pr_box.png",
                        "eval_confusion.csv", "eval_confusion.png"})
    CHECK_MESSAGE(fs::exists(out / f), f);
  CHECK(lines(out / "eval_confusion.csv").size() == 7);  // header + BG + 5 classes
  for (const char* k : {"AP_small", "AP_medium", "AP_large", "AR1", "AR10", "AR100", "per_class"})
    CHECK_MESSAGE(ev.at("segm").contains(k), k);
  CHECK(ev.contains("matterport_mAP50"));
  CHECK(epoch_files(out) == std::vector<int64_t>{2, 3});  // KEEP_CHECKPOINTS 2

  // TensorBoard: read back by the tensorboard package's EventAccumulator.
  const char* python = std::getenv("MRC_PYTHON");
  const fs::path reader = fs::path(test::source_dir()) / "tests" / "read_tensorboard.py";
  r = test::run_app_command(std::string(python ? python : "python3") + " " + quoted(reader) + " " + quoted(out / "tensorboard"), dir);
  if (r.code == 3) {
    MESSAGE("SKIPPED: TensorBoard read-back (the tensorboard package is not installed; scripts/setup installs it)");
  } else {
    INFO(r.err);
    REQUIRE(r.code == 0);
    const nlohmann::json tb = nlohmann::json::parse(r.out);
    const auto& s = tb.at("scalars");
    for (const char* tag : {"train/loss", "train/mrcnn_mask_loss", "train/mrcnn_mask_loss_unweighted", "val/loss",
                            "val/rpn_class_loss", "val/mask_AP", "val/box_AP50", "epoch/lr"}) {
      REQUIRE_MESSAGE(s.contains(tag), tag);
      CHECK(s.at(tag).size() == 3);
      CHECK(s.at(tag)[2][0] == 3);  // step = epoch
    }
    CHECK(s.at("val/mask_AP")[2][1].get<double>() == doctest::Approx(last_ap).epsilon(1e-6));
    CHECK(s.at("epoch/lr")[1][1].get<double>() == doctest::Approx(0.001));
    CHECK(s.at("step/loss").size() == 6);  // 3 epochs x 2 steps
    CHECK(s.at("step/lr")[5][0] == 6);
    const auto& images = tb.at("images");
    REQUIRE(images.size() == 3);  // three validation photos
    for (const auto& [tag, rows] : images.items()) {
      CHECK(tag.rfind("val_photos/", 0) == 0);
      REQUIRE(rows.size() == 3);  // one per evaluation
      CHECK(rows[0] == nlohmann::json({1, 96, 64, 96, 64}));
    }
  }

  // Starting over a run is refused; a resumed run refuses flags that contradict it.
  r = run("mrc-train", first);
  CHECK(r.code == 2);
  CHECK(r.err.find("--resume") != std::string::npos);
  CHECK(r.err.find("--overwrite") != std::string::npos);
  fs::remove(out / "checkpoints/epoch_0003.safetensors");
  r = run("mrc-train", "--resume --set LEARNING_RATE=0.02 --quiet --out " + quoted(out));
  CHECK(r.code == 2);
  CHECK(r.err.find("LEARNING_RATE 0.02 contradicts the resumed run's LEARNING_RATE 0.01") != std::string::npos);
  r = run("mrc-train", "--resume --schedule heads:3:LR --quiet --out " + quoted(out));
  CHECK(r.code == 2);
  CHECK(r.err.find("schedule \"heads:3:0.01\" contradicts the resumed run's schedule \"heads:1:0.01,all:2:0.001\"") !=
        std::string::npos);
  r = run("mrc-train", "--resume --steps-per-epoch 5 --quiet --out " + quoted(out));
  CHECK(r.code == 2);
  CHECK(r.err.find("--steps-per-epoch 5 contradicts the resumed run's steps-per-epoch 2") != std::string::npos);
  CHECK(epoch_files(out) == std::vector<int64_t>{2});  // nothing written by the refused commands

  // --resume alone: data, config, classes and schedule from the run folder.
  r = run("mrc-train", "--resume --quiet --out " + quoted(out));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("after epoch 2") != std::string::npos);
  CHECK(r.out.find("epoch 3/3 [all, lr 0.001]") != std::string::npos);
  CHECK(lines(out / "epochs.csv").size() == 4);
  CHECK(epoch_files(out) == std::vector<int64_t>{2, 3});
  // the same flags as the run's are not a contradiction
  fs::remove(out / "checkpoints/epoch_0003.safetensors");
  r = run("mrc-train", first + " --resume");
  INFO(r.err);
  CHECK(r.code == 0);

  // mrc-evaluate --run writes beside the run, never over the training's eval.json.
  const std::string eval_before = test::read_text(out / "eval.json");
  r = run("mrc-evaluate", "--run " + quoted(out) + " --data " + quoted(dir / "val/via_region_data.json") + " --quiet");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(fs::exists(out / "evaluations/epoch_0003_on_val.json"));
  CHECK(fs::exists(out / "evaluations/epoch_0003_on_val_confusion.png"));
  CHECK(r.out.find("matterport mAP@0.5") != std::string::npos);
  CHECK(r.out.find("AR@100") != std::string::npos);
  CHECK(test::read_text(out / "eval.json") == eval_before);
  r = run("mrc-evaluate", "--run " + quoted(out) + " --data " + quoted(dir / "val/via_region_data.json") +
                              " --quiet --out " + quoted(out / "eval.json"));
  CHECK(r.code == 2);
  CHECK(r.err.find("training's own evaluation") != std::string::npos);

  // --overwrite starts again: the old checkpoints and history are gone.
  r = run("mrc-train", data + " --config " + quoted(dir / "tiny.json") +
                           " --schedule heads:1:LR --steps-per-epoch 1 --validation-steps 0 --set EVAL_EVERY=0 --quiet "
                           "--overwrite --out " + quoted(out));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(epoch_files(out) == std::vector<int64_t>{1});
  CHECK(lines(out / "epochs.csv").size() == 2);
  CHECK(read_json(out / "eval.json").at("epoch") == 1);  // EVAL_EVERY 0: at the end only
}
