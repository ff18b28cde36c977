// Checkpoint save/load (see checkpoint.h).
#include "optim/checkpoint.h"

#include <regex>
#include <set>
#include <stdexcept>

#include "tensor/autograd.h"
#include "tensor/safetensors.h"

namespace mrc {

namespace {

constexpr const char* kFormat = "mrc.checkpoint";

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// '*' matches any run (dots included), '?' one character; iterative with one backtrack point.
bool glob_match(const std::string& pat, const std::string& s) {
  size_t p = 0, i = 0, star = std::string::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && (pat[p] == '?' || pat[p] == s[i])) {
      ++p, ++i;
    } else if (p < pat.size() && pat[p] == '*') {
      star = p++, mark = i;
    } else if (star != std::string::npos) {
      p = star + 1, i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

struct Matcher {
  std::vector<std::string> globs;
  std::vector<std::regex> regexes;
  explicit Matcher(const std::vector<std::string>& patterns) {
    for (const auto& p : patterns) {
      if (starts_with(p, "re:")) {
        try {
          regexes.emplace_back(p.substr(3));
        } catch (const std::regex_error& e) {
          throw std::invalid_argument("load_checkpoint: exclude pattern '" + p + "' is not a valid regex: " + e.what());
        }
      } else {
        globs.push_back(p);
      }
    }
  }
  bool operator()(const std::string& name) const {
    for (const auto& g : globs)
      if (glob_match(g, name)) return true;
    for (const auto& r : regexes)
      if (std::regex_match(name, r)) return true;
    return false;
  }
};

std::string join_lines(const std::string& title, const std::vector<std::string>& v) {
  if (v.empty()) return "";
  std::string s = "\n  " + std::to_string(v.size()) + " " + title + ":";
  for (const auto& n : v) s += "\n    " + n;
  return s;
}

nlohmann::json parse_json_field(const SafetensorsFile& f, const std::string& key) {
  auto it = f.metadata.find(key);
  if (it == f.metadata.end()) return nullptr;
  try {
    return nlohmann::json::parse(it->second);
  } catch (const std::exception& e) {
    throw std::runtime_error("checkpoint '" + f.path + "': __metadata__." + key + " is not valid JSON: " + e.what());
  }
}

}  // namespace

bool name_matches(const std::string& pattern, const std::string& name) { return Matcher({pattern})(name); }

void save_checkpoint(const std::string& path, const TensorMap& tensors, const Optimizer* optimizer, int64_t step,
                     const nlohmann::json& extra) {
  SafetensorsFile file;
  auto add = [&](const std::string& name, const Tensor& t) {
    if (!t.defined()) throw std::invalid_argument("save_checkpoint('" + path + "'): tensor '" + name + "' is undefined");
    try {
      file.tensors.emplace(name, to_safetensors_entry(t));
    } catch (const std::exception& e) {
      throw std::runtime_error("save_checkpoint('" + path + "'): tensor '" + name + "' (" + t.str() + "): " + e.what());
    }
  };
  for (const auto& [name, t] : tensors) {
    if (name.empty() || name == "__metadata__" || starts_with(name, kOptimizerPrefix))
      throw std::invalid_argument("save_checkpoint('" + path + "'): tensor name '" + name +
                                  "' is reserved (empty, __metadata__ or under 'optimizer.')");
    add(name, t);
  }
  file.metadata["format"] = kFormat;
  file.metadata["format_version"] = "1";
  file.metadata["step"] = std::to_string(step);
  file.metadata["extra"] = extra.dump();
  if (optimizer) {
    const OptimizerState s = optimizer->state_dict();
    for (const auto& [key, t] : s.tensors) add(kOptimizerPrefix + key, t);
    file.metadata["optimizer"] = s.hyper.dump();
  }
  write_safetensors(path, file);
}

std::string CheckpointReport::summary() const {
  std::string s = "loaded " + std::to_string(loaded.size()) + " tensors at step " + std::to_string(step);
  s += join_lines("excluded", excluded) + join_lines("missing from the file", missing) +
       join_lines("unexpected in the file", unexpected) + join_lines("of the wrong shape", mismatched);
  if (optimizer_loaded) s += "\n  optimizer state loaded";
  else if (!optimizer_note.empty()) s += "\n  optimizer state not loaded: " + optimizer_note;
  return s;
}

CheckpointReport load_checkpoint(const std::string& path, const TensorMap& tensors, Optimizer* optimizer,
                                 const CheckpointLoadOptions& options) {
  const Matcher excluded(options.exclude);
  const SafetensorsFile file = read_safetensors(path);
  const std::string where = "checkpoint '" + path + "'";
  CheckpointReport rep;

  if (auto it = file.metadata.find("step"); it != file.metadata.end()) {
    try {
      size_t used = 0;
      rep.step = std::stoll(it->second, &used);
      if (used != it->second.size()) throw std::invalid_argument("trailing characters");
    } catch (const std::exception&) {
      throw std::runtime_error(where + ": __metadata__.step is '" + it->second + "', expected an integer");
    }
  }
  if (nlohmann::json extra = parse_json_field(file, "extra"); !extra.is_null()) rep.extra = std::move(extra);

  // Match names on both sides.
  std::set<std::string> excluded_set, skipped_params;
  std::vector<std::pair<Tensor, Tensor>> to_copy;  // (destination, source)
  for (const auto& [name, dst] : tensors) {
    if (excluded(name)) {
      excluded_set.insert(name);
      skipped_params.insert(name);
      continue;
    }
    auto it = file.tensors.find(name);
    if (it == file.tensors.end()) {
      rep.missing.push_back(name);
      skipped_params.insert(name);
      continue;
    }
    if (!dst.defined()) throw std::invalid_argument("load_checkpoint('" + path + "'): model tensor '" + name + "' is undefined");
    // A one-element 1-D entry fills a 0-D tensor, as torch's load_state_dict accepts for old files.
    const bool scalar_compat = dst.dim() == 0 && it->second.shape == Shape{1};
    if (it->second.shape != dst.shape() && !scalar_compat) {
      rep.mismatched.push_back(name + " (file " + shape_str(it->second.shape) + ", model " + shape_str(dst.shape()) + ")");
      skipped_params.insert(name);
      continue;
    }
    to_copy.push_back({dst, Tensor()});
    rep.loaded.push_back(name);
  }
  for (const auto& [name, e] : file.tensors) {
    if (starts_with(name, kOptimizerPrefix) || tensors.count(name)) continue;
    if (excluded(name)) excluded_set.insert(name);
    else rep.unexpected.push_back(name);
  }
  rep.excluded.assign(excluded_set.begin(), excluded_set.end());
  if (options.strict && (!rep.missing.empty() || !rep.unexpected.empty() || !rep.mismatched.empty()))
    throw std::runtime_error(where + " does not match the model (strict loading; nothing was loaded):" +
                             join_lines("missing from the file", rep.missing) +
                             join_lines("unexpected in the file", rep.unexpected) +
                             join_lines("of the wrong shape", rep.mismatched));

  // Convert every source before changing anything, so a bad entry leaves the model untouched.
  for (size_t i = 0; i < to_copy.size(); ++i) {
    const std::string& name = rep.loaded[i];
    Tensor& dst = to_copy[i].first;
    Tensor src = from_safetensors_entry(file.tensors.at(name), where + ": tensor '" + name + "'");
    if (src.shape() != dst.shape()) src = src.reshape(dst.shape());
    try {
      if (src.dtype() != dst.dtype()) src = src.to(dst.dtype());
      if (src.device() != dst.device()) src = src.to(dst.device());
    } catch (const std::exception& e) {
      throw std::runtime_error(where + ": tensor '" + name + "' (" + src.str() + ") cannot be converted for " + dst.str() +
                               ": " + e.what());
    }
    to_copy[i].second = src;
  }

  if (optimizer && options.load_optimizer) {
    nlohmann::json hyper = parse_json_field(file, "optimizer");
    if (hyper.is_null()) {
      rep.optimizer_note = "the file holds no optimizer state";
      if (options.strict)
        throw std::runtime_error(where + " holds no optimizer state (load it without an optimizer, or set load_optimizer = false)");
    } else {
      OptimizerState state;
      state.hyper = std::move(hyper);
      const std::string prefix = kOptimizerPrefix;
      for (const auto& [name, e] : file.tensors) {
        if (!starts_with(name, prefix)) continue;
        const std::string key = name.substr(prefix.size());
        // "<group>.<param>.<slot>": parameters not loaded from the file start with fresh state.
        const size_t a = key.find('.'), b = key.rfind('.');
        if (a != std::string::npos && b > a && skipped_params.count(key.substr(a + 1, b - a - 1))) continue;
        state.tensors[key] = from_safetensors_entry(e, where + ": tensor '" + name + "'");
      }
      try {
        optimizer->load_state_dict(state);
        rep.optimizer_loaded = true;
      } catch (const std::exception& e) {
        if (options.strict) throw std::runtime_error(where + ": " + e.what());
        rep.optimizer_note = e.what();
      }
    }
  }

  NoGradGuard no_grad;
  for (auto& [dst, src] : to_copy) Tensor(dst).copy_(src);
  return rep;
}

}  // namespace mrc
