// Training checkpoints: one safetensors file holding named parameters and buffers (under their own
// names), the optimizer's state tensors (under "optimizer.<group>.<param>.<slot>") and, in
// __metadata__, the step, the optimizer's hyper-parameters and caller metadata as JSON. Written
// atomically. Any safetensors file of named tensors (e.g. weights exported from Python) loads as a
// checkpoint without optimizer state at step 0.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "optim/optimizer.h"
#include "tensor/serialize.h"

namespace mrc {

inline constexpr const char* kOptimizerPrefix = "optimizer.";

// Throws std::invalid_argument for a name under "optimizer." or an undefined tensor, std::runtime_error
// when the file cannot be written (no file, temporary or final, is left behind).
void save_checkpoint(const std::string& path, const TensorMap& tensors, const Optimizer* optimizer = nullptr,
                     int64_t step = 0, const nlohmann::json& extra = nlohmann::json::object());

struct CheckpointLoadOptions {
  bool strict = true;
  // Names left alone on both sides: a glob ('*' any run of characters, '?' one) matched against the
  // whole name, or a regular expression when written "re:<regex>" (std::regex_match, whole name).
  std::vector<std::string> exclude;
  bool load_optimizer = true;  // restore the optimizer's state when one is passed and the file has it
};

struct CheckpointReport {
  int64_t step = 0;
  nlohmann::json extra = nlohmann::json::object();
  std::vector<std::string> loaded;
  std::vector<std::string> excluded;    // model or file names matching an exclude pattern
  std::vector<std::string> missing;     // in the model, not in the file (skipped in non-strict mode)
  std::vector<std::string> unexpected;  // in the file, not in the model (skipped in non-strict mode)
  std::vector<std::string> mismatched;  // "name (file [..], model [..])" (skipped in non-strict mode)
  bool optimizer_loaded = false;
  std::string optimizer_note;           // why the optimizer state was not loaded, when it was not
  std::string summary() const;          // one line per non-empty list
};

// Copies the file's tensors into `tensors` in place (converting dtype and device; a one-element 1-D
// entry fills a 0-D tensor, as torch accepts) and restores the optimizer. Strict mode throws std::runtime_error naming the file and listing every missing,
// unexpected and wrongly shaped name, and loads nothing in that case. A truncated or foreign file
// throws naming the file.
CheckpointReport load_checkpoint(const std::string& path, const TensorMap& tensors, Optimizer* optimizer = nullptr,
                                 const CheckpointLoadOptions& options = {});

// True when `name` matches the glob or "re:" pattern (see CheckpointLoadOptions::exclude).
bool name_matches(const std::string& pattern, const std::string& name);

}  // namespace mrc
