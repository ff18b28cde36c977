// The Mask R-CNN training loop (train/): schedules, loader -> model inputs, a short run with its files,
// bit-identical resumption, layer groups that leave the rest untouched, the loss falling, divergence.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "data/shapes.h"
#include "data/load_dataset.h"
#include "tensor/host_sync.h"
#include "tensor/serialize.h"
#include "shapes_test_util.h"
#include "test_util.h"
#include "train/history.h"
#include "train/inputs.h"
#include "train/tensorboard.h"
#include "train/trainer.h"

using namespace mrc;
using namespace mrc::train;
using test::shapes_dataset;
namespace fs = std::filesystem;

namespace {

maskrcnn::Config tiny_config() { return test::tiny_shapes_config(); }

TrainOptions quiet_options(const std::string& out, std::vector<Phase> schedule, int64_t steps) {
  TrainOptions o;
  o.schedule = std::move(schedule);
  o.steps_per_epoch = steps;
  o.validation_steps = 1;
  o.out_dir = out;
  o.progress = false;
  o.log = nullptr;
  return o;
}

// Largest |a - b| over two float32 tensors of one shape.
double max_abs_diff(const Tensor& a, const Tensor& b) {
  const Tensor x = a.contiguous(), y = b.contiguous();
  double m = 0;
  for (int64_t i = 0; i < x.numel(); ++i) m = std::max(m, double(std::abs(x.data<float>()[i] - y.data<float>()[i])));
  return m;
}

size_t count_lines(const fs::path& p) {
  std::ifstream in(p);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += !line.empty();
  return n;
}

}  // namespace

