// Mask R-CNN's parts against torchvision (fixture tests/fixtures/test_maskrcnn.py): the config (defaults,
// JSON round trip, errors naming file and key), the parameter names and shapes, the trainable sets,
// MultiScaleRoIAlign forward and backward, the transform, mask pasting; and the model's own contracts
// (layer groups, weights round trip, sampler hook, reproducible sampling, bad targets).
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "kernels/masks/masks_op.h"
#include "kernels/multiscale_roi/multiscale_roi_op.h"
#include "kernels/ops.h"
#include "models/maskrcnn/maskrcnn.h"
#include "tensor/serialize.h"
#include "test_util.h"
#include "torch_compare.h"

using namespace mrc;
using namespace mrc::maskrcnn;
namespace fs = std::filesystem;

namespace {

const TensorMap& ref() {
  static const TensorMap r = load_tensors(test::fixture("maskrcnn.safetensors"));
  return r;
}

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("mrc_test_maskrcnn_" + std::to_string(::getpid()) + "_" + name)).string();
}

Config small_config(const std::string& norm = "frozen_bn") {
  Config c;
  c.NUM_CLASSES = 3;
  c.IMAGE_MIN_DIM = 64;
  c.IMAGE_MAX_DIM = 64;
  c.BACKBONE_NORM = norm;
  c.PRE_NMS_LIMIT_TRAINING = c.PRE_NMS_LIMIT_INFERENCE = 200;
  c.POST_NMS_ROIS_TRAINING = c.POST_NMS_ROIS_INFERENCE = 100;
  c.TRAIN_ROIS_PER_IMAGE = 64;
  c.DETECTION_MAX_INSTANCES = 10;
  return c;
}

std::pair<std::vector<Tensor>, std::vector<Target>> random_batch(uint64_t seed) {
  Generator g(seed);
  std::vector<Tensor> images = {Tensor::rand({3, 60, 64}, &g), Tensor::rand({3, 64, 50}, &g)};
  std::vector<Target> targets;
  for (const Tensor& img : images) {
    const int64_t h = img.size(1), w = img.size(2);
    Target t;
    t.boxes = Tensor::from_vector<float>({4, 6, 30, 40, 20, 10, float(w - 2), float(h - 5)}, {2, 4});
    t.labels = Tensor::from_vector<int64_t>({1, 2}, {2});
    std::vector<uint8_t> m(size_t(2 * h * w), 0);
    for (int64_t y = 8; y < 38; ++y)
      for (int64_t x = 6; x < 28; ++x) m[size_t(y * w + x)] = 1;
    for (int64_t y = 12; y < h - 6; ++y)
      for (int64_t x = 22; x < w - 3; ++x) m[size_t(h * w + y * w + x)] = 1;
    t.masks = Tensor::from_vector(m, {2, h, w});
    targets.push_back(t);
  }
  return {images, targets};
}

std::vector<std::string> lines(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in, "missing fixture " << path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

}  // namespace

