// The training loop (see trainer.h).
#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "data/progress.h"
#include "optim/adam.h"
#include "optim/checkpoint.h"
#include "optim/clip.h"
#include "optim/sgd.h"
#include "tensor/atomic_file.h"
#include "tensor/autograd.h"
#include "train/distributed.h"
#include "train/global_batch.h"
#include "train/history.h"
#include "train/inputs.h"

namespace mrc::train {
namespace fs = std::filesystem;
using maskrcnn::kLossNames;

namespace {

std::unique_ptr<Optimizer> make_optimizer(const std::string& kind, const maskrcnn::Config& cfg, NamedTensors params) {
  ParamGroup g;
  g.params = std::move(params);
  g.lr = cfg.LEARNING_RATE;
  g.weight_decay = cfg.WEIGHT_DECAY;
  if (kind == "sgd") {
    g.momentum = cfg.LEARNING_MOMENTUM;
    return std::make_unique<SGD>(std::vector<ParamGroup>{g});
  }
  if (kind == "adam") return std::make_unique<Adam>(std::vector<ParamGroup>{g});
  throw std::invalid_argument("optimizer: expected \"sgd\" or \"adam\", got \"" + kind + "\"");
}

void accumulate(std::map<std::string, double>& sum, const std::map<std::string, double>& v) {
  for (const auto& [k, x] : v) sum[k] += x;
}

std::map<std::string, double> divided(std::map<std::string, double> sum, double n) {
  for (auto& [k, x] : sum) x /= n;
  return sum;
}

std::string loss_summary(const std::map<std::string, double>& v) {
  std::ostringstream out;
  out << std::setprecision(4) << "loss " << v.at("loss") << " (";
  for (size_t i = 0; i < kLossNames.size(); ++i) {
    const std::string& n = kLossNames[i];
    out << (i ? ", " : "") << n.substr(0, n.size() - 5) << ' ' << v.at(n);
  }
  out << ')';
  return out.str();
}

}  // namespace

std::string checkpoint_path(const std::string& run_dir, int64_t epoch) {
  std::ostringstream name;
  name << "epoch_" << std::setw(4) << std::setfill('0') << epoch << ".safetensors";
  return (fs::path(run_dir) / "checkpoints" / name.str()).string();
}

std::string latest_checkpoint(const std::string& run_dir) {
  const fs::path dir = fs::path(run_dir) / "checkpoints";
  std::error_code ec;
  std::string best;
  int64_t best_epoch = -1;
  const std::regex pattern(R"(epoch_(\d+)\.safetensors)");
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string name = e.path().filename().string();
    if (!std::regex_match(name, m, pattern)) continue;
    const int64_t epoch = std::stoll(m[1].str());
    if (epoch > best_epoch) best_epoch = epoch, best = e.path().string();
  }
  if (best.empty())
    throw std::runtime_error(dir.string() + ": no checkpoint (expected checkpoints/epoch_NNNN.safetensors in the run folder)");
  return best;
}

Trainer::Trainer(maskrcnn::MaskRCNN& model, data::Loader& train_loader, data::Loader* val_loader, TrainOptions options,
                 std::vector<std::string> class_names)
    : model_(model),
      train_loader_(train_loader),
      val_loader_(val_loader),
      options_(std::move(options)),
      class_names_(std::move(class_names)) {
  const maskrcnn::Config& cfg = model_.config();
  if (options_.schedule.empty()) throw std::invalid_argument("Trainer: the schedule has no phase");
  if (options_.steps_per_epoch <= 0) options_.steps_per_epoch = cfg.STEPS_PER_EPOCH;
  if (options_.validation_steps < 0) options_.validation_steps = cfg.VALIDATION_STEPS;
  if (options_.out_dir.empty()) throw std::invalid_argument("Trainer: no run folder (out_dir)");
  if (int64_t(class_names_.size()) != cfg.NUM_CLASSES)
    throw std::invalid_argument("Trainer: " + std::to_string(class_names_.size()) + " class names (with \"BG\") for NUM_CLASSES " +
                                std::to_string(cfg.NUM_CLASSES));
  optimizer_ = make_optimizer(options_.optimizer, cfg, model_.named_parameters());
  global_batch_ = std::make_unique<GlobalBatch>(model_, train_loader_.options().seed, options_.distributed,
                                                options_.micro_batches);
  if (options_.distributed && !options_.distributed->is_root()) options_.progress = false, options_.log = nullptr;
}

