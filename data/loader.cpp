// The batch loader (see loader.h): per-photo preparation, batch assembly, and the epoch machinery on
// top of Prefetcher (data/prefetch.h), whose items here are whole batches so that the consumer
// thread does nothing but the device copy.
#include "data/loader.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "data/prefetch.h"

namespace mrc::data {
namespace {

// Salts keep the streams drawn from one seed independent of each other (and of epoch_order's).
constexpr uint64_t kAugmentSalt = 0x61756700ull, kCropSalt = 0x63726f70ull, kSubsetSalt = 0x73756273ull;

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

bool augment_after_resize(const LoaderOptions& o) {
  switch (o.augment_stage) {
    case AugmentStage::BeforeResize: return false;
    case AugmentStage::AfterResize: return true;
    case AugmentStage::Auto: break;
  }
  return o.resize.mode != ResizeMode::Torchvision;
}

// Keeps `keep` of the instances, chosen uniformly (partial Fisher-Yates), in their original order.
void subsample_instances(std::vector<Instance>& instances, size_t keep, aug::Rng& rng) {
  if (instances.size() <= keep) return;
  std::vector<size_t> idx(instances.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  for (size_t i = 0; i < keep; ++i) std::swap(idx[i], idx[size_t(rng.integer(int64_t(i), int64_t(idx.size()) - 1))]);
  idx.resize(keep);
  std::sort(idx.begin(), idx.end());
  std::vector<Instance> out;
  out.reserve(keep);
  for (size_t i : idx) out.push_back(std::move(instances[i]));
  instances = std::move(out);
}

std::string where(const Dataset& ds) { return "loader (" + (ds.source.empty() ? std::string("dataset") : ds.source) + ")"; }

}  // namespace

struct Loader::Epoch {
  struct Item {
    Batch batch;
    Warnings warnings;
  };
  int64_t number = 0;
  std::vector<int64_t> indices;
  std::unique_ptr<Prefetcher<Item>> prefetcher;
};

Loader::Loader(Dataset dataset, LoaderOptions options) : dataset_(std::move(dataset)), options_(std::move(options)) {
  const std::string w = where(dataset_);
  auto bad = [&](const std::string& what) { throw std::invalid_argument(w + ": " + what); };
  if (options_.batch_size < 1) bad("batch_size must be >= 1, got " + std::to_string(options_.batch_size));
  if (options_.workers < 1) bad("workers must be >= 1, got " + std::to_string(options_.workers));
  if (options_.queue_depth < 1) bad("queue_depth must be >= 1, got " + std::to_string(options_.queue_depth));
  if (options_.shard_count < 1 || options_.shard_rank < 0 || options_.shard_rank >= options_.shard_count)
    bad("shard_rank must be in [0, shard_count), got " + std::to_string(options_.shard_rank) + " of " +
        std::to_string(options_.shard_count));
  if (options_.pad_multiple < 1) bad("pad_multiple must be >= 1, got " + std::to_string(options_.pad_multiple));
  if (options_.max_gt_instances < 0) bad("max_gt_instances must be >= 0");
  if (options_.samples_per_epoch < 0) bad("samples_per_epoch must be >= 0");
  if (options_.samples_per_epoch > 0 && !options_.class_balanced)
    bad("samples_per_epoch applies to class_balanced sampling only");
  int& channels = options_.load.decode.channels;
  if (channels == 0) channels = 3;   // a batch needs one channel count for every photo
  if (channels != 1 && channels != 3 && channels != 4)
    bad("load.decode.channels must be 1, 3 or 4, got " + std::to_string(channels));
  if (!options_.augmentation_path.empty()) {
    if (!options_.augmentation.empty()) bad("set either augmentation or augmentation_path, not both");
    options_.augmentation = aug::load_pipeline(options_.augmentation_path);
  }
  if (options_.device.is_cuda()) {
    if (!built_with_cuda()) throw_not_built_with_cuda("Loader with a CUDA device");
    if (!cuda_available())
      throw std::runtime_error(w + ": device " + options_.device.str() + " requested but no CUDA device is visible");
  }

  if (dataset_.images.empty()) throw std::runtime_error(w + ": the dataset has no images");
  std::vector<std::vector<int>> classes;
  for (size_t i = 0; i < dataset_.images.size(); ++i) {
    std::vector<int> c;
    for (const Region& r : dataset_.images[i].regions)
      if (!(r.iscrowd && options_.skip_crowd)) c.push_back(r.class_id);
    if (c.empty() && options_.skip_images_without_regions) continue;
    eligible_.push_back(int64_t(i));
    classes.push_back(std::move(c));
  }
  if (eligible_.empty()) throw std::runtime_error(w + ": no image has a region (skip_images_without_regions is on)");
  if (options_.class_balanced) weights_ = class_balanced_weights(classes);
}

Loader::~Loader() = default;

int64_t Loader::samples_per_epoch() const {
  if (options_.class_balanced && options_.samples_per_epoch > 0) return options_.samples_per_epoch;
  return int64_t(eligible_.size());
}

int64_t Loader::size() const {
  const int64_t n = samples_per_epoch(), b = int64_t(options_.batch_size) * options_.shard_count;  // global batch
  return options_.drop_last || options_.shard_count > 1 ? n / b : (n + b - 1) / b;
}

std::vector<int64_t> Loader::epoch_indices(int64_t epoch) const {
  const std::vector<int64_t> order =
      options_.class_balanced ? weighted_epoch_order(weights_, samples_per_epoch(), options_.seed, epoch)
                              : epoch_order(int64_t(eligible_.size()), options_.seed, epoch, options_.shuffle);
  std::vector<int64_t> out(order.size());
  for (size_t i = 0; i < order.size(); ++i) out[i] = eligible_[size_t(order[i])];
  return out;
}

PreparedSample Loader::prepare(int64_t index, int64_t epoch, int64_t position, Warnings* warnings) const {
  if (index < 0 || size_t(index) >= dataset_.images.size())
    throw std::out_of_range(where(dataset_) + ": image index " + std::to_string(index) + " out of range (" +
                            std::to_string(dataset_.images.size()) + " images)");
  PreparedSample p;
  p.index = index;
  Sample& s = p.sample;
  s = load_sample(dataset_, size_t(index), options_.load, warnings);
  if (options_.skip_crowd)
    s.instances.erase(std::remove_if(s.instances.begin(), s.instances.end(), [](const Instance& i) { return i.iscrowd; }),
                      s.instances.end());

  const uint64_t seed = options_.seed, e = uint64_t(epoch), pos = uint64_t(position);
  const uint64_t aug_seed = aug::derive_seed(aug::derive_seed(seed, kAugmentSalt, e), pos);
  const bool after = augment_after_resize(options_);
  if (!options_.augmentation.empty() && !after) options_.augmentation(s, aug_seed);

  aug::Rng crop_rng(aug::derive_seed(aug::derive_seed(seed, kCropSalt, e), pos));
  try {
    p.plan = plan_resize(s.image.width, s.image.height, options_.resize, &crop_rng);
  } catch (const std::invalid_argument& ex) {
    throw std::runtime_error(dataset_.source + ": image '" + s.image_id + "': " + ex.what());
  }
  apply_resize(s, p.plan, options_.resize.masks);
  if (!options_.augmentation.empty() && after) options_.augmentation(s, aug_seed);

  // Resizing can thin a sliver of a mask away; an instance without pixels has no box to learn.
  s.instances.erase(std::remove_if(s.instances.begin(), s.instances.end(),
                                   [](const Instance& i) { return i.box.x2 <= i.box.x1 || i.box.y2 <= i.box.y1; }),
                    s.instances.end());
  if (options_.max_gt_instances > 0) {
    aug::Rng rng(aug::derive_seed(aug::derive_seed(seed, kSubsetSalt, e), pos));
    subsample_instances(s.instances, size_t(options_.max_gt_instances), rng);
  }
  return p;
}

Batch Loader::make_batch(const std::vector<int64_t>& indices, int64_t epoch, int64_t first_position,
                         Warnings* warnings) const {
  if (indices.empty()) throw std::invalid_argument(where(dataset_) + ": make_batch needs at least one index");
  std::vector<PreparedSample> prepared;
  prepared.reserve(indices.size());
  int64_t H = 0, W = 0;
  for (size_t i = 0; i < indices.size(); ++i) {
    prepared.push_back(prepare(indices[i], epoch, first_position + int64_t(i), warnings));
    H = std::max<int64_t>(H, prepared.back().sample.image.height);
    W = std::max<int64_t>(W, prepared.back().sample.image.width);
  }
  H = round_up(H, options_.pad_multiple);
  W = round_up(W, options_.pad_multiple);
  const int64_t B = int64_t(indices.size()), C = options_.load.decode.channels;

  Batch batch;
  batch.epoch = epoch;
  batch.images = Tensor::empty({B, C, H, W}, DType::Float32);
  float* images = batch.images.data<float>();
  batch.targets.resize(size_t(B));
  for (int64_t b = 0; b < B; ++b) {
    PreparedSample& p = prepared[size_t(b)];
    const Sample& s = p.sample;
    normalize_to_chw(s.image, options_.normalization, images + b * C * H * W, int(W), int(H), 0.0f);

    Target& t = batch.targets[size_t(b)];
    const int64_t n = int64_t(s.instances.size()), h = s.image.height, w = s.image.width;
    std::vector<float> boxes;
    std::vector<int64_t> labels;
    boxes.reserve(size_t(n) * 4);
    labels.reserve(size_t(n));
    t.masks = Tensor::empty({n, h, w}, DType::UInt8);
    uint8_t* masks = n > 0 ? t.masks.data<uint8_t>() : nullptr;
    for (int64_t k = 0; k < n; ++k) {
      const Instance& inst = s.instances[size_t(k)];
      boxes.insert(boxes.end(), {inst.box.x1, inst.box.y1, inst.box.x2, inst.box.y2});
      labels.push_back(inst.class_id);
      std::memcpy(masks + k * h * w, inst.mask.pixels.data(), size_t(h * w));
    }
    t.boxes = Tensor::from_vector(boxes, {n, 4});
    t.labels = Tensor::from_vector(labels, {n});
    t.image_id = s.image_id;
    t.index = p.index;
    t.original_width = p.plan.in_width;
    t.original_height = p.plan.in_height;
    t.width = int(w);
    t.height = int(h);
    t.window = p.plan.window;
    t.scale = p.plan.scale;
    t.plan = p.plan;
  }
  return batch;
}

void Loader::begin_epoch(int64_t epoch) {
  epoch_.reset();   // joins the previous epoch's workers before starting new ones
  auto ep = std::make_unique<Epoch>();
  ep->number = epoch;
  ep->indices = epoch_indices(epoch);
  const int64_t nb = size(), B = options_.batch_size;
  const int64_t n = int64_t(ep->indices.size());
  const int64_t global = B * options_.shard_count, shard = B * options_.shard_rank;  // data-parallel shard
  Epoch* raw = ep.get();
  auto fn = [this, raw, B, n, global, shard](int64_t b, int64_t) {
    const int64_t first = b * global + shard, last = std::min(n, first + B);
    const std::vector<int64_t> idx(raw->indices.begin() + first, raw->indices.begin() + last);
    Epoch::Item item;
    item.batch = make_batch(idx, raw->number, first, &item.warnings);
    item.batch.index = b;
    return item;
  };
  // Each worker builds a whole batch, so at least `workers` slots keep every worker busy.
  ep->prefetcher = std::make_unique<Prefetcher<Epoch::Item>>(epoch_order(nb, 0, 0, false), fn, options_.workers,
                                                             std::max(options_.queue_depth, options_.workers));
  epoch_ = std::move(ep);
}

std::optional<Batch> Loader::next() {
  if (!epoch_) throw std::logic_error(where(dataset_) + ": next() called before begin_epoch()");
  Epoch::Item item;
  if (!epoch_->prefetcher->next(item)) return std::nullopt;
  for (auto& wn : item.warnings.items) warnings_.add(std::move(wn.kind), std::move(wn.message));
  Batch& b = item.batch;
  if (options_.device != Device::cpu()) {
    b.images = b.images.to(options_.device);
    for (Target& t : b.targets) {
      t.boxes = t.boxes.to(options_.device);
      t.labels = t.labels.to(options_.device);
      t.masks = t.masks.to(options_.device);
    }
  }
  return std::move(b);
}

}  // namespace mrc::data
