// Train/val split by source photo: copies follow their source, the split is seeded and does not
// depend on the input order, the fraction is respected, and mrc-augment's record is honoured.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "data/split.h"
#include "test_util.h"

using namespace mrc::data;

namespace {
std::vector<std::string> ids_with_copies(int photos, int copies_each) {
  std::vector<std::string> ids;
  for (int p = 0; p < photos; ++p) {
    const std::string src = "photo" + std::to_string(p) + ".jpg";
    ids.push_back(src);
    for (int k = 1; k <= copies_each + (p % 3); ++k) ids.push_back(augmented_copy_name(src, k));
  }
  return ids;
}
}  // namespace

TEST_CASE("copy names and source keys") {
  CHECK(augmented_copy_name("dir/IMG_1.png", 2) == "IMG_1__aug002.jpg");
  CHECK(source_key("IMG_1__aug002.jpg") == "IMG_1");
  CHECK(source_key("IMG_1.jpg") == "IMG_1");
  CHECK(source_key("a/b/IMG_1.jpeg") == "IMG_1");
  CHECK(source_key("x__augment.jpg") == "x__augment");   // not our suffix
}

TEST_CASE("augmented copies never land on both sides") {
  const auto ids = ids_with_copies(30, 2);
  const Split s = split_by_source(ids, SplitOptions{0.2, 7});
  CHECK(s.train.size() + s.val.size() == ids.size());
  std::set<std::string> train_src, val_src;
  for (size_t i : s.train) train_src.insert(source_key(ids[i]));
  for (size_t i : s.val) val_src.insert(source_key(ids[i]));
  for (const auto& v : val_src) CHECK(train_src.count(v) == 0);
  CHECK(val_src.size() == 6);   // 20 % of 30 source photos
  CHECK(train_src.size() == 24);
  CHECK(std::is_sorted(s.val.begin(), s.val.end()));
}

TEST_CASE("seeded and independent of the input order") {
  auto ids = ids_with_copies(20, 1);
  const Split a = split_by_source(ids, SplitOptions{0.25, 3});
  const Split b = split_by_source(ids, SplitOptions{0.25, 3});
  CHECK(a.val == b.val);
  std::set<std::string> va;
  for (size_t i : a.val) va.insert(ids[i]);
  std::reverse(ids.begin(), ids.end());
  const Split r = split_by_source(ids, SplitOptions{0.25, 3});
  std::set<std::string> vr;
  for (size_t i : r.val) vr.insert(ids[i]);
  CHECK(va == vr);
  int different = 0;
  for (uint64_t seed = 4; seed < 10; ++seed) {
    const Split c = split_by_source(ids, SplitOptions{0.25, seed});
    std::set<std::string> vc;
    for (size_t i : c.val) vc.insert(ids[i]);
    different += vc != vr;
  }
  CHECK(different >= 5);
}

TEST_CASE("edge cases of the fraction") {
  const std::vector<std::string> ids = {"a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"};
  CHECK(split_by_source(ids, SplitOptions{0.0, 1}).val.empty());
  CHECK(split_by_source(ids, SplitOptions{1.0, 1}).train.empty());
  CHECK(split_by_source(ids, SplitOptions{0.01, 1}).val.size() == 1);   // at least one photo each side
  CHECK(split_by_source(ids, SplitOptions{0.99, 1}).train.size() == 1);
  CHECK(split_by_source(ids, SplitOptions{0.5, 1}).val.size() == 3);    // 2.5 photos, rounded half away from zero

  CHECK(split_by_source({"only.jpg"}, SplitOptions{0.5, 1}).val.size() + 1 == 2);
  CHECK_THROWS_AS(split_by_source(ids, SplitOptions{1.5, 1}), std::invalid_argument);
}

TEST_CASE("sources from mrc-augment's record override the names") {
  const mrc::test::TempDir dir;
  const std::string path = dir.write("augment.json", R"({"photos": [
      {"source": "a.jpg", "copies": [{"file": "renamed1.jpg"}, {"file": "renamed2.jpg"}]},
      {"source": "b.jpg", "copies": []}, {"source": "c.jpg", "copies": [{"file": "zz.jpg"}]}]})");
  const auto sources = read_augment_sources(path);
  CHECK(sources.at("renamed2.jpg") == "a.jpg");
  const std::vector<std::string> ids = {"a.jpg", "renamed1.jpg", "renamed2.jpg", "b.jpg", "c.jpg", "zz.jpg"};
  for (uint64_t seed = 0; seed < 10; ++seed) {
    const Split s = split_by_source(ids, SplitOptions{0.34, seed}, sources);
    const bool a_val = std::count(s.val.begin(), s.val.end(), size_t(0)) == 1;
    CHECK((std::count(s.val.begin(), s.val.end(), size_t(1)) == 1) == a_val);
    CHECK((std::count(s.val.begin(), s.val.end(), size_t(2)) == 1) == a_val);
    const bool c_val = std::count(s.val.begin(), s.val.end(), size_t(4)) == 1;
    CHECK((std::count(s.val.begin(), s.val.end(), size_t(5)) == 1) == c_val);
  }
  dir.write("augment.json", R"({"photos": [{"copies": []}]})");
  CHECK_THROWS_WITH_AS(read_augment_sources(path), doctest::Contains("photos[0]"), std::runtime_error);
}

TEST_CASE("split_dataset keeps classes and picks records") {
  Dataset ds;
  ds.class_names = {"BG", "x"};
  for (const auto& id : ids_with_copies(6, 1)) ds.images.push_back(ImageRecord{id, id, 0, 0, -1, {}});
  const Split s = split_dataset(ds, SplitOptions{0.5, 2});
  Dataset tr, va;
  split_dataset(ds, s, tr, va);
  CHECK(tr.images.size() == s.train.size());
  CHECK(va.images.size() == s.val.size());
  CHECK(va.class_names == ds.class_names);
  CHECK(va.images[0].image_id == ds.images[s.val[0]].image_id);
}