Trainer::~Trainer() = default;

void Trainer::resume(const std::string& path) {
  TensorMap tensors = model_.state_dict();
  const CheckpointReport r = load_checkpoint(path, tensors, optimizer_.get());
  if (!r.optimizer_loaded)
    throw std::runtime_error(path + ": optimizer state not restored (" + r.optimizer_note +
                             "); resume with the optimizer the run was started with, or start a new run from these weights");
  try {
    const nlohmann::json& x = r.extra;
    epochs_done_ = x.at("epoch").get<int64_t>();
    model_.generator().set_state(x.at("generator").get<std::string>());
    loader_epoch_ = x.at("loader_epoch").get<int64_t>();
    loader_batches_ = x.at("loader_batches").get<int64_t>();
    history_from_json(x.at("history"), steps_, epochs_);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": not a mrc-train checkpoint (metadata: " + std::string(e.what()) + ")");
  }
  if (loader_epoch_ >= 0) {  // the training loader back where it was
    train_loader_.begin_epoch(loader_epoch_);
    for (int64_t i = 0; i < loader_batches_; ++i) train_loader_.next();
  }
}

data::Batch Trainer::next_train_batch() {
  for (int tries = 0; tries < 2; ++tries) {
    if (loader_epoch_ >= 0) {
      if (std::optional<data::Batch> b = train_loader_.next()) {
        ++loader_batches_;
        return std::move(*b);
      }
    }
    train_loader_.begin_epoch(++loader_epoch_);
    loader_batches_ = 0;
  }
  throw std::runtime_error("training set " + train_loader_.dataset().source + ": no batch (no image with regions?)");
}

void Trainer::train_epoch(int64_t epoch) {
  const SchedulePosition pos = locate_epoch(options_.schedule, epoch);
  const Phase& phase = options_.schedule[pos.phase];
  const int64_t total = total_epochs(options_.schedule);
  model_.train();
  model_.set_layer_group(phase.layers);
  optimizer_->set_lr(phase.lr);
  NamedTensors trainable;
  for (const auto& [name, p] : model_.named_parameters())
    if (p.requires_grad()) trainable.emplace_back(name, p);
  const Device device = model_.named_parameters().front().second.device();

  std::ostringstream label;
  label << "epoch " << epoch + 1 << '/' << total << ' ' << phase.layers << " lr " << phase.lr;
  // [data-parallel] with several ranks the bar counts the global batch's photos (the global rate).
  const int ranks = options_.distributed ? options_.distributed->size() : 1;
  const int64_t per_step = ranks > 1 ? int64_t(ranks) * train_loader_.options().batch_size : 1;
  if (ranks > 1) label << ", " << ranks << " ranks, photos";
  data::ProgressBar bar(options_.steps_per_epoch * per_step, label.str(), options_.progress ? stderr : nullptr);
  const auto t0 = std::chrono::steady_clock::now();
  std::map<std::string, double> sum;
  std::vector<StepRecord> epoch_steps;
  for (int64_t s = 0; s < options_.steps_per_epoch; ++s) {
    const ModelInputs in = to_model_inputs(next_train_batch(), device);
    optimizer_->zero_grad();
    const int64_t step = int64_t(steps_.size() + epoch_steps.size()) + 1;
    const GlobalBatch::Result l = global_batch_->forward(GlobalBatch::Stream::Training, uint64_t(step), in);
    StepRecord rec{step, epoch + 1, phase.lr, l.losses};
    if (!std::isfinite(rec.losses.at("loss"))) {
      std::ostringstream msg;
      msg << "training diverged: the loss is " << rec.losses.at("loss") << " at epoch " << epoch + 1 << ", step "
          << s + 1 << " (" << loss_summary(rec.losses) << "); lower the learning rate of phase " << pos.phase + 1
          << " (" << phase.lr << ") or GRADIENT_CLIP_NORM; the last checkpoint is epoch " << epochs_done_;
      throw std::runtime_error(msg.str());
    }
    global_batch_->backward(l, trainable);  // [data-parallel] the global batch's gradient on every rank
    if (model_.config().GRADIENT_CLIP_NORM > 0) clip_grad_norm(trainable, model_.config().GRADIENT_CLIP_NORM);
    optimizer_->step();
    accumulate(sum, rec.losses);
    epoch_steps.push_back(std::move(rec));
    bar.update(per_step);
  }
  bar.finish();
  EpochRecord e;
  e.epoch = epoch + 1;
  e.layers = phase.layers;
  e.lr = phase.lr;
  e.train = divided(sum, double(options_.steps_per_epoch));
  e.val = validate(epoch);
  e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  steps_.insert(steps_.end(), epoch_steps.begin(), epoch_steps.end());
  epochs_.push_back(e);
  epochs_done_ = epoch + 1;
  if (!options_.distributed || options_.distributed->is_root()) write_outputs(epochs_done_);
  if (options_.log) {
    std::fprintf(options_.log, "epoch %lld/%lld [%s, lr %g] %s", (long long)(epoch + 1), (long long)total,
                 phase.layers.c_str(), phase.lr, loss_summary(e.train).c_str());
    if (!e.val.empty()) std::fprintf(options_.log, "  val_%s", loss_summary(e.val).c_str());
    std::fprintf(options_.log, "  %.1f s\n", e.seconds);
    std::fflush(options_.log);
  }
}

