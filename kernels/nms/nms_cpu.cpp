// NMS on the CPU: torchvision's greedy algorithm over score order, with the candidates kept in compact
// arrays so each kept box scans only the survivors (in a vectorisable IoU pass), not suppressed boxes.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")  // IoUs must round like torchvision's, see host_device.h
#endif
#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kernels/detection_math.h"
#include "kernels/nms/nms.h"

namespace mrc::kernels {
namespace {

// Positions 0..n-1 ordered by descending score, NaN first (torch's sort comparator). Stable: ties by
// index, as torchvision's nms kernel sorts. Torchvision: the same std::sort over (score, index) pairs
// torch 1.13's unstable CPU sort runs, which reproduces its order of ties exactly.
template <class T>
std::vector<int64_t> score_order(const T* scores, int64_t n, NmsTies ties) {
  std::vector<std::pair<T, int64_t>> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = {scores[i], i};
  auto desc = [](const std::pair<T, int64_t>& a, const std::pair<T, int64_t>& b) {
    return (std::isnan(a.first) && !std::isnan(b.first)) || a.first > b.first;
  };
  if (ties == NmsTies::Torchvision)
    std::sort(v.begin(), v.end(), desc);
  else
    std::stable_sort(v.begin(), v.end(), desc);
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[size_t(i)] = v[size_t(i)].second;
  return order;
}

template <class T>
int64_t greedy_nms(const T* boxes, const T* scores, int64_t n, double iou_threshold, int64_t* keep) {
  if (n < 0) throw std::runtime_error("nms: number of boxes must be >= 0, got " + std::to_string(n));
  if (n == 0) return 0;
  const std::vector<int64_t> order = score_order(scores, n, NmsTies::Stable);
  // Candidates in score order, structure of arrays; survivors are compacted to the front.
  const size_t un = static_cast<size_t>(n);
  std::vector<T> x1(un), y1(un), x2(un), y2(un), area(un);
  std::vector<int64_t> idx(order);
  for (int64_t i = 0; i < n; ++i) {
    const T* b = boxes + 4 * order[size_t(i)];
    x1[size_t(i)] = b[0];
    y1[size_t(i)] = b[1];
    x2[size_t(i)] = b[2];
    y2[size_t(i)] = b[3];
    area[size_t(i)] = box_area(b);
  }
  const T t = T(iou_threshold_for(T(), iou_threshold));
  std::vector<uint8_t> drop(un);
  int64_t m = n, kept = 0;
  for (int64_t head = 0; head < m; ++head) {
    keep[kept++] = idx[size_t(head)];
    const T bx[4] = {x1[size_t(head)], y1[size_t(head)], x2[size_t(head)], y2[size_t(head)]};
    const T ba = area[size_t(head)];
    const T *px1 = x1.data(), *py1 = y1.data(), *px2 = x2.data(), *py2 = y2.data(), *pa = area.data();
    uint8_t* d = drop.data();
    for (int64_t j = head + 1; j < m; ++j)  // vectorised: no branches, contiguous arrays
      d[j] = box_iou(bx[0], bx[1], bx[2], bx[3], ba, px1[j], py1[j], px2[j], py2[j], pa[j]) > t;
    int64_t w = head + 1;
    for (int64_t j = head + 1; j < m; ++j) {
      x1[size_t(w)] = x1[size_t(j)];
      y1[size_t(w)] = y1[size_t(j)];
      x2[size_t(w)] = x2[size_t(j)];
      y2[size_t(w)] = y2[size_t(j)];
      area[size_t(w)] = area[size_t(j)];
      idx[size_t(w)] = idx[size_t(j)];
      w += 1 - d[j];
    }
    m = w;
  }
  return kept;
}

// kept[i] = 1 for the boxes a greedy NMS keeps within their own category idxs[i] (exact coordinates; the
// members of a category in ascending index order); kept comes zeroed.
template <class T>
void per_category_nms(const T* boxes, const T* scores, const int64_t* idxs, int64_t n, double iou_threshold,
                      uint8_t* kept) {
  std::map<int64_t, std::vector<int64_t>> members;
  for (int64_t i = 0; i < n; ++i) members[idxs[i]].push_back(i);
  std::vector<T> cb, cs;
  std::vector<int64_t> ck;
  for (const auto& [cat, ids] : members) {
    const int64_t m = int64_t(ids.size());
    cb.resize(size_t(4 * m));
    cs.resize(size_t(m));
    ck.resize(size_t(m));
    for (int64_t j = 0; j < m; ++j) {
      std::copy(boxes + 4 * ids[size_t(j)], boxes + 4 * ids[size_t(j)] + 4, cb.begin() + 4 * j);
      cs[size_t(j)] = scores[ids[size_t(j)]];
    }
    const int64_t k = greedy_nms(cb.data(), cs.data(), m, iou_threshold, ck.data());
    for (int64_t j = 0; j < k; ++j) kept[size_t(ids[size_t(ck[size_t(j)])])] = 1;
  }
}

}  // namespace

template <class T>
int64_t nms_cpu(const T* boxes, const T* scores, int64_t n, double iou_threshold, int64_t* keep) {
  return greedy_nms(boxes, scores, n, iou_threshold, keep);
}

template <class T>
int64_t batched_nms_cpu(const T* boxes, const T* scores, const int64_t* idxs, int64_t n, double iou_threshold,
                        int64_t* keep, NmsTies ties) {
  if (n < 0) throw std::runtime_error("batched_nms: number of boxes must be >= 0, got " + std::to_string(n));
  if (n == 0) return 0;
  if (n <= kBatchedNmsPerCategoryAbove) {
    // torchvision _batched_nms_coordinate_trick: shift each category by idx * (max coordinate + 1).
    T max_coord = boxes[0];
    for (int64_t i = 1; i < 4 * n; ++i)
      if (boxes[i] > max_coord) max_coord = boxes[i];
    std::vector<T> shifted(size_t(4 * n));
    for (int64_t i = 0; i < n; ++i) {
      const T off = mul_rn(T(idxs[i]), max_coord + T(1));
      for (int c = 0; c < 4; ++c) shifted[size_t(4 * i + c)] = boxes[4 * i + c] + off;
    }
    return greedy_nms(shifted.data(), scores, n, iou_threshold, keep);
  }
  // torchvision _batched_nms_vanilla: NMS per category (ascending index order inside each), then the
  // kept indices, in ascending order, sorted by score.
  std::vector<uint8_t> kept_mask(size_t(n), 0);
  per_category_nms(boxes, scores, idxs, n, iou_threshold, kept_mask.data());
  std::vector<int64_t> kept;
  std::vector<T> kept_scores;
  for (int64_t i = 0; i < n; ++i)
    if (kept_mask[size_t(i)]) {
      kept.push_back(i);
      kept_scores.push_back(scores[i]);
    }
  const std::vector<int64_t> order = score_order(kept_scores.data(), int64_t(kept.size()), ties);
  for (size_t j = 0; j < order.size(); ++j) keep[j] = kept[size_t(order[j])];
  return int64_t(kept.size());
}

template <class T>
void batched_nms_mask_cpu(const T* boxes, const T* scores, const int64_t* idxs, int64_t n, double iou_threshold,
                          uint8_t* kept) {
  if (n < 0) throw std::runtime_error("batched_nms_mask: number of boxes must be >= 0, got " + std::to_string(n));
  std::fill_n(kept, size_t(n), uint8_t(0));
  per_category_nms(boxes, scores, idxs, n, iou_threshold, kept);
}

template int64_t nms_cpu<float>(const float*, const float*, int64_t, double, int64_t*);
template int64_t nms_cpu<double>(const double*, const double*, int64_t, double, int64_t*);
template int64_t batched_nms_cpu<float>(const float*, const float*, const int64_t*, int64_t, double, int64_t*,
                                        NmsTies);
template int64_t batched_nms_cpu<double>(const double*, const double*, const int64_t*, int64_t, double, int64_t*,
                                         NmsTies);
template void batched_nms_mask_cpu<float>(const float*, const float*, const int64_t*, int64_t, double, uint8_t*);
template void batched_nms_mask_cpu<double>(const double*, const double*, const int64_t*, int64_t, double, uint8_t*);

}  // namespace mrc::kernels