TEST_CASE("config: torchvision's defaults, the shipped JSON files, round trip") {
  const Config c;
  // torchvision maskrcnn_resnet50_fpn / FasterRCNN defaults (faster_rcnn.py, rpn.py, roi_heads.py)
  CHECK(c.NUM_CLASSES == 91);
  CHECK(c.IMAGE_MIN_DIM == 800);
  CHECK(c.IMAGE_MAX_DIM == 1333);
  CHECK(c.PRE_NMS_LIMIT_TRAINING == 2000);
  CHECK(c.PRE_NMS_LIMIT_INFERENCE == 1000);
  CHECK(c.POST_NMS_ROIS_TRAINING == 2000);
  CHECK(c.POST_NMS_ROIS_INFERENCE == 1000);
  CHECK(c.RPN_NMS_THRESHOLD == 0.7);
  CHECK(c.RPN_TRAIN_ANCHORS_PER_IMAGE == 256);
  CHECK(c.TRAIN_ROIS_PER_IMAGE == 512);
  CHECK(c.ROI_POSITIVE_RATIO == 0.25);
  CHECK(c.DETECTION_MIN_CONFIDENCE == 0.05);
  CHECK(c.DETECTION_NMS_THRESHOLD == 0.5);
  CHECK(c.DETECTION_MAX_INSTANCES == 100);
  CHECK(c.BBOX_WEIGHTS == std::vector<double>{10, 10, 5, 5});

  const std::string dir = test::source_dir() + "/configs/";
  std::ifstream in(dir + "maskrcnn_default.json");
  REQUIRE(in);
  nlohmann::json shipped = nlohmann::json::parse(in);
  for (auto it = shipped.begin(); it != shipped.end();) it = it.key()[0] == '_' ? shipped.erase(it) : std::next(it);
  CHECK_MESSAGE(shipped == nlohmann::json::parse(config_to_json(c).dump()),
                "configs/maskrcnn_default.json must list every key with Config's defaults");
  const Config home = load_config(dir + "home_objects.json");
  CHECK(home.NUM_CLASSES == 51);
  CHECK(home.IMAGE_MIN_DIM == 800);
  CHECK(home.IMAGE_MAX_DIM == 1024);

  Config d;
  d.NUM_CLASSES = 7;
  d.RPN_ANCHOR_RATIOS = {0.25, 1, 4};
  d.LOSS_WEIGHTS["mrcnn_mask_loss"] = 2.5;
  const std::string path = temp_path("cfg.json");
  save_config(d, path);
  const Config e = load_config(path);
  CHECK(config_to_json(e) == config_to_json(d));
  fs::remove(path);
}

TEST_CASE("config: errors name the file and the key") {
  auto err = [](const std::string& text) {
    return test::error_of([&] { config_from_json(nlohmann::json::parse(text), "my.json"); });
  };
  CHECK(err(R"({"NUM_CLASES": 3})").find("my.json: key \"NUM_CLASES\": unknown setting") != std::string::npos);
  CHECK(err(R"({"NUM_CLASSES": "3"})").find("my.json: key \"NUM_CLASSES\": expected an integer") != std::string::npos);
  CHECK(err(R"({"NUM_CLASSES": 1})").find("\"NUM_CLASSES\"") != std::string::npos);
  CHECK(err(R"({"RPN_NMS_THRESHOLD": 1.5})").find("\"RPN_NMS_THRESHOLD\": expected a number in [0, 1]") != std::string::npos);
  CHECK(err(R"({"BACKBONE": "resnet18"})").find("\"BACKBONE\"") != std::string::npos);
  CHECK(err(R"({"RPN_ANCHOR_SCALES": [32, 64]})").find("\"RPN_ANCHOR_SCALES\": expected a list of 5") != std::string::npos);
  CHECK(err(R"({"LOSS_WEIGHTS": {"mask": 1}})").find("\"LOSS_WEIGHTS.mask\"") != std::string::npos);
  CHECK(err(R"({"MASK_SHAPE": [14, 14]})").find("\"MASK_SHAPE\": must be [2 * MASK_POOL_SIZE") != std::string::npos);
  CHECK(err(R"({"IMAGE_MIN_DIM": 900, "IMAGE_MAX_DIM": 800})").find("\"IMAGE_MIN_DIM\"") != std::string::npos);
  CHECK(err("[1, 2]").find("my.json: expected a JSON object") != std::string::npos);
  const Config c = config_from_json(nlohmann::json::parse(R"({"_comment": "x", "PRE_NMS_LIMIT": 6000})"), "a.json");
  CHECK(c.PRE_NMS_LIMIT_TRAINING == 6000);
  CHECK(c.PRE_NMS_LIMIT_INFERENCE == 6000);
  const std::string bad = temp_path("bad.json");
  { std::ofstream(bad) << "{ \"NUM_CLASSES\": "; }
  CHECK(test::error_of([&] { load_config(bad); }).find(bad + ": not valid JSON") == 0);
  fs::remove(bad);
  CHECK(test::error_of([] { load_config("/nonexistent/x.json"); }).find("/nonexistent/x.json: cannot open") == 0);
}

