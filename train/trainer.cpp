// The training loop (see trainer.h).
#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "data/image_io.h"
#include "data/progress.h"
#include "optim/adam.h"
#include "optim/checkpoint.h"
#include "optim/clip.h"
#include "optim/lr_schedule.h"
#include "optim/sgd.h"
#include "tensor/atomic_file.h"
#include "tensor/autograd.h"
#include "tensor/profile.h"
#include "train/distributed.h"
#include "train/global_batch.h"
#include "train/history.h"
#include "train/inputs.h"
#include "train/model_eval.h"
#include "train/predict.h"
#include "train/report.h"

namespace mrc::train {
namespace fs = std::filesystem;
using maskrcnn::kLossNames;

namespace {

void accumulate(std::map<std::string, double>& sum, const std::map<std::string, double>& v) {
  for (const auto& [k, x] : v) sum[k] += x;
}

std::map<std::string, double> divided(std::map<std::string, double> sum, double n) {
  for (auto& [k, x] : sum) x /= n;
  return sum;
}

// "loss 1.23 = rpn_class 0.1 + ...": the weighted total and its five weighted terms (see recorded_losses).
std::string loss_summary(const std::map<std::string, double>& v) {
  std::ostringstream out;
  out << std::setprecision(4) << "loss " << v.at("loss") << " = ";
  for (size_t i = 0; i < kLossNames.size(); ++i) {
    const std::string& n = kLossNames[i];
    out << (i ? " + " : "") << n.substr(0, n.size() - 5) << ' ' << v.at(n);
  }
  return out.str();
}

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const maskrcnn::Config& cfg, NamedTensors params) {
  ParamGroup g;
  g.params = std::move(params);
  g.lr = cfg.LEARNING_RATE;
  g.weight_decay = cfg.WEIGHT_DECAY;
  g.momentum = cfg.LEARNING_MOMENTUM;
  g.nesterov = cfg.LEARNING_NESTEROV;
  g.beta1 = cfg.ADAM_BETA_1;
  g.beta2 = cfg.ADAM_BETA_2;
  g.eps = cfg.ADAM_EPSILON;
  if (cfg.OPTIMIZER == "sgd") return std::make_unique<SGD>(std::vector<ParamGroup>{g});
  if (cfg.OPTIMIZER == "adam") return std::make_unique<Adam>(std::vector<ParamGroup>{g});
  if (cfg.OPTIMIZER == "adamw") return std::make_unique<AdamW>(std::vector<ParamGroup>{g});
  throw std::invalid_argument("OPTIMIZER: expected \"sgd\", \"adam\" or \"adamw\", got \"" + cfg.OPTIMIZER + "\"");
}

double lr_factor(const maskrcnn::Config& cfg, int64_t step, int64_t steps_per_epoch, int64_t total_steps) {
  std::vector<LrSchedule> parts;
  if (cfg.LR_WARMUP_STEPS > 0) parts.push_back(LrSchedule::linear_warmup(cfg.LR_WARMUP_FACTOR, cfg.LR_WARMUP_STEPS));
  if (cfg.LR_DECAY == "step") {
    std::vector<int64_t> milestones;  // the first step of each listed epoch (1-based) starts at the lower rate
    for (int64_t e : cfg.LR_DECAY_EPOCHS) milestones.push_back((e - 1) * steps_per_epoch);
    parts.push_back(LrSchedule::multistep(milestones, cfg.LR_DECAY_GAMMA));
  } else if (cfg.LR_DECAY == "cosine") {
    parts.push_back(LrSchedule::cosine(std::max<int64_t>(total_steps, 1)));
  }
  return parts.empty() ? 1.0 : LrSchedule::chain(parts).lr(1.0, step);
}

std::string checkpoint_path(const std::string& run_dir, int64_t epoch) {
  std::ostringstream name;
  name << "epoch_" << std::setw(4) << std::setfill('0') << epoch << ".safetensors";
  return (fs::path(run_dir) / "checkpoints" / name.str()).string();
}

std::string best_checkpoint_path(const std::string& run_dir) {
  return (fs::path(run_dir) / "checkpoints" / "best.safetensors").string();
}

std::map<int64_t, std::string> epoch_checkpoints(const std::string& run_dir) {
  std::map<int64_t, std::string> found;
  std::error_code ec;
  const std::regex pattern(R"(epoch_(\d+)\.safetensors)");
  for (const auto& e : fs::directory_iterator(fs::path(run_dir) / "checkpoints", ec)) {
    std::smatch m;
    const std::string name = e.path().filename().string();
    if (std::regex_match(name, m, pattern)) found[std::stoll(m[1].str())] = e.path().string();
  }
  return found;
}

std::string latest_checkpoint(const std::string& run_dir) {
  const std::map<int64_t, std::string> found = epoch_checkpoints(run_dir);
  if (found.empty())
    throw std::runtime_error((fs::path(run_dir) / "checkpoints").string() +
                             ": no checkpoint (expected checkpoints/epoch_NNNN.safetensors in the run folder)");
  return found.rbegin()->second;
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
  optimizer_ = make_optimizer(cfg, model_.named_parameters());
  global_batch_ = std::make_unique<GlobalBatch>(model_, train_loader_.options().seed, options_.distributed,
                                                options_.micro_batches);
  if (!is_root()) options_.progress = false, options_.log = nullptr;
}

bool Trainer::is_root() const { return !options_.distributed || options_.distributed->is_root(); }

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
    best_ = x.value("best", nlohmann::json());
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

EpochRecord Trainer::train_epoch(int64_t epoch, std::vector<StepRecord>& epoch_steps) {
  const SchedulePosition pos = locate_epoch(options_.schedule, epoch);
  const Phase& phase = options_.schedule[pos.phase];
  const int64_t total = total_epochs(options_.schedule);
  const maskrcnn::Config& cfg = model_.config();
  model_.train();
  model_.set_layer_group(phase.layers);
  NamedTensors trainable;
  for (const auto& [name, p] : model_.named_parameters())
    if (p.requires_grad()) trainable.emplace_back(name, p);
  const Device device = model_.named_parameters().front().second.device();

  std::ostringstream label;
  label << "epoch " << epoch + 1 << '/' << total << ' ' << phase.layers << " lr " << phase.lr;
  // [data-parallel] with several ranks the bar counts the global batch's photos (the global rate).
  const int ranks = options_.distributed ? options_.distributed->size() : 1;
  const int64_t per_step = ranks > 1 ? int64_t(ranks) * train_loader_.options().batch_size : 1;
  label << (ranks > 1 ? " (" + std::to_string(ranks) + " ranks, photos)" : std::string(" (steps)"));
  data::ProgressBar bar(options_.steps_per_epoch * per_step, label.str(), options_.progress ? stderr : nullptr);
  std::map<std::string, double> sum;
  for (int64_t s = 0; s < options_.steps_per_epoch; ++s) {
    const int64_t step = int64_t(steps_.size() + epoch_steps.size());  // 0-based over the run
    const double lr = phase.lr * lr_factor(cfg, step, options_.steps_per_epoch, total * options_.steps_per_epoch);
    optimizer_->set_lr(lr);
    const ModelInputs in = to_model_inputs(next_train_batch(), device, cfg.NUM_CLASSES);
    optimizer_->zero_grad();
    const GlobalBatch::Result l = global_batch_->forward(GlobalBatch::Stream::Training, uint64_t(step + 1), in);
    StepRecord rec{step + 1, epoch + 1, lr, recorded_losses(l.losses, cfg)};
    if (!std::isfinite(rec.losses.at("loss"))) {
      std::ostringstream msg;
      msg << "training diverged: the loss is " << rec.losses.at("loss") << " at epoch " << epoch + 1 << ", step "
          << s + 1 << " (" << loss_summary(rec.losses) << ", weighted); lower the learning rate of phase " << pos.phase + 1
          << " (" << phase.lr << ") or GRADIENT_CLIP_NORM; the last checkpoint is epoch " << epochs_done_;
      throw std::runtime_error(msg.str());
    }
    global_batch_->backward(l, trainable);  // [data-parallel] the global batch's gradient on every rank
    if (cfg.GRADIENT_CLIP_NORM > 0) clip_grad_norm_on_device(trainable, cfg.GRADIENT_CLIP_NORM);  // no read
    {
      profile::Scope stage("optimizer");
      optimizer_->step();
    }
    accumulate(sum, rec.losses);
    epoch_steps.push_back(std::move(rec));
    bar.set_status("running " + loss_summary(divided(sum, double(s + 1))));
    bar.update(per_step);
  }
  bar.finish();
  EpochRecord e;
  e.epoch = epoch + 1;
  e.layers = phase.layers;
  e.lr = phase.lr;
  e.train = divided(sum, double(options_.steps_per_epoch));
  return e;
}

void Trainer::log_epoch(const EpochRecord& e) const {
  if (!options_.log) return;
  std::fprintf(options_.log, "epoch %lld/%lld [%s, lr %g] %s", (long long)e.epoch,
               (long long)total_epochs(options_.schedule), e.layers.c_str(), e.lr, loss_summary(e.train).c_str());
  if (!e.val.empty()) std::fprintf(options_.log, "  val_%s", loss_summary(e.val).c_str());
  if (!e.ap.empty())
    std::fprintf(options_.log, "  mask AP %.4f AP50 %.4f, box AP %.4f AP50 %.4f", e.ap.at("mask_AP"), e.ap.at("mask_AP50"),
                 e.ap.at("box_AP"), e.ap.at("box_AP50"));
  std::fprintf(options_.log, "  %.1f s\n", e.seconds);
  std::fflush(options_.log);
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
    const ModelInputs in = to_model_inputs(*b, device, model_.config().NUM_CLASSES);
    const GlobalBatch::Result l = global_batch_->forward(GlobalBatch::Stream::Validation, (uint64_t(epoch) << 32) + uint64_t(n), in);
    accumulate(sum, recorded_losses(l.losses, model_.config()));
    ++n;
  }
  return n ? divided(sum, double(n)) : std::map<std::string, double>{};
}

