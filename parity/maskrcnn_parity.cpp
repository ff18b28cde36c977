// Parity with torchvision (see maskrcnn_parity.h): builds the model the reference describes, runs the
// inference pass, one training pass (replaying torchvision's sampler choices) and the trajectories the
// reference holds, and compares every recorded tensor with ParityChecker.
#include "parity/maskrcnn_parity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include "kernels/ops.h"
#include "parity/checker.h"
#include "parity/reference.h"
#include "parity/relu_flips.h"
#include "parity/sampler_replay.h"
#include "parity/trajectory.h"

namespace mrc::parity {

namespace {

using maskrcnn::Trace;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Tensor traced(const Trace& t, const std::string& name) {
  auto it = t.find(name);
  return it == t.end() ? Tensor() : it->second;
}

// One pass's intermediates (prefix "eval." or "train.") that both implementations record.
void compare_common(ParityChecker& c, const Trace& t, const std::string& phase, const Reference& r) {
  const ParityOptions& o = c.options();
  const maskrcnn::Config& cfg = r.config;
  for (int l = 0; c.has(phase + "fpn." + std::to_string(l)); ++l) {
    const std::string n = "fpn." + std::to_string(l);
    c.dense(phase + n, traced(t, n), c.at(phase + n), o.feature_rtol);
  }
  for (int l = 0; c.has(phase + "rpn.objectness." + std::to_string(l)); ++l)
    for (const char* what : {"rpn.objectness.", "rpn.deltas."}) {
      const std::string n = what + std::to_string(l);
      c.dense(phase + n, traced(t, n), c.at(phase + n), o.feature_rtol);
    }
  for (size_t i = 0; i < r.images.size(); ++i) {
    const std::string s = std::to_string(i);
    ParityChecker::ListRule rule;
    rule.nms_threshold = cfg.RPN_NMS_THRESHOLD;
    rule.capacity = phase == "train." ? cfg.POST_NMS_ROIS_TRAINING : cfg.POST_NMS_ROIS_INFERENCE;
    rule.labels_known = false;
    c.ranked(phase + "rpn.proposals." + s,
             ParityChecker::List(traced(t, "rpn.proposals." + s), traced(t, "rpn.scores." + s), Tensor()),
             ParityChecker::List(c.at(phase + "rpn.proposals." + s), c.at(phase + "rpn.scores." + s), Tensor()), Tensor(),
             Tensor(), rule);
  }
}

// The box head's outputs row by row: torchvision's row k (its k-th ROI over the batch: a proposal in the
// inference pass, a sampled ROI in training) against ours of the same box. Rows of proposals only one side
// kept cannot be compared; they are counted in "<phase>roi.unmatched_rows", which holds only when every
// check of the ROIs themselves (<phase><rois>.*, which explain each one-sided proposal) holds.
void compare_box_head(ParityChecker& c, const Trace& t, const Reference& r, const std::string& phase,
                      const std::string& rois) {
  std::vector<Tensor> ours_p, ref_p;
  for (size_t i = 0; i < r.images.size(); ++i) {
    ours_p.push_back(t.at(rois + "." + std::to_string(i)));
    ref_p.push_back(c.at(phase + rois + "." + std::to_string(i)));
  }
  const Tensor rp = cat(ref_p, 0), op = cat(ours_p, 0);
  const Tensor all = Tensor::ones({rp.size(0)}, DType::UInt8);
  const auto m = c.map_boxes(rp, op, all, all, c.options().box_rtol);
  std::vector<int64_t> ref_rows, our_rows;
  for (size_t k = 0; k < m.size(); ++k)
    if (m[k] >= 0) ref_rows.push_back(int64_t(k)), our_rows.push_back(m[k]);
  const int64_t n = int64_t(ref_rows.size());
  const Tensor ri = Tensor::from_vector(ref_rows, {n}), oi = Tensor::from_vector(our_rows, {n});
  for (const char* what : {"roi.class_logits", "roi.box_regression"}) {
    const std::string name = phase + what;
    const Tensor ours = traced(t, what), ref = c.at(name);
    if (!ours.defined() || ours.size(0) != op.size(0) || ref.size(0) != rp.size(0)) {
      c.add(name, false, "rows: " + std::to_string(ours.defined() ? ours.size(0) : 0) + " here for " +
                             std::to_string(op.size(0)) + " ROIs, torchvision " + std::to_string(ref.size(0)) +
                             " for " + std::to_string(rp.size(0)));
      continue;
    }
    c.dense(name, index_select(ours, 0, oi), index_select(ref, 0, ri), c.options().head_rtol);
  }
  bool rois_hold = true;
  for (const auto& k : c.checks)
    if (k.name.rfind(phase + rois + ".", 0) == 0) rois_hold = rois_hold && k.pass;
  const int64_t unmatched_ref = rp.size(0) - n, unmatched_ours = op.size(0) - n;
  c.add(phase + "roi.unmatched_rows", (unmatched_ref == 0 && unmatched_ours == 0) || rois_hold,
        std::to_string(n) + " box-head rows compared; " + std::to_string(unmatched_ref) + " of torchvision's and " +
            std::to_string(unmatched_ours) + " of ours belong to ROIs only one side has" +
            (rois_hold ? " (each explained in " : " (not all explained: see ") + phase + rois + ".*)",
        unmatched_ref == 0 && unmatched_ours == 0);
}

void run_eval(ParityChecker& c, maskrcnn::MaskRCNN& model, const Reference& r, std::ostream* log, TensorMap* dump) {
  const maskrcnn::Config& cfg = r.config;
  Trace t;
  model.eval();
  model.trace = &t;
  const auto t0 = std::chrono::steady_clock::now();
  const auto dets = model.detect(r.images);
  model.trace = nullptr;
  if (log) *log << "inference pass: " << std::fixed << std::setprecision(2) << seconds_since(t0) << " s" << std::endl;
  if (dump)
    for (const auto& [k, v] : t) (*dump)["eval." + k] = v;
  compare_common(c, t, "eval.", r);
  compare_box_head(c, t, r, "eval.", "rpn.proposals");
  for (size_t i = 0; i < r.images.size(); ++i) {
    const std::string s = std::to_string(i);
    const maskrcnn::Detections& d = dets[i];
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

// Torchvision's sampled ROI k is our row box_rows[k]; its positive ROI k our positive row mask_rows[k].
RoiRows roi_rows(ParityChecker& c, const Trace& t, size_t images) {
  RoiRows rows;
  int64_t offset = 0, our_positives = 0;
  for (size_t i = 0; i < images; ++i) {
    const std::string s = std::to_string(i);
    const Tensor ours_p = t.at("roi.proposals." + s), ref_p = c.at("train.roi.proposals." + s);
    const Tensor all = Tensor::ones({ref_p.size(0)}, DType::UInt8);
    const auto m = c.map_boxes(ref_p, ours_p, all, all, c.options().box_rtol);
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
  return rows;
}

void compare_gradients(ParityChecker& c, maskrcnn::MaskRCNN& model, const std::vector<ReluFlip>& flips) {
  const ParityOptions& o = c.options();
  int64_t compared = 0, frozen = 0, n_bad = 0;
  double worst = 0;
  std::string worst_name;
  std::vector<std::string> relaxed;
  for (const auto& [name, p] : model.named_parameters()) {
    const std::string key = "grad." + name;
    const bool ref_has = c.has(key);
    if (!p.requires_grad() && !ref_has) {
      ++frozen;
      continue;
    }
    if (p.requires_grad() != ref_has) {
      ++n_bad;
      c.add(key, false, p.requires_grad() ? "trainable here, frozen in torchvision (no gradient there)"
                                          : "frozen here, trainable in torchvision");
      continue;
    }
    ++compared;
    const Tensor g = p.grad();
    const std::vector<double> a = g.defined() ? g.to_vector<double>() : std::vector<double>(size_t(p.numel()), 0.0);
    const std::vector<double> b = c.at(key).to_vector<double>();
    if (a.size() != b.size()) {
      ++n_bad;
      c.add(key, false, "size " + std::to_string(a.size()) + " vs reference " + std::to_string(b.size()));
      continue;
    }
    double diff2 = 0, ref2 = 0;
    for (size_t k = 0; k < a.size(); ++k) {
      diff2 += (a[k] - b[k]) * (a[k] - b[k]);
      ref2 += b[k] * b[k];
    }
    const double rel = ref2 > 0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2);
    bool pass = ref2 > 0 ? rel <= o.grad_rtol : diff2 == 0;
    std::string why;
    // beyond the tolerance, a gradient may only be moved by ReLU inputs that rounding put on the other
    // side of zero ("kinks") downstream of its parameter, and by less than kink_grad_rtol
    if (!pass && rel <= o.kink_grad_rtol)
      for (const auto& f : flips)
        if (f.count && f.kink && upstream_of(model, name, f.where)) {
          pass = true;
          why = "; relaxed to " + parity_fmt(o.kink_grad_rtol) + ": upstream of the ReLU flip at " + f.where;
          relaxed.push_back(name);
          break;
        }
    n_bad += !pass;
    if (rel > worst) worst = rel, worst_name = name;
    c.add(key, pass, "norm rel " + parity_fmt(rel) + ", |ref| " + parity_fmt(std::sqrt(ref2)) + why, pass && why.empty());
  }
  std::ostringstream d;
  d << compared - n_bad << "/" << compared << " parameter gradients hold (" << frozen
    << " frozen on both sides): within " << parity_fmt(o.grad_rtol) << " (norm)";
  if (!relaxed.empty()) {
    d << " or, for " << relaxed.size() << " upstream of a ReLU flipped by rounding, within " << parity_fmt(o.kink_grad_rtol)
      << ": ";
    for (size_t k = 0; k < relaxed.size(); ++k) d << (k ? ", " : "") << relaxed[k];
  }
  d << "; worst " << parity_fmt(worst) << " at " << worst_name;
  c.add("train.gradients", n_bad == 0 && compared > 0, d.str());
}

void run_train(ParityChecker& c, maskrcnn::MaskRCNN& model, const Reference& r, std::ostream* log, TensorMap* dump) {
  const ParityOptions& o = c.options();
  Trace t;
  model.train();
  model.trace = &t;
  model.sampler_hook = replay_sampler(c, "train.", r.targets, o.box_rtol);
  const auto t0 = std::chrono::steady_clock::now();
  maskrcnn::Losses losses = model.forward_train(r.images, r.targets);
  model.zero_grad();
  losses.total.backward();
  if (log) *log << "training pass (forward + backward): " << std::fixed << std::setprecision(2) << seconds_since(t0) << " s" << std::endl;
  model.sampler_hook = nullptr;
  model.trace = nullptr;
  if (dump) {
    for (const auto& [k, v] : t) (*dump)["train." + k] = v;
    for (const auto& [name, p] : model.named_parameters())
      if (p.grad().defined()) (*dump)["grad." + name] = p.grad();
  }
  compare_common(c, t, "train.", r);
  for (size_t i = 0; i < r.images.size(); ++i) {
    const std::string s = std::to_string(i);
    c.same_rows("train.roi.proposals." + s, t.at("roi.proposals." + s), t.at("roi.labels." + s),
                c.at("train.roi.proposals." + s), c.at("train.roi.labels." + s));
  }
  compare_box_head(c, t, r, "train.", "roi.proposals");
  for (const auto& name : maskrcnn::kLossNames) {
    const double ours = losses.by_name.at(name).item_double(), want = c.at("train.loss." + name).item_double();
    const double rel = std::abs(ours - want) / std::max(std::abs(want), 1e-30);
    std::ostringstream d;
    d << std::setprecision(8) << ours << " vs " << want << ", rel " << parity_fmt(rel);
    c.add("train.loss." + name, rel <= o.loss_rtol, d.str());
  }
  // every ReLU site torchvision recorded: where ours has the other sign at its near-zero inputs
  const std::vector<ReluFlip> flips = find_relu_flips(model, t, c, roi_rows(c, t, r.images.size()), o.kink_rtol);
  for (const auto& f : flips) {
    std::ostringstream d;
    if (!f.recorded) {
      c.add("train.relu." + f.where, false, "our model records no input of this ReLU");
      continue;
    }
    d << f.count << " of " << f.compared << " near-zero ReLU input(s) with the other sign here";
    if (f.count)
      d << "; largest: " << f.ref << " (torchvision) vs " << f.ours << " (ours), relative to the tensor's magnitude"
        << (f.kink ? " (float rounding at zero)" : " (beyond rounding)");
    if (f.unmatched) d << "; " << f.unmatched << " in ROI rows without a counterpart here";
    c.add("train.relu." + f.where, f.kink, d.str(), f.count == 0 && f.unmatched == 0);
  }
  compare_gradients(c, model, flips);
}

}  // namespace

std::vector<ParityCheck> run_parity(const std::string& ref_path, const ParityOptions& o, std::ostream* log) {
  const Reference r = load_reference(ref_path);
  ParityChecker c(r.tensors, o, log);
  const maskrcnn::Config& cfg = r.config;
  if (log) {
    *log << "parity: torchvision maskrcnn_resnet50_fpn (float64) against ours (float32), " << cfg.NUM_CLASSES
         << " classes, size " << cfg.IMAGE_MIN_DIM << ".." << cfg.IMAGE_MAX_DIM << ", " << r.images.size()
         << " image(s), backbone norm " << cfg.BACKBONE_NORM << ", " << cfg.TRAINABLE_LAYERS << " trainable stages, loss weights";
    for (const auto& name : maskrcnn::kLossNames) *log << " " << cfg.loss_weight(name);
    *log << std::endl;
  }
  TensorMap dump;
  TensorMap* keep = o.dump_path.empty() ? nullptr : &dump;
  std::vector<std::string> ran;
  if (o.eval && c.has("eval.fpn.0")) {
    auto model = reference_model(r);
    run_eval(c, *model, r, log, keep);
    ran.push_back("eval.");
  }
  if (o.train && c.has("train.loss.rpn_class_loss")) {
    auto model = reference_model(r);
    run_train(c, *model, r, log, keep);
    ran.insert(ran.end(), {"train.", "grad."});
  }
  if (o.trajectory)
    for (const std::string& optimizer : o.optimizers)
      if (c.has(optimizer + ".0.loss.rpn_class_loss")) {
        check_trajectory(c, r, optimizer, log, keep);
        ran.push_back(optimizer + ".");
      }
  if (ran.empty()) throw std::runtime_error(ref_path + ": the reference holds none of the parts selected");
  c.coverage(ran);
  if (keep) save_tensors(o.dump_path, dump);
  return c.checks;
}

}  // namespace mrc::parity