TEST_CASE("parameter and buffer names and shapes equal torchvision's; trainable sets too") {
  for (const std::string norm : {"bn", "frozen"}) {
    Config c;
    c.NUM_CLASSES = 3;
    c.BACKBONE_NORM = norm == "bn" ? "bn" : "frozen_bn";
    c.TRAINABLE_LAYERS = norm == "bn" ? 5 : 3;  // torchvision: 5 without pretrained weights; our frozen case: 3
    MaskRCNN m(c);
    std::set<std::string> ours, theirs;
    for (const auto& [k, v] : m.state_dict()) {
      std::ostringstream s;
      s << k << ' ';
      for (size_t i = 0; i < v.shape().size(); ++i) s << (i ? "x" : "") << v.shape()[i];
      ours.insert(s.str());
    }
    for (const auto& l : lines(test::fixture("state_keys_" + norm + ".txt"))) theirs.insert(l);
    for (const auto& k : theirs) CHECK_MESSAGE(ours.count(k), norm << ": ours lacks " << k);
    for (const auto& k : ours) CHECK_MESSAGE(theirs.count(k), norm << ": torchvision lacks " << k);
    std::set<std::string> trainable, want;
    for (const auto& [k, v] : m.named_parameters())
      if (v.requires_grad()) trainable.insert(k);
    for (const auto& l : lines(test::fixture("trainable_" + norm + ".txt"))) want.insert(l);
    CHECK(trainable == want);
  }
}

TEST_CASE("layer groups: the Keras study's heads / 3+ / 4+ / 5+ / all") {
  Config c = small_config("bn");
  MaskRCNN m(c);
  auto trainable = [&](const std::string& group) {
    m.set_layer_group(group);
    std::set<std::string> prefixes;
    for (const auto& [k, v] : m.named_parameters())
      if (v.requires_grad()) {
        const std::string p = k.rfind("backbone.body.", 0) == 0 ? k.substr(0, k.find('.', 14)) : k.substr(0, k.find('.'));
        prefixes.insert(p);
      }
    return prefixes;
  };
  using S = std::set<std::string>;
  const S heads = {"backbone", "rpn", "roi_heads"};  // backbone: its fpn only, checked below
  CHECK(trainable("heads") == heads);
  for (const auto& [k, v] : m.named_parameters())
    if (v.requires_grad()) CHECK(k.rfind("backbone.body.", 0) != 0);
  CHECK(trainable("5+") == S{"backbone", "rpn", "roi_heads", "backbone.body.layer4"});
  CHECK(trainable("4+") == S{"backbone", "rpn", "roi_heads", "backbone.body.layer3", "backbone.body.layer4"});
  CHECK(trainable("3+") ==
        S{"backbone", "rpn", "roi_heads", "backbone.body.layer2", "backbone.body.layer3", "backbone.body.layer4"});
  CHECK(trainable("all") == S{"backbone", "rpn", "roi_heads", "backbone.body.conv1", "backbone.body.bn1",
                              "backbone.body.layer1", "backbone.body.layer2", "backbone.body.layer3",
                              "backbone.body.layer4"});
  CHECK(test::error_of([&] { m.set_layer_group("2+"); }).find("\"2+\"") != std::string::npos);
}

TEST_CASE("multiscale_roi_align equals torchvision's MultiScaleRoIAlign, forward and backward") {
  const auto& r = ref();
  std::vector<Tensor> feats;
  for (int i = 0; i < 4; ++i) feats.push_back(r.at("msroi.feat." + std::to_string(i)).clone().requires_grad_());
  const Tensor rois = boxes_to_rois({r.at("msroi.boxes.0"), r.at("msroi.boxes.1")});
  const ImageSizes sizes = {{90, 120}, {96, 100}};
  for (const auto& [n, k] : std::vector<std::pair<int64_t, std::string>>{{7, "box"}, {14, "mask"}}) {
    const Tensor y = multiscale_roi_align(feats, rois, sizes, n, n, 2);
    test::expect_close(y, r.at("msroi." + k + ".out"), 1e-5, k + " forward");
    const auto g = grad(sum(mul(y, r.at("msroi." + k + ".w"))), feats);
    for (int i = 0; i < 4; ++i) test::expect_close(g[size_t(i)], r.at("msroi." + k + ".grad." + std::to_string(i)), 1e-5, k + " grad level " + std::to_string(i));
  }
  CHECK(multiscale_roi_align(feats, Tensor::zeros({0, 5}), sizes, 7, 7, 2).shape() == Shape{0, 4, 7, 7});
  CHECK(test::error_of([&] { multiscale_roi_align(feats, Tensor::zeros({3, 4}), sizes, 7, 7, 2); }).find("rois must be [K, 5]") !=
        std::string::npos);
}

