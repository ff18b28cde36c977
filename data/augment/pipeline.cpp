// JSON config -> augmenter tree (schema in pipeline.h), and Pipeline.
#include "data/augment/pipeline.h"

#include <limits>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "data/augment/geometric.h"
#include "data/augment/photometric.h"
#include "data/via.h"

namespace mrc::data::aug {

using ojson = nlohmann::ordered_json;

void Pipeline::operator()(Sample& sample, uint64_t seed) const {
  Rng rng(seed);
  (*this)(sample, rng);
}

void Pipeline::operator()(Sample& sample, Rng& rng) const {
  if (root_) root_->apply(sample, rng);
  finalize_instances(sample);
}

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Field access for one augmenter object, rejecting unknown keys.
struct Fields {
  const ojson& obj;
  const ConfigContext& ctx;

  Fields(const ojson& o, const ConfigContext& c, std::initializer_list<const char*> allowed) : obj(o), ctx(c) {
    std::set<std::string> ok(allowed.begin(), allowed.end());
    ok.insert("type");
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      if (!it.key().empty() && it.key()[0] == '_') continue;
      if (!ok.count(it.key())) {
        std::string list;
        for (const auto& k : allowed) list += (list.empty() ? "" : ", ") + std::string(k);
        ctx.fail(it.key(), "unknown field (" + ctx.type + " takes: " + (list.empty() ? "no fields" : list) + ")");
      }
    }
  }
  bool has(const char* k) const { return obj.contains(k); }
  const ojson& at(const char* k) const { return obj.at(k); }
  Param param(const char* k, Param dflt, double lo, double hi, bool integer = false) const {
    return has(k) ? parse_param(at(k), ctx, k, lo, hi, integer) : dflt;
  }
  double probability(const char* k, double dflt) const { return has(k) ? parse_probability(at(k), ctx, k) : dflt; }
  bool boolean(const char* k, bool dflt) const {
    if (!has(k)) return dflt;
    if (!at(k).is_boolean()) ctx.fail(k, std::string("expected true or false, got ") + at(k).type_name());
    return at(k).get<bool>();
  }
};

std::vector<AugmenterPtr> parse_list(const ojson& v, const ConfigContext& parent, const std::string& field) {
  if (!v.is_array()) parent.fail(field, std::string("expected a list of augmenters, got ") + v.type_name());
  std::vector<AugmenterPtr> out;
  for (size_t i = 0; i < v.size(); ++i) {
    ConfigContext c{parent.file, (parent.path.empty() ? field : parent.path + "." + field) + "[" + std::to_string(i) + "]", ""};
    out.push_back(parse_augmenter(v[i], c));
  }
  return out;
}

// A Param or {"x": P, "y": P}; returns whether per-axis.
bool axis_params(const Fields& f, const char* key, double lo, double hi, bool integer, Param& x, Param& y,
                 double dflt) {
  const ojson& v = f.at(key);
  if (v.is_object() && !v.contains("choice")) {
    for (auto it = v.begin(); it != v.end(); ++it)
      if (it.key() != "x" && it.key() != "y")
        f.ctx.fail(key, "unknown key \"" + it.key() + "\" (expected \"x\" and/or \"y\")");
    if (v.empty()) f.ctx.fail(key, "expected \"x\" and/or \"y\"");
    const std::string kx = std::string(key) + ".x", ky = std::string(key) + ".y";
    x = v.contains("x") ? parse_param(v["x"], f.ctx, kx, lo, hi, integer) : Param::constant(dflt);
    y = v.contains("y") ? parse_param(v["y"], f.ctx, ky, lo, hi, integer) : Param::constant(dflt);
    return true;
  }
  x = y = parse_param(v, f.ctx, key, lo, hi, integer);
  return false;
}

