// The class-attribute rule (see class_attribute.h).
#include "data/class_attribute.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <vector>

namespace mrc::data {

using ojson = nlohmann::ordered_json;

namespace {

// The region attributes declared in `_via_attributes` (VIA 2.x projects), name -> type, in file order.
std::vector<std::pair<std::string, std::string>> declared_region_attributes(const ojson& root) {
  std::vector<std::pair<std::string, std::string>> out;
  const auto a = root.find("_via_attributes");
  if (a == root.end() || !a->is_object()) return out;
  const auto r = a->find("region");
  if (r == a->end() || !r->is_object()) return out;
  for (const auto& [name, def] : r->items()) {
    std::string type;
    if (def.is_object() && def.contains("type") && def["type"].is_string()) type = def["type"].get<std::string>();
    out.emplace_back(name, type);
  }
  return out;
}

// The attribute names used by any region (VIA 1.x exports declare nothing).
std::set<std::string> used_region_attributes(const ojson& root) {
  std::set<std::string> names;
  const ojson& meta = root.contains("_via_img_metadata") ? root["_via_img_metadata"] : root;
  if (!meta.is_object()) return names;
  for (const auto& [key, entry] : meta.items()) {
    if (!entry.is_object()) continue;
    const auto regions = entry.find("regions");
    if (regions == entry.end() || !(regions->is_array() || regions->is_object())) continue;
    for (const auto& reg : *regions) {
      if (!reg.is_object()) continue;
      const auto ra = reg.find("region_attributes");
      if (ra == reg.end() || !ra->is_object()) continue;
      for (const auto& [name, v] : ra->items()) names.insert(name);
    }
  }
  return names;
}

std::string join(const std::vector<std::string>& v) {  // "a, b, c"
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? "none" : s;
}

}  // namespace

ClassAttributeChoice choose_class_attribute(const ojson& root, const std::string& source, const std::string& requested) {
  if (requested.empty() || requested == "none") return {"", "single class (no class attribute)"};
  const auto declared = declared_region_attributes(root);
  const std::set<std::string> used = used_region_attributes(root);
  auto is_declared = [&](const std::string& n) {
    return std::any_of(declared.begin(), declared.end(), [&](const auto& d) { return d.first == n; });
  };
  // A named attribute is taken as given: a region without it is reported by the reader, by entry.
  if (requested != "auto") return {requested, "named with --class-attribute"};
  std::vector<std::string> choices;
  for (const auto& [name, type] : declared)
    if (type == "dropdown" || type == "radio") choices.push_back(name);
  if (choices.size() == 1) return {choices[0], "the only dropdown/radio region attribute"};
  for (const char* conventional : {"class", "name", "label"}) {
    const bool among_choices = std::find(choices.begin(), choices.end(), conventional) != choices.end();
    if (choices.size() > 1 && among_choices)
      return {conventional, std::string("the dropdown/radio region attribute named '") + conventional + "'"};
    if (choices.empty() && (is_declared(conventional) || used.count(conventional)))
      return {conventional, std::string("the region attribute named '") + conventional + "'"};
  }
  if (choices.size() > 1)
    throw std::runtime_error(source + ": several dropdown/radio region attributes could hold the class (" + join(choices) +
                             "): choose one with --class-attribute");
  return {"", "single class (no dropdown/radio region attribute, none named class, name or label)"};
}

std::string class_summary(const Dataset& ds) {
  std::string s = "classes: ";
  if (ds.format == "coco")
    s += "the COCO categories";
  else if (ds.class_attribute.empty())
    s += ds.class_rule.empty() ? "single class" : ds.class_rule;
  else
    s += "region attribute '" + ds.class_attribute + "' (" + ds.class_rule + ")";
  std::vector<std::string> names(ds.class_names.begin() + (ds.class_names.empty() ? 0 : 1), ds.class_names.end());
  const size_t shown = std::min<size_t>(names.size(), 12);
  std::vector<std::string> head(names.begin(), names.begin() + long(shown));
  s += ": " + std::to_string(names.size()) + " (" + join(head) + (shown < names.size() ? ", ..." : "") + ")";
  return s;
}

}  // namespace mrc::data
