// Augmentation pipelines written as JSON (configs/augment_study.json is the study's), and the
// Pipeline object that applies one to a Sample with a seed.
//
// Schema (every field optional unless marked; keys starting with "_" are comments and ignored):
//   { "pipeline": [AUG, ...], "random_order": false }   (a bare [AUG, ...] is accepted too)
//   AUG = {"type": NAME, fields...}; NAME and fields, defaults as imgaug 0.4:
//     Fliplr, Flipud         p: probability of flipping a sample (1)
//     Affine                 scale (1), translate_percent (0) | translate_px (0), rotate (0, degrees),
//                            shear (0, degrees), order (1: 0 nearest, 1 bilinear), cval (0),
//                            mode ("constant", the only one); with none of scale/translate/rotate/
//                            shear given, imgaug's defaults apply (scale 0.9..1.1 per axis,
//                            translate -10..10 % per axis, rotate -15..15, shear -10..10 per axis).
//                            scale, translate_*, shear also take {"x": P, "y": P}.
//     Crop                   percent ([0, 0.1]) | px; P for every side or
//                            {"top": P, "right": P, "bottom": P, "left": P};
//                            sample_independently (true), keep_size (true)
//     Multiply               mul ([0.8, 1.2]), per_channel (false | true | probability)
//     LinearContrast         alpha ([0.6, 1.4]), per_channel
//     ContrastNormalization  alpha (1), per_channel   (imgaug's deprecated alias of LinearContrast)
//     GaussianBlur           sigma ([0, 3], pixels)
//     AdditiveGaussianNoise  loc (0), scale ([0, 15], in 0..255 units), per_channel
//     Sometimes              p (0.5), then: [AUG...] (required), else: [AUG...]
//     Sequential             children: [AUG...] (required), random_order (false)
//     SomeOf                 n: N | [lo, hi] | [lo, null] (required; null = all children),
//                            children (required), random_order (false)
//     OneOf                  children (required)
//   P (a stochastic parameter) = 1.5 (fixed) | [low, high] (uniform per sample, imgaug's tuple) |
//                               {"choice": [a, b, ...]} (imgaug's list).
// Errors name the file, the augmenter's path (pipeline[2].then[0]), its type and the field.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "data/augment/augmenter.h"
#include "data/image.h"

namespace mrc::data::aug {

class Pipeline {
 public:
  Pipeline() = default;   // the identity
  Pipeline(AugmenterPtr root, std::string source) : root_(std::move(root)), source_(std::move(source)) {}

  // Augments the sample in place (image, masks, recomputed boxes, vanished instances dropped).
  // The same seed gives the same result, whatever thread or platform runs it.
  void operator()(Sample& sample, uint64_t seed) const;
  void operator()(Sample& sample, Rng& rng) const;

  bool empty() const { return root_ == nullptr; }
  const Augmenter* root() const { return root_.get(); }
  const std::string& source() const { return source_; }

 private:
  std::shared_ptr<const Augmenter> root_;
  std::string source_;
};

Pipeline load_pipeline(const std::string& path);   // throws std::runtime_error naming the file
Pipeline parse_pipeline(const nlohmann::ordered_json& config, const std::string& source);
Pipeline parse_pipeline_text(const std::string& json_text, const std::string& source = "<string>");

// The study's pipeline, the same as configs/augment_study.json (a test keeps the two equal); the
// apps use it when no --config is given.
const char* study_pipeline_json();
Pipeline study_pipeline();

// One augmenter from its JSON object (ctx names where it sits, for errors).
AugmenterPtr parse_augmenter(const nlohmann::ordered_json& value, const ConfigContext& ctx);

}  // namespace mrc::data::aug
