// Train/val split by source photo (see split.h).
#include "data/split.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "data/augment/rng.h"
#include "data/via.h"

namespace mrc::data {

std::string source_key(const std::string& image_id) {
  std::string stem = std::filesystem::path(image_id).stem().string();
  const size_t at = stem.rfind("__aug");
  if (at != std::string::npos && at + 5 < stem.size() &&
      std::all_of(stem.begin() + long(at) + 5, stem.end(), [](char c) { return c >= '0' && c <= '9'; }))
    stem.resize(at);
  return stem;
}

std::string augmented_copy_name(const std::string& source_image_id, int copy_index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "__aug%03d.jpg", copy_index);
  return std::filesystem::path(source_image_id).stem().string() + buf;
}

std::map<std::string, std::string> read_augment_sources(const std::string& path) {
  const auto root = read_json_file(path);
  if (!root.is_object() || !root.contains("photos") || !root["photos"].is_array())
    throw std::runtime_error(path + ": expected an mrc-augment record with a \"photos\" list");
  std::map<std::string, std::string> out;
  size_t i = 0;
  for (const auto& p : root["photos"]) {
    const std::string where = path + ": photos[" + std::to_string(i++) + "]";
    if (!p.is_object() || !p.contains("source") || !p["source"].is_string())
      throw std::runtime_error(where + ": missing string field \"source\"");
    const std::string src = p["source"].get<std::string>();
    out[src] = src;
    if (!p.contains("copies") || !p["copies"].is_array())
      throw std::runtime_error(where + ": missing list field \"copies\"");
    for (const auto& c : p["copies"]) {
      if (!c.is_object() || !c.contains("file") || !c["file"].is_string())
        throw std::runtime_error(where + ": each copy needs a string field \"file\"");
      out[c["file"].get<std::string>()] = src;
    }
  }
  return out;
}

Split split_by_source(const std::vector<std::string>& ids, const SplitOptions& o,
                      const std::map<std::string, std::string>& sources) {
  if (!(o.val_fraction >= 0 && o.val_fraction <= 1))
    throw std::invalid_argument("split: val_fraction must be in [0, 1]");
  std::map<std::string, std::vector<size_t>> groups;   // ordered by key: input order does not matter
  for (size_t i = 0; i < ids.size(); ++i) {
    auto it = sources.find(ids[i]);
    const std::string key = source_key(it != sources.end() ? it->second : ids[i]);
    groups[key].push_back(i);
  }
  std::vector<const std::vector<size_t>*> order;
  for (const auto& [k, g] : groups) order.push_back(&g);
  aug::Rng rng(aug::derive_seed(o.seed, 0x5B117));
  rng.shuffle(order);

  const size_t n = order.size();
  size_t n_val = size_t(std::llround(o.val_fraction * double(n)));
  if (n >= 2 && o.val_fraction > 0 && o.val_fraction < 1) n_val = std::clamp<size_t>(n_val, 1, n - 1);
  Split s;
  for (size_t g = 0; g < n; ++g) {
    auto& side = g < n_val ? s.val : s.train;
    side.insert(side.end(), order[g]->begin(), order[g]->end());
  }
  std::sort(s.train.begin(), s.train.end());
  std::sort(s.val.begin(), s.val.end());
  return s;
}

Split split_dataset(const Dataset& ds, const SplitOptions& o, const std::map<std::string, std::string>& sources) {
  std::vector<std::string> ids;
  ids.reserve(ds.images.size());
  for (const auto& r : ds.images) ids.push_back(r.image_id);
  return split_by_source(ids, o, sources);
}

void split_dataset(const Dataset& ds, const Split& split, Dataset& train, Dataset& val) {
  auto pick = [&](const std::vector<size_t>& idx, Dataset& out) {
    out = Dataset{};
    out.source = ds.source;
    out.format = ds.format;
    out.class_names = ds.class_names;
    out.coco_category_ids = ds.coco_category_ids;
    for (size_t i : idx) {
      if (i >= ds.images.size()) throw std::out_of_range("split_dataset: index out of range");
      out.images.push_back(ds.images[i]);
    }
  };
  pick(split.train, train);
  pick(split.val, val);
}

}  // namespace mrc::data
