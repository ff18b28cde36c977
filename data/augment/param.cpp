// Param sampling and JSON parsing (see param.h).
#include "data/augment/param.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace mrc::data::aug {

double Param::draw(Rng& rng) const {
  switch (kind) {
    case Kind::Constant:
      return a;
    case Kind::Uniform:
      if (integer) return double(rng.integer(int64_t(a), int64_t(b)));
      return rng.uniform(a, b);
    case Kind::Choice:
      return choices[size_t(rng.integer(0, int64_t(choices.size()) - 1))];
  }
  return a;
}

double Param::min_value() const {
  if (kind == Kind::Choice) return *std::min_element(choices.begin(), choices.end());
  return std::min(a, b);
}

double Param::max_value() const {
  if (kind == Kind::Choice) return *std::max_element(choices.begin(), choices.end());
  return std::max(a, b);
}

void ConfigContext::fail(const std::string& field, const std::string& what) const {
  std::string msg = file.empty() ? std::string("augmentation config") : file;
  msg += ": ";
  if (!path.empty()) msg += path;
  if (!type.empty()) msg += " (" + type + ")";
  if (!field.empty()) msg += ": field \"" + field + "\"";
  msg += ": " + what;
  throw std::runtime_error(msg);
}

namespace {

std::string range_text(double lo, double hi) {
  auto num = [](double v) {
    if (std::isinf(v)) return std::string(v < 0 ? "-inf" : "inf");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return std::string(buf);
  };
  return "[" + num(lo) + ", " + num(hi) + "]";
}

double number_in(const nlohmann::ordered_json& v, const ConfigContext& ctx, const std::string& field, double lo,
                 double hi, bool integer) {
  if (!v.is_number()) ctx.fail(field, std::string("expected a number, got ") + v.type_name());
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    ctx.fail(field, "value " + v.dump() + " is outside the allowed range " + range_text(lo, hi));
  if (integer && x != std::floor(x)) ctx.fail(field, "expected a whole number, got " + v.dump());
  return x;
}

}  // namespace

Param parse_param(const nlohmann::ordered_json& v, const ConfigContext& ctx, const std::string& field,
                  double lo, double hi, bool integer) {
  const char* expected = "expected a number, a range [low, high] or {\"choice\": [values...]}";
  Param p;
  p.integer = integer;
  if (v.is_number()) {
    p.kind = Param::Kind::Constant;
    p.a = p.b = number_in(v, ctx, field, lo, hi, integer);
  } else if (v.is_array()) {
    if (v.size() != 2) ctx.fail(field, std::string(expected) + ", got an array of " + std::to_string(v.size()));
    p.kind = Param::Kind::Uniform;
    p.a = number_in(v[0], ctx, field, lo, hi, integer);
    p.b = number_in(v[1], ctx, field, lo, hi, integer);
    if (p.b < p.a) ctx.fail(field, "range " + v.dump() + " has low > high");
  } else if (v.is_object()) {
    if (v.size() != 1 || !v.contains("choice") || !v["choice"].is_array() || v["choice"].empty())
      ctx.fail(field, std::string(expected) + ", got " + v.dump());
    p.kind = Param::Kind::Choice;
    for (const auto& c : v["choice"]) p.choices.push_back(number_in(c, ctx, field, lo, hi, integer));
  } else {
    ctx.fail(field, std::string(expected) + ", got " + v.type_name());
  }
  return p;
}

double parse_probability(const nlohmann::ordered_json& v, const ConfigContext& ctx, const std::string& field) {
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  if (!v.is_number()) ctx.fail(field, std::string("expected true, false or a probability in [0, 1], got ") + v.type_name());
  return number_in(v, ctx, field, 0.0, 1.0, false);
}

}  // namespace mrc::data::aug
