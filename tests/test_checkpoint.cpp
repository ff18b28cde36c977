// Checkpoints and tensor serialization: round trip of parameters, buffers, optimizer state and step;
// strict errors naming every missing / unexpected / wrongly shaped name; non-strict loading with
// exclude patterns; truncated and foreign files; no temporary file after a failed write; files
// written by Python (tools/mrc_st.py, fixture script tests/fixtures/test_checkpoint.py) load.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "optim/adam.h"
#include "optim/checkpoint.h"
#include "optim/sgd.h"
#include "tensor/serialize.h"
#include "test_util.h"

using namespace mrc;
namespace fs = std::filesystem;

namespace {

using test::TempDir;

// A small model's named parameters and buffers (values from the seed), as a Module would list them.
TensorMap make_model(uint64_t seed, int64_t classes = 3) {
  Generator g(seed);
  TensorMap m;
  m["backbone.conv1.weight"] = Tensor::randn({4, 3, 3, 3}, &g).requires_grad_();
  m["backbone.bn1.weight"] = Tensor::rand({4}, &g).requires_grad_();
  m["backbone.bn1.bias"] = Tensor::randn({4}, &g).requires_grad_();
  m["backbone.bn1.running_mean"] = Tensor::randn({4}, &g);
  m["backbone.bn1.running_var"] = Tensor::rand({4}, &g);
  m["backbone.bn1.num_batches_tracked"] = Tensor::scalar(double(seed), DType::Int64);
  m["head.weight"] = Tensor::randn({classes, 4}, &g, DType::Float64).requires_grad_();
  m["head.bias"] = Tensor::randn({classes}, &g, DType::Float64).requires_grad_();
  m["mask"] = Tensor::randint(0, 2, {5}, &g, DType::UInt8);
  return m;
}

NamedTensors trainable(const TensorMap& m) {
  NamedTensors v;
  for (const auto& [n, t] : m)
    if (t.requires_grad()) v.push_back({n, t});
  return v;
}

// Two SGD steps with some loss so the optimizer has momentum buffers.
void train(const TensorMap& m, Optimizer& opt) {
  for (int i = 0; i < 2; ++i) {
    opt.zero_grad();
    Tensor loss = add(sum(pow(m.at("backbone.conv1.weight"), 2.0)), sum(m.at("backbone.bn1.weight")));
    loss = add(loss, sum(mul(m.at("backbone.bn1.bias"), 3.0)).to(DType::Float32));
    loss.backward();
    sum(pow(m.at("head.weight"), 2.0)).backward();
    sum(m.at("head.bias")).backward();
    opt.step();
  }
}

bool same_values(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  return a.to(DType::Float64).to_vector<double>() == b.to(DType::Float64).to_vector<double>();
}


}  // namespace

TEST_CASE("save_tensors / load_tensors round trip every dtype, non-contiguous views and metadata") {
  TempDir dir;
  Generator g(1);
  TensorMap t;
  t["f32"] = Tensor::randn({3, 4}, &g);
  t["f64.transposed"] = Tensor::randn({4, 3}, &g, DType::Float64).t();  // non-contiguous
  t["i32"] = Tensor::randint(-50, 50, {2, 2}, &g, DType::Int32);
  t["i64"] = Tensor::randint(-(int64_t(1) << 40), int64_t(1) << 40, {6}, &g);
  t["u8"] = Tensor::randint(0, 256, {7}, &g, DType::UInt8);
  t["scalar"] = Tensor::scalar(2.5, DType::Float64);
  t["empty"] = Tensor::zeros({0, 5});
  save_tensors(dir / "t.safetensors", t, {{"k", "v"}});
  StringMap meta;
  const TensorMap back = load_tensors(dir / "t.safetensors", &meta);
  CHECK(meta.at("k") == "v");
  REQUIRE(back.size() == t.size());
  for (const auto& [n, x] : t) {
    INFO(n);
    CHECK(same_values(back.at(n), x));
    CHECK(back.at(n).is_contiguous());
  }
  CHECK(dir.files() == std::vector<std::string>{"t.safetensors"});
  // BOOL entries read as uint8; a dtype the engine has no type for is named with its entry.
  SafetensorsEntry b{"BOOL", {3}, {1, 0, 1}};
  CHECK(from_safetensors_entry(b).dtype() == DType::UInt8);
  CHECK(from_safetensors_entry(b).to_vector<uint8_t>() == std::vector<uint8_t>{1, 0, 1});
  SafetensorsEntry i16{"I16", {1}, {0, 0}};
  const std::string m16 = test::error_of([&] { from_safetensors_entry(i16, "entry 'x'"); });
  CHECK(test::contains(m16, "entry 'x'"));
  CHECK(test::contains(m16, "I16"));
  const std::string msg = test::error_of([&] { save_tensors(dir / "u.safetensors", {{"undefined.one", Tensor()}}); });
  CHECK(test::contains(msg, "undefined.one"));
  CHECK(test::contains(msg, "u.safetensors"));
}

