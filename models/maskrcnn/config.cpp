// Config <-> JSON: one table of fields, each with its JSON name, reader (type and range checks) and writer.
#include "models/maskrcnn/config.h"

#include <cmath>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "models/maskrcnn/config_matterport.h"
#include "tensor/atomic_file.h"

namespace mrc::maskrcnn {

namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

[[noreturn]] void bad(const std::string& where, const std::string& key, const std::string& expected, const json& got) {
  throw std::runtime_error(where + ": key \"" + key + "\": expected " + expected + ", got " + got.dump());
}

struct Field {
  std::string name;
  std::function<void(Config&, const json&, const std::string& where)> read;
  std::function<void(const Config&, ojson&)> write;
};

double read_number(const json& v, const std::string& where, const std::string& key, double lo, double hi,
                   const std::string& range) {
  if (!v.is_number()) bad(where, key, "a number " + range, v);
  const double d = v.get<double>();
  if (!(d >= lo && d <= hi)) bad(where, key, "a number " + range, v);
  return d;
}

int64_t read_int(const json& v, const std::string& where, const std::string& key, int64_t lo, int64_t hi) {
  const std::string range = "in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (!v.is_number_integer() && !(v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()))
    bad(where, key, "an integer " + range, v);
  const double d = v.get<double>();
  if (!(d >= double(lo) && d <= double(hi))) bad(where, key, "an integer " + range, v);
  return int64_t(d);
}

constexpr int64_t kBig = int64_t(1) << 40;

Field int_field(const std::string& name, int64_t Config::*m, int64_t lo, int64_t hi = kBig) {
  return {name, [=](Config& c, const json& v, const std::string& w) { c.*m = read_int(v, w, name, lo, hi); },
          [=](const Config& c, ojson& o) { o[name] = c.*m; }};
}

Field num_field(const std::string& name, double Config::*m, double lo, double hi, const std::string& range) {
  return {name, [=](Config& c, const json& v, const std::string& w) { c.*m = read_number(v, w, name, lo, hi, range); },
          [=](const Config& c, ojson& o) { o[name] = c.*m; }};
}

Field prob_field(const std::string& name, double Config::*m) { return num_field(name, m, 0, 1, "in [0, 1]"); }

Field choice_field(const std::string& name, std::string Config::*m, std::vector<std::string> choices) {
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : " | ") + ("\"" + c + "\"");
  return {name,
          [=](Config& c, const json& v, const std::string& w) {
            if (!v.is_string()) bad(w, name, "one of " + list, v);
            const std::string s = v.get<std::string>();
            for (const auto& ch : choices)
              if (s == ch) {
                c.*m = s;
                return;
              }
            bad(w, name, "one of " + list, v);
          },
          [=](const Config& c, ojson& o) { o[name] = c.*m; }};
}

Field string_field(const std::string& name, std::string Config::*m) {
  return {name,
          [=](Config& c, const json& v, const std::string& w) {
            if (!v.is_string()) bad(w, name, "a string", v);
            c.*m = v.get<std::string>();
          },
          [=](const Config& c, ojson& o) { o[name] = c.*m; }};
}

Field bool_field(const std::string& name, bool Config::*m) {
  return {name,
          [=](Config& c, const json& v, const std::string& w) {
            if (!v.is_boolean()) bad(w, name, "true or false", v);
            c.*m = v.get<bool>();
          },
          [=](const Config& c, ojson& o) { o[name] = c.*m; }};
}

// A list of epochs (positive integers, increasing); may be empty.
Field epochs_field(const std::string& name, std::vector<int64_t> Config::*m) {
  return {name,
          [=](Config& c, const json& v, const std::string& w) {
            if (!v.is_array()) bad(w, name, "a list of increasing epoch numbers (from 1)", v);
            std::vector<int64_t> out;
            for (const auto& e : v) {
              out.push_back(read_int(e, w, name, 1, kBig));
              if (out.size() > 1 && out.back() <= out[out.size() - 2]) bad(w, name, "a list of increasing epoch numbers", v);
            }
            c.*m = out;
          },
          [=](const Config& c, ojson& o) { o[name] = c.*m; }};
}

// A list of positive numbers; size 0 means any non-empty length.
Field list_field(const std::string& name, std::vector<double> Config::*m, size_t size, bool positive) {
  const std::string what = std::string("a list of ") + (size ? std::to_string(size) + " " : "") +
                           (positive ? "positive numbers" : "numbers");
  return {name,
          [=](Config& c, const json& v, const std::string& w) {
            if (!v.is_array() || v.empty() || (size && v.size() != size)) bad(w, name, what, v);
            std::vector<double> out;
            for (const auto& e : v) {
              if (!e.is_number() || (positive && !(e.get<double>() > 0)) || !std::isfinite(e.get<double>()))
                bad(w, name, what, v);
              out.push_back(e.get<double>());
            }
            c.*m = out;
          },
          [=](const Config& c, ojson& o) { o[name] = c.*m; }};
}