bool Trainer::evaluation_due(int64_t epoch) const {
  if (!options_.eval_photos || options_.eval_photos->images.empty()) return false;
  const int64_t every = model_.config().EVAL_EVERY < 0 ? 1 : model_.config().EVAL_EVERY;
  return epoch + 1 == total_epochs(options_.schedule) || (every > 0 && (epoch + 1) % every == 0);
}

std::map<std::string, double> Trainer::evaluate(int64_t epoch) {
  if (!evaluation_due(epoch)) return {};
  // [data-parallel] every rank detects its share of the photos; rank 0 evaluates them all and writes
  const DatasetDetections d = detect_dataset(model_, *options_.eval_photos, options_.progress, options_.distributed);
  if (!is_root()) return {};
  const Evaluation e = evaluate_detections(d.truth, d.detections);
  nlohmann::json j = evaluation_to_json(e, class_names_);
  j["epoch"] = epoch + 1;
  j["checkpoint"] = checkpoint_path(options_.out_dir, epoch + 1);
  j["data"] = options_.eval_photos->source;
  const std::string path = (fs::path(options_.out_dir) / "eval.json").string();
  write_file_atomic(path, j.dump(1) + "\n");
  write_evaluation_report(path, e, d.truth, d.detections, class_names_);
  return {{"mask_AP", e.mask.ap}, {"mask_AP50", e.mask.ap50}, {"mask_AP75", e.mask.ap75},
          {"box_AP", e.box.ap},   {"box_AP50", e.box.ap50},   {"box_AP75", e.box.ap75}};
}

