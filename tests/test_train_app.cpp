// The study's workflow through the apps, as a user runs it: mrc-shapes makes photos, mrc-train trains a
// small Mask R-CNN on them in two phases with validation and evaluation, mrc-predict segments held-out
// photos (overlays, detections JSON, timing), mrc-evaluate scores the run, mrc-compare puts two runs side
// by side. Bad input: exit code 2 and one line naming the file or the setting; nothing half-written.
#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "app_runner.h"
#include "data/image_io.h"
#include "data/rle.h"
#include "test_util.h"
#include "train/history.h"

using namespace mrc;
using test::quoted;
namespace fs = std::filesystem;

namespace {

struct Workspace {
  test::TempDir tmp;
  const fs::path& dir = tmp.path;
  test::AppRun run(const std::string& app, const std::string& args) const { return test::run_app(app, args, dir); }
};

// Every setting scaled down so that the whole workflow takes seconds.
const char* kTinyConfig = R"({"IMAGE_MIN_DIM": 64, "IMAGE_MAX_DIM": 96, "BACKBONE_NORM": "gn", "TRAINABLE_LAYERS": 5,
  "RPN_ANCHOR_SCALES": [8, 16, 32, 64, 128], "PRE_NMS_LIMIT": 200, "POST_NMS_ROIS_TRAINING": 200,
  "POST_NMS_ROIS_INFERENCE": 100, "TRAIN_ROIS_PER_IMAGE": 32, "RPN_TRAIN_ANCHORS_PER_IMAGE": 64, "IMAGES_PER_GPU": 2,
  "LEARNING_RATE": 0.01, "SEED": 4})";

nlohmann::json read_json(const fs::path& p) { return nlohmann::json::parse(test::read_text(p)); }