AugmenterPtr parse_affine(const Fields& f) {
  AffineSettings s;
  if (f.has("translate_percent") && f.has("translate_px"))
    f.ctx.fail("translate_px", "give either translate_percent or translate_px, not both");
  const bool any = f.has("scale") || f.has("translate_percent") || f.has("translate_px") || f.has("rotate") ||
                   f.has("shear");
  if (!any) {  // imgaug's Affine() defaults
    s.scale_x = s.scale_y = Param::uniform(0.9, 1.1);
    s.scale_per_axis = true;
    s.translate_x = s.translate_y = Param::uniform(-0.1, 0.1);
    s.translate_per_axis = true;
    s.rotate = Param::uniform(-15, 15);
    s.shear_x = s.shear_y = Param::uniform(-10, 10);
    s.shear_mode = AffineSettings::Shear::PerAxis;
  }
  if (f.has("scale")) s.scale_per_axis = axis_params(f, "scale", 1e-4, kInf, false, s.scale_x, s.scale_y, 1.0);
  if (f.has("translate_percent")) {
    s.translate_mode = AffineSettings::Translate::Percent;
    s.translate_per_axis = axis_params(f, "translate_percent", -kInf, kInf, false, s.translate_x, s.translate_y, 0.0);
  }
  if (f.has("translate_px")) {
    s.translate_mode = AffineSettings::Translate::Pixels;
    s.translate_per_axis = axis_params(f, "translate_px", -kInf, kInf, true, s.translate_x, s.translate_y, 0.0);
  }
  if (f.has("rotate")) s.rotate = f.param("rotate", s.rotate, -kInf, kInf);
  if (f.has("shear")) {
    const bool per_axis = axis_params(f, "shear", -89.9, 89.9, false, s.shear_x, s.shear_y, 0.0);
    s.shear_mode = per_axis                 ? AffineSettings::Shear::PerAxis
                   : f.at("shear").is_number() ? AffineSettings::Shear::XOnly
                                               : AffineSettings::Shear::SameBoth;
  }
  s.order = f.param("order", Param::constant(1), 0, 1, true);
  s.cval = f.param("cval", Param::constant(0), 0, 255);
  if (f.has("mode") && !(f.at("mode").is_string() && f.at("mode").get<std::string>() == "constant"))
    f.ctx.fail("mode", "only \"constant\" is supported, got " + f.at("mode").dump());
  return std::make_unique<Affine>(std::move(s));
}

AugmenterPtr parse_crop(const Fields& f) {
  CropSettings s;
  if (f.has("percent") && f.has("px")) f.ctx.fail("px", "give either percent or px, not both");
  const bool px = f.has("px");
  s.percent = !px;
  const char* key = px ? "px" : "percent";
  const double hi = px ? kInf : 0.999999;
  if (!f.has(key)) {
    s.sides[0] = Param::uniform(0.0, 0.1);
  } else if (f.at(key).is_object() && !f.at(key).contains("choice")) {
    static const char* names[4] = {"top", "right", "bottom", "left"};
    const ojson& v = f.at(key);
    for (auto it = v.begin(); it != v.end(); ++it) {
      bool known = false;
      for (auto n : names) known |= it.key() == n;
      if (!known) f.ctx.fail(key, "unknown key \"" + it.key() + "\" (expected top, right, bottom, left)");
    }
    s.one_param = false;
    for (int i = 0; i < 4; ++i)
      s.sides[size_t(i)] = v.contains(names[i]) ? parse_param(v[names[i]], f.ctx, std::string(key) + "." + names[i], 0, hi, px)
                                                : Param::constant(0);
  } else {
    s.sides[0] = parse_param(f.at(key), f.ctx, key, 0, hi, px);
  }
  s.sample_independently = f.boolean("sample_independently", true);
  s.keep_size = f.boolean("keep_size", true);
  return std::make_unique<Crop>(std::move(s));
}

std::vector<AugmenterPtr> required_list(const Fields& f, const char* key) {
  if (!f.has(key)) f.ctx.fail(key, "missing (a list of augmenters)");
  return parse_list(f.at(key), f.ctx, key);
}

}  // namespace

