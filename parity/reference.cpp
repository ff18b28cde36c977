// Reading a parity reference file (see reference.h).
#include "parity/reference.h"

#include <sstream>
#include <stdexcept>

namespace mrc::parity {

namespace {

const std::string& meta_text(const Reference& r, const std::string& key) {
  auto it = r.meta.find(key);
  if (it == r.meta.end()) throw std::runtime_error(r.path + ": metadata has no \"" + key + "\"");
  return it->second;
}

}  // namespace

bool meta_has(const Reference& r, const std::string& key) { return r.meta.count(key) != 0; }

namespace {

// The whole metadata text `key` read by parse(text, &used), else an error naming the file and the key.
template <class T, class Parse>
T meta_number(const Reference& r, const std::string& key, Parse parse, const char* expected) {
  const std::string& v = meta_text(r, key);
  try {
    size_t used = 0;
    const T x = parse(v, &used);
    if (used == v.size()) return x;
  } catch (const std::exception&) {
  }
  throw std::runtime_error(r.path + ": metadata \"" + key + "\" is not " + expected + ": " + v);
}

}  // namespace

int64_t meta_int(const Reference& r, const std::string& key) {
  return meta_number<int64_t>(r, key, [](const std::string& v, size_t* used) { return std::stoll(v, used); }, "an integer");
}

double meta_double(const Reference& r, const std::string& key) {
  return meta_number<double>(r, key, [](const std::string& v, size_t* used) { return std::stod(v, used); }, "a number");
}

Reference load_reference(const std::string& path) {
  Reference r;
  r.path = path;
  r.tensors = load_tensors(path, &r.meta);
  maskrcnn::Config& c = r.config;
  c.NUM_CLASSES = meta_int(r, "num_classes");
  c.IMAGE_MIN_DIM = meta_has(r, "min_size") ? meta_int(r, "min_size") : meta_int(r, "size");
  c.IMAGE_MAX_DIM = meta_has(r, "max_size") ? meta_int(r, "max_size") : meta_int(r, "size");
  const std::string norm = meta_has(r, "norm") ? meta_text(r, "norm") : "bn";
  if (norm != "bn" && norm != "frozen") throw std::runtime_error(path + ": metadata \"norm\" must be bn or frozen, got " + norm);
  c.BACKBONE_NORM = norm == "bn" ? "bn" : "frozen_bn";
  c.TRAINABLE_LAYERS = meta_has(r, "trainable_layers") ? meta_int(r, "trainable_layers") : 5;
  if (meta_has(r, "loss_weights")) {
    std::istringstream in(meta_text(r, "loss_weights"));
    for (const auto& name : maskrcnn::kLossNames) {
      std::string item;
      if (!std::getline(in, item, ','))
        throw std::runtime_error(path + ": metadata \"loss_weights\" must hold 5 comma-separated numbers, got " +
                                 meta_text(r, "loss_weights"));
      c.LOSS_WEIGHTS[name] = std::stod(item);
    }
  }
  // torchvision's constructor arguments, when the reference sets them
  const std::pair<const char*, int64_t*> counts[] = {{"rpn_pre_nms_top_n_train", &c.PRE_NMS_LIMIT_TRAINING},
                                                     {"rpn_pre_nms_top_n_test", &c.PRE_NMS_LIMIT_INFERENCE},
                                                     {"rpn_post_nms_top_n_train", &c.POST_NMS_ROIS_TRAINING},
                                                     {"rpn_post_nms_top_n_test", &c.POST_NMS_ROIS_INFERENCE},
                                                     {"box_batch_size_per_image", &c.TRAIN_ROIS_PER_IMAGE},
                                                     {"box_detections_per_img", &c.DETECTION_MAX_INSTANCES}};
  for (const auto& [key, field] : counts)
    if (meta_has(r, key)) *field = meta_int(r, key);
  c.validate(path);
  const int64_t n = meta_int(r, "images");
  auto at = [&](const std::string& name) -> const Tensor& {
    auto it = r.tensors.find(name);
    if (it == r.tensors.end()) throw std::runtime_error(path + ": no tensor \"" + name + "\"");
    return it->second;
  };
  for (int64_t i = 0; i < n; ++i) {
    const std::string s = std::to_string(i);
    r.images.push_back(at("input." + s));
    r.targets.push_back({at("target.boxes." + s), at("target.labels." + s), at("target.masks." + s)});
  }
  return r;
}

std::unique_ptr<maskrcnn::MaskRCNN> reference_model(const Reference& r) {
  auto model = std::make_unique<maskrcnn::MaskRCNN>(r.config);
  TensorMap state;
  for (const auto& [k, v] : r.tensors)
    if (k.rfind("state.", 0) == 0) state[k.substr(6)] = v;
  try {
    model->load_state_dict(state, true);
  } catch (const std::exception& e) {
    throw std::runtime_error(r.path + ": " + e.what());
  }
  return model;
}

}  // namespace mrc::parity