TEST_CASE("the transform equals torchvision's GeneralizedRCNNTransform (training mode, targets too)") {
  const auto& r = ref();
  Config c;
  c.IMAGE_MIN_DIM = 80;
  c.IMAGE_MAX_DIM = 100;
  GeneralizedRCNNTransform tr(c);
  std::vector<Tensor> images;
  std::vector<Target> targets;
  for (int i = 0; i < 2; ++i) {
    const std::string s = std::to_string(i);
    images.push_back(r.at("transform.image." + s));
    targets.push_back({r.at("transform.boxes." + s), Tensor::from_vector<int64_t>({1, 2}, {2}), r.at("transform.masks." + s)});
  }
  const ImageList il = tr.forward(images, &targets);
  const auto sizes = r.at("transform.sizes").to_vector<int64_t>();
  REQUIRE(il.image_sizes.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(il.image_sizes[i].first == sizes[2 * i]);
    CHECK(il.image_sizes[i].second == sizes[2 * i + 1]);
    test::expect_close(targets[i].boxes, r.at("transform.out_boxes." + std::to_string(i)), 1e-7, "boxes");
    CHECK(targets[i].masks.to_vector<uint8_t>() == r.at("transform.out_masks." + std::to_string(i)).to_vector<uint8_t>());
  }
  // normalized, resized (torch's bilinear taps and rounding order, kernels/pool/pool_math.h) and padded: bit for
  // bit. torch's interpolate is ATen's AVX2 build on every machine (the fixture step pins
  // ATEN_CPU_CAPABILITY=avx2; test_norm.cpp's note), so the reference is the same everywhere.
  CHECK(il.tensors.shape() == r.at("transform.batch").shape());
  CHECK(il.tensors.to_vector<float>() == r.at("transform.batch").to_vector<float>());
}

TEST_CASE("paste_masks_in_image equals torchvision's, to the pixel at the 0.5 threshold") {
  const auto& r = ref();
  const Tensor out = paste_masks_in_image(r.at("paste.masks"), r.at("paste.boxes"), 110, 120);
  const auto a = out.to_vector<float>(), b = r.at("paste.out").to_vector<float>();
  REQUIRE(a.size() == b.size());
  int64_t flips = 0;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    flips += (a[i] > 0.5f) != (b[i] > 0.5f);
    worst = std::max(worst, double(std::abs(a[i] - b[i])));
  }
  CHECK(flips == 0);
  CHECK(worst <= 1.2e-7);
}

TEST_CASE("training: five named losses, gradients only where trainable, reproducible sampling, the sampler hook") {
  Config c = small_config();
  c.TRAINABLE_LAYERS = 0;
  MaskRCNN a(c), b(c);
  a.train();
  b.train();
  auto [images, targets] = random_batch(1);
  const Losses la = a.forward_train(images, targets);
  const Losses lb = b.forward_train(images, targets);
  double total = 0;
  for (const auto& n : kLossNames) {
    REQUIRE(la.by_name.count(n));
    const double v = la.by_name.at(n).item_double();
    CHECK(std::isfinite(v));
    CHECK(v >= 0);
    CHECK(v == lb.by_name.at(n).item_double());  // same SEED: same weights and sampler draws
    total += v;
  }
  CHECK(la.total.item_double() == doctest::Approx(total).epsilon(1e-6));
  la.total.backward();
  for (const auto& [k, p] : a.named_parameters()) {
    if (k.rfind("backbone.body.", 0) == 0) CHECK_MESSAGE(!p.grad().defined(), k);
    if (k == "roi_heads.mask_predictor.mask_fcn_logits.weight") CHECK(p.grad().defined());
  }
  // LOSS_WEIGHTS scale the total
  Config cw = c;
  cw.LOSS_WEIGHTS = {{"rpn_class_loss", 0}, {"rpn_bbox_loss", 0}, {"mrcnn_class_loss", 2}, {"mrcnn_bbox_loss", 0},
                     {"mrcnn_mask_loss", 0}};
  MaskRCNN w(cw);
  w.train();
  const Losses lw = w.forward_train(images, targets);
  CHECK(lw.total.item_double() == doctest::Approx(2 * la.by_name.at("mrcnn_class_loss").item_double()).epsilon(1e-6));

  // the hook sees every candidate and its picks are the ones used
  int calls = 0;
  a.sampler_hook = [&](SamplerStage stage, int64_t, const Tensor& labels, const Tensor& cand) {
    ++calls;
    CHECK(cand.size(0) == labels.numel());
    std::vector<uint8_t> pos(size_t(labels.numel()), 0), neg(size_t(labels.numel()), 0);
    const auto l = labels.to(DType::Int64).to_vector<int64_t>();
    for (size_t k = 0; k < l.size(); ++k) {
      if (l[k] >= 1) pos[k] = 1;
      if (l[k] == 0 && k % 7 == 0) neg[k] = 1;
    }
    if (stage == SamplerStage::Roi) CHECK(cand.size(0) >= 2);  // proposals followed by the 2 GT boxes
    return SampledMasks{Tensor::from_vector(pos, {labels.numel()}), Tensor::from_vector(neg, {labels.numel()})};
  };
  Trace trace;
  a.trace = &trace;
  a.forward_train(images, targets);
  CHECK(calls == 4);  // RPN and ROI, two images each
  const auto picked = trace.at("roi.labels.0").to_vector<int64_t>();
  CHECK(std::count_if(picked.begin(), picked.end(), [](int64_t v) { return v >= 1; }) >= 2);  // every GT box is positive
}

