// The one class-attribute rule of every app (data/class_attribute.h), dropdown labels as class names,
// values outside the declared options reported by entry, and regions far outside their photo reported
// instead of clipped into a whole-photo mask.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/class_attribute.h"
#include "data/image_io.h"
#include "data/load_dataset.h"
#include "data/rasterize.h"
#include "data/via.h"
#include "test_util.h"

using namespace mrc;
using namespace mrc::data;
using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

// A VIA 2.x project: one photo "a.png" with the given regions and region attribute declarations.
ojson via2(const ojson& declared, const ojson& regions) {
  ojson root;
  root["_via_settings"] = ojson::object();
  root["_via_attributes"] = {{"region", declared}, {"file", ojson::object()}};
  root["_via_img_metadata"] = {{"a.png40", {{"filename", "a.png"}, {"size", 40}, {"regions", regions}, {"file_attributes", ojson::object()}}}};
  return root;
}

ojson square(double x0, const ojson& attrs) {
  return {{"shape_attributes", {{"name", "polygon"}, {"all_points_x", {x0, x0 + 10, x0 + 10, x0}}, {"all_points_y", {2, 2, 12, 12}}}},
          {"region_attributes", attrs}};
}

ojson dropdown(const ojson& options) { return {{"type", "dropdown"}, {"description", ""}, {"options", options}, {"default_options", ojson::object()}}; }
const ojson kText = {{"type", "text"}, {"description", ""}, {"default_value", ""}};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("auto: the only dropdown/radio attribute, else class/name/label, else a single class") {
  const ojson regions = ojson::array({square(2, {{"kind", "cat"}, {"note", "x"}})});
  auto choose = [&](const ojson& declared) { return choose_class_attribute(via2(declared, regions), "p.json", "auto"); };
  {
    const auto c = choose({{"note", kText}, {"kind", dropdown({{"cat", ""}, {"dog", ""}})}});
    CHECK(c.attribute == "kind");
    CHECK(c.rule.find("only dropdown") != std::string::npos);
  }
  {  // several dropdowns: the conventional name wins
    const auto c = choose({{"color", dropdown({{"red", ""}})}, {"class", dropdown({{"cat", ""}})}});
    CHECK(c.attribute == "class");
  }
  {  // several, none conventional: the user must choose
    const std::string e = error_of([&] { choose({{"color", dropdown({{"red", ""}})}, {"kind", dropdown({{"cat", ""}})}}); });
    CHECK(e.find("p.json") != std::string::npos);
    CHECK(e.find("color, kind") != std::string::npos);
    CHECK(e.find("--class-attribute") != std::string::npos);
  }
  CHECK(choose({{"note", kText}, {"name", kText}}).attribute == "name");   // free text named conventionally
  CHECK(choose({{"note", kText}}).attribute.empty());                       // nothing: a single class
  CHECK(choose_class_attribute(via2({{"kind", dropdown({{"cat", ""}})}}, regions), "p.json", "none").attribute.empty());
  // VIA 1.x exports declare nothing: the regions' attribute names count.
  ojson v1 = {{"a.png40", {{"filename", "a.png"}, {"size", 40}, {"regions", {{"0", square(2, {{"label", "cat"}})}}}}}};
  CHECK(choose_class_attribute(v1, "v1.json", "auto").attribute == "label");
  // A named attribute is taken as given; a region without it is reported by entry when read.
  CHECK(choose_class_attribute(via2({{"kind", kText}}, regions), "p.json", "colour").attribute == "colour");
  ViaReadOptions named;
  named.class_attribute = "colour";
  const std::string e = error_of([&] { parse_via(via2({{"kind", kText}}, regions), "p.json", named); });
  CHECK(e.find("image 'a.png' region 0: has no 'colour' attribute") != std::string::npos);
}

