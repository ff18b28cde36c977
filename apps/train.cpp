// mrc-train: trains Mask R-CNN on a VIA or COCO dataset the way the Keras study did: a config of the
// study's names, optional starting weights (e.g. torchvision's COCO weights converted by
// tools/convert_torchvision.py, with the class-specific predictors left out when the class count
// differs), phases of layer groups and learning rates, SGD or Adam, validation losses each epoch, a
// checkpoint each epoch and the loss curves as CSV and PNG. Resumable with --resume. Data-parallel under
// `mpirun -np N` (train/distributed.h): each rank trains on its shard of every global batch of
// N x IMAGES_PER_GPU photos and rank 0 writes the run folder.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "apps/app_util.h"
#include "data/load_dataset.h"
#include "data/split.h"
#include "models/maskrcnn/maskrcnn.h"
#include "optim/checkpoint.h"
#include "tensor/parallel.h"
#include "tensor/serialize.h"
#include "tensor/atomic_file.h"
#include "train/distributed.h"
#include "train/inputs.h"
#include "train/model_eval.h"
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

// Whether the config file names NUM_CLASSES (else the dataset's class count is taken).
bool config_sets_num_classes(const std::string& path) {
  if (path.empty()) return false;
  std::ifstream in(path);
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  return j.is_object() && j.contains("NUM_CLASSES");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train Mask R-CNN on a VIA or COCO dataset (the Keras study's phases, losses and config names)"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // a later --optimizer overrides
  std::string train_json, train_images, val_json, val_images, class_attribute = "class", config_path, weights;
  std::string schedule_text, optimizer = "sgd", augment, out_dir, resume, device_name = "cpu";
  std::vector<std::string> sets;
  double val_fraction = 0.2;
  int64_t study_epochs = 0, steps_per_epoch = 0, validation_steps = -1;
  int threads = 0, workers = 2, micro_batches = 1;
  uint64_t seed = 0;
  bool quiet = false, class_balanced = false, evaluate = false;
  app.add_option("--train", train_json, "training annotations: VIA 1.x/2.x project or COCO JSON")->required();
  app.add_option("--train-images", train_images, "folder of the training photos (default: the JSON's folder)");
  app.add_option("--val", val_json, "validation annotations (default: --val-fraction of the training photos)");
  app.add_option("--val-images", val_images, "folder of the validation photos");
  app.add_option("--val-fraction", val_fraction, "share of the training photos held out when --val is not given (0: none)")
      ->check(CLI::Range(0.0, 0.9));
  app.add_option("--class-attribute", class_attribute, "VIA region attribute holding the class name");
  app.add_option("--config", config_path, "model config JSON (keys of configs/maskrcnn_default.json)");
  app.add_option("--set", sets, "override a config key, e.g. --set LEARNING_RATE=0.002 --set "
                                "'LOSS_WEIGHTS={\"mrcnn_mask_loss\":2}'")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--weights", weights, "starting weights: converted torchvision weights (tools/convert_torchvision.py) or a mrc-train checkpoint");
  app.add_option("--schedule", schedule_text, "phases GROUP:EPOCHS:LR,... with GROUP heads|3+|4+|5+|all and LR a "
                                              "number or LR/k (LR = LEARNING_RATE); default: the study's three phases");
  app.add_option("--epochs-per-phase", study_epochs, "epochs of each of the study's phases (heads LR/10, heads LR/100, all "
                                                     "LR/100) when --schedule is not given")
      ->check(CLI::PositiveNumber);
  app.add_option("--optimizer", optimizer, "sgd or adam")->check(CLI::IsMember({"sgd", "adam"}));
  app.add_option("--steps-per-epoch", steps_per_epoch, "default: STEPS_PER_EPOCH")->check(CLI::PositiveNumber);
  app.add_option("--validation-steps", validation_steps, "default: VALIDATION_STEPS")->check(CLI::NonNegativeNumber);
  app.add_option("--augment", augment, "online augmentation pipeline JSON (e.g. configs/augment_study.json)");
  app.add_flag("--class-balanced", class_balanced, "draw photos weighted by their rarest class");
  app.add_option("--device", device_name, "cpu or cuda[:N] (under mpirun, plain cuda: cuda:<the rank's place on its machine>)");
  app.add_option("--threads", threads, "CPU threads (default: all cores)");
  app.add_option("--workers", workers, "loader threads")->check(CLI::PositiveNumber);
  app.add_option("--micro-batches", micro_batches, "gradient accumulation: each step takes K x IMAGES_PER_GPU photos (per "
                                                   "rank under mpirun) in K forward/backward passes (what K ranks compute)")
      ->check(CLI::PositiveNumber);
  app.add_option("--seed", seed, "seed of the split, the loader order and the model's sampling (SEED if 0)");
  app.add_option("--out", out_dir, "run folder: checkpoints, config, history CSV and loss plots")->required();
  app.add_option("--resume", resume, "continue a run from this checkpoint, or from the run folder's last one with 'last'");
  app.add_flag("--evaluate", evaluate, "after training, mask and box AP on the validation photos (RUN/eval.json)");
  app.add_flag("--quiet", quiet, "no progress bar");
  if (const auto code = apps::parse_command_line(app, argc, argv, "mrc-train")) return *code;
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
    maskrcnn::Config cfg = config_path.empty() ? maskrcnn::Config{} : maskrcnn::load_config(config_path);
    apply_overrides(cfg, sets);
    if (seed == 0) seed = cfg.SEED;

    data::DatasetOptions dopt;
    dopt.class_attribute = class_attribute;
    data::Dataset train_set = data::load_dataset(train_json, train_images, dopt);
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
    const bool classes_given = config_sets_num_classes(config_path) || std::any_of(sets.begin(), sets.end(), [](const std::string& s) {
      return s.rfind("NUM_CLASSES=", 0) == 0;
    });
    if (classes_given && cfg.NUM_CLASSES != classes)
      throw std::runtime_error((config_path.empty() ? std::string("--set") : config_path) + ": NUM_CLASSES is " +
                               std::to_string(cfg.NUM_CLASSES) + " but " + train_json + " has " +
                               std::to_string(classes - 1) + " classes (+ background = " + std::to_string(classes) + ")");
    cfg.NUM_CLASSES = classes;
    cfg.validate(config_path.empty() ? "config" : config_path);

    std::vector<train::Phase> schedule =
        schedule_text.empty() ? train::study_schedule(cfg.LEARNING_RATE, study_epochs > 0 ? study_epochs : 1)
                              : train::parse_schedule(schedule_text, cfg.LEARNING_RATE);

    maskrcnn::MaskRCNN model(cfg);
    if (!weights.empty() && resume.empty()) {
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
      dist.check_same(maskrcnn::config_to_json(cfg).dump() + train::schedule_to_string(schedule) + optimizer +
                          std::to_string(seed) + std::to_string(steps_per_epoch) + "x" + std::to_string(micro_batches) + " photos " +
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
    topt.optimizer = optimizer;
    topt.schedule = schedule;
    topt.steps_per_epoch = steps_per_epoch;
    topt.validation_steps = validation_steps;
    topt.out_dir = out_dir;
    topt.progress = !quiet;
    topt.distributed = &dist;
    topt.micro_batches = micro_batches;
    train::Trainer trainer(model, train_loader, val_loader.get(), topt, train_set.class_names);
    if (!resume.empty()) {
      const std::string path = resume == "last" ? train::latest_checkpoint(out_dir) : resume;
      trainer.resume(path);
      if (root) std::printf("resumed from %s after epoch %lld\n", path.c_str(), (long long)trainer.epochs_done());
    }
    if (root && (dist.size() > 1 || micro_batches > 1))
      std::printf("data parallel: %d ranks x %d micro-batches x %lld photos = global batch %lld (%s)\n", dist.size(),
                  micro_batches, (long long)cfg.IMAGES_PER_GPU, (long long)(dist.size() * micro_batches * cfg.IMAGES_PER_GPU),
                  dist.size() == 1 ? "one process" : train::Distributed::built_with_nccl() ? "MPI, NCCL for CUDA" : "MPI");
    if (root) std::printf("Mask R-CNN %s, %lld classes, %lld trainable of %lld parameters at the start; %zu training / %zu "
                "validation photos; %s; schedule %s; device %s\n",
                cfg.BACKBONE.c_str(), (long long)(classes - 1), (long long)model.parameter_count(true),
                (long long)model.parameter_count(), train_set.images.size(), has_val ? val_set.images.size() : size_t(0),
                optimizer.c_str(), train::schedule_to_string(schedule).c_str(), device.str().c_str());
    std::fflush(stdout);
    trainer.run();
    if (evaluate && has_val) {
      const train::Evaluation e = train::evaluate_model(model, val_set, !quiet && root, &dist);  // [data-parallel] split
      if (!root) return 0;
      nlohmann::json j = train::evaluation_to_json(e, train_set.class_names);
      j["checkpoint"] = train::latest_checkpoint(out_dir);
      j["data"] = val_json.empty() ? train_json + " (held-out photos)" : val_json;
      write_file_atomic((fs::path(out_dir) / "eval.json").string(), j.dump(1) + "\n");
      std::printf("validation photos: mask AP50 %.4f, AP %.4f; box AP50 %.4f, AP %.4f (eval.json)\n", e.mask.ap50,
                  e.mask.ap, e.box.ap50, e.box.ap);
    } else if (evaluate && root) {
      std::printf("--evaluate: no validation photos, nothing evaluated\n");
    }
    if (root) std::printf("run folder %s: checkpoints/, history.csv, epochs.csv, loss.png, losses.png\n", out_dir.c_str());
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
