// A training run's loss history: kept in checkpoints (JSON), written as CSV tables and PNG curves, and
// read back from a run folder to compare runs (Adam against SGD, re-weighted losses).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/trainer.h"

namespace mrc::train {

nlohmann::json history_to_json(const std::vector<StepRecord>& steps, const std::vector<EpochRecord>& epochs);
void history_from_json(const nlohmann::json& j, std::vector<StepRecord>& steps, std::vector<EpochRecord>& epochs);

// history.csv, epochs.csv, loss.png and losses.png in run_dir, each written atomically.
void write_history(const std::string& run_dir, const std::vector<StepRecord>& steps,
                   const std::vector<EpochRecord>& epochs);

// epochs.csv of a run folder. Throws std::runtime_error naming the file, the line and the column on
// anything unexpected.
std::vector<EpochRecord> read_epochs_csv(const std::string& run_dir);

// One chart of `loss` ("loss" or one of the five names) per epoch for several runs: the training curve
// of each (solid) and its validation curve where it has one. Written atomically.
void write_comparison_png(const std::string& path, const std::vector<std::string>& run_names,
                          const std::vector<std::vector<EpochRecord>>& runs, const std::string& loss);

}  // namespace mrc::train
