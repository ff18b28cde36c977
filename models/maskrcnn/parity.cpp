// Parity with torchvision (see parity.h): builds the model the reference describes, runs both passes
// (replaying torchvision's sampler choices) and compares every recorded tensor with ParityChecker.
#include "models/maskrcnn/parity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include "kernels/ops.h"
#include "models/maskrcnn/maskrcnn.h"
#include "models/maskrcnn/parity_checker.h"
#include "models/maskrcnn/parity_kinks.h"

namespace mrc::maskrcnn {

namespace {

int64_t meta_int(const StringMap& m, const std::string& key, const std::string& where) {
  auto it = m.find(key);
  if (it == m.end()) throw std::runtime_error(where + ": metadata has no \"" + key + "\"");
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    throw std::runtime_error(where + ": metadata \"" + key + "\" is not an integer: " + it->second);
  }
}

// Compares one pass's intermediates (prefix "eval." or "train.") that both implementations record.
void compare_common(ParityChecker& c, const Trace& t, const std::string& phase, int64_t images, const ParityOptions& o,
                    const Config& cfg) {
  auto ours = [&](const std::string& n) {
    auto it = t.find(n);
    return it == t.end() ? Tensor() : it->second;
  };
  for (int l = 0; c.has(phase + "fpn." + std::to_string(l)); ++l)
    c.dense(phase + "fpn." + std::to_string(l), ours("fpn." + std::to_string(l)), c.at(phase + "fpn." + std::to_string(l)),
            o.feature_rtol);
  for (int l = 0; c.has(phase + "rpn.objectness." + std::to_string(l)); ++l)
    for (const char* what : {"rpn.objectness.", "rpn.deltas."}) {
      const std::string n = what + std::to_string(l);
      c.dense(phase + n, ours(n), c.at(phase + n), o.feature_rtol);
    }
  for (int64_t i = 0; i < images; ++i) {
    const std::string s = std::to_string(i);
    ParityChecker::ListRule rule;
    rule.nms_threshold = cfg.RPN_NMS_THRESHOLD;
    rule.capacity = phase == "train." ? cfg.POST_NMS_ROIS_TRAINING : cfg.POST_NMS_ROIS_INFERENCE;
    rule.labels_known = false;
    c.ranked(phase + "rpn.proposals." + s, ParityChecker::List(ours("rpn.proposals." + s), ours("rpn.scores." + s), Tensor()),
             ParityChecker::List(c.at(phase + "rpn.proposals." + s), c.at(phase + "rpn.scores." + s), Tensor()), Tensor(),
             Tensor(), rule);
  }
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Config parity_config(const StringMap& meta, const std::string& where) {
  Config c;
  c.NUM_CLASSES = meta_int(meta, "num_classes", where);
  c.IMAGE_MIN_DIM = c.IMAGE_MAX_DIM = meta_int(meta, "size", where);
  auto it = meta.find("norm");
  const std::string norm = it == meta.end() ? "bn" : it->second;
  if (norm != "bn" && norm != "frozen") throw std::runtime_error(where + ": metadata \"norm\" must be bn or frozen, got " + norm);
  c.BACKBONE_NORM = norm == "bn" ? "bn" : "frozen_bn";
  c.TRAINABLE_LAYERS = 5;
  c.validate(where);
  return c;
}

std::vector<ParityCheck> run_parity(const std::string& ref_path, const ParityOptions& o, std::ostream* log) {
  StringMap meta;
  const TensorMap ref = load_tensors(ref_path, &meta);
  const Config cfg = parity_config(meta, ref_path);
  const int64_t n_img = meta_int(meta, "images", ref_path);
  ParityChecker c(ref, o, log);
  MaskRCNN model(cfg);
  TensorMap state;
  for (const auto& [k, v] : ref)
    if (k.rfind("state.", 0) == 0) state[k.substr(6)] = v;
  try {
    model.load_state_dict(state, true);
  } catch (const std::exception& e) {
    throw std::runtime_error(ref_path + ": " + e.what());
  }
  std::vector<Tensor> images;
  std::vector<Target> targets;
  for (int64_t i = 0; i < n_img; ++i) {
    const std::string s = std::to_string(i);
    images.push_back(c.at("input." + s));
    targets.push_back({c.at("target.boxes." + s), c.at("target.labels." + s), c.at("target.masks." + s)});
  }
  if (log)
    *log << "parity: torchvision maskrcnn_resnet50_fpn, " << cfg.NUM_CLASSES << " classes, size " << cfg.IMAGE_MIN_DIM
         << ", " << n_img << " image(s), backbone norm " << cfg.BACKBONE_NORM << std::endl;

  TensorMap dump;
  auto keep = [&](const Trace& t, const std::string& prefix) {
    if (!o.dump_path.empty())
      for (const auto& [k, v] : t) dump[prefix + k] = v;
  };
  if (o.eval) {
    Trace t;
    model.eval();
    model.trace = &t;
    const auto t0 = std::chrono::steady_clock::now();
    const auto dets = model.detect(images);
    if (log) *log << "inference pass: " << std::fixed << std::setprecision(2) << seconds_since(t0) << " s" << std::endl;
    keep(t, "eval.");
    compare_common(c, t, "eval.", n_img, o, cfg);
    {  // the box head's outputs, row by row: proposals tied in score may come in either order
      std::vector<Tensor> ours_p, ref_p;
      for (int64_t i = 0; i < n_img; ++i) {
        ours_p.push_back(t.at("rpn.proposals." + std::to_string(i)));
        ref_p.push_back(c.at("eval.rpn.proposals." + std::to_string(i)));
      }
      const Tensor rp = cat(ref_p, 0), op = cat(ours_p, 0);
      const Tensor all = Tensor::ones({rp.size(0)}, DType::UInt8);
      const auto m = c.map_boxes(rp, op, all, all);
      if (std::find(m.begin(), m.end(), int64_t(-1)) == m.end() && op.size(0) == rp.size(0)) {
        const Tensor order = Tensor::from_vector(m, {int64_t(m.size())});
        for (const char* what : {"roi.class_logits", "roi.box_regression"})
          c.dense(std::string("eval.") + what, index_select(t.at(what), 0, order), c.at(std::string("eval.") + what),
                  o.head_rtol);
      }
    }
    for (int64_t i = 0; i < n_img; ++i) {
      const std::string s = std::to_string(i);
      const Detections& d = dets[size_t(i)];
      ParityChecker::ListRule rule;
      rule.nms_threshold = cfg.DETECTION_NMS_THRESHOLD;
      rule.capacity = cfg.DETECTION_MAX_INSTANCES;
      rule.score_threshold = cfg.DETECTION_MIN_CONFIDENCE;
      rule.mask_size = cfg.MASK_SHAPE[0];
      c.ranked("eval.det." + s, ParityChecker::List(d.boxes, d.scores, d.labels),
               ParityChecker::List(c.at("eval.det.boxes." + s), c.at("eval.det.scores." + s), c.at("eval.det.labels." + s)),
               d.masks, c.at("eval.det.masks." + s), rule);
    }
  }

  if (o.train) {
    Trace t;
    model.train();
    model.trace = &t;
    // Replays torchvision's picks. The RPN's candidates (anchors) come in one fixed order; the ROI heads'
    // (proposals, then GT boxes) are mapped box by box, since tied proposals may come in either order.
    model.sampler_hook = [&](SamplerStage stage, int64_t image, const Tensor& labels, const Tensor& candidates) {
      const std::string base = std::string("train.") + (stage == SamplerStage::Rpn ? "rpn" : "roi");
      const std::string s = std::to_string(image);
      const Tensor ref_pos = c.at(base + ".sampled_pos." + s), ref_neg = c.at(base + ".sampled_neg." + s);
      const int64_t n = labels.numel();
      std::vector<int64_t> to_ours(size_t(ref_pos.numel()), -1);
      if (stage == SamplerStage::Rpn) {
        if (ref_pos.numel() != n)
          throw std::runtime_error(base + " sampler of image " + s + ": torchvision chose among " +
                                   std::to_string(ref_pos.numel()) + " anchors, ours has " + std::to_string(n));
        for (int64_t k = 0; k < n; ++k) to_ours[size_t(k)] = k;
      } else {
        const Tensor props = c.at("train.rpn.proposals." + s);
        const int64_t n_gt = targets[size_t(image)].boxes.size(0);
        const Tensor ref_cand = cat({props, candidates.narrow(0, n - n_gt, n_gt)}, 0);
        if (ref_cand.size(0) != ref_pos.numel())
          throw std::runtime_error(base + " sampler of image " + s + ": the reference masks do not cover its candidates");
        to_ours = c.map_boxes(ref_cand, candidates, ref_pos, ref_neg);
      }
      const auto lab = labels.to(DType::Int64).to_vector<int64_t>();
      const auto rp = ref_pos.to_vector<uint8_t>(), rn = ref_neg.to_vector<uint8_t>();
      std::vector<uint8_t> pos(size_t(n), 0), neg(size_t(n), 0);
      int64_t unmapped = 0, relabelled = 0;
      for (size_t k = 0; k < rp.size(); ++k) {
        if (!rp[k] && !rn[k]) continue;
        const int64_t q = to_ours[k];
        if (q < 0) {
          ++unmapped;
          continue;
        }
        pos[size_t(q)] = rp[k];
        neg[size_t(q)] = rn[k];
        relabelled += (rp[k] && lab[size_t(q)] < 1) + (rn[k] && lab[size_t(q)] != 0);
      }
      c.add(base + ".sampled." + s, unmapped == 0 && relabelled == 0,
            "torchvision's picks replayed: " + std::to_string(unmapped) + " without a counterpart here, " +
                std::to_string(relabelled) + " labelled otherwise here");
      return SampledMasks{Tensor::from_vector(pos, {n}), Tensor::from_vector(neg, {n})};
    };
    const auto t0 = std::chrono::steady_clock::now();
    Losses losses = model.forward_train(images, targets);
    model.zero_grad();
    losses.total.backward();
    if (log) *log << "training pass (forward + backward): " << std::fixed << std::setprecision(2) << seconds_since(t0) << " s" << std::endl;
    model.sampler_hook = nullptr;
    keep(t, "train.");
    if (!o.dump_path.empty())
      for (const auto& [name, p] : model.named_parameters())
        if (p.grad().defined()) dump["grad." + name] = p.grad();
    compare_common(c, t, "train.", n_img, o, cfg);
    for (int64_t i = 0; i < n_img; ++i) {
      const std::string s = std::to_string(i);
      c.same_rows("train.roi.proposals." + s, t.at("roi.proposals." + s), t.at("roi.labels." + s),
                  c.at("train.roi.proposals." + s), c.at("train.roi.labels." + s));
    }
    for (const auto& name : kLossNames) {
      const double ours = losses.by_name.at(name).item_double(), want = c.at("train.loss." + name).item_double();
      const double rel = std::abs(ours - want) / std::max(std::abs(want), 1e-30);
      std::ostringstream d;
      d << std::setprecision(8) << ours << " vs " << want << ", rel " << parity_fmt(rel);
      c.add("train.loss." + name, rel <= o.loss_rtol, d.str());
    }
    // gradients: per parameter ||ours - ref|| / ||ref||
    struct Grad {
      std::string name;
      double rel = 0, norm = 0;
      bool pass = false;
    };
    std::vector<Grad> grads;
    for (const auto& [name, p] : model.named_parameters()) {
      const std::string key = "grad." + name;
      const Tensor g = p.grad();
      const std::vector<double> a = g.defined() ? g.to_vector<double>() : std::vector<double>(size_t(p.numel()), 0.0);
      const std::vector<double> b = c.has(key) ? c.at(key).to_vector<double>() : std::vector<double>(a.size(), 0.0);
      if (a.size() != b.size()) {
        c.add(key, false, "size " + std::to_string(a.size()) + " vs reference " + std::to_string(b.size()));
        continue;
      }
      double diff2 = 0, ref2 = 0;
      for (size_t k = 0; k < a.size(); ++k) {
        diff2 += (a[k] - b[k]) * (a[k] - b[k]);
        ref2 += b[k] * b[k];
      }
      const double rel = ref2 > 0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2);
      grads.push_back({name, rel, std::sqrt(ref2), ref2 > 0 ? rel <= o.grad_rtol : diff2 == 0});
    }
    // beyond the tolerance, a gradient may only be moved by ReLU inputs that rounding put on the other side
    // of zero ("kinks") downstream of its parameter, and by less than kink_grad_rtol
    std::vector<ReluFlip> flips;
    if (std::any_of(grads.begin(), grads.end(), [](const Grad& g) { return !g.pass; })) {
      // the heads' ROI rows: torchvision's sampled ROI k is our row box_rows[k] (boxes tied in score may swap)
      RoiRows rows;
      int64_t offset = 0, our_positives = 0;
      for (int64_t i = 0; i < n_img; ++i) {
        const std::string s = std::to_string(i);
        const Tensor ours_p = t.at("roi.proposals." + s), ref_p = c.at("train.roi.proposals." + s);
        const Tensor all = Tensor::ones({ref_p.size(0)}, DType::UInt8);
        const auto m = c.map_boxes(ref_p, ours_p, all, all);
        const auto ours_l = t.at("roi.labels." + s).to_vector<int64_t>();
        const auto ref_l = c.at("train.roi.labels." + s).to_vector<int64_t>();
        std::vector<int64_t> positive_number(ours_l.size(), -1);  // our positive row of each sampled row
        for (size_t k = 0; k < ours_l.size(); ++k)
          if (ours_l[k] > 0) positive_number[k] = our_positives++;
        for (size_t k = 0; k < m.size(); ++k) {
          rows.box_rows.push_back(m[k] < 0 ? -1 : offset + m[k]);
          if (ref_l[k] > 0) rows.mask_rows.push_back(m[k] < 0 ? -1 : positive_number[size_t(m[k])]);
        }
        offset += ours_p.size(0);
      }
      flips = find_relu_flips(model, t, ref, rows, o.kink_rtol);
      for (const auto& f : flips) {
        std::ostringstream d;
        d << f.count << " ReLU input(s) with the other sign here; largest: " << f.ref << " (torchvision) vs " << f.ours
          << " (ours), relative to the tensor's magnitude";
        c.add("train.relu_flip." + f.where, f.kink, d.str() + (f.kink ? " (float rounding at zero)" : " (beyond rounding)"));
      }
    }
    int64_t n_bad = 0, n_explained = 0;
    double worst = 0;
    std::string worst_name;
    for (const Grad& g : grads) {
      std::string why;
      bool pass = g.pass;
      if (!pass && g.rel <= o.kink_grad_rtol)
        for (const auto& f : flips)
          if (f.kink && upstream_of(model, g.name, f.where)) {
            pass = true;
            why = "; beyond " + parity_fmt(o.grad_rtol) + " through the ReLU flip at " + f.where;
            ++n_explained;
            break;
          }
      n_bad += !pass;
      if (g.rel > worst) worst = g.rel, worst_name = g.name;
      c.add("grad." + g.name, pass, "norm rel " + parity_fmt(g.rel) + ", |ref| " + parity_fmt(g.norm) + why,
            !o.verbose && pass);
    }
    std::string detail = std::to_string(int64_t(grads.size()) - n_bad) + "/" + std::to_string(grads.size()) +
                         " parameter gradients hold: within " + parity_fmt(o.grad_rtol) + " (norm)";
    if (n_explained)
      detail += " or, for " + std::to_string(n_explained) + " upstream of a ReLU flipped by rounding, within " +
                parity_fmt(o.kink_grad_rtol);
    c.add("train.gradients", n_bad == 0, detail + "; worst " + parity_fmt(worst) + " at " + worst_name);
  }
  if (!o.dump_path.empty()) save_tensors(o.dump_path, dump);
  return c.checks;
}

}  // namespace mrc::maskrcnn
