// mrc-dataset stats, run as a user would: the built binary (next to this test in bin/) on small files
// written here. Checks the report (format, counts, sizes, problems, the plot) and that bad input
// gives exit code 2 with one line on stderr naming the file.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include "data/image_io.h"
#include "data/load_dataset.h"
#include "data/rasterize.h"
#include "data/split.h"
#include "app_runner.h"
#include "test_util.h"

using namespace mrc::data;
namespace fs = std::filesystem;

namespace {

using Run = mrc::test::AppRun;

struct Fixture {
  fs::path dir, bin;
  Fixture() {
    dir = fs::temp_directory_path() / ("mrc_test_dataset_app_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    bin = fs::read_symlink("/proc/self/exe").parent_path() / "mrc-dataset";
  }
  ~Fixture() { fs::remove_all(dir); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream((dir / name).string()) << text;
    return (dir / name).string();
  }
  Run run(const std::string& args) const {
    REQUIRE_MESSAGE(fs::exists(bin), "build mrc-dataset first: " << bin.string());
    return mrc::test::run_app("mrc-dataset", args, dir);
  }
};

size_t lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

const char* kVia2 = R"({"_via_img_metadata": {
  "a.png1": {"filename": "a.png", "size": 1, "file_attributes": {}, "regions": [
    {"shape_attributes": {"name": "polygon", "all_points_x": [1, 10, 5], "all_points_y": [1, 1, 9]}, "region_attributes": {"cls": "cat"}},
    {"shape_attributes": {"name": "rect", "x": 2, "y": 2, "width": 4, "height": 4}, "region_attributes": {"cls": "dog"}},
    {"shape_attributes": {"name": "circle", "cx": 8, "cy": 8, "r": 3}, "region_attributes": {"cls": "cat"}}]},
  "b.png1": {"filename": "b.png", "size": 1, "file_attributes": {}, "regions": [
    {"shape_attributes": {"name": "polygon", "all_points_x": [1, 5, 9], "all_points_y": [1, 1, 1]}, "region_attributes": {"cls": "cat"}},
    {"shape_attributes": {"name": "rect", "x": 30, "y": 13, "width": 4, "height": 4}, "region_attributes": {"cls": "cat"}},
    {"shape_attributes": {"name": "hexagon"}, "region_attributes": {"cls": "cat"}}]},
  "c.png1": {"filename": "c.png", "size": 1, "file_attributes": {}, "regions": []},
  "d.png1": {"filename": "d.png", "size": 1, "file_attributes": {}, "regions": []}},
 "_via_attributes": {"region": {"cls": {"type": "text"}}, "file": {}}})";

}  // namespace

TEST_CASE("mrc-dataset stats reports format, classes, sizes and every problem") {
  Fixture fx;
  write_png((fx.dir / "a.png").string(), Image(20, 16, 3, 100));
  write_png((fx.dir / "b.png").string(), Image(24, 12, 3, 100));
  fx.write("c.png", "not an image");
  const std::string ann = fx.write("via.json", kVia2);
  const std::string plot = (fx.dir / "classes.png").string();
  Run r = fx.run("stats '" + ann + "' --class-attribute cls --plot '" + plot + "'");
  INFO(r.out);
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("format:    VIA 2.x") != std::string::npos);
  CHECK(r.out.find("images:    4 (2 without regions)") != std::string::npos);
  CHECK(r.out.find("cat    4") != std::string::npos);  // 2 in a.png, 2 bad ones in b.png (listed below)
  CHECK(r.out.find("dog    1") != std::string::npos);
  CHECK(r.out.find("width 20..24, height 12..16 (2 of 4 images)") != std::string::npos);
  CHECK(r.out.find("missing image") != std::string::npos);         // d.png
  CHECK(r.out.find("unreadable image") != std::string::npos);      // c.png
  CHECK(r.out.find("degenerate region") != std::string::npos);     // collinear polygon
  CHECK(r.out.find("region outside image") != std::string::npos);  // rect at 30,13
  CHECK(r.out.find("classes: region attribute 'cls' (named with --class-attribute)") != std::string::npos);
  CHECK(r.out.find("unknown shape") != std::string::npos);         // hexagon
  CHECK(r.out.find("image 'b.png' region 2") != std::string::npos);
  Image chart = decode_image(plot);
  CHECK(chart.width > 0);

  Run single = fx.run("stats '" + ann + "' --class-name thing");
  CHECK(single.code == 0);
  CHECK(single.out.find("thing  5") != std::string::npos);  // all regions but the unknown shape
}

