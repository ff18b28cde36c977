// mrc-predict on a video file (decoded and encoded by ffmpeg: a segmented MP4, detections per frame, timing
// and a contact sheet) and on a dataset (--data: detections.json with the dataset's own COCO image and
// category ids, which pycocotools' loadRes reads and COCOeval scores exactly as mrc-evaluate does).
// Parts that need ffmpeg or pycocotools say so and are skipped when those are missing.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>

#include "app_runner.h"
#include "data/image_io.h"
#include "test_util.h"
#include "tiny_model_config.h"

using namespace mrc;
using test::quoted;
namespace fs = std::filesystem;

namespace {

nlohmann::json read_json(const fs::path& p) { return nlohmann::json::parse(test::read_text(p)); }

bool have(const std::string& program) { return std::system(("command -v " + program + " >/dev/null 2>&1").c_str()) == 0; }

std::string python() {
  const char* p = std::getenv("MRC_PYTHON");
  return p ? p : "/usr/bin/python3";
}

// A trained (a little) run and the validation photos, made once for every case.
struct Trained {
  test::TempDir tmp;
  fs::path run, val;
  Trained() {
    const fs::path& d = tmp.path;
    test::write_tiny_model_config(d / "tiny.json");
    REQUIRE(test::run_app("mrc-shapes", "--out " + quoted(d / "train") + " --count 6 --size 96x64 --seed 1 --quiet", d).code == 0);
    REQUIRE(test::run_app("mrc-shapes", "--out " + quoted(d / "val") + " --count 4 --size 96x64 --seed 2 --quiet", d).code == 0);
    run = d / "run";
    val = d / "val";
    const test::AppRun r = test::run_app(
        "mrc-train", "--train " + quoted(d / "train/via_region_data.json") + " --val-fraction 0 --config " +
                         quoted(d / "tiny.json") + " --schedule all:1:LR --steps-per-epoch 3 --quiet --out " + quoted(run), d);
    INFO(r.err);
    REQUIRE(r.code == 0);
  }
};

Trained& trained() {
  static Trained t;
  return t;
}

}  // namespace

TEST_CASE("a video file in: segmented MP4, detections per frame, timing, contact sheet") {
  if (!have("ffmpeg") || !have("ffprobe")) {
    MESSAGE("skipped: ffmpeg/ffprobe not installed (scripts/setup --test installs them)");
    return;
  }
  Trained& t = trained();
  const fs::path& d = t.tmp.path;
  const fs::path clip = d / "clip.mp4";
  REQUIRE(std::system(("ffmpeg -v error -y -framerate 5 -i " + quoted(t.val / "shapes_%05d.jpg") +
                       " -c:v libx264 -pix_fmt yuv420p " + quoted(clip)).c_str()) == 0);
  const fs::path out = d / "pred";
  const test::AppRun r = test::run_app("mrc-predict", "--run " + quoted(t.run) + " " + quoted(clip) +
                                                          " --contact-sheet --quiet --out " + quoted(out), d);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("4 frames at") != std::string::npos);
  const fs::path mp4 = out / "clip_segmented.mp4";
  REQUIRE(fs::exists(mp4));
  // ffprobe sees 4 frames of 96x64 in the output.
  const test::AppRun probe = test::run_app_command(
      "ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=width,height,nb_read_frames -of csv=p=0 " +
          quoted(mp4), d);
  CHECK(probe.out.find("96,64,4") != std::string::npos);
  const auto det = read_json(out / "detections.json");
  REQUIRE(!det.empty());
  std::set<int64_t> frames;
  for (const auto& e : det) frames.insert(e.at("frame").get<int64_t>());
  CHECK(*frames.begin() >= 1);
  CHECK(*frames.rbegin() <= 4);
  const auto timing = read_json(out / "timing.json");
  REQUIRE(timing["videos"].size() == 1);
  CHECK(timing["videos"][0]["frames"] == 4);
  CHECK(timing["videos"][0]["fps"].get<double>() > 0);
  CHECK(timing["videos"][0]["first_frame_ms"].get<double>() > 0);
  CHECK(timing["videos"][0]["source_fps"].get<double>() == doctest::Approx(5));
  const data::Image sheet = data::decode_image((out / "contact_sheet.png").string());
  CHECK(sheet.width >= 2 * 96);
  CHECK(!fs::exists(out / "overlays" / "clip.png"));

  // Not a video: one line naming the file.
  std::ofstream(d / "fake.mp4") << "not a video";
  const test::AppRun bad = test::run_app("mrc-predict", "--run " + quoted(t.run) + " " + quoted(d / "fake.mp4") +
                                                            " --quiet --out " + quoted(d / "bad"), d);
  CHECK(bad.code == 2);
  CHECK(bad.err.find("fake.mp4") != std::string::npos);
  CHECK(!fs::exists(d / "bad"));
}

