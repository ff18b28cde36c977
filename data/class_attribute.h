// Which VIA region attribute holds the class: the one rule every app (mrc-dataset, mrc-augment, mrc-train,
// mrc-evaluate) follows, so a project reads the same way everywhere.
//   auto (the default): the project's only dropdown/radio region attribute in `_via_attributes`; else an
//        attribute named class, name or label (declared, or present in the regions of a VIA 1.x export);
//        else none: a single class.
//   none: a single class.    NAME: that attribute (a region without it is reported by entry when read).
// The choice and why it was made are recorded in the Dataset (class_attribute, class_rule) and printed
// by the apps (class_summary).
#pragma once
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "data/dataset.h"

namespace mrc::data {

struct ClassAttributeChoice {
  std::string attribute;  // "" = a single class
  std::string rule;       // why, e.g. "the only dropdown region attribute"
};

// root: a parsed VIA 1.x/2.x document; source names it in errors. Throws std::runtime_error when auto
// finds several candidates.
ClassAttributeChoice choose_class_attribute(const nlohmann::ordered_json& root, const std::string& source,
                                            const std::string& requested);

// One line for the apps: "classes: region attribute 'class' (the only dropdown region attribute): 3 (a, b, c)".
std::string class_summary(const Dataset& dataset);

}  // namespace mrc::data