TEST_CASE("checkpoint round trip: parameters, buffers, optimizer state, step and metadata") {
  TempDir dir;
  const TensorMap model = make_model(1);
  SGD opt(trainable(model), {.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-4});
  train(model, opt);
  const std::string path = dir / "ckpt.safetensors";
  save_checkpoint(path, model, &opt, 1234, {{"epoch", 3}, {"config", "tiny"}});
  CHECK(dir.files() == std::vector<std::string>{"ckpt.safetensors"});

  // The file is plain safetensors: model names as they are, optimizer state under "optimizer.".
  const SafetensorsFile raw = read_safetensors(path);
  CHECK(raw.contains("backbone.conv1.weight"));
  CHECK(raw.contains("optimizer.0.backbone.conv1.weight.momentum_buffer"));
  CHECK(raw.metadata.at("step") == "1234");

  const TensorMap fresh = make_model(2);
  SGD opt2(trainable(fresh), {.lr = 0.5});
  const CheckpointReport rep = load_checkpoint(path, fresh, &opt2);
  CHECK(rep.step == 1234);
  CHECK(rep.extra.at("epoch") == 3);
  CHECK(rep.extra.at("config") == "tiny");
  CHECK(rep.optimizer_loaded);
  CHECK(rep.loaded.size() == model.size());
  CHECK(rep.missing.empty());
  CHECK(rep.unexpected.empty());
  for (const auto& [n, t] : model) {
    INFO(n);
    CHECK(same_values(fresh.at(n), t));
    CHECK(fresh.at(n).requires_grad() == t.requires_grad());  // loaded in place
  }
  CHECK(opt2.step_count() == 2);
  CHECK(opt2.param_groups()[0].lr == 0.1);
  CHECK(opt2.param_groups()[0].momentum == 0.9);
  for (const auto& [n, t] : trainable(model)) {
    INFO(n);
    CHECK(same_values(opt2.state(n).at("momentum_buffer"), opt.state(n).at("momentum_buffer")));
  }
  // Continuing from the loaded state gives the same parameters as continuing the original.
  train(model, opt);
  train(fresh, opt2);
  for (const auto& [n, t] : model) CHECK(same_values(fresh.at(n), t));
}