bool has_leftovers(const fs::path& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("shapes -> train (two phases, validation, evaluation) -> predict -> evaluate -> compare") {
  Workspace ws;
  const fs::path cfg = ws.dir / "tiny.json";
  std::ofstream(cfg) << kTinyConfig;
  REQUIRE(ws.run("mrc-shapes", "--out " + quoted(ws.dir / "train") + " --count 6 --size 96x64 --seed 1").code == 0);
  REQUIRE(ws.run("mrc-shapes", "--out " + quoted(ws.dir / "val") + " --count 3 --size 96x64 --seed 2").code == 0);
  const std::string data = "--train " + quoted(ws.dir / "train/via_region_data.json") + " --val " +
                           quoted(ws.dir / "val/via_region_data.json") + " --config " + quoted(cfg);

  const fs::path run_sgd = ws.dir / "sgd";
  test::AppRun r = ws.run("mrc-train", data + " --schedule heads:1:LR,all:1:LR/10 --steps-per-epoch 2 "
                                              "--validation-steps 1 --evaluate --quiet --out " + quoted(run_sgd));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("epoch 2/2 [all, lr 0.001]") != std::string::npos);
  CHECK(r.out.find("val_loss") != std::string::npos);
  for (const char* f : {"config.json", "classes.json", "history.csv", "epochs.csv", "loss.png", "losses.png", "eval.json",
                        "checkpoints/epoch_0001.safetensors", "checkpoints/epoch_0002.safetensors"})
    CHECK_MESSAGE(fs::exists(run_sgd / f), f);
  CHECK(read_json(run_sgd / "classes.json") == nlohmann::json({"BG", "circle", "square", "triangle", "hexagon", "star"}));
  CHECK(read_json(run_sgd / "config.json").at("NUM_CLASSES") == 6);  // taken from the dataset
  const nlohmann::json ev = read_json(run_sgd / "eval.json");
  CHECK(ev.at("images") == 3);
  CHECK(ev.at("segm").at("AP50").get<double>() >= 0.0);

  // A new run started from the first one's weights (a mrc-train checkpoint: its optimizer state is left out).
  r = ws.run("mrc-train", data + " --weights " + quoted(run_sgd / "checkpoints/epoch_0002.safetensors") +
                                 " --schedule heads:1:LR --steps-per-epoch 1 --validation-steps 0 --quiet --out " +
                                 quoted(ws.dir / "finetune"));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("weights: ") != std::string::npos);
  CHECK(r.out.find("class-specific predictors left out") == std::string::npos);  // same classes: all loaded

  // Adam with re-weighted losses, one phase, resumed once.
  const fs::path run_adam = ws.dir / "adam";
  r = ws.run("mrc-train", data + " --optimizer adam --set LEARNING_RATE=0.0001 --set 'LOSS_WEIGHTS={\"mrcnn_mask_loss\":2}' "
                                 "--schedule all:2:LR --steps-per-epoch 1 --validation-steps 1 --quiet --out " +
                                 quoted(run_adam));
  REQUIRE(r.code == 0);
  CHECK(read_json(run_adam / "config.json").at("LOSS_WEIGHTS").at("mrcnn_mask_loss") == 2.0);
  CHECK(read_json(run_adam / "config.json").at("LOSS_WEIGHTS").at("rpn_class_loss") == 1.0);
  fs::remove(run_adam / "checkpoints/epoch_0002.safetensors");
  r = ws.run("mrc-train", data + " --optimizer adam --set LEARNING_RATE=0.0001 --set 'LOSS_WEIGHTS={\"mrcnn_mask_loss\":2}' "
                                 "--schedule all:2:LR --steps-per-epoch 1 --validation-steps 1 --quiet --resume last --out " +
                                 quoted(run_adam));
  REQUIRE(r.code == 0);
  CHECK(r.out.find("resumed from") != std::string::npos);
  CHECK(fs::exists(run_adam / "checkpoints/epoch_0002.safetensors"));
  // The per-loss columns: each weighted by LOSS_WEIGHTS under Keras's name (the five sum to the total), and unweighted.
  const std::vector<mrc::train::EpochRecord> epochs = mrc::train::read_epochs_csv(run_adam.string());
  REQUIRE(epochs.size() == 2);
  for (const mrc::train::EpochRecord& e : epochs)
    for (const auto* losses : {&e.train, &e.val}) {
      double sum = 0;
      for (const std::string& n : mrc::maskrcnn::kLossNames) {
        const double weight = n == "mrcnn_mask_loss" ? 2.0 : 1.0;
        CHECK(losses->at(n) == doctest::Approx(weight * losses->at(mrc::train::unweighted_name(n))).epsilon(1e-6));
        sum += losses->at(n);
      }
      CHECK(losses->at("mrcnn_mask_loss") > 0);
      CHECK(sum == doctest::Approx(losses->at("loss")).epsilon(1e-5));
    }

  // Predict the held-out photos (a folder: frames in name order).
  const fs::path pred = ws.dir / "pred";
  r = ws.run("mrc-predict", "--run " + quoted(run_sgd) + " " + quoted(ws.dir / "val") + " --min-score 0 --quiet --out " +
                                quoted(pred));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("3 photo(s)") != std::string::npos);
  const nlohmann::json timing = read_json(pred / "timing.json");
  CHECK(timing.at("images").size() == 3);
  CHECK(timing.at("frames") == 2);
  CHECK(timing.at("first_image_ms").get<double>() > 0);
  for (const char* stem : {"shapes_00000", "shapes_00001", "shapes_00002"}) {
    const data::Image overlay = data::decode_image((pred / "overlays" / (std::string(stem) + ".png")).string());
    CHECK(overlay.width == 96);
    CHECK(overlay.height == 64);
  }
  const nlohmann::json dets = read_json(pred / "detections.json");
  REQUIRE(dets.is_array());
  for (const auto& d : dets) {
    CHECK(d.at("segmentation").at("size") == nlohmann::json({64, 96}));
    const data::Rle rle{96, 64, data::rle_from_string(d.at("segmentation").at("counts").get<std::string>())};
    CHECK(data::rle_to_mask(rle).width == 96);
    CHECK(d.at("score").get<double>() >= 0.0);
  }

  // The same photos as a raw RGB24 stream on standard input (as ffmpeg -f rawvideo -pix_fmt rgb24 writes a video).
  {
    std::ofstream raw(ws.dir / "frames.rgb", std::ios::binary);
    for (const char* stem : {"shapes_00000", "shapes_00001", "shapes_00002"}) {
      data::DecodeOptions rgb;
      rgb.channels = 3;
      const data::Image photo = data::decode_image((ws.dir / "val" / (std::string(stem) + ".jpg")).string(), rgb);
      raw.write(reinterpret_cast<const char*>(photo.pixels.data()), std::streamsize(photo.pixels.size()));
    }
  }
  r = ws.run("mrc-predict", "--run " + quoted(run_sgd) + " --raw-size 96x64 - --quiet --out " + quoted(ws.dir / "pred_raw") +
                                " < " + quoted(ws.dir / "frames.rgb"));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(read_json(ws.dir / "pred_raw" / "timing.json").at("images").size() == 3);
  CHECK(fs::exists(ws.dir / "pred_raw" / "overlays" / "frame_000003.png"));
  // the same pixels give the same detections; only the names differ (frame_000001 for shapes_00000.jpg ...)
  nlohmann::json from_raw = read_json(ws.dir / "pred_raw" / "detections.json"), from_files = read_json(pred / "detections.json");
  for (auto* list : {&from_raw, &from_files})
    for (auto& d : *list) d.erase("image");
  CHECK(from_raw == from_files);

  r = ws.run("mrc-evaluate", "--run " + quoted(run_sgd) + " --data " + quoted(ws.dir / "val/via_region_data.json") +
                                 " --quiet --out " + quoted(ws.dir / "eval2.json"));
  REQUIRE(r.code == 0);
  CHECK(read_json(ws.dir / "eval2.json").at("segm") == ev.at("segm"));  // the same checkpoint scores the same
  CHECK(r.out.find("AP50") != std::string::npos);

  r = ws.run("mrc-compare", quoted(run_sgd) + " " + quoted(run_adam) + " --names sgd adam --out " + quoted(ws.dir / "cmp"));
  REQUIRE(r.code == 0);
  // runs with other LOSS_WEIGHTS compare on the unweighted losses
  for (const char* f : {"loss.png", "rpn_class_loss_unweighted.png", "mrcnn_mask_loss_unweighted.png"})
    CHECK(fs::exists(ws.dir / "cmp" / f));
  CHECK(r.out.find("sgd") != std::string::npos);
  CHECK_FALSE(has_leftovers(ws.dir));
}

