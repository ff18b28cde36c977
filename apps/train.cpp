// mrc-train: trains Mask R-CNN on a VIA or COCO dataset the way the Keras study did: a config of the
// study's names (or matterport's, mapped), optional starting weights (e.g. torchvision's COCO weights converted
// by tools/convert_torchvision.py, with the class-specific predictors left out when the class count differs),
// phases of layer groups and learning rates, SGD, Adam or AdamW, validation losses each epoch, mask and box AP
// every EVAL_EVERY epochs, a checkpoint each epoch (the best one kept apart) and the curves as CSV and PNG.
// --resume continues a run with the settings it was started with (run.json, config.json, classes.json); a run
// folder that holds checkpoints is never started over without --overwrite. Data-parallel under `mpirun -np N`
// (train/distributed.h): each rank trains on its shard of every global batch of N x IMAGES_PER_GPU photos and
// rank 0 writes the run folder.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "apps/app_util.h"
#include "apps/class_options.h"
#include "data/class_attribute.h"
#include "data/load_dataset.h"
#include "data/split.h"
#include "kernels/multi_tensor/multi_tensor.h"
#include "models/maskrcnn/maskrcnn.h"
#include "optim/checkpoint.h"
#include "tensor/parallel.h"
#include "tensor/precision.h"
#include "tensor/profile.h"
#include "tensor/serialize.h"
#include "tensor/atomic_file.h"
#include "train/distributed.h"
#include "train/gpu_switches.h"
#include "train/inputs.h"
#include "train/run_folder.h"
#include "train/schedule.h"
#include "train/trainer.h"

using namespace mrc;
namespace fs = std::filesystem;