TEST_CASE("device samplers: the masked and fixed-size losses equal the gathered ones for the same picks, gradients too") {
  // the same picks through a hook (the balanced sampler from a generator per stage and image); the switch then
  // changes only how the losses are formed: masked RPN losses, fixed-size ROI rows and mask-head rows
  Config c = small_config();
  auto [images, targets] = random_batch(2);
  auto run = [&, &images = images, &targets = targets](bool device) {
    MaskRCNN m(c);
    m.train();
    m.sampler_hook = [&c](SamplerStage stage, int64_t i, const Tensor& labels, const Tensor&) {
      Generator g(uint64_t(100 + 10 * int(stage) + i));
      return stage == SamplerStage::Rpn ? balanced_sample(labels, c.RPN_TRAIN_ANCHORS_PER_IMAGE, c.RPN_POSITIVE_RATIO, g)
                                        : balanced_sample(labels, c.TRAIN_ROIS_PER_IMAGE, c.ROI_POSITIVE_RATIO, g);
    };
    set_device_samplers(device);
    const Losses l = m.forward_train(images, targets);
    set_device_samplers(false);
    l.total.backward();
    std::map<std::string, Tensor> grads;
    for (const auto& [k, p] : m.named_parameters())
      if (p.grad().defined()) grads[k] = p.grad();
    return std::pair{l, grads};
  };
  const auto [plain, g_plain] = run(false);
  const auto [device, g_device] = run(true);
  for (const auto& n : kLossNames) {
    CAPTURE(n);
    const double a = plain.by_name.at(n).item_double(), b = device.by_name.at(n).item_double();
    CHECK(a > 0);
    CHECK(b == doctest::Approx(a).epsilon(1e-5));
  }
  REQUIRE(g_plain.size() == g_device.size());
  for (const char* k : {"rpn.head.conv.0.0.weight", "roi_heads.box_predictor.cls_score.weight",
                        "roi_heads.box_predictor.bbox_pred.weight", "roi_heads.mask_predictor.mask_fcn_logits.weight",
                        "backbone.fpn.layer_blocks.0.0.weight"}) {
    CAPTURE(k);
    REQUIRE(g_plain.count(k));
    const double scale = norm(g_plain.at(k)).item_double();
    CHECK(scale > 0);
    CHECK(norm(sub(g_device.at(k), g_plain.at(k))).item_double() <= 1e-4 * scale);
  }
}