std::map<std::string, double> Trainer::validate(int64_t epoch) {
  if (!val_loader_ || options_.validation_steps == 0) return {};
  // Keras computes validation losses with the training graph; so do we (train mode, no gradients).
  NoGradGuard no_grad;
  const Device device = model_.named_parameters().front().second.device();
  val_loader_->begin_epoch(epoch);
  std::map<std::string, double> sum;
  int64_t n = 0;
  while (n < options_.validation_steps) {
    std::optional<data::Batch> b = val_loader_->next();
    if (!b) break;
    const ModelInputs in = to_model_inputs(*b, device);
    accumulate(sum, global_batch_->forward(GlobalBatch::Stream::Validation, (uint64_t(epoch) << 32) + uint64_t(n), in).losses);
    ++n;
  }
  return n ? divided(sum, double(n)) : std::map<std::string, double>{};
}

void Trainer::write_outputs(int64_t epoch) const {
  nlohmann::json extra;
  extra["epoch"] = epoch;
  extra["generator"] = model_.generator().state();
  extra["loader_epoch"] = loader_epoch_;
  extra["loader_batches"] = loader_batches_;
  extra["optimizer"] = options_.optimizer;
  extra["schedule"] = schedule_to_string(options_.schedule);
  extra["history"] = history_to_json(steps_, epochs_);
  extra["config"] = maskrcnn::config_to_json(model_.config());
  extra["class_names"] = class_names_;
  save_checkpoint(checkpoint_path(options_.out_dir, epoch), model_.state_dict(), optimizer_.get(),
                  optimizer_->step_count(), extra);
  write_history(options_.out_dir, steps_, epochs_);
}

void Trainer::run() {
  if (!options_.distributed || options_.distributed->is_root()) {  // [data-parallel] rank 0 writes the run folder
    fs::create_directories(fs::path(options_.out_dir) / "checkpoints");
    maskrcnn::save_config(model_.config(), (fs::path(options_.out_dir) / "config.json").string());
    write_file_atomic((fs::path(options_.out_dir) / "classes.json").string(), nlohmann::json(class_names_).dump(1) + "\n");
  }
  const int64_t total = total_epochs(options_.schedule);
  for (int64_t e = epochs_done_; e < total; ++e) train_epoch(e);
}

}  // namespace mrc::train
