// Loading a trained model (see run_folder.h).
#include "train/run_folder.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "optim/checkpoint.h"
#include "train/trainer.h"

namespace mrc::train {
namespace fs = std::filesystem;

std::vector<std::string> read_class_names(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_array() || j.empty() || !std::all_of(j.begin(), j.end(), [](const auto& v) { return v.is_string(); }))
    throw std::runtime_error(path + ": expected a JSON list of class names starting with \"BG\"");
  return j.get<std::vector<std::string>>();
}

TrainedModel load_trained_model(const ModelSource& source, Device device) {
  ModelSource s = source;
  if (!s.run_dir.empty()) {
    if (!fs::is_directory(s.run_dir)) throw std::runtime_error(s.run_dir + ": not a folder (expected a mrc-train run folder)");
    if (s.checkpoint.empty()) s.checkpoint = latest_checkpoint(s.run_dir);
    if (s.config.empty()) s.config = (fs::path(s.run_dir) / "config.json").string();
    if (s.classes.empty()) s.classes = (fs::path(s.run_dir) / "classes.json").string();
  }
  if (s.checkpoint.empty() || s.config.empty())
    throw std::runtime_error("no model: give a run folder, or a checkpoint and a config");
  const maskrcnn::Config cfg = maskrcnn::load_config(s.config);
  TrainedModel t;
  t.checkpoint = s.checkpoint;
  if (!s.classes.empty()) {
    t.class_names = read_class_names(s.classes);
  } else {
    for (int64_t c = 0; c < cfg.NUM_CLASSES; ++c) t.class_names.push_back(c ? "class " + std::to_string(c) : "BG");
  }
  if (int64_t(t.class_names.size()) != cfg.NUM_CLASSES)
    throw std::runtime_error(s.classes + ": " + std::to_string(t.class_names.size()) + " names for NUM_CLASSES " +
                             std::to_string(cfg.NUM_CLASSES) + " of " + s.config);
  t.model = std::make_unique<maskrcnn::MaskRCNN>(cfg);
  TensorMap state = t.model->state_dict();
  CheckpointLoadOptions lo;
  lo.exclude = {"re:.*\\.num_batches_tracked"};
  load_checkpoint(s.checkpoint, state, nullptr, lo);
  t.model->to(device);
  t.model->eval();
  return t;
}

}  // namespace mrc::train