namespace {

// --set KEY=VALUE: VALUE is JSON (numbers, lists, objects), or else a string.
void apply_overrides(maskrcnn::Config& cfg, const std::vector<std::string>& sets) {
  nlohmann::json j = maskrcnn::config_to_json(cfg);
  for (const std::string& s : sets) {
    const size_t eq = s.find('=');
    if (eq == std::string::npos || eq == 0) throw std::runtime_error("--set \"" + s + "\": expected KEY=VALUE");
    const std::string key = s.substr(0, eq), value = s.substr(eq + 1);
    nlohmann::json v = nlohmann::json::parse(value, nullptr, false);
    if (v.is_discarded()) v = value;
    if (key == "LOSS_WEIGHTS" && v.is_object())  // a partial map re-weights only the losses it names
      for (auto& [name, w] : v.items()) j[key][name] = w;
    else
      j[key] = v;
  }
  cfg = maskrcnn::config_from_json(j, "--set");
}

// Leaves the class-specific predictors out when the weights were trained for another class count.
std::vector<std::string> weights_exclusions(const TensorMap& w, int64_t num_classes) {
  const auto it = w.find("roi_heads.box_predictor.cls_score.weight");
  if (it != w.end() && it->second.size(0) == num_classes) return {};
  return maskrcnn::MaskRCNN::class_specific_layers();
}

// Whether the config file or a --set names NUM_CLASSES (else the dataset's class count is taken).
bool num_classes_given(const std::string& config_path, const std::vector<std::string>& sets) {
  if (std::any_of(sets.begin(), sets.end(), [](const std::string& s) { return s.rfind("NUM_CLASSES=", 0) == 0; }))
    return true;
  if (config_path.empty()) return false;
  std::ifstream in(config_path);
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  return j.is_object() && j.contains("NUM_CLASSES");
}

// The config a command line asks for: a preset, then a config file, then --set, then --optimizer; `base` (the
// resumed run's config) when neither a preset nor a file is given.
maskrcnn::Config config_from_flags(const std::string& preset, const std::string& config_path,
                                   const std::vector<std::string>& sets, const std::string& optimizer,
                                   const nlohmann::json& base = nlohmann::json::object()) {
  nlohmann::json j = !preset.empty() ? maskrcnn::config_preset(preset) : config_path.empty() ? base : nlohmann::json::object();
  if (!config_path.empty()) {
    std::ifstream in(config_path);
    if (!in) throw std::runtime_error(config_path + ": cannot open the config file");
    const nlohmann::json file = nlohmann::json::parse(in, nullptr, false);
    if (file.is_discarded()) throw std::runtime_error(config_path + ": not valid JSON");
    if (!file.is_object()) throw std::runtime_error(config_path + ": expected a JSON object of settings");
    for (const auto& [k, v] : file.items()) j[k] = v;
  }
  maskrcnn::Config cfg = maskrcnn::config_from_json(j, config_path.empty() ? "config" : config_path);
  apply_overrides(cfg, sets);
  if (!optimizer.empty()) cfg.OPTIMIZER = optimizer;
  return cfg;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train Mask R-CNN on a VIA or COCO dataset (the Keras study's phases, losses and config names)"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // a later --optimizer overrides
  std::string train_json, train_images, val_json, val_images, config_path, weights, preset;
  std::string schedule_text, optimizer, augment, out_dir, resume, device_name = "cpu", precision, gpu_switch_list;
  std::vector<std::string> sets;
  double val_fraction = 0.2;
  int64_t study_epochs = 0, steps_per_epoch = 0, validation_steps = -1;
  int threads = 0, workers = 2, micro_batches = 1;
  uint64_t seed = 0;
  bool quiet = false, class_balanced = false, evaluate = false, overwrite = false;
  app.add_option("--train", train_json, "training annotations: VIA 1.x/2.x project or COCO JSON (restored by --resume)");
  app.add_option("--train-images", train_images, "folder of the training photos (default: the JSON's folder)");
  app.add_option("--val", val_json, "validation annotations (default: --val-fraction of the training photos)");
  app.add_option("--val-images", val_images, "folder of the validation photos");
  app.add_option("--val-fraction", val_fraction, "share of the training photos held out when --val is not given (0: none)")
      ->check(CLI::Range(0.0, 0.9));
  data::DatasetOptions dopt;
  apps::add_class_options(app, dopt);
  app.add_option("--preset", preset, "settings read before --config: matterport (matterport's Mask_RCNN defaults: "
                                     "IMAGE_MAX_DIM 1024, DETECTION_MIN_CONFIDENCE 0.7, DETECTION_NMS_THRESHOLD 0.3, "
                                     "TRAIN_ROIS_PER_IMAGE 200, ROI_POSITIVE_RATIO 0.33)")
      ->check(CLI::IsMember({"matterport"}));
  app.add_option("--config", config_path, "model config JSON (keys of configs/maskrcnn_default.json; matterport's keys "
                                          "are mapped where an equivalent exists)");
  app.add_option("--set", sets, "override a config key, e.g. --set LEARNING_RATE=0.002 --set "
                                "'LOSS_WEIGHTS={\"mrcnn_mask_loss\":2}' --set EVAL_EVERY=5 --set KEEP_CHECKPOINTS=3")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--weights", weights, "starting weights: converted torchvision weights (tools/convert_torchvision.py) or a mrc-train checkpoint");
  app.add_option("--schedule", schedule_text, train::schedule_syntax());
  app.add_option("--epochs-per-phase", study_epochs, "epochs of each of the study's phases (heads LR/10, heads LR/100, all "
                                                     "LR/100) when --schedule is not given")
      ->check(CLI::PositiveNumber);
  app.add_option("--optimizer", optimizer, "sgd, adam or adamw (sets OPTIMIZER; default: the config's, sgd)")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}));
  app.add_option("--steps-per-epoch", steps_per_epoch, "default: STEPS_PER_EPOCH")->check(CLI::PositiveNumber);
  app.add_option("--validation-steps", validation_steps, "default: VALIDATION_STEPS")->check(CLI::NonNegativeNumber);
  app.add_option("--augment", augment, "online augmentation pipeline JSON (e.g. configs/augment_study.json)");
  app.add_flag("--class-balanced", class_balanced, "draw photos weighted by their rarest class");
  app.add_option("--device", device_name, "cpu or cuda[:N] (under mpirun, plain cuda: cuda:<the rank's place on its machine>)");
  app.add_option("--precision", precision, "conv/GEMM math: fp32, tf32 or bf16 (CUDA only; default: the config's PRECISION)");
  app.add_option("--gpu-switches", gpu_switch_list, "comma-separated fast paths to turn on, unverified on a GPU (README: GPU "
                                                    "switches): multi_tensor_optim, device_samplers, fused_conv_epilogue, "
                                                    "cudnn_benchmark, roi_align_deterministic");
  app.add_option("--threads", threads, "CPU threads (default: all cores)");
  app.add_option("--workers", workers, "loader threads")->check(CLI::PositiveNumber);
  app.add_option("--micro-batches", micro_batches, "gradient accumulation: each step takes K x IMAGES_PER_GPU photos (per "
                                                   "rank under mpirun) in K forward/backward passes (what K ranks compute)")
      ->check(CLI::PositiveNumber);
  app.add_option("--seed", seed, "seed of the split, the loader order and the model's sampling (SEED if 0)");
  app.add_option("--out", out_dir, "run folder: checkpoints, config, history CSV and loss plots")->required();
  app.add_option("--resume", resume, "continue the run in --out from its last checkpoint ('last', the default) or from "
                                     "this checkpoint; the data, config, classes and schedule come from the run folder, "
                                     "and a flag contradicting them is refused")
      ->expected(0, 1);
  app.add_flag("--overwrite", overwrite, "start a new run in a folder that holds one (its checkpoints and outputs are removed)");
  app.add_flag("--evaluate", evaluate, "kept for older scripts: the validation photos are always evaluated at the end (and "
                                       "every EVAL_EVERY epochs), written to RUN/eval.json");
  app.add_flag("--quiet", quiet, "no progress bar");
  bool profile_stages = false;
  app.add_flag("--profile", profile_stages, "print the time per stage (forward, backward, optimizer) at the end (or MRC_PROFILE=1)");
  if (const auto code = apps::parse_command_line(app, argc, argv, "mrc-train")) return *code;
  if (profile_stages) profile::set_enabled(true);
  const profile::PrintAtExit print_profile;
  // [data-parallel] one rank per process under mpirun; an error on one rank ends the job naming the rank.
  std::optional<train::Distributed> dist_storage;
  if (const int code = apps::run_reporting_errors("mrc-train", [&] { dist_storage.emplace(); return 0; })) return code;
  const train::Distributed& dist = *dist_storage;
  const bool root = dist.is_root();
  const auto body = [&]() -> int {
    if (threads > 0) set_num_threads(threads);
    if (threads <= 0 && dist.local_size() > 1) set_num_threads(std::max(1, num_threads() / dist.local_size()));  // share the cores
    Device device = Device::parse(device_name);
    if (device.is_cuda() && device_name == "cuda" && dist.size() > 1) device = Device::cuda(dist.local_rank());  // a GPU per rank
    train::enable_gpu_switches(gpu_switch_list, device);
    // On the CPU the switch changes Adam/AdamW only, to its one-pass twin, bit-identical to the per-parameter
    // path (test_optim) and 2.8x faster on the sample job's 28.9 M parameters (173 -> 62 ms a step, 2 threads)
    if (device.is_cpu()) kernels::set_multi_tensor_optim(true);
    const bool resuming = app.count("--resume") > 0;
    if (resuming && resume.empty()) resume = "last";
    if (resuming && overwrite) throw std::runtime_error("--resume and --overwrite: choose one");
    if (!resuming && train::has_checkpoints(out_dir)) {
      if (!overwrite)
        throw std::runtime_error(out_dir + ": holds a run's checkpoints; continue it with --resume, or start again with "
                                           "--overwrite (removes its checkpoints and outputs)");
      if (root) train::remove_training_outputs(out_dir);
    }

    // The run's settings: from the command line for a new run; from run.json for a resumed one, where a flag that
    // gives another value is refused.
    nlohmann::json settings = {{"train", train_json},       {"train-images", train_images},
                               {"val", val_json},           {"val-images", val_images},
                               {"val-fraction", val_fraction}, {"class-attribute", dopt.class_attribute},
                               {"augment", augment},        {"class-balanced", class_balanced},
                               {"steps-per-epoch", steps_per_epoch}, {"validation-steps", validation_steps},
                               {"seed", seed}};
    const std::string run_json = (fs::path(out_dir) / "run.json").string();
    const nlohmann::json saved = resuming ? train::read_run_settings(out_dir) : nlohmann::json::object();
    if (resuming && !saved.empty()) {
      nlohmann::json given = nlohmann::json::object();
      for (const auto& [key, value] : settings.items())
        if (app.count("--" + key)) given[key] = value;
      train::refuse_contradictions(saved, given, run_json, "--");
      for (const auto& [key, value] : saved.items())
        if (settings.contains(key)) settings[key] = value;
      train_json = settings["train"], train_images = settings["train-images"], val_json = settings["val"];
      val_images = settings["val-images"], val_fraction = settings["val-fraction"];
      dopt.class_attribute = settings["class-attribute"], augment = settings["augment"];
      class_balanced = settings["class-balanced"], steps_per_epoch = settings["steps-per-epoch"];
      validation_steps = settings["validation-steps"], seed = settings["seed"];
    }
    if (train_json.empty()) throw std::runtime_error("--train is required (a resumed run takes it from its run.json)");

    const bool config_given = !preset.empty() || !config_path.empty() || !sets.empty() || !optimizer.empty();
    maskrcnn::Config cfg = config_from_flags(preset, config_path, sets, optimizer);
    std::vector<std::string> class_names;
    if (resuming) {
      const std::string run_config = (fs::path(out_dir) / "config.json").string();
      const maskrcnn::Config saved_cfg = maskrcnn::load_config(run_config);
      class_names = train::read_class_names((fs::path(out_dir) / "classes.json").string());
      if (config_given) {
        cfg = config_from_flags(preset, config_path, sets, optimizer, maskrcnn::config_to_json(saved_cfg));
        if (!num_classes_given(config_path, sets)) cfg.NUM_CLASSES = saved_cfg.NUM_CLASSES;
        train::refuse_contradictions(maskrcnn::config_to_json(saved_cfg), maskrcnn::config_to_json(cfg), run_config,
                                     "the config key (from --preset/--config/--set/--optimizer) ");
      }
      cfg = saved_cfg;
    }
    if (seed == 0) seed = cfg.SEED;
    settings["seed"] = seed;
    if (!precision.empty()) cfg.PRECISION = precision;
    set_precision(parse_precision(cfg.PRECISION, precision.empty() ? "PRECISION" : "--precision"), device,
                  precision.empty() ? "PRECISION" : "--precision");

    if (resuming) dopt.class_names.assign(class_names.begin() + 1, class_names.end());  // the run's ids
    data::Dataset train_set = data::load_dataset(train_json, train_images, dopt);
    if (root) std::printf("%s\n", data::class_summary(train_set).c_str());
    data::Dataset val_set;
    bool has_val = false;
    if (!val_json.empty()) {
      dopt.class_names.assign(train_set.class_names.begin() + 1, train_set.class_names.end());  // same ids both sides (no "BG")
      val_set = data::load_dataset(val_json, val_images, dopt);
      has_val = true;
    } else if (val_fraction > 0 && train_set.images.size() >= 2) {
      const data::Dataset all = train_set;
      data::split_dataset(all, data::split_dataset(all, {val_fraction, seed}), train_set, val_set);
      has_val = !val_set.images.empty();
    }
    const int64_t classes = int64_t(train_set.class_names.size());
    if (!resuming) {
      if (num_classes_given(config_path, sets) && cfg.NUM_CLASSES != classes)
        throw std::runtime_error((config_path.empty() ? std::string("--set") : config_path) + ": NUM_CLASSES is " +
                                 std::to_string(cfg.NUM_CLASSES) + " but " + train_json + " has " +
                                 std::to_string(classes - 1) + " classes (+ background = " + std::to_string(classes) + ")");
      cfg.NUM_CLASSES = classes;
    }
    cfg.validate(config_path.empty() ? "config" : config_path);

    std::vector<train::Phase> schedule =
        schedule_text.empty() ? train::study_schedule(cfg.LEARNING_RATE, study_epochs > 0 ? study_epochs : 1)
                              : train::parse_schedule(schedule_text, cfg.LEARNING_RATE);
    if (resuming && saved.contains("schedule")) {
      if (!schedule_text.empty() || study_epochs > 0)
        train::refuse_contradictions(saved, {{"schedule", train::schedule_to_string(schedule)}}, run_json,
                                     "--schedule/--epochs-per-phase: ");
      schedule = train::parse_schedule(saved.at("schedule").get<std::string>(), cfg.LEARNING_RATE);
    }
    settings["schedule"] = train::schedule_to_string(schedule);

    maskrcnn::MaskRCNN model(cfg);
    if (!weights.empty() && !resuming) {
      TensorMap w = load_tensors(weights);  // read once: its class count decides the exclusions
      std::erase_if(w, [](const auto& e) { return e.first.rfind(kOptimizerPrefix, 0) == 0; });  // a mrc-train checkpoint
      const std::vector<std::string> exclude = weights_exclusions(w, cfg.NUM_CLASSES);
      model.load_weights(w, weights, exclude);
      if (root) std::printf("weights: %s%s\n", weights.c_str(), exclude.empty() ? "" : " (class-specific predictors left out)");
    }
    model.to(device);

    // [data-parallel] every rank starts from rank 0's weights and checks that it trains the same job.
    {
      NamedTensors state = model.named_parameters();
      for (auto& b : model.named_buffers()) state.push_back(b);
      std::vector<Tensor> tensors;
      for (auto& [name, t] : state) tensors.push_back(t);
      dist.broadcast(tensors);
      dist.check_same(maskrcnn::config_to_json(cfg).dump() + train::schedule_to_string(schedule) + std::to_string(seed) +
                          std::to_string(steps_per_epoch) + "x" + std::to_string(micro_batches) + " photos " +
                          std::to_string(train_set.images.size()) + "/" + std::to_string(val_set.images.size()),
                      "the job (config, schedule, optimizer, seed, photos)");
    }

    data::LoaderOptions lopt = train::loader_options(cfg, true, seed);
    lopt.shard_rank = dist.rank(), lopt.shard_count = dist.size();  // [data-parallel]
    lopt.batch_size *= micro_batches;
    lopt.workers = workers;
    lopt.augmentation_path = augment;
    lopt.class_balanced = class_balanced;
    data::Loader train_loader(train_set, lopt);
    std::unique_ptr<data::Loader> val_loader;
    if (has_val) {
      data::LoaderOptions vopt = train::loader_options(cfg, false, seed);
      vopt.workers = workers;
      vopt.shard_rank = dist.rank(), vopt.shard_count = dist.size();  // [data-parallel]
      vopt.batch_size *= micro_batches;
      val_loader = std::make_unique<data::Loader>(val_set, vopt);
    }

    train::TrainOptions topt;
    topt.schedule = schedule;
    topt.steps_per_epoch = steps_per_epoch;
    topt.validation_steps = validation_steps;
    topt.out_dir = out_dir;
    topt.eval_photos = has_val ? &val_set : nullptr;
    topt.progress = !quiet;
    topt.distributed = &dist;
    topt.micro_batches = micro_batches;
    train::Trainer trainer(model, train_loader, val_loader.get(), topt, train_set.class_names);
    if (resuming) {
      const std::string path = resume == "last" ? train::latest_checkpoint(out_dir) : resume;
      trainer.resume(path);
      if (root) std::printf("resumed from %s after epoch %lld\n", path.c_str(), (long long)trainer.epochs_done());
    } else if (root) {
      fs::create_directories(out_dir);
      train::write_run_settings(out_dir, settings);
    }
    if (root && (dist.size() > 1 || micro_batches > 1))
      std::printf("data parallel: %d ranks x %d micro-batches x %lld photos = global batch %lld (%s)\n", dist.size(),
                  micro_batches, (long long)cfg.IMAGES_PER_GPU, (long long)(dist.size() * micro_batches * cfg.IMAGES_PER_GPU),
                  dist.size() == 1 ? "one process" : train::Distributed::built_with_nccl() ? "MPI, NCCL for CUDA" : "MPI");
    if (root) std::printf("Mask R-CNN %s, %lld classes, %lld trainable of %lld parameters at the start; %zu training / %zu "
                "validation photos; %s; schedule %s; device %s\n",
                cfg.BACKBONE.c_str(), (long long)(classes - 1), (long long)model.parameter_count(true),
                (long long)model.parameter_count(), train_set.images.size(), has_val ? val_set.images.size() : size_t(0),
                cfg.OPTIMIZER.c_str(), train::schedule_to_string(schedule).c_str(), device.str().c_str());
    std::fflush(stdout);
    trainer.run();
    if (!root) return 0;
    if (evaluate && !has_val) std::printf("--evaluate: no validation photos, nothing evaluated\n");
    std::printf("run folder %s: checkpoints/, history.csv, epochs.csv, loss.png, losses.png%s\n", out_dir.c_str(),
                has_val ? ", ap.png, eval.json" : "");
    return 0;
  };
  return apps::run_reporting_errors("mrc-train", [&] {
    try {
      return body();
    } catch (const std::exception& e) {
      dist.fail("mrc-train", e.what(), 2);  // [data-parallel] ends the job; returns in a world of one
      throw;
    }
  });
}
