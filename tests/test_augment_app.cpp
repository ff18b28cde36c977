// End to end: bin/mrc-shapes writes a tiny dataset, bin/mrc-augment balances it. Copies per photo
// follow ceil(N / photos of its rarest class) - 1, every output parses and agrees with the others,
// runs are reproducible across worker counts, and bad input exits 2 with one line and no folder.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "data/coco.h"
#include "data/image_io.h"
#include "data/load_dataset.h"
#include "data/progress.h"
#include "data/rasterize.h"
#include "data/via.h"
#include "app_runner.h"
#include "test_util.h"

using namespace mrc::data;
namespace fs = std::filesystem;

namespace {

fs::path bin_dir() { return mrc::test::app_path("mrc-augment").parent_path(); }

fs::path work_dir() {
  static fs::path p = [] {
    fs::path d = fs::temp_directory_path() / ("mrc_test_augment_app_" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
  }();
  return p;
}

using Run = mrc::test::AppRun;

// `cmd` is a whole command line starting with the app's quoted path.
Run run(const std::string& cmd) { return mrc::test::run_app_command(cmd, work_dir()); }

std::string q(const fs::path& p) { return mrc::test::quoted(p); }

nlohmann::json read_json(const fs::path& p) {
  std::ifstream f(p);
  return nlohmann::json::parse(f);
}

bool no_leftovers(const fs::path& out) {
  for (const auto& e : fs::directory_iterator(out.parent_path()))
    if (e.path().filename().string().rfind(out.filename().string() + ".tmp.", 0) == 0) return false;
  return !fs::exists(out);
}

// The shapes dataset every case uses, made once.
const fs::path& shapes_dir() {
  static const fs::path d = [] {
    INFO("the apps are built next to this test: build mrc-shapes and mrc-augment first");
    REQUIRE(fs::exists(bin_dir() / "mrc-shapes"));
    REQUIRE(fs::exists(bin_dir() / "mrc-augment"));
    const fs::path out = work_dir() / "shapes";
    const Run r = run(q(bin_dir() / "mrc-shapes") + " --out " + q(out) + " --count 12 --size 128x96 --seed 4 --quiet");
    REQUIRE(r.code == 0);
    return out;
  }();
  return d;
}

}  // namespace

TEST_CASE("mrc-augment: copies follow ceil(N / count) and the outputs agree") {
  const fs::path in = shapes_dir();
  const fs::path out = work_dir() / "aug";
  const int N = 8;
  const Run r = run(q(bin_dir() / "mrc-augment") + " " + q(in / "via_region_data.json") + " --images " + q(in) +
                    " --out " + q(out) + " --per-class " + std::to_string(N) + " --seed 1 --workers 2 --quiet");
  INFO(r.err);
  REQUIRE(r.code == 0);

  // Expected copies from the input annotations.
  DatasetOptions dopt;
  dopt.class_attribute = "class";
  const Dataset src = load_dataset((in / "via_region_data.json").string(), "", dopt);
  std::vector<std::set<int>> classes(src.images.size());
  std::map<int, int> photos_with;
  for (size_t i = 0; i < src.images.size(); ++i) {
    for (const auto& reg : src.images[i].regions) classes[i].insert(reg.class_id);
    for (int c : classes[i]) ++photos_with[c];
  }
  const auto rec = read_json(out / "augment_record.json");
  REQUIRE(rec["photos"].size() == src.images.size());
  size_t total_copies = 0;
  for (size_t i = 0; i < src.images.size(); ++i) {
    int rarest_count = 1 << 30;
    for (int c : classes[i]) rarest_count = std::min(rarest_count, photos_with[c]);
    const int expected = classes[i].empty() ? 0 : (N + rarest_count - 1) / rarest_count - 1;
    CHECK(rec["photos"][i]["source"] == src.images[i].image_id);
    CHECK(int(rec["photos"][i]["copies"].size()) == expected);
    total_copies += size_t(expected);
  }
  CHECK(total_copies > 0);
  for (int c = 1; c <= src.num_classes(); ++c) {
    const std::string name = src.class_names[size_t(c)];
    CHECK(rec["photos_per_class_before"][name] == photos_with[c]);
    CHECK(rec["photos_per_class_after"][name].get<int>() >= N);   // the point of the exercise
  }

  // COCO: every image, every mask PNG equal to its annotation's mask.
  const Dataset coco = read_coco((out / "annotations.coco.json").string(), CocoReadOptions{out.string()});
  REQUIRE(coco.images.size() == src.images.size() + total_copies);
  std::map<std::string, const ImageRecord*> by_id;
  for (const auto& im : coco.images) by_id[im.image_id] = &im;
  for (const auto& p : rec["photos"]) {
    for (const auto& c : p["copies"]) {
      const std::string file = c["file"];
      REQUIRE(by_id.count(file) == 1);
      const ImageRecord& ir = *by_id[file];
      CHECK(fs::exists(out / file));
      REQUIRE(ir.regions.size() == c["masks"].size());
      const ImageInfo info = read_image_info((out / file).string());
      CHECK(info.width == 128);
      for (size_t k = 0; k < ir.regions.size(); ++k) {
        const Mask from_png = read_mask_png((out / c["masks"][k].get<std::string>()).string());
        CHECK(rasterize_region(ir.regions[k], ir.width, ir.height).pixels == from_png.pixels);
      }
    }
    CHECK(fs::exists(out / p["file"].get<std::string>()));
  }
  // VIA 2.x of the result parses with the same images and classes, and finds its photos beside it (as
  // `mrc-train --train OUT/via_region_data.json` does).
  ViaReadOptions vo;
  vo.class_attribute = "auto";
  const Dataset via = read_via((out / "via_region_data.json").string(), vo);
  CHECK(via.class_attribute == "class");
  CHECK(via.images.size() == coco.images.size());
  for (const auto& im : via.images) CHECK(fs::exists(im.path));
  CHECK(via.class_names == src.class_names);
  for (const char* png : {"class_distribution.png", "class_distribution_before.png", "class_distribution_after.png"})
    CHECK(decode_image((out / png).string()).width > 100);
}

TEST_CASE("mrc-augment is reproducible whatever the number of workers") {
  const fs::path in = shapes_dir();
  const fs::path a = work_dir() / "rep_a", b = work_dir() / "rep_b";
  const std::string base = q(bin_dir() / "mrc-augment") + " " + q(in / "via_region_data.json") + " --per-class 6 --seed 9 --quiet";
  REQUIRE(run(base + " --out " + q(a) + " --workers 1").code == 0);
  REQUIRE(run(base + " --out " + q(b) + " --workers 3").code == 0);
  const auto ra = read_json(a / "augment_record.json"), rb = read_json(b / "augment_record.json");
  CHECK(ra["photos"] == rb["photos"]);
  const std::string first = ra["photos"][0]["copies"].empty() ? ra["photos"][0]["file"].get<std::string>()
                                                              : ra["photos"][0]["copies"][0]["file"].get<std::string>();
  auto bytes = [](const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  CHECK(bytes(a / first) == bytes(b / first));
  CHECK(bytes(a / "annotations.coco.json") == bytes(b / "annotations.coco.json"));
}

TEST_CASE("bad input: exit 2, one line on stderr, no output folder") {
  const fs::path in = shapes_dir();
  const std::string app = q(bin_dir() / "mrc-augment") + " ";
  const fs::path out = work_dir() / "bad_out";
  auto expect_fail = [&](const std::string& args, const std::string& needle) {
    CAPTURE(args);
    const Run r = run(app + args + " --out " + q(out) + " --quiet");
    CHECK(r.code == 2);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.find(needle) != std::string::npos);
    CHECK(no_leftovers(out));
  };
  expect_fail(q(work_dir() / "missing.json") + " --per-class 4", "missing.json");
  {
    std::ofstream f(work_dir() / "broken.json");
    f << "{\"_via_img_metadata\": {";
  }
  expect_fail(q(work_dir() / "broken.json") + " --per-class 4", "broken.json");
  expect_fail(q(in / "via_region_data.json") + " --per-class 0", "--per-class");
  {
    std::ofstream f(work_dir() / "bad_pipeline.json");
    f << R"({"pipeline": [{"type": "Affine", "rotat": 10}]})";
  }
  expect_fail(q(in / "via_region_data.json") + " --per-class 4 --config " + q(work_dir() / "bad_pipeline.json"),
              "\"rotat\"");
  // A photo missing from the images folder.
  const fs::path partial = work_dir() / "partial";
  fs::create_directories(partial);
  for (const auto& e : fs::directory_iterator(in)) fs::copy(e.path(), partial / e.path().filename());
  fs::remove(partial / "shapes_00007.jpg");
  expect_fail(q(partial / "via_region_data.json") + " --per-class 4", "shapes_00007.jpg");
  // An existing output folder is left alone.
  fs::create_directories(out);
  const Run r = run(app + q(in / "via_region_data.json") + " --per-class 4 --out " + q(out) + " --quiet");
  CHECK(r.code == 2);
  CHECK(r.err.find("already exists") != std::string::npos);
  CHECK(fs::is_empty(out));
  fs::remove(out);
  // mrc-shapes too.
  const Run s = run(q(bin_dir() / "mrc-shapes") + " --out " + q(out) + " --count 3 --size 12x --quiet");
  CHECK(s.code == 2);
  CHECK(s.err.find("--size") != std::string::npos);
  CHECK(no_leftovers(out));
}

TEST_CASE("ProgressBar shows count, rate and ETA; StagedDir appears whole or not at all") {
  ProgressBar bar(200, "load", nullptr);
  bar.update(50);
  const std::string line = bar.render();
  CHECK(line.find("load [") == 0);
  CHECK(line.find("50/200") != std::string::npos);
  CHECK(line.find("( 25%)") != std::string::npos);
  CHECK(line.find("/s") != std::string::npos);
  CHECK(line.find("ETA") != std::string::npos);
  bar.finish();
  CHECK(bar.render().find("ETA") == std::string::npos);
  CHECK(ProgressBar::format_duration(125) == "2 min 05 s");
  CHECK(ProgressBar::format_duration(3.25) == "3.2 s");

  const fs::path out = work_dir() / "staged";
  {
    StagedDir d(out.string());
    std::ofstream(d.file("a.txt")) << "x";
    CHECK_FALSE(fs::exists(out));
  }   // no commit: nothing appears, the temporary folder is gone
  CHECK(no_leftovers(out));
  {
    StagedDir d(out.string());
    std::ofstream(d.file("a.txt")) << "x";
    d.commit();
  }
  CHECK(fs::exists(out / "a.txt"));
  CHECK_THROWS_WITH_AS(StagedDir(out.string()), doctest::Contains("already exists"), std::runtime_error);
  {
    StagedDir d(out.string(), true);
    std::ofstream(d.file("b.txt")) << "y";
    CHECK(fs::exists(out / "a.txt"));   // the old folder stays until commit
    d.commit();
  }
  CHECK(fs::exists(out / "b.txt"));
  CHECK_FALSE(fs::exists(out / "a.txt"));
}

TEST_CASE("cleanup") { fs::remove_all(work_dir()); }
