// The augmenter interface and the meta augmenters that combine others (imgaug's Sequential,
// Sometimes, SomeOf, OneOf). An augmenter transforms one Sample in place: the image, and for
// geometric augmenters every instance mask by the same transform (masks with nearest sampling, so
// they stay binary). augment() runs a pipeline and then recomputes each box from its mask and drops
// the instances whose mask vanished.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/augment/param.h"
#include "data/augment/rng.h"
#include "data/image.h"

namespace mrc::data::aug {

class Augmenter {
 public:
  virtual ~Augmenter() = default;
  virtual std::string name() const = 0;
  // Draws this augmenter's parameters from rng and transforms the sample. Boxes are left stale.
  virtual void apply(Sample& sample, Rng& rng) const = 0;
};
using AugmenterPtr = std::unique_ptr<Augmenter>;

// Applies children in order (or in a random order drawn per sample).
class Sequential : public Augmenter {
 public:
  explicit Sequential(std::vector<AugmenterPtr> children, bool random_order = false)
      : children_(std::move(children)), random_order_(random_order) {}
  std::string name() const override { return "Sequential"; }
  void apply(Sample& sample, Rng& rng) const override;
  const std::vector<AugmenterPtr>& children() const { return children_; }

 private:
  std::vector<AugmenterPtr> children_;
  bool random_order_;
};

// With probability p applies `then_list` (as a Sequential), otherwise `else_list`.
class Sometimes : public Augmenter {
 public:
  Sometimes(double p, std::vector<AugmenterPtr> then_list, std::vector<AugmenterPtr> else_list = {})
      : p_(p), then_(std::move(then_list)), else_(std::move(else_list)) {}
  std::string name() const override { return "Sometimes"; }
  void apply(Sample& sample, Rng& rng) const override;

 private:
  double p_;
  Sequential then_, else_;
};

// Applies n of the children, chosen without replacement per sample; n is a Param (a constant, or a
// discrete uniform range [lo, hi]); n_to_all: imgaug's (lo, None), i.e. n uniform in [lo, #children].
// n is clipped to the number of children. The chosen ones run in list order unless random_order.
class SomeOf : public Augmenter {
 public:
  SomeOf(Param n, std::vector<AugmenterPtr> children, bool random_order = false, bool n_to_all = false)
      : n_(std::move(n)), children_(std::move(children)), random_order_(random_order), n_to_all_(n_to_all) {}
  std::string name() const override { return "SomeOf"; }
  void apply(Sample& sample, Rng& rng) const override;

 private:
  Param n_;
  std::vector<AugmenterPtr> children_;
  bool random_order_, n_to_all_;
};

// Exactly one child per sample.
class OneOf : public SomeOf {
 public:
  explicit OneOf(std::vector<AugmenterPtr> children) : SomeOf(Param::constant(1), std::move(children)) {}
  std::string name() const override { return "OneOf"; }
};

// Recomputes boxes from masks and drops instances whose mask is empty.
void finalize_instances(Sample& sample);

// Runs `augmenter` on the sample with a generator seeded by `seed`, then finalize_instances().
void augment(const Augmenter& augmenter, Sample& sample, uint64_t seed);
void augment(const Augmenter& augmenter, Sample& sample, Rng& rng);

}  // namespace mrc::data::aug