TEST_CASE("parse_via: the chosen attribute is recorded, labels can name the classes, stray values are reported") {
  const ojson declared = {{"note", kText}, {"kind", dropdown({{"c", "cat"}, {"d", "dog"}})}};
  ViaReadOptions o;
  o.class_attribute = "auto";
  const Dataset ids = parse_via(via2(declared, ojson::array({square(2, {{"kind", "d"}}), square(20, {{"kind", "c"}})})), "p.json", o);
  CHECK(ids.class_attribute == "kind");
  CHECK(ids.class_names == std::vector<std::string>{"BG", "c", "d"});
  CHECK(ids.images[0].regions[0].class_id == 2);
  CHECK(class_summary(ids).find("region attribute 'kind'") != std::string::npos);

  DatasetOptions dopt;
  apply_class_names_option(dopt, "labels");
  o.option_descriptions_as_names = dopt.option_labels_as_names;
  const Dataset labels = parse_via(via2(declared, ojson::array({square(2, {{"kind", "d"}}), square(20, {{"kind", "cat"}})})), "p.json", o);
  CHECK(labels.class_names == std::vector<std::string>{"BG", "cat", "dog"});
  CHECK(labels.images[0].regions[0].class_id == 2);
  CHECK(labels.images[0].regions[1].class_id == 1);

  apply_class_names_option(dopt, "dog,cat");
  CHECK(dopt.class_names == std::vector<std::string>{"dog", "cat"});
  CHECK_THROWS_WITH_AS(apply_class_names_option(dopt, "dog,,cat"), doctest::Contains("--class-names"), std::runtime_error);

  o.option_descriptions_as_names = false;
  const ojson stray = via2(declared, ojson::array({square(2, {{"kind", "c"}}), square(20, {{"kind", "horse"}})}));
  const std::string e = error_of([&] { parse_via(stray, "p.json", o); });
  CHECK(e.find("p.json: image 'a.png' region 1") != std::string::npos);
  CHECK(e.find("'horse' is not an option of attribute 'kind'") != std::string::npos);
  CHECK(e.find("'c', 'd'") != std::string::npos);
  o.skip_bad_regions = true;
  Warnings w;
  const Dataset skipped = parse_via(stray, "p.json", o, &w);
  CHECK(skipped.images[0].regions.size() == 1);
  REQUIRE(w.items.size() == 1);
  CHECK(w.items[0].message.find("region 1") != std::string::npos);
}

TEST_CASE("a region far outside its photo is reported by entry, not clipped into a whole-photo mask") {
  test::TempDir tmp;
  write_png((tmp.path / "a.png").string(), Image(40, 30, 3, 128));
  ojson far = square(2, {{"kind", "c"}});
  far["shape_attributes"]["all_points_x"][1] = 1e30;
  const ojson root = via2({{"kind", dropdown({{"c", ""}})}}, ojson::array({square(2, {{"kind", "c"}}), far}));
  const fs::path ann = tmp.path / "via.json";
  std::ofstream(ann) << root.dump();

  DatasetOptions dopt;
  dopt.class_attribute = "auto";
  const Dataset ds = load_dataset(ann.string(), "", dopt);
  const std::string e = error_of([&] { load_sample(ds, 0); });
  CHECK(e.find("image 'a.png' region 1") != std::string::npos);
  CHECK(e.find("far outside the 40x30 photo") != std::string::npos);

  LoadOptions lo;
  lo.skip_bad_regions = true;
  Warnings w;
  const Sample s = load_sample(ds, 0, lo, &w);
  CHECK(s.instances.size() == 1);
  CHECK(w.items.size() == 1);

  Dataset checked = ds;
  Warnings problems;
  validate_dataset(checked, problems);
  REQUIRE(problems.items.size() == 1);
  CHECK(problems.items[0].kind == "region far outside");
  CHECK(problems.items[0].message.find("region 1") != std::string::npos);

  // Slightly outside (a vertex dragged past the border) is still clipped as VIA users expect.
  Region near;
  near.xs = {-5, 45, 45, -5};
  near.ys = {-5, -5, 35, 35};
  CHECK(rasterize_region(near, 40, 30).area() == 40 * 30);
}