AugmenterPtr parse_augmenter(const ojson& v, const ConfigContext& where) {
  ConfigContext ctx = where;
  if (!v.is_object()) ctx.fail("", std::string("expected an augmenter object {\"type\": ...}, got ") + v.type_name());
  if (!v.contains("type")) ctx.fail("type", "missing");
  if (!v["type"].is_string()) ctx.fail("type", "expected a string");
  const std::string type = v["type"].get<std::string>();
  ctx.type = type;
  if (type == "Fliplr" || type == "Flipud") {
    Fields f(v, ctx, {"p"});
    const double p = f.probability("p", 1.0);
    if (type == "Fliplr") return std::make_unique<Fliplr>(p);
    return std::make_unique<Flipud>(p);
  }
  if (type == "Affine") {
    Fields f(v, ctx, {"scale", "translate_percent", "translate_px", "rotate", "shear", "order", "cval", "mode"});
    return parse_affine(f);
  }
  if (type == "Crop") {
    Fields f(v, ctx, {"percent", "px", "sample_independently", "keep_size"});
    return parse_crop(f);
  }
  if (type == "Multiply") {
    Fields f(v, ctx, {"mul", "per_channel"});
    return std::make_unique<Multiply>(f.param("mul", Param::uniform(0.8, 1.2), 0, kInf), f.probability("per_channel", 0));
  }
  if (type == "LinearContrast" || type == "ContrastNormalization") {
    Fields f(v, ctx, {"alpha", "per_channel"});
    const Param dflt = type == "LinearContrast" ? Param::uniform(0.6, 1.4) : Param::constant(1.0);
    return std::make_unique<LinearContrast>(f.param("alpha", dflt, -kInf, kInf), f.probability("per_channel", 0), type);
  }
  if (type == "GaussianBlur") {
    Fields f(v, ctx, {"sigma"});
    return std::make_unique<GaussianBlur>(f.param("sigma", Param::uniform(0, 3), 0, 1000));
  }
  if (type == "AdditiveGaussianNoise") {
    Fields f(v, ctx, {"loc", "scale", "per_channel"});
    return std::make_unique<AdditiveGaussianNoise>(f.param("loc", Param::constant(0), -255, 255),
                                                   f.param("scale", Param::uniform(0, 15), 0, 1e4),
                                                   f.probability("per_channel", 0));
  }
  if (type == "Sometimes") {
    Fields f(v, ctx, {"p", "then", "else"});
    const double p = f.probability("p", 0.5);
    auto then_list = required_list(f, "then");
    std::vector<AugmenterPtr> else_list;
    if (f.has("else")) else_list = parse_list(f.at("else"), ctx, "else");
    return std::make_unique<Sometimes>(p, std::move(then_list), std::move(else_list));
  }
  if (type == "Sequential") {
    Fields f(v, ctx, {"children", "random_order"});
    return std::make_unique<Sequential>(required_list(f, "children"), f.boolean("random_order", false));
  }
  if (type == "SomeOf") {
    Fields f(v, ctx, {"n", "children", "random_order"});
    if (!f.has("n")) ctx.fail("n", "missing (a count, [low, high] or [low, null])");
    const ojson& n = f.at("n");
    Param np;
    bool to_all = false;
    if (n.is_array() && n.size() == 2 && n[1].is_null()) {
      np = Param::constant(parse_param(n[0], ctx, "n", 0, 1e6, true).a);
      to_all = true;
    } else {
      np = parse_param(n, ctx, "n", 0, 1e6, true);
    }
    auto children = required_list(f, "children");
    return std::make_unique<SomeOf>(np, std::move(children), f.boolean("random_order", false), to_all);
  }
  if (type == "OneOf") {
    Fields f(v, ctx, {"children"});
    return std::make_unique<OneOf>(required_list(f, "children"));
  }
  ctx.fail("type",
           "unknown augmenter \"" + type +
               "\" (known: Fliplr, Flipud, Affine, Crop, Multiply, LinearContrast, ContrastNormalization, "
               "GaussianBlur, AdditiveGaussianNoise, Sometimes, Sequential, SomeOf, OneOf)");
}

Pipeline parse_pipeline(const ojson& config, const std::string& source) {
  ConfigContext top{source, "", ""};
  const ojson* list = &config;
  bool random_order = false;
  if (config.is_object()) {
    for (auto it = config.begin(); it != config.end(); ++it) {
      const std::string& k = it.key();
      if (k != "pipeline" && k != "random_order" && (k.empty() || k[0] != '_'))
        top.fail(k, "unknown top-level field (expected \"pipeline\" and optionally \"random_order\")");
    }
    if (!config.contains("pipeline")) top.fail("pipeline", "missing (a list of augmenters)");
    list = &config["pipeline"];
    if (config.contains("random_order")) {
      if (!config["random_order"].is_boolean()) top.fail("random_order", "expected true or false");
      random_order = config["random_order"].get<bool>();
    }
  } else if (!config.is_array()) {
    top.fail("", std::string("expected {\"pipeline\": [...]} or a list of augmenters, got ") + config.type_name());
  }
  auto children = parse_list(*list, top, "pipeline");
  return Pipeline(std::make_unique<Sequential>(std::move(children), random_order), source);
}

Pipeline parse_pipeline_text(const std::string& text, const std::string& source) {
  ojson j;
  try {
    j = ojson::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw std::runtime_error(source + ": malformed JSON at byte " + std::to_string(e.byte) + ": " + e.what());
  }
  return parse_pipeline(j, source);
}

const char* study_pipeline_json() {
  return R"({
  "pipeline": [
    {"type": "Fliplr", "p": 0.5},
    {"type": "Flipud", "p": 0.5},
    {"type": "Sometimes", "p": 0.8, "then": [
      {"type": "Affine", "rotate": [-20, 20], "shear": {"x": [-8, 8]}, "scale": [0.8, 1.2], "order": 1, "cval": 0}
    ]},
    {"type": "Multiply", "mul": [0.8, 1.2], "per_channel": false},
    {"type": "LinearContrast", "alpha": [0.75, 1.25], "per_channel": false}
  ]
})";
}

Pipeline study_pipeline() { return parse_pipeline_text(study_pipeline_json(), "built-in study pipeline"); }

Pipeline load_pipeline(const std::string& path) { return parse_pipeline(read_json_file(path), path); }

}  // namespace mrc::data::aug