TEST_CASE("mrc-dataset stats on COCO: size mismatches and EXIF-rotated photos are problems") {
  Fixture fx;
  write_png((fx.dir / "a.png").string(), Image(20, 16, 3, 100));
  // A JPEG whose EXIF says "rotate 90": APP1 with a little-endian TIFF IFD holding Orientation = 6.
  auto jpg = encode_jpeg(Image(8, 6, 3, 90), 90);
  const uint8_t app1[] = {0xFF, 0xE1, 0, 34, 'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0,
                          1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0};
  jpg.insert(jpg.begin() + 2, std::begin(app1), std::end(app1));
  std::ofstream((fx.dir / "r.jpg").string(), std::ios::binary).write(reinterpret_cast<const char*>(jpg.data()),
                                                                     std::streamsize(jpg.size()));
  const std::string ann = fx.write("coco.json", R"({"categories": [{"id": 5, "name": "x"}],
    "images": [{"id": 1, "file_name": "a.png", "width": 21, "height": 16},
               {"id": 2, "file_name": "r.jpg", "width": 6, "height": 8}],
    "annotations": [{"id": 1, "image_id": 2, "category_id": 5, "segmentation": [[1, 1, 4, 1, 4, 4]]}]})");
  Run r = fx.run("stats '" + ann + "'");
  INFO(r.out);
  CHECK(r.code == 0);
  CHECK(r.out.find("format:    COCO instances") != std::string::npos);
  CHECK(r.out.find("size mismatch          1") != std::string::npos);
  CHECK(r.out.find("image 'a.png': annotated as 21x16") != std::string::npos);
  CHECK(r.out.find("exif rotation          1") != std::string::npos);
  CHECK(r.out.find("EXIF orientation 6") != std::string::npos);
}

TEST_CASE("mrc-dataset: bad input exits 2 with one line on stderr naming the file") {
  Fixture fx;
  struct Case {
    std::string args, expect;
  };
  const std::string malformed = fx.write("malformed.json", R"({"a.jpg1": {"filename": "a.jpg", "regions": [)");
  const std::string empty_ds = fx.write("empty.json", "{}");
  const std::string empty_file = fx.write("blank.json", "");
  const std::string coco_bad = fx.write("coco.json", R"({"images": [{"id": 1, "file_name": "x.jpg"}],
      "categories": [{"id": 1, "name": "x"}], "annotations": [{"id": 9, "image_id": 1, "category_id": 1,
      "segmentation": {"size": [4, 4], "counts": "!!"}}]})");
  const std::string other = fx.write("other.json", R"({"hello": "world"})");
  const std::vector<Case> cases = {
      {"stats '" + malformed + "'", "malformed JSON"},
      {"stats '" + empty_ds + "'", "empty dataset"},
      {"stats '" + empty_file + "'", "empty"},
      {"stats '" + (fx.dir / "missing.json").string() + "'", "not found"},
      {"stats '" + other + "'", "unrecognized annotation format"},
      {"stats", "annotations"},
      {"stats '" + malformed + "' --bogus", "bogus"},
      {"", "subcommand"},
  };
  for (const auto& c : cases) {
    Run r = fx.run(c.args);
    CAPTURE(c.args);
    CAPTURE(r.err);
    CHECK(r.code == 2);
    CHECK(lines(r.err) == 1);
    CHECK(r.err.find(c.expect) != std::string::npos);
    CHECK(r.out.empty());
  }
  Run r = fx.run("stats '" + malformed + "'");
  CHECK(r.err.find(malformed) != std::string::npos);
  // A bad COCO annotation is listed as a problem (with its file and entry), not a crash.
  Run c = fx.run("stats '" + coco_bad + "'");
  CHECK(c.code == 0);
  CHECK(c.out.find("annotations[0] (id 9)") != std::string::npos);
}

