// The class options of every app that reads annotations, so they all follow one rule
// (data/class_attribute.h): --class-attribute auto|none|NAME and --class-names ids|labels|A,B,C.
#pragma once
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "data/load_dataset.h"

namespace mrc::apps {

inline void add_class_options(CLI::App& app, data::DatasetOptions& options) {
  options.class_attribute = "auto";
  app.add_option("--class-attribute", options.class_attribute,
                 "VIA region attribute holding the class: auto (the only dropdown/radio attribute, else one named "
                 "class/name/label, else a single class), none (a single class) or its name")
      ->capture_default_str();
  app.add_option_function<std::string>(
      "--class-names",
      [&options](const std::string& value) {
        try {
          data::apply_class_names_option(options, value);
        } catch (const std::exception& e) {
          throw CLI::ValidationError("--class-names", e.what());
        }
      },
      "ids (dropdown option ids, the default), labels (the options' labels) or NAME,NAME,... (fixed order)");
}

}  // namespace mrc::apps
