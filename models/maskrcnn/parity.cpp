// Parity with torchvision (see parity.h): dense comparisons for feature maps and head outputs, ordered
// list comparisons (ties may swap) for proposals and detections, mask IoU, losses and gradient norms.
#include "models/maskrcnn/parity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include "kernels/detection_math.h"
#include "kernels/ops.h"
#include "models/maskrcnn/maskrcnn.h"

namespace mrc::maskrcnn {

namespace {

std::string fmt(double v) {
  std::ostringstream os;
  os << std::setprecision(3) << std::scientific << v;
  return os.str();
}

class Checker {
 public:
  Checker(const TensorMap& ref, const ParityOptions& o, std::ostream* log) : ref_(ref), o_(o), log_(log) {}

  bool has(const std::string& name) const { return ref_.count(name) != 0; }
  const Tensor& at(const std::string& name) const {
    auto it = ref_.find(name);
    if (it == ref_.end()) throw std::runtime_error("reference has no tensor \"" + name + "\"");
    return it->second;
  }

  void add(const std::string& name, bool pass, const std::string& detail, bool quiet = false) {
    checks.push_back({name, pass, detail});
    if (log_ && (!quiet || !pass)) *log_ << (pass ? "PASS " : "FAIL ") << name << "  " << detail << std::endl;
  }

  // max|a - b| <= rtol * max|b| (float32 sums carry the rounding of their largest terms).
  void dense(const std::string& name, const Tensor& ours, const Tensor& want, double rtol) {
    if (!ours.defined()) return add(name, false, "not produced by our model");
    if (ours.shape() != want.shape())
      return add(name, false, "shape " + shape_str(ours.shape()) + " vs reference " + shape_str(want.shape()));
    const auto a = ours.to_vector<double>(), b = want.to_vector<double>();
    double scale = 0, worst = 0, diff2 = 0, ref2 = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      scale = std::max(scale, std::abs(b[i]));
      worst = std::max(worst, std::abs(a[i] - b[i]));
      diff2 += (a[i] - b[i]) * (a[i] - b[i]);
      ref2 += b[i] * b[i];
    }
    const double rel = scale > 0 ? worst / scale : worst;
    add(name, rel <= rtol, "max rel " + fmt(rel) + " (norm rel " + fmt(ref2 > 0 ? std::sqrt(diff2 / ref2) : 0) +
                               ", " + std::to_string(a.size()) + " values, tolerance " + fmt(rtol) + ")");
  }

  // Ranked lists (proposals, detections): each reference entry is matched by one of ours with the same
  // label, box and score (within tolerance). Matched entries must come in the same order, except where the
  // two scores are tied within `tie` plus their measured score differences. An entry only one side has must
  // be explained by a decision at its threshold: NMS against a kept box whose IoU with it is within
  // `decision_margin` of the threshold (or against a box that itself exists on one side only), a score at
  // the score threshold, or the cut at `capacity` entries.
  struct ListRule {
    double nms_threshold = 0.5;
    int64_t capacity = 0;
    double score_threshold = -1;  // < 0: none
    bool labels_known = true;     // RPN proposals carry no level in torchvision's output
    int64_t mask_size = 28;       // M of the M x M masks pasted onto the boxes
  };
  struct List {
    std::vector<double> b, s;
    std::vector<int64_t> l;
    int64_t n = 0;
    List(const Tensor& boxes, const Tensor& scores, const Tensor& labels) {
      n = boxes.defined() ? boxes.size(0) : 0;
      if (n) b = boxes.to_vector<double>(), s = scores.to_vector<double>();
      l = labels.defined() && n ? labels.to_vector<int64_t>() : std::vector<int64_t>(size_t(n), 0);
    }
    static double iou(const double* a, const double* c) {
      const double w = std::max(0.0, std::min(a[2], c[2]) - std::max(a[0], c[0]));
      const double h = std::max(0.0, std::min(a[3], c[3]) - std::max(a[1], c[1]));
      const double i = w * h;
      return i / ((a[2] - a[0]) * (a[3] - a[1]) + (c[2] - c[0]) * (c[3] - c[1]) - i);
    }
    const double* box(int64_t i) const { return b.data() + 4 * i; }
  };