TEST_CASE("mrc-dataset convert, split and merge: identical masks, the loader's split, classes by name") {
  Fixture fx;
  const fs::path shapes = fx.dir / "shapes";
  const Run made = mrc::test::run_app("mrc-shapes", "--out '" + shapes.string() + "' --count 10 --size 64x48 --seed 3 --quiet", fx.dir);
  REQUIRE(made.code == 0);
  const std::string src = (shapes / "via_region_data.json").string();
  fs::create_directories(fx.dir / "conv");
  const std::string coco = (fx.dir / "conv" / "shapes.coco.json").string(), back = (fx.dir / "back.json").string();
  Run r = fx.run("convert '" + src + "' --to coco --out '" + coco + "'");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("classes: region attribute 'class' (the only dropdown/radio region attribute)") != std::string::npos);
  CHECK(r.out.find("(COCO): 10 images") != std::string::npos);
  REQUIRE(fx.run("convert '" + coco + "' --to via2 --out '" + back + "'").code == 0);
  DatasetOptions o;
  o.class_attribute = "auto";
  const Dataset a = load_dataset(src, "", o), b = load_dataset(coco, "", o), c = load_dataset(back, "", o);
  REQUIRE(a.images.size() == 10);
  for (size_t i = 0; i < a.images.size(); ++i) {
    const Sample sa = load_sample(a, i), sb = load_sample(b, i), sc = load_sample(c, i);
    REQUIRE(sa.instances.size() == sb.instances.size());
    REQUIRE(sa.instances.size() == sc.instances.size());
    for (size_t k = 0; k < sa.instances.size(); ++k) {
      CHECK(sa.instances[k].mask.pixels == sb.instances[k].mask.pixels);
      CHECK(sa.instances[k].mask.pixels == sc.instances[k].mask.pixels);
      CHECK(sa.instances[k].class_id == sc.instances[k].class_id);
    }
  }

  const std::string tr = (fx.dir / "train.json").string(), va = (fx.dir / "val.json").string();
  r = fx.run("split '" + src + "' --val-fraction 0.3 --seed 5 --train-out '" + tr + "' --val-out '" + va + "'");
  REQUIRE(r.code == 0);
  const Split expected = split_dataset(a, SplitOptions{0.3, 5});
  const Dataset vt = load_dataset(tr, "", o), vv = load_dataset(va, "", o);
  REQUIRE(vv.images.size() == expected.val.size());
  CHECK(vt.images.size() == expected.train.size());
  for (size_t i = 0; i < expected.val.size(); ++i)
    CHECK(fs::path(vv.images[i].image_id).filename() == fs::path(a.images[expected.val[i]].image_id).filename());

  const std::string merged = (fx.dir / "merged.json").string();
  r = fx.run("merge '" + tr + "' '" + va + "' --to coco --out '" + merged + "'");
  REQUIRE(r.code == 0);
  const Dataset m = load_dataset(merged, "", o);
  CHECK(m.images.size() == 10);
  for (const auto& rec : m.images) CHECK(fs::exists(rec.path));

  const Run bad = fx.run("convert '" + src + "' --to yolo --out '" + (fx.dir / "y.json").string() + "'");
  CHECK(bad.code == 2);
  CHECK(lines(bad.err) == 1);
  CHECK(bad.err.find("expected coco or via2") != std::string::npos);
  CHECK(!fs::exists(fx.dir / "y.json"));
}