const std::vector<Field>& fields() {
  static const std::vector<Field> f = [] {
    std::vector<Field> v;
    v.push_back(string_field("NAME", &Config::NAME));
    v.push_back(choice_field("BACKBONE", &Config::BACKBONE, {"resnet50", "resnet101"}));
    v.push_back(choice_field("BACKBONE_NORM", &Config::BACKBONE_NORM, {"frozen_bn", "bn", "gn"}));
    v.push_back(num_field("BACKBONE_NORM_EPS", &Config::BACKBONE_NORM_EPS, 0, 1, "in [0, 1]"));
    v.push_back(int_field("GN_GROUPS", &Config::GN_GROUPS, 1, 4096));
    v.push_back(int_field("TRAINABLE_LAYERS", &Config::TRAINABLE_LAYERS, 0, 5));
    v.push_back(int_field("TOP_DOWN_PYRAMID_SIZE", &Config::TOP_DOWN_PYRAMID_SIZE, 1, 65536));
    v.push_back(int_field("NUM_CLASSES", &Config::NUM_CLASSES, 2, 1 << 20));
    v.push_back(int_field("IMAGE_MIN_DIM", &Config::IMAGE_MIN_DIM, 1, 1 << 16));
    v.push_back(int_field("IMAGE_MAX_DIM", &Config::IMAGE_MAX_DIM, 1, 1 << 16));
    v.push_back(list_field("IMAGE_MEAN", &Config::IMAGE_MEAN, 3, false));
    v.push_back(list_field("IMAGE_STD", &Config::IMAGE_STD, 3, true));
    v.push_back(int_field("IMAGE_SIZE_DIVISIBLE", &Config::IMAGE_SIZE_DIVISIBLE, 1, 1024));
    v.push_back(list_field("RPN_ANCHOR_SCALES", &Config::RPN_ANCHOR_SCALES, 5, true));
    v.push_back(list_field("RPN_ANCHOR_RATIOS", &Config::RPN_ANCHOR_RATIOS, 0, true));
    v.push_back(prob_field("RPN_NMS_THRESHOLD", &Config::RPN_NMS_THRESHOLD));
    v.push_back({"PRE_NMS_LIMIT",
                 [](Config& c, const json& j, const std::string& w) {
                   c.PRE_NMS_LIMIT_TRAINING = c.PRE_NMS_LIMIT_INFERENCE = read_int(j, w, "PRE_NMS_LIMIT", 1, kBig);
                 },
                 nullptr});  // an alias: written as the two keys below
    v.push_back(int_field("PRE_NMS_LIMIT_TRAINING", &Config::PRE_NMS_LIMIT_TRAINING, 1));
    v.push_back(int_field("PRE_NMS_LIMIT_INFERENCE", &Config::PRE_NMS_LIMIT_INFERENCE, 1));
    v.push_back(int_field("POST_NMS_ROIS_TRAINING", &Config::POST_NMS_ROIS_TRAINING, 1));
    v.push_back(int_field("POST_NMS_ROIS_INFERENCE", &Config::POST_NMS_ROIS_INFERENCE, 1));
    v.push_back(prob_field("RPN_SCORE_THRESHOLD", &Config::RPN_SCORE_THRESHOLD));
    v.push_back(num_field("RPN_MIN_SIZE", &Config::RPN_MIN_SIZE, 0, 1e9, ">= 0"));
    v.push_back(prob_field("RPN_FG_IOU_THRESHOLD", &Config::RPN_FG_IOU_THRESHOLD));
    v.push_back(prob_field("RPN_BG_IOU_THRESHOLD", &Config::RPN_BG_IOU_THRESHOLD));
    v.push_back(int_field("RPN_TRAIN_ANCHORS_PER_IMAGE", &Config::RPN_TRAIN_ANCHORS_PER_IMAGE, 1));
    v.push_back(prob_field("RPN_POSITIVE_RATIO", &Config::RPN_POSITIVE_RATIO));
    v.push_back(list_field("RPN_BBOX_WEIGHTS", &Config::RPN_BBOX_WEIGHTS, 4, true));
    v.push_back(int_field("TRAIN_ROIS_PER_IMAGE", &Config::TRAIN_ROIS_PER_IMAGE, 1));
    v.push_back(prob_field("ROI_POSITIVE_RATIO", &Config::ROI_POSITIVE_RATIO));
    v.push_back(prob_field("ROI_FG_IOU_THRESHOLD", &Config::ROI_FG_IOU_THRESHOLD));
    v.push_back(prob_field("ROI_BG_IOU_THRESHOLD", &Config::ROI_BG_IOU_THRESHOLD));
    v.push_back(list_field("BBOX_WEIGHTS", &Config::BBOX_WEIGHTS, 4, true));
    v.push_back(int_field("POOL_SIZE", &Config::POOL_SIZE, 1, 1024));
    v.push_back(int_field("MASK_POOL_SIZE", &Config::MASK_POOL_SIZE, 1, 1024));
    v.push_back(int_field("ROI_SAMPLING_RATIO", &Config::ROI_SAMPLING_RATIO, -1, 64));
    v.push_back({"MASK_SHAPE",
                 [](Config& c, const json& j, const std::string& w) {
                   if (!j.is_array() || j.size() != 2) bad(w, "MASK_SHAPE", "[height, width] of positive integers", j);
                   c.MASK_SHAPE = {read_int(j[0], w, "MASK_SHAPE", 1, 4096), read_int(j[1], w, "MASK_SHAPE", 1, 4096)};
                 },
                 [](const Config& c, ojson& o) { o["MASK_SHAPE"] = c.MASK_SHAPE; }});
    v.push_back(int_field("FPN_CLASSIF_FC_LAYERS_SIZE", &Config::FPN_CLASSIF_FC_LAYERS_SIZE, 1, 1 << 20));
    v.push_back(int_field("MASK_HEAD_CHANNELS", &Config::MASK_HEAD_CHANNELS, 1, 65536));
    v.push_back(int_field("MAX_GT_INSTANCES", &Config::MAX_GT_INSTANCES, 1));
    v.push_back(prob_field("DETECTION_MIN_CONFIDENCE", &Config::DETECTION_MIN_CONFIDENCE));
    v.push_back(prob_field("DETECTION_NMS_THRESHOLD", &Config::DETECTION_NMS_THRESHOLD));
    v.push_back(int_field("DETECTION_MAX_INSTANCES", &Config::DETECTION_MAX_INSTANCES, 1));
    v.push_back(prob_field("DETECTION_MASK_THRESHOLD", &Config::DETECTION_MASK_THRESHOLD));
    v.push_back({"LOSS_WEIGHTS",
                 [](Config& c, const json& j, const std::string& w) {
                   std::string names;
                   for (const auto& n : kLossNames) names += (names.empty() ? "" : ", ") + n;
                   if (!j.is_object()) bad(w, "LOSS_WEIGHTS", "an object with some of " + names, j);
                   for (const auto& [k, val] : j.items()) {
                     bool known = false;
                     for (const auto& n : kLossNames) known |= (n == k);
                     if (!known) bad(w, "LOSS_WEIGHTS." + k, "one of the losses " + names, json(k));
                     c.LOSS_WEIGHTS[k] = read_number(val, w, "LOSS_WEIGHTS." + k, 0, 1e9, ">= 0");
                   }
                 },
                 [](const Config& c, ojson& o) {
                   ojson lw = ojson::object();
                   for (const auto& n : kLossNames) lw[n] = c.loss_weight(n);
                   o["LOSS_WEIGHTS"] = lw;
                 }});
    v.push_back(choice_field("OPTIMIZER", &Config::OPTIMIZER, {"sgd", "adam", "adamw"}));
    v.push_back(num_field("LEARNING_RATE", &Config::LEARNING_RATE, 0, 1e3, "in [0, 1000]"));
    v.push_back(num_field("LEARNING_MOMENTUM", &Config::LEARNING_MOMENTUM, 0, 1, "in [0, 1]"));
    v.push_back(bool_field("LEARNING_NESTEROV", &Config::LEARNING_NESTEROV));
    v.push_back(num_field("ADAM_BETA_1", &Config::ADAM_BETA_1, 0, 0.999999, "in [0, 1)"));
    v.push_back(num_field("ADAM_BETA_2", &Config::ADAM_BETA_2, 0, 0.999999999, "in [0, 1)"));
    v.push_back(num_field("ADAM_EPSILON", &Config::ADAM_EPSILON, 0, 1, "in [0, 1]"));
    v.push_back(num_field("WEIGHT_DECAY", &Config::WEIGHT_DECAY, 0, 1, "in [0, 1]"));
    v.push_back(num_field("GRADIENT_CLIP_NORM", &Config::GRADIENT_CLIP_NORM, 0, 1e9, ">= 0 (0: no clipping)"));
    v.push_back(int_field("LR_WARMUP_STEPS", &Config::LR_WARMUP_STEPS, 0));
    v.push_back(num_field("LR_WARMUP_FACTOR", &Config::LR_WARMUP_FACTOR, 1e-12, 1, "in (0, 1]"));
    v.push_back(choice_field("LR_DECAY", &Config::LR_DECAY, {"none", "step", "cosine"}));
    v.push_back(epochs_field("LR_DECAY_EPOCHS", &Config::LR_DECAY_EPOCHS));
    v.push_back(num_field("LR_DECAY_GAMMA", &Config::LR_DECAY_GAMMA, 1e-12, 1, "in (0, 1]"));
    v.push_back(int_field("IMAGES_PER_GPU", &Config::IMAGES_PER_GPU, 1, 4096));
    v.push_back(int_field("STEPS_PER_EPOCH", &Config::STEPS_PER_EPOCH, 1));
    v.push_back(int_field("VALIDATION_STEPS", &Config::VALIDATION_STEPS, 0));
    v.push_back(int_field("EVAL_EVERY", &Config::EVAL_EVERY, -1));
    v.push_back(int_field("KEEP_CHECKPOINTS", &Config::KEEP_CHECKPOINTS, 0));
    v.push_back({"SEED",
                 [](Config& c, const json& j, const std::string& w) { c.SEED = uint64_t(read_int(j, w, "SEED", 0, kBig)); },
                 [](const Config& c, ojson& o) { o["SEED"] = c.SEED; }});
    v.push_back(choice_field("PRECISION", &Config::PRECISION, {"fp32", "tf32", "bf16"}));
    return v;
  }();
  return f;
}

}  // namespace

