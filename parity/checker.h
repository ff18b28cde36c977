// The comparisons of the parity check (see maskrcnn_parity.h): dense tensors against a scale-aware
// tolerance, ranked lists (proposals, detections) whose one-sided entries must be explained by a decision
// at its threshold, pasted-mask IoU, box-by-box row matching, and the coverage of the reference (every
// tensor read by some comparison).
#pragma once
#include <algorithm>
#include <cmath>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "parity/maskrcnn_parity.h"
#include "tensor/serialize.h"

namespace mrc::parity {

std::string parity_fmt(double v);  // 3 significant digits, scientific

class ParityChecker {
 public:
  ParityChecker(const TensorMap& ref, const ParityOptions& o, std::ostream* log) : ref_(ref), o_(o), log_(log) {}

  bool has(const std::string& name) const { return ref_.count(name) != 0; }
  // A reference tensor, marked as used (see coverage).
  const Tensor& at(const std::string& name) {
    auto it = ref_.find(name);
    if (it == ref_.end()) throw std::runtime_error("reference has no tensor \"" + name + "\"");
    used_.insert(name);
    return it->second;
  }
  std::vector<std::string> names_with_prefix(const std::string& prefix) const {
    std::vector<std::string> out;
    for (auto it = ref_.lower_bound(prefix); it != ref_.end() && it->first.rfind(prefix, 0) == 0; ++it) out.push_back(it->first);
    return out;
  }
  // Adds "reference.coverage": every reference tensor whose name starts with one of `prefixes` was used.
  void coverage(const std::vector<std::string>& prefixes);

  void add(const std::string& name, bool pass, const std::string& detail, bool quiet = false) {
    checks.push_back({name, pass, detail});
    if (log_ && (!quiet || !pass || o_.verbose)) *log_ << (pass ? "PASS " : "FAIL ") << name << "  " << detail << std::endl;
  }

  // max|a - b| <= rtol * max|b| (float32 sums carry the rounding of their largest terms).
  void dense(const std::string& name, const Tensor& ours, const Tensor& want, double rtol);

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
              const ListRule& rule);

  // For each reference box whose pos or neg flag is set, the index of the nearest unused box of ours
  // (within box_rtol * max(1, max|ref|)), else -1.
  std::vector<int64_t> map_boxes(const Tensor& ref_boxes, const Tensor& our_boxes, const Tensor& pos, const Tensor& neg,
                                 double box_rtol);

  // Rows (box + label) of ours and the reference are the same multiset (the order may differ).
  void same_rows(const std::string& name, const Tensor& ob, const Tensor& ol, const Tensor& rb, const Tensor& rl);

  std::vector<ParityCheck> checks;
  const ParityOptions& options() const { return o_; }

 private:
  const TensorMap& ref_;
  const ParityOptions& o_;
  std::ostream* log_;
  std::set<std::string> used_;
};

}  // namespace mrc::parity
