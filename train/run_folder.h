// A trained model as mrc-predict and mrc-evaluate load it: from a mrc-train run folder (config.json,
// classes.json, the last checkpoint) or from explicit files, each of which overrides the run's. And what keeps a
// run folder whole: run.json (the settings --resume restores), the check that refuses to start over an existing
// run, and the list of files a run writes (removed by --overwrite).
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
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

// RUN/run.json: the command-line settings a run was started with ({"schedule": ..., "train": ..., ...}); an empty
// object for a run folder without one.
nlohmann::json read_run_settings(const std::string& run_dir);
void write_run_settings(const std::string& run_dir, const nlohmann::json& settings);

// A resumed run keeps its settings: for each key the command line gave (`given`, same keys as `saved`), the value
// must equal the saved one. Throws std::runtime_error naming the flag, both values and `saved_file`.
void refuse_contradictions(const nlohmann::json& saved, const nlohmann::json& given, const std::string& saved_file,
                           const std::string& flag_prefix);

// Whether the folder holds mrc-train checkpoints (epoch_NNNN or best).
bool has_checkpoints(const std::string& run_dir);
// Removes what mrc-train writes in a run folder (checkpoints, history, plots, eval.json, run.json, TensorBoard
// events); other files stay.
void remove_training_outputs(const std::string& run_dir);

}  // namespace mrc::train