// The best epoch: the highest validation mask AP when the run evaluates during training (EVAL_EVERY != 0),
// else the lowest validation loss; epochs without that figure do not compete.
bool Trainer::improves_best(const EpochRecord& e) {
  const bool by_ap = options_.eval_photos && !options_.eval_photos->images.empty() && model_.config().EVAL_EVERY != 0;
  const std::string metric = by_ap ? "val_mask_AP" : "val_loss";
  const std::map<std::string, double>& from = by_ap ? e.ap : e.val;
  const auto it = from.find(by_ap ? "mask_AP" : "loss");
  if (it == from.end()) return false;
  const bool better = best_.is_null() || best_.value("metric", "") != metric ||
                      (by_ap ? it->second > best_.at("value").get<double>() : it->second < best_.at("value").get<double>());
  if (better) best_ = {{"metric", metric}, {"value", it->second}, {"epoch", e.epoch}};
  return better;
}

// The epoch's checkpoint; best.safetensors when it is the best so far; the oldest removed past KEEP_CHECKPOINTS.
void Trainer::write_checkpoints(int64_t epoch, bool best) const {
  if (!is_root()) return;  // [data-parallel] rank 0 writes the run folder
  nlohmann::json extra;
  extra["epoch"] = epoch;
  extra["generator"] = model_.generator().state();
  extra["loader_epoch"] = loader_epoch_;
  extra["loader_batches"] = loader_batches_;
  extra["optimizer"] = model_.config().OPTIMIZER;
  extra["schedule"] = schedule_to_string(options_.schedule);
  extra["history"] = history_to_json(steps_, epochs_);
  extra["config"] = maskrcnn::config_to_json(model_.config());
  extra["class_names"] = class_names_;
  extra["best"] = best_;
  const std::string path = checkpoint_path(options_.out_dir, epoch);
  save_checkpoint(path, model_.state_dict(), optimizer_.get(), optimizer_->step_count(), extra);
  if (best) {  // a second name for the same file (a copy where the file system has no hard links), swapped in atomically
    const std::string target = best_checkpoint_path(options_.out_dir), tmp = target + ".tmp";
    std::error_code ec;
    fs::remove(tmp, ec);
    fs::create_hard_link(path, tmp, ec);
    if (ec) fs::copy_file(path, tmp, fs::copy_options::overwrite_existing);
    fs::rename(tmp, target);
  }
  if (const int64_t keep = model_.config().KEEP_CHECKPOINTS; keep > 0)
    for (const auto& [e, file] : epoch_checkpoints(options_.out_dir))
      if (e <= epoch - keep) fs::remove(file);
}

