// ParityChecker's comparisons (see checker.h).
#include "parity/checker.h"

#include <algorithm>
#include <iomanip>
#include <sstream>

#include "kernels/detection_math.h"
#include "kernels/ops.h"

namespace mrc::parity {

std::string parity_fmt(double v) {
  std::ostringstream os;
  os << std::setprecision(3) << std::scientific << v;
  return os.str();
}

void ParityChecker::dense(const std::string& name, const Tensor& ours, const Tensor& want, double rtol) {
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
  add(name, rel <= rtol, "max rel " + parity_fmt(rel) + " (norm rel " + parity_fmt(ref2 > 0 ? std::sqrt(diff2 / ref2) : 0) +
                             ", " + std::to_string(a.size()) + " values, tolerance " + parity_fmt(rtol) + ")");
}
void ParityChecker::ranked(const std::string& name, const List& ours, const List& ref, const Tensor& om, const Tensor& rm,
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
  auto explain = [&](const List& have, int64_t e, const List& other,
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
    if (of_ref[size_t(p)] < 0) ++only_ref, explain(ref, p, ours, of_ours, "reference");
  for (int64_t q = 0; q < ours.n; ++q)
    if (of_ours[size_t(q)] < 0) ++only_ours, explain(ours, q, ref, of_ref, "our");
  std::ostringstream d;
  d << ref.n << " reference / " << ours.n << " our entries, " << (ref.n - only_ref) << " equal";
  if (reordered) d << " (" << reordered << " tied pairs swapped)";
  d << ", max box diff " << parity_fmt(worst_box) << ", max score diff " << parity_fmt(worst_score);
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
    md << "; " << thin << " thin mask(s) below it whose flipped pixels all have probabilities within " << parity_fmt(worst_flip)
      << " of 0.5";
  if (rounded) md << "; " << rounded << " pasted on an integer box that rounds the other way (a coordinate at an integer)";
  if (bad) md << "; " << bad << " mask(s) differ beyond threshold noise";
  add(name + ".masks", bad == 0, md.str());
}
std::vector<int64_t> ParityChecker::map_boxes(const Tensor& ref_boxes, const Tensor& our_boxes, const Tensor& pos,
                                              const Tensor& neg, double box_rtol) {
  const auto R = ref_boxes.to_vector<double>(), O = our_boxes.to_vector<double>();
  const auto P = pos.to_vector<uint8_t>(), N = neg.to_vector<uint8_t>();
  const int64_t nr = ref_boxes.size(0), no = our_boxes.size(0);
  double scale = 1;
  for (double v : R) scale = std::max(scale, std::abs(v));
  const double tol = box_rtol * scale;
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
void ParityChecker::same_rows(const std::string& name, const Tensor& ob, const Tensor& ol, const Tensor& rb, const Tensor& rl) {
  if (ob.size(0) != rb.size(0)) return add(name, false, std::to_string(ob.size(0)) + " rows vs reference " + std::to_string(rb.size(0)));
  const Tensor all = Tensor::ones({rb.size(0)}, DType::UInt8);
  const auto m = map_boxes(rb, ob, all, all, o_.box_rtol);
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
          parity_fmt(worst));
}

void ParityChecker::coverage(const std::vector<std::string>& prefixes) {
  int64_t total = 0;
  std::vector<std::string> unused;
  for (const auto& [name, t] : ref_) {
    if (!std::any_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) { return name.rfind(p, 0) == 0; }))
      continue;
    ++total;
    if (!used_.count(name)) unused.push_back(name);
  }
  std::string detail = std::to_string(total - int64_t(unused.size())) + "/" + std::to_string(total) +
                       " reference tensors of the parts that ran were compared";
  for (size_t k = 0; k < unused.size() && k < 8; ++k) detail += (k ? ", " : "; never read: ") + unused[k];
  if (unused.size() > 8) detail += ", ... (" + std::to_string(unused.size()) + " in all)";
  add("reference.coverage", unused.empty(), detail);
}

}  // namespace mrc::parity