TEST_CASE("bad input: exit code 2, one line naming what is wrong, nothing written") {
  Workspace ws;
  REQUIRE(ws.run("mrc-shapes", "--out " + quoted(ws.dir / "train") + " --count 2 --size 96x64").code == 0);
  const std::string train = "--train " + quoted(ws.dir / "train/via_region_data.json");

  test::AppRun r = ws.run("mrc-train", "--train " + quoted(ws.dir / "missing.json") + " --out " + quoted(ws.dir / "r1"));
  CHECK(r.code == 2);
  CHECK(r.err.find("missing.json") != std::string::npos);
  CHECK_FALSE(fs::exists(ws.dir / "r1"));

  r = ws.run("mrc-train", train + " --schedule heads:1:LR,body:1:LR --out " + quoted(ws.dir / "r2"));
  CHECK(r.code == 2);
  CHECK(r.err.find("phase 2") != std::string::npos);

  std::ofstream(ws.dir / "bad.json") << R"({"NUM_CLASSES": 3})";
  r = ws.run("mrc-train", train + " --config " + quoted(ws.dir / "bad.json") + " --out " + quoted(ws.dir / "r3"));
  CHECK(r.code == 2);
  CHECK(r.err.find("NUM_CLASSES is 3") != std::string::npos);

  std::ofstream(ws.dir / "typo.json") << R"({"IMAGE_MIN_DIMS": 64})";
  r = ws.run("mrc-train", train + " --config " + quoted(ws.dir / "typo.json") + " --out " + quoted(ws.dir / "r4"));
  CHECK(r.code == 2);
  CHECK(r.err.find("IMAGE_MIN_DIMS") != std::string::npos);

  r = ws.run("mrc-predict", "--run " + quoted(ws.dir / "no_run") + " " + quoted(ws.dir / "train") + " --out " +
                                quoted(ws.dir / "p"));
  CHECK(r.code == 2);
  CHECK(r.err.find("no_run") != std::string::npos);
  CHECK_FALSE(fs::exists(ws.dir / "p"));

  r = ws.run("mrc-evaluate", "--run " + quoted(ws.dir / "no_run") + " --data " + quoted(ws.dir / "train/via_region_data.json") +
                                 " --out " + quoted(ws.dir / "e.json"));
  CHECK(r.code == 2);
  CHECK(r.err.find("no_run") != std::string::npos);
  CHECK_FALSE(fs::exists(ws.dir / "e.json"));

  r = ws.run("mrc-predict", "--run " + quoted(ws.dir / "no_run") + " --raw-size 96 - --out " + quoted(ws.dir / "p2"));
  CHECK(r.code == 2);
  CHECK(r.err.find("--raw-size") != std::string::npos);

  r = ws.run("mrc-compare", quoted(ws.dir / "train") + " --out " + quoted(ws.dir / "c"));
  CHECK(r.code == 2);
  CHECK(r.err.find("epochs.csv") != std::string::npos);
  CHECK_FALSE(fs::exists(ws.dir / "c"));
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}