  void ranked(const std::string& name, const List& ours, const List& ref, const Tensor& om, const Tensor& rm,
              const ListRule& rule) {
    if (ours.n && int64_t(ours.s.size()) != ours.n) return add(name, false, "scores do not match the boxes");
    double box_scale = 1;
    for (double v : ref.b) box_scale = std::max(box_scale, std::abs(v));
    const double box_tol = o_.box_rtol * box_scale;
    auto same = [&](int64_t p, int64_t q) {
      if (ours.l[size_t(q)] != ref.l[size_t(p)] || std::abs(ours.s[size_t(q)] - ref.s[size_t(p)]) > o_.score_atol) return false;
      for (int c = 0; c < 4; ++c)
        if (std::abs(ours.b[size_t(4 * q + c)] - ref.b[size_t(4 * p + c)]) > box_tol) return false;
      return true;
    };
    std::vector<int64_t> of_ref(size_t(ref.n), -1), of_ours(size_t(ours.n), -1);
    double worst_box = 0, worst_score = 0;
    for (int64_t p = 0; p < ref.n; ++p) {
      int64_t best = -1;
      for (int64_t q = 0; q < ours.n; ++q)
        if (of_ours[size_t(q)] < 0 && same(p, q) && (best < 0 || std::abs(q - p) < std::abs(best - p))) best = q;
      if (best < 0) continue;
      of_ref[size_t(p)] = best;
      of_ours[size_t(best)] = p;
      worst_score = std::max(worst_score, std::abs(ours.s[size_t(best)] - ref.s[size_t(p)]));
      for (int c = 0; c < 4; ++c)
        worst_box = std::max(worst_box, std::abs(ours.b[size_t(4 * best + c)] - ref.b[size_t(4 * p + c)]));
    }
    // order of the matched entries
    int64_t reordered = 0, misordered = 0;
    std::string first_misorder;
    for (int64_t p1 = 0; p1 < ref.n; ++p1) {
      const int64_t q1 = of_ref[size_t(p1)];
      if (q1 < 0) continue;
      for (int64_t p2 = p1 + 1; p2 < ref.n; ++p2) {
        const int64_t q2 = of_ref[size_t(p2)];
        if (q2 < 0 || q2 > q1) continue;
        const double slack = o_.tie + std::abs(ours.s[size_t(q1)] - ref.s[size_t(p1)]) +
                             std::abs(ours.s[size_t(q2)] - ref.s[size_t(p2)]);
        if (std::abs(ref.s[size_t(p1)] - ref.s[size_t(p2)]) <= slack) {
          ++reordered;
        } else if (misordered++ == 0) {
          first_misorder = "reference entries " + std::to_string(p1) + " and " + std::to_string(p2) + " (scores " +
                           std::to_string(ref.s[size_t(p1)]) + ", " + std::to_string(ref.s[size_t(p2)]) +
                           ") come in the other order";
        }
      }
    }
    // entries one side lacks
    int64_t at_nms = 0, cascaded = 0, at_cut = 0, at_score = 0, unexplained = 0;
    double closest_iou = -1;
    std::string first_unexplained;
    auto explain = [&](const List& have, int64_t e, const std::vector<int64_t>& have_match, const List& other,
                       const std::vector<int64_t>& other_match, const char* side) {
      const double se = have.s[size_t(e)];
      if (rule.score_threshold >= 0 && std::abs(se - rule.score_threshold) <= o_.score_atol) return ++at_score, void();
      if (rule.capacity && other.n >= rule.capacity && se <= other.s[size_t(other.n - 1)] + o_.score_atol)
        return ++at_cut, void();
      for (int64_t g = 0; g < other.n; ++g) {
        if (rule.labels_known && other.l[size_t(g)] != have.l[size_t(e)]) continue;
        if (other.s[size_t(g)] < se - o_.score_atol) continue;
        const double v = List::iou(have.box(e), other.box(g));
        if (v <= rule.nms_threshold - o_.decision_margin) continue;
        const int64_t g_here = other_match[size_t(g)];
        if (g_here < 0) return ++cascaded, void();  // suppressed by a box only the other side kept
        const double here = List::iou(have.box(e), have.box(g_here));
        if (std::abs(here - rule.nms_threshold) <= o_.decision_margin) {
          closest_iou = here;
          return ++at_nms, void();
        }
      }
      if (unexplained++ == 0)
        first_unexplained = std::string(side) + " entry " + std::to_string(e) + " (score " + std::to_string(se) +
                            ", label " + std::to_string(have.l[size_t(e)]) + ", box " + std::to_string(have.b[size_t(4 * e)]) +
                            "," + std::to_string(have.b[size_t(4 * e + 1)]) + "," + std::to_string(have.b[size_t(4 * e + 2)]) +
                            "," + std::to_string(have.b[size_t(4 * e + 3)]) + ") has no counterpart";
    };
    int64_t only_ref = 0, only_ours = 0;
    for (int64_t p = 0; p < ref.n; ++p)
      if (of_ref[size_t(p)] < 0) ++only_ref, explain(ref, p, of_ref, ours, of_ours, "reference");
    for (int64_t q = 0; q < ours.n; ++q)
      if (of_ours[size_t(q)] < 0) ++only_ours, explain(ours, q, of_ours, ref, of_ref, "our");
    std::ostringstream d;
    d << ref.n << " reference / " << ours.n << " our entries, " << (ref.n - only_ref) << " equal";
    if (reordered) d << " (" << reordered << " tied pairs swapped)";
    d << ", max box diff " << fmt(worst_box) << ", max score diff " << fmt(worst_score);
    if (only_ref + only_ours)
      d << "; one-sided: " << only_ref << " reference + " << only_ours << " ours, explained by NMS at IoU within "
        << o_.decision_margin << " of " << rule.nms_threshold << ": " << at_nms
        << (closest_iou >= 0 ? " (e.g. IoU " + std::to_string(closest_iou) + ")" : std::string()) << ", by their cascade: "
        << cascaded << ", by the top-" << rule.capacity << " cut: " << at_cut << ", at the score threshold: " << at_score;
    if (misordered) d << "; " << misordered << " misordered pairs, first: " << first_misorder;
    if (unexplained) d << "; " << unexplained << " unexplained, first: " << first_unexplained;
    add(name, misordered == 0 && unexplained == 0, d.str());
    if (!rm.defined()) return;
    // masks of the matched entries: IoU of the binarized pasted masks
    if ((ours.n && om.numel() % ours.n) || (ref.n && rm.numel() % ref.n) ||
        (ours.n && ref.n && om.numel() / ours.n != rm.numel() / ref.n))
      return add(name + ".masks", false, "mask tensor " + shape_str(om.shape()) + " vs reference " + shape_str(rm.shape()));
    const int64_t plane = ref.n ? rm.numel() / ref.n : 0;
    const auto M = om.to_vector<float>(), RM = rm.to_vector<float>();
    double worst_iou = 1, worst_flip = 0;
    int64_t compared = 0, rounded = 0, thin = 0, bad = 0;
    for (int64_t p = 0; p < ref.n; ++p) {
      const int64_t q = of_ref[size_t(p)];
      if (q < 0) continue;
      // torchvision pastes onto the integer box of the expanded detection box; a coordinate within the box
      // tolerance of an integer may truncate either way, moving the whole mask by a pixel
      int64_t ib_ref[4], ib_ours[4];
      float fr[4], fo[4];
      for (int c = 0; c < 4; ++c) fr[c] = float(ref.b[size_t(4 * p + c)]), fo[c] = float(ours.b[size_t(4 * q + c)]);
      const float scale = float(double(rule.mask_size + 2) / double(rule.mask_size));
      kernels::expanded_int_box(fr, scale, ib_ref);
      kernels::expanded_int_box(fo, scale, ib_ours);
      if (!std::equal(ib_ref, ib_ref + 4, ib_ours)) {
        ++rounded;
        continue;
      }
      ++compared;
      int64_t inter = 0, uni = 0;
      double flip = 0;  // largest |reference probability - 0.5| among the pixels that flipped
      for (int64_t k = 0; k < plane; ++k) {
        const float pr = RM[size_t(p * plane + k)];
        const bool a = M[size_t(q * plane + k)] > 0.5f, b = pr > 0.5f;
        inter += a && b;
        uni += a || b;
        if (a != b) flip = std::max(flip, std::abs(double(pr) - 0.5));
      }
      const double iou = uni ? double(inter) / double(uni) : 1.0;
      worst_iou = std::min(worst_iou, iou);
      if (iou >= o_.mask_iou) continue;
      // a thin mask may fall below the IoU bar through pixels right at the threshold only
      if (flip <= o_.mask_prob_margin) {
        ++thin;
        worst_flip = std::max(worst_flip, flip);
      } else {
        ++bad;
      }
    }
    std::ostringstream md;
    md << compared << " masks of equal detections compared, min IoU " << worst_iou << " (need >= " << o_.mask_iou << ")";
    if (thin)
      md << "; " << thin << " thin mask(s) below it whose flipped pixels all have probabilities within " << fmt(worst_flip)
        << " of 0.5";
    if (rounded) md << "; " << rounded << " pasted on an integer box that rounds the other way (a coordinate at an integer)";
    if (bad) md << "; " << bad << " mask(s) differ beyond threshold noise";
    add(name + ".masks", bad == 0, md.str());
  }

