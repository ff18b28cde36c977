// Meta augmenters and the augment() entry point (see augmenter.h).
#include "data/augment/augmenter.h"

#include <algorithm>

#include "data/rasterize.h"

namespace mrc::data::aug {

void Sequential::apply(Sample& sample, Rng& rng) const {
  if (!random_order_) {
    for (const auto& c : children_) c->apply(sample, rng);
    return;
  }
  for (int i : rng.permutation(int(children_.size()))) children_[size_t(i)]->apply(sample, rng);
}

void Sometimes::apply(Sample& sample, Rng& rng) const {
  if (rng.bernoulli(p_))
    then_.apply(sample, rng);
  else
    else_.apply(sample, rng);
}

void SomeOf::apply(Sample& sample, Rng& rng) const {
  const int count = int(children_.size());
  if (count == 0) return;
  int n = n_to_all_ ? int(rng.integer(int64_t(n_.a), count)) : int(n_.draw(rng));
  n = std::clamp(n, 0, count);
  // Choose n children without replacement, then run them in list order or shuffled.
  std::vector<int> order = rng.permutation(count);
  order.resize(size_t(n));
  if (!random_order_)
    std::sort(order.begin(), order.end());
  else
    rng.shuffle(order);
  for (int i : order) children_[size_t(i)]->apply(sample, rng);
}

void finalize_instances(Sample& sample) {
  std::vector<Instance> kept;
  kept.reserve(sample.instances.size());
  for (auto& inst : sample.instances) {
    inst.box = mask_to_box(inst.mask);
    if (inst.box.x2 > inst.box.x1 && inst.box.y2 > inst.box.y1) kept.push_back(std::move(inst));
  }
  sample.instances = std::move(kept);
}

void augment(const Augmenter& augmenter, Sample& sample, Rng& rng) {
  augmenter.apply(sample, rng);
  finalize_instances(sample);
}

void augment(const Augmenter& augmenter, Sample& sample, uint64_t seed) {
  Rng rng(seed);
  augment(augmenter, sample, rng);
}

}  // namespace mrc::data::aug
