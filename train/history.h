// A training run's loss history: kept in checkpoints (JSON), written as CSV tables and PNG curves, and
// read back from a run folder to compare runs (Adam against SGD, re-weighted losses).
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/trainer.h"

namespace mrc::train {

// The name of a loss's unweighted column: "rpn_class_loss" -> "rpn_class_loss_unweighted".
std::string unweighted_name(const std::string& loss);

// The losses as a run records and shows them (console, history.csv, epochs.csv, TensorBoard), from the model's
// unweighted five and the weighted total "loss": each of the five weighted by LOSS_WEIGHTS under its own name, as
// Keras/matterport logs them (so the five sum to "loss"), and unweighted under unweighted_name(name).
// The columns that compare runs whose LOSS_WEIGHTS differ: "loss" (the total each run optimised) and the five
// unweighted losses (the weighted ones would move with the weights alone).
std::vector<std::string> comparable_loss_columns();

std::map<std::string, double> recorded_losses(const std::map<std::string, double>& unweighted_and_total,
                                              const maskrcnn::Config& cfg);

nlohmann::json history_to_json(const std::vector<StepRecord>& steps, const std::vector<EpochRecord>& epochs);
void history_from_json(const nlohmann::json& j, std::vector<StepRecord>& steps, std::vector<EpochRecord>& epochs);

// history.csv, epochs.csv, loss.png and losses.png in run_dir, each written atomically.
void write_history(const std::string& run_dir, const std::vector<StepRecord>& steps,
                   const std::vector<EpochRecord>& epochs);

// epochs.csv of a run folder. Throws std::runtime_error naming the file, the line and the column on
// anything unexpected.
std::vector<EpochRecord> read_epochs_csv(const std::string& run_dir);

// One chart of `loss` ("loss", one of the five names or its unweighted_name) per epoch for several runs: the training curve
// of each (solid) and its validation curve where it has one. Written atomically.
void write_comparison_png(const std::string& path, const std::vector<std::string>& run_names,
                          const std::vector<std::vector<EpochRecord>>& runs, const std::string& loss);

}  // namespace mrc::train