  // For each reference box whose pos or neg flag is set, the index of the nearest unused box of ours
  // (within the box tolerance), else -1.
  std::vector<int64_t> map_boxes(const Tensor& ref_boxes, const Tensor& our_boxes, const Tensor& pos, const Tensor& neg) {
    const auto R = ref_boxes.to_vector<double>(), O = our_boxes.to_vector<double>();
    const auto P = pos.to_vector<uint8_t>(), N = neg.to_vector<uint8_t>();
    const int64_t nr = ref_boxes.size(0), no = our_boxes.size(0);
    double scale = 1;
    for (double v : R) scale = std::max(scale, std::abs(v));
    const double tol = o_.box_rtol * scale;
    std::vector<int64_t> out(size_t(nr), -1);
    std::vector<char> used(size_t(no), 0);
    for (int64_t k = 0; k < nr; ++k) {
      if (!P[size_t(k)] && !N[size_t(k)]) continue;
      double best = tol;
      for (int64_t q = 0; q < no; ++q) {
        if (used[size_t(q)]) continue;
        double d = 0;
        for (int c = 0; c < 4; ++c) d = std::max(d, std::abs(O[size_t(4 * q + c)] - R[size_t(4 * k + c)]));
        if (d <= best) best = d, out[size_t(k)] = q;
      }
      if (out[size_t(k)] >= 0) used[size_t(out[size_t(k)])] = 1;
    }
    return out;
  }

