// A trained model as mrc-predict and mrc-evaluate load it: from a mrc-train run folder (config.json,
// classes.json, the last checkpoint) or from explicit files, each of which overrides the run's.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models/maskrcnn/maskrcnn.h"

namespace mrc::train {

struct ModelSource {
  std::string run_dir;      // a mrc-train run folder, or empty
  std::string checkpoint;   // default: the run's last checkpoint
  std::string config;       // default: the run's config.json
  std::string classes;      // default: the run's classes.json; none: "class 1", "class 2", ...
};

struct TrainedModel {
  std::unique_ptr<maskrcnn::MaskRCNN> model;  // on the device, in eval mode
  std::vector<std::string> class_names;       // "BG" first, NUM_CLASSES entries
  std::string checkpoint;                     // the file the weights came from
};

// Throws std::runtime_error naming the file and what was expected.
TrainedModel load_trained_model(const ModelSource& source, Device device);

// A JSON list of class names, "BG" first.
std::vector<std::string> read_class_names(const std::string& path);

}  // namespace mrc::train
