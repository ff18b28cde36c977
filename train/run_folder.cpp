// Loading a trained model (see run_folder.h).
#include "train/run_folder.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "optim/checkpoint.h"
#include "tensor/atomic_file.h"
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

nlohmann::json read_run_settings(const std::string& run_dir) {
  const std::string path = (fs::path(run_dir) / "run.json").string();
  std::ifstream in(path);
  if (!in) return nlohmann::json::object();
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object()) throw std::runtime_error(path + ": expected the JSON object of settings mrc-train writes");
  return j;
}

void write_run_settings(const std::string& run_dir, const nlohmann::json& settings) {
  write_file_atomic((fs::path(run_dir) / "run.json").string(), settings.dump(1) + "\n");
}

void refuse_contradictions(const nlohmann::json& saved, const nlohmann::json& given, const std::string& saved_file,
                           const std::string& flag_prefix) {
  for (const auto& [key, value] : given.items()) {
    if (!saved.contains(key) || saved.at(key) == value) continue;
    throw std::runtime_error(flag_prefix + key + " " + value.dump() + " contradicts the resumed run's " + key + " " +
                             saved.at(key).dump() + " (" + saved_file +
                             "); a resumed run keeps its settings: leave the flag out, or start a new run in another folder");
  }
}

bool has_checkpoints(const std::string& run_dir) {
  return !epoch_checkpoints(run_dir).empty() || fs::exists(best_checkpoint_path(run_dir));
}

void remove_training_outputs(const std::string& run_dir) {
  const fs::path dir(run_dir);
  for (const char* name : {"checkpoints", "tensorboard", "eval", "run.json", "config.json", "classes.json", "history.csv",
                           "epochs.csv", "eval.json", "loss.png", "losses.png", "ap.png"})
    fs::remove_all(dir / name);
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
