// The Mask R-CNN training loop of the Keras study: phases of layer groups and learning rates
// (schedule.h) scaled by the config's warm-up and decay (lr_factor), STEPS_PER_EPOCH steps an epoch with
// OPTIMIZER (SGD, Adam, AdamW), gradient clipping, the five weighted losses, validation losses each epoch,
// mask and box AP on the validation photos every EVAL_EVERY epochs, a checkpoint each epoch, and the history
// as CSV and PNG plots.
//
// A run folder holds:
//   config.json, classes.json        the model's settings and class names (for mrc-predict)
//   run.json                         the schedule, steps and seed the run was started with (for --resume)
//   checkpoints/epoch_NNNN.safetensors  weights + optimizer state + history after epoch NNNN (1-based); only
//                                    the last KEEP_CHECKPOINTS when that is set
//   checkpoints/best.safetensors     the epoch with the best validation mask AP (or, without AP, validation loss)
//   history.csv                      one row per step: epoch, phase, layers, lr, the weighted total ("loss"), the
//                                    five weighted by LOSS_WEIGHTS (Keras's names; they sum to "loss") and the five
//                                    unweighted ("<name>_unweighted")
//   epochs.csv                       one row per epoch: the same loss columns as means over the epoch, training
//                                    and validation ("val_..."), AP, seconds
//   eval.json                        the last evaluation on the validation photos
//   loss.png, losses.png, ap.png     the curves (total; each loss by name; AP when evaluated)
//   tensorboard/events.out.tfevents.*  the same figures per step and epoch, and validation photos with their
//                                    detections at each evaluation, for TensorBoard
// Every file is written atomically. A run resumes from any of its checkpoints and then repeats the
// same steps it would have taken without the interruption (the loader's batches and the model's
// sampling draws are functions of the seed and the step). Under mpirun the ranks split every global
// batch (train/global_batch.h) and only rank 0 writes.
#pragma once
#include <array>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/loader.h"
#include "models/maskrcnn/maskrcnn.h"
#include "optim/optimizer.h"
#include "train/schedule.h"
#include "train/tensorboard.h"

namespace mrc::train {
class Distributed;
class GlobalBatch;
}  // namespace mrc::train

namespace mrc::train {

struct TrainOptions {
  std::vector<Phase> schedule;
  int64_t steps_per_epoch = 0;     // 0: the config's STEPS_PER_EPOCH
  int64_t validation_steps = -1;   // -1: the config's VALIDATION_STEPS (capped at the validation set's batches)
  std::string out_dir;             // the run folder (created if missing)
  const data::Dataset* eval_photos = nullptr;  // photos for mask/box AP (EVAL_EVERY); null or empty: none
  bool tensorboard = true;         // event files in OUT/tensorboard (losses, LR, AP, a few validation photos)
  int64_t tensorboard_photos = 3;  // validation photos drawn with their detections at each evaluation
  bool progress = true;            // progress bar on stderr
  std::FILE* log = stdout;         // one summary line per epoch (nullptr: silent)
  // Data-parallel training (train/distributed.h): the loaders hold this rank's shards, gradients are
  // summed across ranks each step, only rank 0 writes the run folder. Null: one process.
  const Distributed* distributed = nullptr;
  // Gradient accumulation: each loader batch goes through the model in this many equal parts, summed
  // before the update (one process computing what as many ranks compute). The loaders' batch size must
  // be a multiple of it.
  int micro_batches = 1;
};

struct StepRecord {
  int64_t step = 0;                // 1-based, over the whole run
  int64_t epoch = 0;               // 1-based
  double lr = 0;
  std::map<std::string, double> losses;  // as recorded_losses (history.h) gives them: weighted, unweighted, total
};

struct EpochRecord {
  int64_t epoch = 0;               // 1-based
  std::string layers;
  double lr = 0;
  std::map<std::string, double> train, val;  // means over the epoch; "loss" is the weighted total
  std::map<std::string, double> ap;          // kApNames on the validation photos; empty when not evaluated
  double seconds = 0;
};

// The AP figures an evaluation adds to an epoch (epochs.csv columns "val_<name>").
inline const std::array<std::string, 6> kApNames = {"mask_AP", "mask_AP50", "mask_AP75", "box_AP", "box_AP50", "box_AP75"};

// The factor LR_WARMUP_* and LR_DECAY* put on the phase's learning rate at `step` (0-based over the run).
double lr_factor(const maskrcnn::Config& cfg, int64_t step, int64_t steps_per_epoch, int64_t total_steps);
// SGD, Adam or AdamW as the config's OPTIMIZER and its hyper-parameters say.
std::unique_ptr<Optimizer> make_optimizer(const maskrcnn::Config& cfg, NamedTensors params);

class Trainer {
 public:
  // The loaders must use train::loader_options' settings (images on [0, 1], not resized). val may be null.
  Trainer(maskrcnn::MaskRCNN& model, data::Loader& train_loader, data::Loader* val_loader, TrainOptions options,
          std::vector<std::string> class_names);
  ~Trainer();

  // Restores weights, optimizer state and history from a checkpoint of this run's kind and continues
  // after its epoch. Throws std::runtime_error naming the file when it does not fit.
  void resume(const std::string& checkpoint_path);
  // Trains from the next epoch to the end of the schedule. Throws std::runtime_error naming the epoch
  // and step when a loss becomes non-finite (nothing is written for that epoch).
  void run();

  int64_t epochs_done() const { return epochs_done_; }
  const std::vector<StepRecord>& steps() const { return steps_; }
  const std::vector<EpochRecord>& epochs() const { return epochs_; }
  Optimizer& optimizer() { return *optimizer_; }

 private:
  EpochRecord train_epoch(int64_t epoch, std::vector<StepRecord>& steps);
  std::map<std::string, double> validate(int64_t epoch);
  bool evaluation_due(int64_t epoch) const;
  std::map<std::string, double> evaluate(int64_t epoch);
  bool improves_best(const EpochRecord& e);
  bool is_root() const;  // [data-parallel] this process writes the run folder (always, outside mpirun)
  data::Batch next_train_batch();
  void write_checkpoints(int64_t epoch, bool best) const;
  void log_epoch(const EpochRecord& e) const;
  void write_tensorboard(const EpochRecord& e, const std::vector<StepRecord>& epoch_steps);

  maskrcnn::MaskRCNN& model_;
  data::Loader& train_loader_;
  data::Loader* val_loader_;
  TrainOptions options_;
  std::vector<std::string> class_names_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<EventWriter> events_;
  std::unique_ptr<GlobalBatch> global_batch_;  // keyed sampling, global-batch losses, gradient all-reduce
  int64_t epochs_done_ = 0;
  int64_t loader_epoch_ = -1;      // the training loader's current epoch
  int64_t loader_batches_ = 0;     // batches taken from it
  std::vector<StepRecord> steps_;
  std::vector<EpochRecord> epochs_;
  nlohmann::json best_;            // {"metric", "value", "epoch"} of checkpoints/best.safetensors; null: none yet
};

// checkpoints/epoch_NNNN.safetensors of a run folder.
std::string checkpoint_path(const std::string& run_dir, int64_t epoch);
// checkpoints/best.safetensors of a run folder.
std::string best_checkpoint_path(const std::string& run_dir);
// The epoch checkpoints of a run folder, by epoch.
std::map<int64_t, std::string> epoch_checkpoints(const std::string& run_dir);
// The checkpoint with the highest epoch in a run folder; throws naming the folder when there is none.
std::string latest_checkpoint(const std::string& run_dir);

}  // namespace mrc::train