void Trainer::write_tensorboard(const EpochRecord& e, const std::vector<StepRecord>& epoch_steps) {
  if (!events_) return;
  for (const StepRecord& s : epoch_steps) {
    events_->scalar("step/lr", s.lr, s.step);
    for (const auto& [name, v] : s.losses) events_->scalar("step/" + name, v, s.step);
  }
  events_->scalar("epoch/lr", e.lr, e.epoch);
  for (const auto& [name, v] : e.train) events_->scalar("train/" + name, v, e.epoch);
  for (const auto& [name, v] : e.val) events_->scalar("val/" + name, v, e.epoch);
  for (const auto& [name, v] : e.ap) events_->scalar("val/" + name, v, e.epoch);
  if (e.ap.empty()) return;
  const bool was_training = model_.is_training();
  model_.eval();
  NoGradGuard no_grad;
  const data::Dataset& photos = *options_.eval_photos;
  data::DecodeOptions decode;
  decode.channels = 3;
  decode.apply_exif = false;  // as the loader reads them: VIA's coordinates ignore EXIF
  for (size_t i = 0; i < photos.images.size() && int64_t(i) < options_.tensorboard_photos; ++i) {
    const data::Image photo = data::decode_image(photos.images[i].path, decode);
    const PhotoDetections d = detect_photo(model_, photo);
    events_->image("val_photos/" + photos.images[i].image_id,
                   render_detections(photo, d, class_names_, model_.config().DETECTION_MIN_CONFIDENCE), e.epoch);
  }
  if (was_training) model_.train();
}

void Trainer::run() {
  if (is_root()) {  // [data-parallel] rank 0 writes the run folder
    fs::create_directories(fs::path(options_.out_dir) / "checkpoints");
    if (options_.tensorboard && !events_)
      events_ = std::make_unique<EventWriter>((fs::path(options_.out_dir) / "tensorboard").string());
    maskrcnn::save_config(model_.config(), (fs::path(options_.out_dir) / "config.json").string());
    write_file_atomic((fs::path(options_.out_dir) / "classes.json").string(), nlohmann::json(class_names_).dump(1) + "\n");
  }
  const int64_t total = total_epochs(options_.schedule);
  for (int64_t epoch = epochs_done_; epoch < total; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<StepRecord> epoch_steps;
    EpochRecord e = train_epoch(epoch, epoch_steps);
    e.val = validate(epoch);
    e.ap = evaluate(epoch);
    e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    steps_.insert(steps_.end(), epoch_steps.begin(), epoch_steps.end());
    epochs_.push_back(e);
    epochs_done_ = epoch + 1;
    write_checkpoints(epochs_done_, improves_best(e));
    if (is_root()) write_history(options_.out_dir, steps_, epochs_);
    write_tensorboard(e, epoch_steps);
    log_epoch(e);
  }
}

}  // namespace mrc::train