TEST_CASE("device samplers: the RPN filters every image at once into the per-image filtering's proposals, exactly") {
  // (a) 200 candidates per level and a score threshold that sets about half aside (the random head's scores are
  // near 0.5): each image's NMS runs on <= 1000 survivors, batched_nms's coordinate trick; (b) 96-pixel images
  // and 1000 candidates per level: over 1000 survivors, one NMS per level. Small boxes are set aside in both.
  for (int variant = 0; variant < 2; ++variant) {
    CAPTURE(variant);
    Config c = small_config();
    c.RPN_MIN_SIZE = 2;
    if (variant == 0) {
      c.RPN_SCORE_THRESHOLD = 0.5;
    } else {
      c.IMAGE_MIN_DIM = c.IMAGE_MAX_DIM = 96;
      c.PRE_NMS_LIMIT_TRAINING = 1000;
      c.POST_NMS_ROIS_TRAINING = 300;
    }
    auto [images, targets] = random_batch(4);
    auto traced = [&, &images = images, &targets = targets](bool device) {
      MaskRCNN m(c);
      m.train();
      Trace trace;
      m.trace = &trace;
      set_device_samplers(device);
      (void)m.forward_train(images, targets);
      set_device_samplers(false);
      return trace;
    };
    const Trace plain = traced(false), device = traced(true);
    for (const char* i : {"0", "1"}) {
      CAPTURE(i);
      const Tensor a = plain.at(std::string("rpn.proposals.") + i), b = device.at(std::string("rpn.proposals.") + i);
      CHECK(a.size(0) > 20);
      CHECK(a.size(0) <= c.POST_NMS_ROIS_TRAINING);
      CHECK(a.shape() == b.shape());
      CHECK(a.to_vector<float>() == b.to_vector<float>());
      CHECK(plain.at(std::string("rpn.scores.") + i).to_vector<float>() == device.at(std::string("rpn.scores.") + i).to_vector<float>());
    }
  }
}

TEST_CASE("inference: detections in the photos' own coordinates, masks pasted at their size") {
  Config c = small_config();
  MaskRCNN m(c);
  m.eval();
  auto [images, targets] = random_batch(2);
  const auto dets = m.detect(images);
  REQUIRE(dets.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    const Detections& d = dets[i];
    const int64_t n = d.boxes.size(0);
    CHECK(n <= c.DETECTION_MAX_INSTANCES);
    CHECK(d.scores.shape() == Shape{n});
    CHECK(d.labels.shape() == Shape{n});
    CHECK(d.masks.shape() == Shape{n, 1, images[i].size(1), images[i].size(2)});
    const auto s = d.scores.to_vector<float>();
    for (size_t k = 1; k < s.size(); ++k) CHECK(s[k] <= s[k - 1]);
    for (float v : s) CHECK(v > c.DETECTION_MIN_CONFIDENCE);
    const auto b = d.boxes.to_vector<float>();
    for (int64_t k = 0; k < n; ++k) {
      CHECK(b[size_t(4 * k + 2)] <= float(images[i].size(2)) + 1e-3f);
      CHECK(b[size_t(4 * k + 3)] <= float(images[i].size(1)) + 1e-3f);
    }
  }
  // untraced, the RPN's and the mask head's conv -> ReLU run fused (one pass); the ReLU on the finished sum
  // is the same arithmetic, so the detections equal the traced run's (separate ops) exactly
  Trace trace;
  m.trace = &trace;
  const auto traced = m.detect(images);
  m.trace = nullptr;
  REQUIRE(trace.count("relu.mask_head.3") == 1);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(dets[i].boxes.to_vector<float>() == traced[i].boxes.to_vector<float>());
    CHECK(dets[i].scores.to_vector<float>() == traced[i].scores.to_vector<float>());
    CHECK(dets[i].masks.to_vector<float>() == traced[i].masks.to_vector<float>());
  }
  CHECK(test::error_of([&] { m.forward_train(images, targets); }).find("eval mode") != std::string::npos);
}