  // Rows (box + label) of ours and the reference are the same multiset (the order may differ).
  void same_rows(const std::string& name, const Tensor& ob, const Tensor& ol, const Tensor& rb, const Tensor& rl) {
    if (ob.size(0) != rb.size(0)) return add(name, false, std::to_string(ob.size(0)) + " rows vs reference " + std::to_string(rb.size(0)));
    const Tensor all = Tensor::ones({rb.size(0)}, DType::UInt8);
    const auto m = map_boxes(rb, ob, all, all);
    const auto L = ol.to_vector<int64_t>(), RL = rl.to_vector<int64_t>();
    const auto O = ob.to_vector<double>(), R = rb.to_vector<double>();
    int64_t missing = 0, relabelled = 0, moved = 0;
    double worst = 0;
    for (size_t k = 0; k < m.size(); ++k) {
      if (m[k] < 0) {
        ++missing;
        continue;
      }
      moved += m[k] != int64_t(k);
      relabelled += L[size_t(m[k])] != RL[k];
      for (int c = 0; c < 4; ++c) worst = std::max(worst, std::abs(O[size_t(4 * m[k] + c)] - R[4 * k + c]));
    }
    add(name, missing == 0 && relabelled == 0,
        std::to_string(m.size()) + " rows, " + std::to_string(missing) + " without a counterpart, " +
            std::to_string(relabelled) + " labelled otherwise, " + std::to_string(moved) + " in another position, max box diff " +
            fmt(worst));
  }