TEST_CASE("--data: detections.json carries the dataset's ids; pycocotools' AP equals mrc-evaluate's") {
  Trained& t = trained();
  const fs::path& d = t.tmp.path;
  // The validation photos as COCO with ids a COCO file might have (not 1..N, not the model's labels).
  REQUIRE(test::run_app("mrc-dataset", "convert " + quoted(t.val / "via_region_data.json") + " --to coco --out " +
                                           quoted(t.val / "plain.json"), d).code == 0);
  nlohmann::json coco = read_json(t.val / "plain.json");
  for (auto& im : coco["images"]) im["id"] = im["id"].get<int64_t>() + 100;
  for (auto& a : coco["annotations"]) {
    a["image_id"] = a["image_id"].get<int64_t>() + 100;
    a["category_id"] = a["category_id"].get<int64_t>() * 10;
  }
  for (auto& c : coco["categories"]) c["id"] = c["id"].get<int64_t>() * 10;
  std::ofstream(t.val / "coco.json") << coco.dump();

  const fs::path out = d / "pred_data";
  test::AppRun r = test::run_app("mrc-predict", "--run " + quoted(t.run) + " --data " + quoted(t.val / "coco.json") +
                                                    " --no-overlays --quiet --out " + quoted(out), d);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto det = read_json(out / "detections.json");
  REQUIRE(!det.empty());
  for (const auto& e : det) {
    CHECK(e.at("image_id").get<int64_t>() > 100);
    CHECK(e.at("category_id").get<int64_t>() % 10 == 0);
  }
  r = test::run_app("mrc-evaluate", "--run " + quoted(t.run) + " --data " + quoted(t.val / "coco.json") + " --quiet --out " +
                                        quoted(d / "eval.json"), d);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto ev = read_json(d / "eval.json");

  if (std::system((python() + " -c 'import pycocotools' 2>/dev/null").c_str()) != 0) {
    MESSAGE("skipped: pycocotools not installed for " << python() << " (scripts/setup --test installs it)");
    return;
  }
  std::ofstream(d / "score.py") << R"(import json, sys
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
gt = COCO(sys.argv[1])
dt = gt.loadRes(sys.argv[2])
out = {}
for kind in ("segm", "bbox"):
    e = COCOeval(gt, dt, kind)
    e.evaluate(); e.accumulate(); e.summarize()
    out[kind] = {"AP": float(e.stats[0]), "AP50": float(e.stats[1]), "AP75": float(e.stats[2])}
json.dump(out, open(sys.argv[3], "w"))
)";
  r = test::run_app_command(python() + " " + quoted(d / "score.py") + " " + quoted(t.val / "coco.json") + " " +
                                quoted(out / "detections.json") + " " + quoted(d / "pycoco.json"), d);
  INFO(r.out);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto py = read_json(d / "pycoco.json");
  for (const char* kind : {"segm", "bbox"})
    for (const char* ap : {"AP", "AP50", "AP75"}) {
      CAPTURE(kind);
      CAPTURE(ap);
      // pycocotools reports -1 when nothing could be matched; mrc-evaluate reports 0 then.
      const double p = std::max(0.0, py[kind][ap].get<double>());
      CHECK(ev[kind][ap].get<double>() == doctest::Approx(p).epsilon(1e-9));
    }
}