TEST_CASE("schedules: the study's phases, LR fractions, positions, and errors naming the phase") {
  const std::vector<Phase> s = parse_schedule("heads:2:LR/10,heads:1:LR/100,all:3:0.0005", 0.001);
  REQUIRE(s.size() == 3);
  CHECK(s[0].layers == "heads");
  CHECK(s[0].epochs == 2);
  CHECK(s[0].lr == doctest::Approx(1e-4));
  CHECK(s[1].lr == doctest::Approx(1e-5));
  CHECK(s[2].layers == "all");
  CHECK(s[2].lr == doctest::Approx(5e-4));
  CHECK(total_epochs(s) == 6);
  CHECK(locate_epoch(s, 0).phase == 0);
  CHECK(locate_epoch(s, 2).phase == 1);
  CHECK(locate_epoch(s, 3).phase == 2);
  CHECK(locate_epoch(s, 5).epoch_in_phase == 2);
  CHECK(locate_epoch(s, 6).phase == 3);
  const std::vector<Phase> study = study_schedule(0.001, 4);
  CHECK(schedule_to_string(study) == "heads:4:0.0001,heads:4:1e-05,all:4:1e-05");
  CHECK(parse_schedule(schedule_to_string(study), 1.0).size() == 3);
  CHECK_THROWS_WITH_AS(parse_schedule("heads:2:LR/10,body:1:LR", 0.001), doctest::Contains("phase 2 \"body:1:LR\""),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_schedule("heads:0:LR", 0.001), doctest::Contains("positive integer"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_schedule("heads:1.5:LR", 0.001), doctest::Contains("positive integer"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_schedule("heads:1:fast", 0.001), doctest::Contains("expected a number"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_schedule("heads:1:LR/0", 0.001), doctest::Contains("divisor"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_schedule("heads:1", 0.001), doctest::Contains("GROUP:EPOCHS:LR"), std::invalid_argument);
  CHECK_THROWS_AS(parse_schedule("", 0.001), std::invalid_argument);
}

TEST_CASE("to_model_inputs crops each photo and its masks out of the padded batch") {
  data::Batch b;
  b.images = Tensor::rand({2, 3, 8, 12});
  for (int i = 0; i < 2; ++i) {
    data::Target t;
    t.width = 10 - 3 * i;
    t.height = 8 - 2 * i;
    t.boxes = Tensor::from_vector(std::vector<float>{1, 1, 4, 5}, {1, 4});
    t.labels = Tensor::from_vector(std::vector<int64_t>{2}, {1});
    t.masks = Tensor::zeros({1, t.height, t.width}, DType::UInt8);
    b.targets.push_back(t);
  }
  const ModelInputs in = to_model_inputs(b, Device::cpu());
  REQUIRE(in.images.size() == 2);
  CHECK(in.images[1].shape() == Shape{3, 6, 7});
  CHECK(in.images[1].is_contiguous());
  const Tensor img = b.images.contiguous();
  CHECK(in.images[1].data<float>()[(2 * 6 + 5) * 7 + 6] == img.data<float>()[((1 * 3 + 2) * 8 + 5) * 12 + 6]);
  CHECK(in.targets[0].labels.data<int64_t>()[0] == 2);
  CHECK(in.targets[1].masks.shape() == Shape{1, 6, 7});
  CHECK(!in.targets[0].checked);
  // with the class count, the boxes and labels are checked on the host (no read) and marked checked, so
  // forward_train reads nothing back; a bad box or label names the photo
  HostSyncScope reads;
  const ModelInputs checked = to_model_inputs(b, Device::cpu(), 3);
  CHECK(reads.count() == 0);
  CHECK((checked.targets[0].checked && checked.targets[1].checked));
  data::Batch bad = b;
  bad.targets[1].image_id = "p1";
  bad.targets[1].labels = Tensor::from_vector(std::vector<int64_t>{3}, {1});
  CHECK_THROWS_WITH_AS(to_model_inputs(bad, Device::cpu(), 3), doctest::Contains("photo \"p1\": label 3 outside [1, NUM_CLASSES=3)"),
                       std::invalid_argument);
  bad = b;
  bad.targets[0].image_id = "p0";
  bad.targets[0].boxes = Tensor::from_vector(std::vector<float>{4, 1, 4, 5}, {1, 4});
  CHECK_THROWS_WITH_AS(to_model_inputs(bad, Device::cpu(), 3), doctest::Contains("photo \"p0\": box 0 has no positive width"),
                       std::invalid_argument);
}

TEST_CASE("a short run writes its files and resumes bit-identically from a checkpoint") {
  test::TempDir dir;
  const data::Dataset ds = shapes_dataset(dir.path / "data", 6);
  const maskrcnn::Config cfg = tiny_config();
  const std::vector<Phase> schedule = parse_schedule("heads:1:LR,all:1:LR/2", cfg.LEARNING_RATE);
  const std::string run_a = (dir.path / "a").string(), run_b = (dir.path / "b").string();
  std::vector<StepRecord> steps_a;
  {
    maskrcnn::MaskRCNN model(cfg);
    data::Loader train_loader(ds, loader_options(cfg, true, 9));
    data::Loader val_loader(ds, loader_options(cfg, false, 9));
    Trainer t(model, train_loader, &val_loader, quiet_options(run_a, schedule, 3), data::shapes_class_names());
    t.run();
    steps_a = t.steps();
    REQUIRE(t.epochs().size() == 2);
    CHECK(t.epochs()[0].layers == "heads");
    CHECK(t.epochs()[1].lr == doctest::Approx(cfg.LEARNING_RATE / 2));
    CHECK(t.epochs()[0].val.count("mrcnn_mask_loss") == 1);
  }
  for (const char* f : {"config.json", "classes.json", "history.csv", "epochs.csv", "loss.png", "losses.png"})
    CHECK_MESSAGE(fs::exists(fs::path(run_a) / f), f);
  CHECK(count_lines(fs::path(run_a) / "history.csv") == 1 + 6);
  CHECK(count_lines(fs::path(run_a) / "epochs.csv") == 1 + 2);
  CHECK(latest_checkpoint(run_a) == checkpoint_path(run_a, 2));
  const std::vector<EpochRecord> read_back = read_epochs_csv(run_a);
  REQUIRE(read_back.size() == 2);
  CHECK(read_back[1].layers == "all");

  // The same run interrupted after epoch 1: resume from its checkpoint in another process-like setting.
  fs::create_directories(fs::path(run_b) / "checkpoints");
  fs::copy_file(checkpoint_path(run_a, 1), checkpoint_path(run_b, 1));
  {
    maskrcnn::Config other_seed = cfg;
    other_seed.SEED = 99;  // different initial weights and generator: everything must come from the checkpoint
    maskrcnn::MaskRCNN model(other_seed);
    data::Loader train_loader(ds, loader_options(cfg, true, 9));
    data::Loader val_loader(ds, loader_options(cfg, false, 9));
    Trainer t(model, train_loader, &val_loader, quiet_options(run_b, schedule, 3), data::shapes_class_names());
    t.resume(latest_checkpoint(run_b));
    CHECK(t.epochs_done() == 1);
    t.run();
    REQUIRE(t.steps().size() == steps_a.size());
    for (size_t i = 0; i < steps_a.size(); ++i) CHECK(t.steps()[i].losses == steps_a[i].losses);
  }
  const TensorMap a = load_tensors(checkpoint_path(run_a, 2)), b = load_tensors(checkpoint_path(run_b, 2));
  REQUIRE(a.size() == b.size());
  int64_t differing = 0;
  for (const auto& [name, ta] : a) {
    const Tensor d = b.at(name);
    differing += ta.numel() != d.numel() || std::memcmp(ta.contiguous().raw_data(), d.contiguous().raw_data(), ta.nbytes()) != 0;
  }
  CHECK(differing == 0);
}

// Two photos, one model and its training loader, no validation: for runs that only look at the training side.
struct TwoPhotoRun {
  test::TempDir dir;
  data::Dataset ds = shapes_dataset(dir.path / "data", 2);
  maskrcnn::MaskRCNN model;
  data::Loader loader;
  explicit TwoPhotoRun(const maskrcnn::Config& cfg) : model(cfg), loader(ds, loader_options(cfg, true, 1)) {}
  std::string run_dir() const { return (dir.path / "run").string(); }
  Trainer trainer(const std::string& schedule, int64_t steps) {
    return Trainer(model, loader, nullptr, quiet_options(run_dir(), parse_schedule(schedule, 1), steps),
                   data::shapes_class_names());
  }
};

TEST_CASE("a heads phase leaves the backbone untouched; the loss falls on a photo seen again and again") {
  TwoPhotoRun r(tiny_config());
  const Tensor backbone_before = r.model.state_dict().at("backbone.body.layer1.0.conv1.weight").clone();
  const Tensor head_before = r.model.state_dict().at("roi_heads.box_head.fc6.weight").clone();
  Trainer t = r.trainer("heads:2:0.02", 8);
  t.run();
  const auto state = r.model.state_dict();
  CHECK(max_abs_diff(state.at("backbone.body.layer1.0.conv1.weight"), backbone_before) == 0.0);
  CHECK(max_abs_diff(state.at("roi_heads.box_head.fc6.weight"), head_before) > 0.0);
  const auto& e = t.epochs();
  REQUIRE(e.size() == 2);
  CHECK(e[1].val.empty());
  CHECK(e[1].train.at("loss") < 0.7 * t.steps().front().losses.at("loss"));
}

TEST_CASE("a diverging run stops with a message naming the epoch and step, and writes no checkpoint for it") {
  maskrcnn::Config cfg = tiny_config();
  cfg.GRADIENT_CLIP_NORM = 0;
  TwoPhotoRun r(cfg);
  Trainer t = r.trainer("all:1:1e12", 6);
  CHECK_THROWS_WITH_AS(t.run(), doctest::Contains("training diverged"), std::runtime_error);
  CHECK_THROWS_AS(latest_checkpoint(r.run_dir()), std::runtime_error);
}

TEST_CASE("schedules: \"study\", matterport's cumulative @N epochs, and the errors of @N") {
  const std::vector<Phase> study = parse_schedule("study", 0.001);
  REQUIRE(study.size() == 3);
  CHECK(study[0].layers == "heads");
  CHECK(study[0].epochs == 120);
  CHECK(study[0].lr == doctest::Approx(1e-4));
  CHECK(study[1].layers == "heads");
  CHECK(study[1].epochs == 60);
  CHECK(study[1].lr == doctest::Approx(1e-5));
  CHECK(study[2].layers == "all");
  CHECK(study[2].epochs == 30);
  CHECK(study[2].lr == doctest::Approx(1e-5));
  CHECK(total_epochs(study) == 210);
  CHECK(schedule_to_string(parse_schedule("heads:@2:LR,all:3:LR/2,5+:@9:0.1", 1)) == "heads:2:1,all:3:0.5,5+:4:0.1");
  CHECK_THROWS_WITH_AS(parse_schedule("heads:@5:LR,all:@5:LR", 1), doctest::Contains("already end at epoch 5"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_schedule("heads:@x:LR", 1), doctest::Contains("expected a number"), std::invalid_argument);
  CHECK(schedule_syntax().find("@N") != std::string::npos);
}

TEST_CASE("learning-rate factors: warm-up, step decay by epoch, cosine over the run") {
  maskrcnn::Config c;
  CHECK(lr_factor(c, 0, 10, 100) == 1.0);
  c.LR_WARMUP_STEPS = 4;
  c.LR_WARMUP_FACTOR = 0.25;
  CHECK(lr_factor(c, 0, 10, 100) == doctest::Approx(0.25));
  CHECK(lr_factor(c, 2, 10, 100) == doctest::Approx(0.625));
  CHECK(lr_factor(c, 4, 10, 100) == doctest::Approx(1.0));
  c.LR_DECAY = "step";
  c.LR_DECAY_EPOCHS = {2, 4};
  c.LR_DECAY_GAMMA = 0.5;
  CHECK(lr_factor(c, 9, 10, 100) == doctest::Approx(1.0));    // the last step of epoch 1
  CHECK(lr_factor(c, 10, 10, 100) == doctest::Approx(0.5));   // epoch 2 starts lower
  CHECK(lr_factor(c, 35, 10, 100) == doctest::Approx(0.25));  // epoch 4
  c.LR_WARMUP_STEPS = 0;
  c.LR_DECAY = "cosine";
  CHECK(lr_factor(c, 0, 10, 100) == doctest::Approx(1.0));
  CHECK(lr_factor(c, 50, 10, 100) == doctest::Approx(0.5));
  CHECK(lr_factor(c, 100, 10, 100) == doctest::Approx(0.0));
}

TEST_CASE("OPTIMIZER and its config keys reach the optimizer: SGD Nesterov, Adam betas/eps, AdamW") {
  maskrcnn::Config c;
  Tensor p = Tensor::ones({2}).requires_grad_(true);
  c.OPTIMIZER = "sgd";
  c.LEARNING_NESTEROV = true;
  c.LEARNING_MOMENTUM = 0.8;
  auto sgd = make_optimizer(c, {{"p", p}});
  CHECK(sgd->type() == "SGD");
  CHECK(sgd->param_groups()[0].nesterov);
  CHECK(sgd->param_groups()[0].momentum == 0.8);
  c.OPTIMIZER = "adamw";
  c.ADAM_BETA_1 = 0.8;
  c.ADAM_BETA_2 = 0.99;
  c.ADAM_EPSILON = 1e-6;
  c.WEIGHT_DECAY = 0.01;
  auto adamw = make_optimizer(c, {{"p", p}});
  CHECK(adamw->type() == "AdamW");
  CHECK(adamw->param_groups()[0].beta1 == 0.8);
  CHECK(adamw->param_groups()[0].beta2 == 0.99);
  CHECK(adamw->param_groups()[0].eps == 1e-6);
  CHECK(adamw->param_groups()[0].weight_decay == 0.01);
  c.OPTIMIZER = "adam";
  CHECK(make_optimizer(c, {{"p", p}})->type() == "Adam");
}

TEST_CASE("matterport config keys: mapped where an equivalent exists, refused with the reason otherwise") {
  const maskrcnn::Config m = maskrcnn::config_from_json(
      nlohmann::json::parse(R"({"GPU_COUNT": 2, "IMAGES_PER_GPU": 3, "MEAN_PIXEL": [123.7, 116.8, 103.9],
        "BBOX_STD_DEV": [0.1, 0.1, 0.2, 0.2], "RPN_BBOX_STD_DEV": [0.1, 0.1, 0.2, 0.2], "TRAIN_BN": false,
        "IMAGE_RESIZE_MODE": "square", "USE_MINI_MASK": true, "MINI_MASK_SHAPE": [56, 56], "LEARNING_MOMENTUM": 0.9,
        "WEIGHT_DECAY": 0.0001, "BACKBONE_STRIDES": [4, 8, 16, 32, 64], "RPN_ANCHOR_STRIDE": 1})"),
      "mp.json");
  CHECK(m.IMAGES_PER_GPU == 6);
  CHECK(m.IMAGE_MEAN[0] == doctest::Approx(123.7 / 255));
  CHECK(m.IMAGE_STD[2] == doctest::Approx(1.0 / 255));
  CHECK(m.BBOX_WEIGHTS == std::vector<double>{10, 10, 5, 5});
  CHECK(m.RPN_BBOX_WEIGHTS == std::vector<double>{10, 10, 5, 5});
  CHECK(m.BACKBONE_NORM == "frozen_bn");
  auto refused = [](const char* text) { return maskrcnn::config_from_json(nlohmann::json::parse(text), "mp.json"); };
  CHECK_THROWS_WITH_AS(refused(R"({"IMAGE_RESIZE_MODE": "crop"})"), doctest::Contains("mp.json: key \"IMAGE_RESIZE_MODE\""),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(refused(R"({"BATCH_SIZE": 4})"), doctest::Contains("derived"), std::runtime_error);
  CHECK_THROWS_WITH_AS(refused(R"({"RPN_ANCHOR_STRIDE": 2})"), doctest::Contains("every feature-map cell"), std::runtime_error);
  CHECK_THROWS_WITH_AS(refused(R"({"NO_SUCH_KEY": 1})"), doctest::Contains("unknown setting"), std::runtime_error);
  CHECK_THROWS_WITH_AS(refused(R"({"LR_DECAY": "step"})"), doctest::Contains("LR_DECAY_EPOCHS"), std::runtime_error);
  const maskrcnn::Config p = maskrcnn::config_from_json(maskrcnn::config_preset("matterport"), "preset");
  CHECK(p.IMAGE_MAX_DIM == 1024);
  CHECK(p.DETECTION_MIN_CONFIDENCE == 0.7);
  CHECK(p.DETECTION_NMS_THRESHOLD == 0.3);
  CHECK(p.TRAIN_ROIS_PER_IMAGE == 200);
  CHECK(p.ROI_POSITIVE_RATIO == 0.33);
  CHECK_THROWS_AS(maskrcnn::config_preset("detectron2"), std::invalid_argument);
}

TEST_CASE("TensorBoard framing: CRC-32C and its mask as TFRecord defines them") {
  CHECK(crc32c("123456789") == 0xE3069283u);  // the CRC-32C check value
  CHECK(crc32c("") == 0u);
  const uint32_t c = crc32c("abc");
  CHECK(masked_crc32c("abc") == uint32_t(((c >> 15) | (c << 17)) + 0xA282EAD8u));
}