double Config::loss_weight(const std::string& name) const {
  auto it = LOSS_WEIGHTS.find(name);
  if (it == LOSS_WEIGHTS.end()) throw std::runtime_error("Config: no loss named \"" + name + "\"");
  return it->second;
}

void Config::validate(const std::string& where) const {
  auto fail = [&](const std::string& key, const std::string& what) {
    throw std::runtime_error(where + ": key \"" + key + "\": " + what);
  };
  if (IMAGE_MIN_DIM > IMAGE_MAX_DIM)
    fail("IMAGE_MIN_DIM", "must be <= IMAGE_MAX_DIM (" + std::to_string(IMAGE_MAX_DIM) + "), got " +
                              std::to_string(IMAGE_MIN_DIM));
  if (RPN_BG_IOU_THRESHOLD > RPN_FG_IOU_THRESHOLD)
    fail("RPN_BG_IOU_THRESHOLD", "must be <= RPN_FG_IOU_THRESHOLD");
  if (ROI_BG_IOU_THRESHOLD > ROI_FG_IOU_THRESHOLD)
    fail("ROI_BG_IOU_THRESHOLD", "must be <= ROI_FG_IOU_THRESHOLD");
  if (MASK_SHAPE.size() != 2 || MASK_SHAPE[0] != 2 * MASK_POOL_SIZE || MASK_SHAPE[1] != 2 * MASK_POOL_SIZE)
    fail("MASK_SHAPE", "must be [2 * MASK_POOL_SIZE, 2 * MASK_POOL_SIZE] = [" + std::to_string(2 * MASK_POOL_SIZE) +
                           ", " + std::to_string(2 * MASK_POOL_SIZE) + "] (the mask head doubles its ROI size)");
  if (BACKBONE_NORM == "gn" && TOP_DOWN_PYRAMID_SIZE % GN_GROUPS != 0) fail("GN_GROUPS", "must divide the channel counts");
  for (const auto& n : kLossNames)
    if (!LOSS_WEIGHTS.count(n)) fail("LOSS_WEIGHTS", "has no weight for " + n);
  if (LR_DECAY == "step" && LR_DECAY_EPOCHS.empty()) fail("LR_DECAY_EPOCHS", "must list the epochs of the \"step\" decay");
}

Config config_from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw std::runtime_error(where + ": expected a JSON object of settings, got " + std::string(j.type_name()));
  Config c;
  MatterportKeys matterport;
  for (const auto& [key, value] : j.items()) {
    if (!key.empty() && key[0] == '_') continue;  // comments
    const Field* f = nullptr;
    for (const auto& cand : fields())
      if (cand.name == key) f = &cand;
    if (f)
      f->read(c, value, where);
    else if (!matterport.read(c, key, value, where))
      throw std::runtime_error(where + ": key \"" + key + "\": unknown setting (see configs/maskrcnn_default.json)");
  }
  matterport.finish(c);
  c.validate(where);
  return c;
}

nlohmann::ordered_json config_to_json(const Config& c) {
  ojson o = ojson::object();
  for (const auto& f : fields())
    if (f.write) f.write(c, o);
  return o;
}

Config load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open the config file");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::parse_error& e) {
    throw std::runtime_error(path + ": not valid JSON (" + e.what() + ")");
  }
  return config_from_json(j, path);
}

void save_config(const Config& c, const std::string& path) {
  write_file_atomic(path, config_to_json(c).dump(2) + "\n");
}

}  // namespace mrc::maskrcnn