TEST_CASE("bad targets and images are refused with a clear message") {
  MaskRCNN m(small_config());
  m.train();
  auto [images, targets] = random_batch(3);
  auto t = targets;
  t[0].boxes = Tensor::from_vector<float>({10, 10, 5, 20, 1, 1, 9, 9}, {2, 4});
  CHECK(test::error_of([&] { m.forward_train(images, t); }).find("target 0: box 0 has no positive width") != std::string::npos);
  t = targets;
  t[1].labels = Tensor::from_vector<int64_t>({1, 3}, {2});
  CHECK(test::error_of([&] { m.forward_train(images, t); }).find("label 3 outside [1, NUM_CLASSES=3)") != std::string::npos);
  t = targets;
  t[0].masks = Tensor::zeros({2, 10, 10}, DType::UInt8);
  CHECK(test::error_of([&] { m.forward_train(images, t); }).find("masks must be [2, H, W]") != std::string::npos);
  m.eval();
  CHECK(test::error_of([&] { m.detect({Tensor::zeros({1, 8, 8})}); }).find("image 0 must be float32 [3, H, W]") != std::string::npos);
}

TEST_CASE("weights: save/load round trip, class-specific layers excluded when the class count changes") {
  Config c = small_config();
  MaskRCNN a(c);
  const std::string path = temp_path("w.safetensors");
  a.save_weights(path);
  Config c2 = c;
  c2.SEED = 99;
  MaskRCNN b(c2);
  CHECK(b.load_weights(path).empty());
  for (const auto& [k, v] : a.state_dict()) CHECK_MESSAGE(b.state_dict().at(k).to_vector<float>() == v.to_vector<float>(), k);
  Config c5 = c;
  c5.NUM_CLASSES = 5;
  MaskRCNN d(c5);
  const std::string strict_err = test::error_of([&] { d.load_weights(path); });
  CHECK(strict_err.find(path + ": ") == 0);
  CHECK(strict_err.find("roi_heads.box_predictor.cls_score.weight") != std::string::npos);
  const auto skipped = d.load_weights(path, MaskRCNN::class_specific_layers());
  CHECK(skipped.size() == 6);  // cls_score, bbox_pred, mask_fcn_logits: weight and bias each
  CHECK(d.state_dict().at("rpn.head.conv.0.0.weight").to_vector<float>() ==
        a.state_dict().at("rpn.head.conv.0.0.weight").to_vector<float>());
  fs::remove(path);
}

TEST_CASE("tools/convert_torchvision.py output loads, with version-1 names renamed and predictors excludable") {
  const auto& r = ref();
  const std::string path = test::fixture("converted.safetensors");
  Config c5;
  c5.NUM_CLASSES = 5;
  MaskRCNN m5(c5);
  CHECK(m5.load_weights(path).empty());  // strict: every name and shape matches
  Config c3 = c5;
  c3.NUM_CLASSES = 3;
  MaskRCNN m3(c3);
  CHECK(m3.load_weights(path, MaskRCNN::class_specific_layers()).size() == 6);
  for (const char* k : {"rpn.head.conv.0.0.weight", "backbone.fpn.layer_blocks.2.0.bias", "roi_heads.mask_head.3.0.weight",
                        "backbone.body.layer3.4.bn2.running_var"}) {
    const auto want = r.at(std::string("convert.") + k).to_vector<float>();
    CHECK_MESSAGE(m5.state_dict().at(k).to_vector<float>() == want, k);
    CHECK_MESSAGE(m3.state_dict().at(k).to_vector<float>() == want, k);
  }
  CHECK(m5.state_dict().at("roi_heads.box_predictor.cls_score.weight").to_vector<float>() ==
        r.at("convert.roi_heads.box_predictor.cls_score.weight").to_vector<float>());
}

TEST_CASE("MAX_GT_INSTANCES keeps a random subset of each image's instances") {
  Config c = small_config();
  c.MAX_GT_INSTANCES = 1;
  MaskRCNN m(c);
  m.train();
  auto [images, targets] = random_batch(4);
  Trace trace;
  m.trace = &trace;
  std::vector<int64_t> gt_seen;
  m.sampler_hook = [&](SamplerStage stage, int64_t i, const Tensor& labels, const Tensor& cand) {
    if (stage == SamplerStage::Roi) gt_seen.push_back(cand.size(0) - trace.at("rpn.proposals." + std::to_string(i)).size(0));
    const int64_t n = labels.numel();
    return SampledMasks{gt(labels, 0.0).to(DType::UInt8).reshape({n}), eq(labels, 0.0).to(DType::UInt8).reshape({n})};
  };
  m.forward_train(images, targets);
  CHECK(gt_seen == std::vector<int64_t>{1, 1});  // 2 instances each, 1 kept
}