  std::vector<ParityCheck> checks;

 private:
  const TensorMap& ref_;
  const ParityOptions& o_;
  std::ostream* log_;
};

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
void compare_common(Checker& c, const Trace& t, const std::string& phase, int64_t images, const ParityOptions& o,
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
    Checker::ListRule rule;
    rule.nms_threshold = cfg.RPN_NMS_THRESHOLD;
    rule.capacity = phase == "train." ? cfg.POST_NMS_ROIS_TRAINING : cfg.POST_NMS_ROIS_INFERENCE;
    rule.labels_known = false;
    c.ranked(phase + "rpn.proposals." + s, Checker::List(ours("rpn.proposals." + s), ours("rpn.scores." + s), Tensor()),
             Checker::List(c.at(phase + "rpn.proposals." + s), c.at(phase + "rpn.scores." + s), Tensor()), Tensor(),
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
  Checker c(ref, o, log);
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
                  o.feature_rtol);
      }
    }
    for (int64_t i = 0; i < n_img; ++i) {
      const std::string s = std::to_string(i);
      const Detections& d = dets[size_t(i)];
      Checker::ListRule rule;
      rule.nms_threshold = cfg.DETECTION_NMS_THRESHOLD;
      rule.capacity = cfg.DETECTION_MAX_INSTANCES;
      rule.score_threshold = cfg.DETECTION_MIN_CONFIDENCE;
      rule.mask_size = cfg.MASK_SHAPE[0];
      c.ranked("eval.det." + s, Checker::List(d.boxes, d.scores, d.labels),
               Checker::List(c.at("eval.det.boxes." + s), c.at("eval.det.scores." + s), c.at("eval.det.labels." + s)),
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
      d << std::setprecision(8) << ours << " vs " << want << ", rel " << fmt(rel);
      c.add("train.loss." + name, rel <= o.loss_rtol, d.str());
    }
    int64_t n_grads = 0, n_bad = 0;
    double worst = 0;
    std::string worst_name;
    for (const auto& [name, p] : model.named_parameters()) {
      const std::string key = "grad." + name;
      const Tensor g = p.grad();
      double diff2 = 0, ref2 = 0;
      const std::vector<double> a = g.defined() ? g.to_vector<double>() : std::vector<double>(size_t(p.numel()), 0.0);
      const std::vector<double> b = c.has(key) ? c.at(key).to_vector<double>() : std::vector<double>(a.size(), 0.0);
      if (a.size() != b.size()) {
        c.add(key, false, "size " + std::to_string(a.size()) + " vs reference " + std::to_string(b.size()));
        continue;
      }
      for (size_t k = 0; k < a.size(); ++k) {
        diff2 += (a[k] - b[k]) * (a[k] - b[k]);
        ref2 += b[k] * b[k];
      }
      const double rel = ref2 > 0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2);
      const bool pass = ref2 > 0 ? rel <= o.grad_rtol : diff2 == 0;
      ++n_grads;
      n_bad += !pass;
      if (rel > worst) worst = rel, worst_name = name;
      c.add(key, pass, "norm rel " + fmt(rel) + ", |ref| " + fmt(std::sqrt(ref2)), !o.verbose);
    }
    c.add("train.gradients", n_bad == 0,
          std::to_string(n_grads - n_bad) + "/" + std::to_string(n_grads) + " parameter gradients within " +
              fmt(o.grad_rtol) + " (norm); worst " + fmt(worst) + " at " + worst_name);
  }
  if (!o.dump_path.empty()) save_tensors(o.dump_path, dump);
  return c.checks;
}

}  // namespace mrc::maskrcnn