TEST_CASE("Adam state (per-parameter step counters) survives a checkpoint") {
  TempDir dir;
  const TensorMap model = make_model(1);
  AdamW opt(trainable(model), {.lr = 0.01, .weight_decay = 0.05, .amsgrad = true});
  train(model, opt);
  save_checkpoint(dir / "adam.safetensors", model, &opt, 2);
  const TensorMap fresh = make_model(5);
  AdamW opt2(trainable(fresh), {.lr = 0.01, .weight_decay = 0.05, .amsgrad = true});
  load_checkpoint(dir / "adam.safetensors", fresh, &opt2);
  CHECK(opt2.state("head.weight").at("step").item_double() == 2);
  for (const char* slot : {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"})
    CHECK(same_values(opt2.state("head.weight").at(slot), opt.state("head.weight").at(slot)));
  // Loading Adam state into SGD is refused with the types named.
  SGD sgd(trainable(fresh), {.lr = 0.1});
  const std::string msg = test::error_of([&] { load_checkpoint(dir / "adam.safetensors", fresh, &sgd); });
  CHECK(test::contains(msg, "AdamW"));
  CHECK(test::contains(msg, "adam.safetensors"));
}

TEST_CASE("strict loading names every missing, unexpected and wrongly shaped tensor and loads nothing") {
  TempDir dir;
  TensorMap saved = make_model(1);
  saved["old.extra"] = Tensor::zeros({2});
  saved["old.extra2"] = Tensor::zeros({2});
  save_checkpoint(dir / "a.safetensors", saved);

  TensorMap model = make_model(2, /*classes=*/5);   // head.* of the wrong shape
  model.erase("mask");                               // "mask" becomes unexpected too
  model["new.weight"] = Tensor::zeros({3});
  model["new.bias"] = Tensor::zeros({3});
  const TensorMap before = make_model(2, 5);
  const std::string msg = test::error_of([&] { load_checkpoint(dir / "a.safetensors", model); });
  INFO(msg);
  CHECK(test::contains(msg, "a.safetensors"));
  CHECK(test::contains(msg, "2 missing"));
  CHECK(test::contains(msg, "new.weight"));
  CHECK(test::contains(msg, "new.bias"));
  CHECK(test::contains(msg, "3 unexpected"));
  CHECK(test::contains(msg, "old.extra"));
  CHECK(test::contains(msg, "old.extra2"));
  CHECK(test::contains(msg, "mask"));
  CHECK(test::contains(msg, "2 of the wrong shape"));
  CHECK(test::contains(msg, "head.weight (file [3, 4], model [5, 4])"));
  CHECK(test::contains(msg, "head.bias (file [3], model [5])"));
  for (const auto& [n, t] : model)
    if (before.count(n)) CHECK(same_values(t, before.at(n)));  // nothing loaded

  // A file without optimizer state cannot restore an optimizer in strict mode.
  const TensorMap m2 = make_model(2);
  save_checkpoint(dir / "b.safetensors", m2);
  SGD opt(trainable(m2), {.lr = 0.1});
  CHECK(test::contains(test::error_of([&] { load_checkpoint(dir / "b.safetensors", m2, &opt); }), "no optimizer state"));
}

TEST_CASE("non-strict loading with exclude patterns reports what it skipped") {
  TempDir dir;
  TensorMap saved = make_model(1);
  saved["old.extra"] = Tensor::zeros({2});
  {
    SGD o(trainable(saved), {.lr = 0.1, .momentum = 0.9});
    train(saved, o);
    save_checkpoint(dir / "a.safetensors", saved, &o, 7);
  }
  TensorMap model = make_model(2, /*classes=*/5);
  model["new.weight"] = Tensor::zeros({3}).requires_grad_();
  TensorMap before = make_model(2, 5);
  before["new.weight"] = Tensor::zeros({3});
  SGD opt2(trainable(model), {.lr = 0.3, .momentum = 0.9});
  CheckpointLoadOptions o;
  o.strict = false;
  o.exclude = {"head.w*", "re:.*num_batches_tracked"};
  const CheckpointReport rep = load_checkpoint(dir / "a.safetensors", model, &opt2, o);
  INFO(rep.summary());
  CHECK(rep.step == 7);
  CHECK(rep.excluded == std::vector<std::string>{"backbone.bn1.num_batches_tracked", "head.weight"});
  CHECK(rep.missing == std::vector<std::string>{"new.weight"});
  CHECK(rep.unexpected == std::vector<std::string>{"old.extra"});
  REQUIRE(rep.mismatched.size() == 1);
  CHECK(test::contains(rep.mismatched[0], "head.bias"));
  CHECK(rep.loaded.size() == 6);
  CHECK(same_values(model.at("backbone.conv1.weight"), saved.at("backbone.conv1.weight")));
  CHECK(same_values(model.at("mask"), saved.at("mask")));
  for (const char* n : {"head.weight", "head.bias", "backbone.bn1.num_batches_tracked", "new.weight"})
    CHECK(same_values(model.at(n), before.at(n)));
  // The optimizer's groups differ (new.weight), so its state is skipped with a reason.
  CHECK(!rep.optimizer_loaded);
  CHECK(test::contains(rep.optimizer_note, "new.weight"));
  CHECK(test::contains(rep.summary(), "old.extra"));

  // Same parameter set: state loads, except for the parameters that were not loaded (fresh state).
  TensorMap same = make_model(3, 5);
  SGD opt3(trainable(same), {.lr = 0.3, .momentum = 0.9});
  TensorMap saved5 = make_model(1, 5);
  {
    SGD o5(trainable(saved5), {.lr = 0.1, .momentum = 0.9});
    train(saved5, o5);
    save_checkpoint(dir / "c.safetensors", saved5, &o5, 9);
  }
  CheckpointLoadOptions ex;
  ex.strict = false;
  ex.exclude = {"head.*"};
  const CheckpointReport rep3 = load_checkpoint(dir / "c.safetensors", same, &opt3, ex);
  CHECK(rep3.optimizer_loaded);
  CHECK(opt3.state("head.weight").empty());
  CHECK(!opt3.state("backbone.conv1.weight").empty());
  // Excludes apply in strict mode too: excluded names are neither missing nor unexpected.
  TensorMap strict_model = make_model(4, 5);
  strict_model["new.weight"] = Tensor::zeros({3});
  CheckpointLoadOptions sx;
  sx.exclude = {"new.*"};
  CHECK_NOTHROW(load_checkpoint(dir / "c.safetensors", strict_model, nullptr, sx));
  CHECK(name_matches("backbone.*.weight", "backbone.layer1.0.conv1.weight"));
  CHECK(!name_matches("backbone.*.weight", "backbone.layer1.0.conv1.bias"));
  CHECK(name_matches("re:roi_heads\\.(box|mask)_predictor\\..*", "roi_heads.mask_predictor.mask_fcn_logits.weight"));
  CHECK(name_matches("layer?.0.*", "layer3.0.bn1.bias"));
  CHECK_THROWS_AS(load_checkpoint(dir / "c.safetensors", same, nullptr, {.exclude = {"re:(("}}), std::invalid_argument);
}

TEST_CASE("truncated and foreign files give clear exceptions") {
  TempDir dir;
  const TensorMap model = make_model(1);
  save_checkpoint(dir / "good.safetensors", model);
  const auto size = fs::file_size(dir / "good.safetensors");
  for (uintmax_t keep : {uintmax_t(0), uintmax_t(5), uintmax_t(40), uintmax_t(size - 1)}) {
    INFO("kept " << keep << " of " << size << " bytes");
    fs::copy_file(dir / "good.safetensors", dir / "cut.safetensors", fs::copy_options::overwrite_existing);
    fs::resize_file(dir / "cut.safetensors", keep);
    const std::string msg = test::error_of([&] { load_checkpoint(dir / "cut.safetensors", model); });
    CHECK(test::contains(msg, "cut.safetensors"));
    CHECK_THROWS_AS(load_checkpoint(dir / "cut.safetensors", model), std::runtime_error);
  }
  {
    std::ofstream(dir / "foreign.txt") << "name,value\nthis is a CSV file, not safetensors\n";
  }
  const std::string msg = test::error_of([&] { load_checkpoint(dir / "foreign.txt", model); });
  CHECK(test::contains(msg, "foreign.txt"));
  CHECK_THROWS_AS(load_checkpoint(dir / "foreign.txt", model), std::runtime_error);
  CHECK(test::contains(test::error_of([&] { load_checkpoint(dir / "nonexistent.safetensors", model); }), "nonexistent.safetensors"));
  // Bad metadata is named too.
  SafetensorsFile f = read_safetensors(dir / "good.safetensors");
  f.metadata["step"] = "twelve";
  write_safetensors(dir / "badmeta.safetensors", f);
  CHECK(test::contains(test::error_of([&] { load_checkpoint(dir / "badmeta.safetensors", model); }), "__metadata__.step"));
}

TEST_CASE("a failed write leaves no file behind") {
  TempDir dir;
  const TensorMap model = make_model(1);
  SGD opt(trainable(model), {.lr = 0.1, .momentum = 0.9});
  train(model, opt);
  // The target is a directory: the data is written to the temporary file, the rename fails.
  fs::create_directories(dir.path / "target.safetensors" / "occupied");
  const std::string msg = test::error_of([&] { save_checkpoint(dir / "target.safetensors", model, &opt, 1); });
  CHECK(test::contains(msg, "target.safetensors"));
  CHECK(dir.files() == std::vector<std::string>{"occupied", "target.safetensors"});
  // The directory does not exist: nothing can be created.
  CHECK_THROWS_AS(save_checkpoint(dir / "missing_dir/ckpt.safetensors", model), std::runtime_error);
  CHECK(!fs::exists(dir.path / "missing_dir"));
  // Reserved names are refused before anything is written.
  TensorMap bad = model;
  bad["optimizer.x"] = Tensor::zeros({1});
  CHECK_THROWS_AS(save_checkpoint(dir / "bad.safetensors", bad), std::invalid_argument);
  CHECK(!fs::exists(dir.path / "bad.safetensors"));
  // An existing checkpoint survives a failed overwrite untouched.
  save_checkpoint(dir / "keep.safetensors", model, nullptr, 5);
  bad.erase("optimizer.x");
  bad["undefined"] = Tensor();
  CHECK_THROWS(save_checkpoint(dir / "keep.safetensors", bad));
  CHECK(load_checkpoint(dir / "keep.safetensors", model).step == 5);
}

TEST_CASE("files written by Python (tools/mrc_st.py) load") {
  std::ifstream in(test::fixture("expected.json"));
  REQUIRE(in.good());
  const nlohmann::json expected = nlohmann::json::parse(in);
  auto check_tensor = [&](const std::string& key, const Tensor& t) {
    INFO(key);
    const auto& e = expected.at(key);
    CHECK(t.shape() == e.at("shape").get<Shape>());
    const auto v = t.to(DType::Float64).to_vector<double>();
    double s = 0;
    for (double x : v) s += x;
    CHECK(test::close(s, e.at("sum").get<double>(), 1e-9, 1e-9));
    if (!v.empty()) CHECK(v[0] == e.at("first").get<double>());
  };
  // A torch state_dict into a model laid out the same way (zeros of the right shapes and dtypes).
  TensorMap model;
  model["body.conv1.weight"] = Tensor::zeros({4, 3, 3, 3}).requires_grad_();
  for (const char* n : {"body.bn1.weight", "body.bn1.bias", "body.bn1.running_mean", "body.bn1.running_var"})
    model[n] = Tensor::zeros({4});
  model["body.bn1.num_batches_tracked"] = Tensor::zeros({}, DType::Int64);
  model["fc.weight"] = Tensor::zeros({2, 4}, DType::Float64);  // stored as float32: converted on load
  model["fc.bias"] = Tensor::zeros({2});
  const CheckpointReport rep = load_checkpoint(test::fixture("torch_model.safetensors"), model);
  CHECK(rep.step == 0);
  CHECK(rep.loaded.size() == model.size());
  for (const auto& [n, t] : model) check_tensor(n, t);
  CHECK(model.at("body.bn1.num_batches_tracked").item<int64_t>() == 1);
  CHECK(model.at("fc.weight").dtype() == DType::Float64);

  StringMap meta;
  const TensorMap all = load_tensors(test::fixture("dtypes.safetensors"), &meta);
  const std::map<std::string, DType> dtypes = {{"f32", DType::Float32}, {"f64", DType::Float64}, {"i32", DType::Int32},
                                               {"i64", DType::Int64},   {"u8", DType::UInt8},     {"bool", DType::UInt8},
                                               {"empty", DType::Float32}};
  REQUIRE(all.size() == dtypes.size());
  for (const auto& [n, dt] : dtypes) {
    CHECK(all.at(n).dtype() == dt);
    check_tensor("dtypes." + n, all.at(n));
  }
}
