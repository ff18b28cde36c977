// Stochastic parameters as imgaug has them: a number is fixed, a tuple (a, b) is sampled uniformly
// per image, a list is a choice. In the JSON config: 3.5, [a, b] and {"choice": [v, ...]}.
// Integer parameters (translate_px, SomeOf's n) sample a discrete uniform in [a, b] inclusive.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "data/augment/rng.h"

namespace mrc::data::aug {

struct Param {
  enum class Kind { Constant, Uniform, Choice };
  Kind kind = Kind::Constant;
  double a = 0, b = 0;               // Constant: a; Uniform: [a, b]
  std::vector<double> choices;       // Choice
  bool integer = false;              // discrete uniform over [a, b]

  static Param constant(double v) { return Param{Kind::Constant, v, v, {}, false}; }
  static Param uniform(double lo, double hi) { return Param{Kind::Uniform, lo, hi, {}, false}; }
  static Param choice(std::vector<double> values) { return Param{Kind::Choice, 0, 0, std::move(values), false}; }
  static Param discrete(int lo, int hi) { return Param{Kind::Uniform, double(lo), double(hi), {}, true}; }

  double draw(Rng& rng) const;
  double min_value() const;
  double max_value() const;
  bool is_constant(double v) const { return kind == Kind::Constant && a == v; }
};

// Where a config entry sits, for error messages: "FILE: pipeline[2] (Affine): field \"rotate\": ...".
struct ConfigContext {
  std::string file;
  std::string path;   // "pipeline[2]", "pipeline[1].then[0]"
  std::string type;   // the augmenter's "type"
  [[noreturn]] void fail(const std::string& field, const std::string& what) const;
};

// Parses a Param from a JSON value; throws through ctx.fail naming `field` when malformed or out of
// [min_allowed, max_allowed]. integer: values must be whole numbers, sampled as discrete uniform.
Param parse_param(const nlohmann::ordered_json& value, const ConfigContext& ctx, const std::string& field,
                  double min_allowed, double max_allowed, bool integer = false);

// per_channel: false/true or a probability p (imgaug: per-channel for a fraction p of the images).
double parse_probability(const nlohmann::ordered_json& value, const ConfigContext& ctx, const std::string& field);

}  // namespace mrc::data::aug
