// The training/evaluation loader: a Dataset (VIA or COCO, data/dataset.h) in, batches of tensors on a
// device out, the way Mask R-CNN consumes them. Worker threads decode each photo, rasterize its
// regions, augment (data/augment) and resize (data/resize.h) it, normalize it and assemble whole
// batches ahead of the model through a bounded queue (data/prefetch.h); the consumer thread only
// moves the finished batch to the device.
//
// Determinism: a batch is a pure function of (seed, epoch, batch index): the epoch order comes
// from epoch_order / weighted_epoch_order and each photo's augmentation seed from (seed, epoch,
// position in the epoch), so the worker count and thread timing never change a batch.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/augment/pipeline.h"
#include "data/dataset.h"
#include "data/normalize.h"
#include "data/rasterize.h"
#include "data/resize.h"
#include "data/warnings.h"
#include "tensor/tensor.h"

namespace mrc::data {

// Where augmentation runs relative to the resize. matterport's data_generator augments the resized,
// padded image; torchvision's references augment the photo and let the model resize it.
enum class AugmentStage {
  Auto,          // AfterResize for matterport's modes, BeforeResize for Torchvision
  BeforeResize,
  AfterResize,
};

struct LoaderOptions {
  int batch_size = 2;
  int workers = 2;               // threads decoding and augmenting
  int queue_depth = 4;           // batches ready or in flight ahead of the consumer (at least `workers`)
  bool shuffle = true;
  uint64_t seed = 0;
  bool drop_last = false;        // drop the last incomplete batch of an epoch
  // Data-parallel shard (train/distributed.h): a global batch is shard_count x batch_size photos, and this
  // loader yields the shard_rank-th batch_size of each (positions, hence augmentation, as in one process
  // at the global batch size). With shard_count > 1 an incomplete last global batch is always dropped.
  int shard_rank = 0, shard_count = 1;

  // Augmentation: a pipeline object (aug::parse_pipeline / study_pipeline), or a JSON file read at
  // construction (setting both is an error). Empty: none.
  aug::Pipeline augmentation;
  std::string augmentation_path;
  AugmentStage augment_stage = AugmentStage::Auto;

  ResizeConfig resize = ResizeConfig::torchvision(800, 1333, 32);
  Normalization normalization = Normalization::torchvision();
  int pad_multiple = 32;         // batch height and width are rounded up to this

  // Class-balanced sampling: each epoch draws `samples_per_epoch` photos with replacement, a photo
  // weighted by 1 / (photos holding its rarest class) (class_balanced_weights in prefetch.h).
  bool class_balanced = false;
  int64_t samples_per_epoch = 0; // 0: the dataset's size

  int max_gt_instances = 0;      // > 0: keep at most this many instances, a seeded random subset in
                                 // their original order (matterport's MAX_GT_INSTANCES)
  bool skip_crowd = true;        // drop iscrowd instances (torchvision's references do)
  bool skip_images_without_regions = false;  // matterport skips them when training

  LoadOptions load;              // decoding (EXIF), size check, bad regions (skipped ones go to warnings())
  Device device = Device::cpu();
};

// One photo's targets and how to map predictions back onto it.
struct Target {
  Tensor boxes;    // [n, 4] float32, x1, y1, x2, y2 in the batch image's pixels (x2, y2 exclusive)
  Tensor labels;   // [n] int64, class ids 1..num_classes
  Tensor masks;    // [n, height, width] uint8 0/1, at this image's size below (top-left aligned)
  std::string image_id;
  int64_t index = -1;            // into the Dataset's images
  int original_width = 0, original_height = 0;   // the decoded photo
  int width = 0, height = 0;     // the resized image (with its own resize padding) inside the batch
  Window window;                 // where the photo lies (y1, x1, y2, x2; y2/x2 exclusive)
  double scale = 1;              // plan.scale (matterport's / torchvision's scale factor)
  ResizePlan plan;               // full plan: plan.to_original(box) maps a prediction back
};

struct Batch {
  Tensor images;                 // [B, C, H, W] float32 (C = load.decode.channels, 3 unless set), normalized,
                                 // zero-padded at the bottom/right; H, W multiples of pad_multiple
  std::vector<Target> targets;   // B entries
  int64_t epoch = 0;
  int64_t index = 0;             // batch index within the epoch
};

// A photo after decoding, augmentation and resizing, before normalization (for tests and viewers).
struct PreparedSample {
  Sample sample;                 // image at plan.out size; instances with their masks and boxes
  ResizePlan plan;
  int64_t index = -1;
};

class Loader {
 public:
  // Throws std::invalid_argument on bad options, std::runtime_error naming the file on an
  // augmentation config that cannot be read, and on an empty dataset.
  Loader(Dataset dataset, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Starts epoch `epoch` (any order, any number of times): workers begin loading at once.
  void begin_epoch(int64_t epoch);
  // The next batch of the current epoch on options.device; nullopt at the end of the epoch.
  // Rethrows a worker's error (which names the annotation file and the image) at its batch.
  std::optional<Batch> next();

  int64_t size() const;          // batches per epoch
  int64_t samples_per_epoch() const;
  const Dataset& dataset() const { return dataset_; }
  const LoaderOptions& options() const { return options_; }
  // The dataset indices of epoch `epoch`, in the order they are batched.
  std::vector<int64_t> epoch_indices(int64_t epoch) const;
  // Warnings from the batches taken so far (skipped regions, EXIF rotations), in batch order.
  const Warnings& warnings() const { return warnings_; }

  // What the workers compute for one photo at `position` of epoch `epoch` (thread-safe).
  PreparedSample prepare(int64_t index, int64_t epoch, int64_t position, Warnings* warnings = nullptr) const;
  // A whole batch on the CPU from dataset indices at the given epoch positions (thread-safe).
  Batch make_batch(const std::vector<int64_t>& indices, int64_t epoch, int64_t first_position,
                   Warnings* warnings = nullptr) const;

 private:
  struct Epoch;
  Dataset dataset_;
  LoaderOptions options_;
  std::vector<int64_t> eligible_;        // dataset indices that may be drawn
  std::vector<double> weights_;          // class-balanced weights over eligible_
  std::unique_ptr<Epoch> epoch_;
  Warnings warnings_;
};

}  // namespace mrc::data
