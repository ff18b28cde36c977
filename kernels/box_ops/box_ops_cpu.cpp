// Box operations on the CPU: IoU matrix, encode/decode, clip, small-box removal, Matcher, sampler.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")  // round like torchvision's (unfused) build, see host_device.h
#endif
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/box_ops/box_ops.h"
#include "tensor/parallel.h"

namespace mrc::kernels {
namespace {

void check_count(int64_t n, const char* where, const char* what) {
  if (n < 0) throw std::runtime_error(std::string(where) + ": " + what + " must be >= 0, got " + std::to_string(n));
}

// torch's max: the first maximum, or the first NaN.
template <class T>
bool replaces_max(T v, T best) {
  return !(v <= best) && !std::isnan(best);
}

}  // namespace

template <class T>
void box_iou_cpu(const T* a, int64_t n, const T* b, int64_t m, T* out) {
  check_count(n, "box_iou_cpu", "n");
  check_count(m, "box_iou_cpu", "m");
  std::vector<T> area_b(static_cast<size_t>(m));
  for (int64_t j = 0; j < m; ++j) area_b[size_t(j)] = box_area(b + 4 * j);
  // Split the n x m entries, not the rows: the RPN asks for a dozen gt rows by 200k anchors.
  mrc::parallel_for(n * m, 1 << 16, [&](int64_t e0, int64_t e1) {
    for (int64_t i = e0 / m; i * m < e1; ++i) {
      const T* ai = a + 4 * i;
      const T aa = box_area(ai);
      for (int64_t j = std::max(e0 - i * m, int64_t(0)); j < std::min(e1 - i * m, m); ++j)
        out[i * m + j] = box_iou(ai, aa, b + 4 * j, area_b[size_t(j)]);
    }
  });
}

template <class T>
void encode_boxes_cpu(const T* reference, const T* proposals, int64_t n, const BoxCoderWeights& w, T* deltas) {
  check_count(n, "encode_boxes_cpu", "n");
  mrc::parallel_for(n, 4096, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      box_encode(reference + 4 * i, proposals + 4 * i, T(w.wx), T(w.wy), T(w.ww), T(w.wh), deltas + 4 * i);
  });
}

template <class T>
void decode_boxes_cpu(const T* deltas, const T* boxes, int64_t n, int64_t k, const BoxCoderWeights& w, T* out,
                      double clip) {
  check_count(n, "decode_boxes_cpu", "n");
  check_count(k, "decode_boxes_cpu", "boxes per row k");
  mrc::parallel_for(n, 1024, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t c = 0; c < k; ++c)
        box_decode(deltas + 4 * (i * k + c), boxes + 4 * i, T(w.wx), T(w.wy), T(w.ww), T(w.wh), T(clip),
                   out + 4 * (i * k + c));
  });
}

template <class T>
void clip_boxes_cpu(const T* in, int64_t rows, int64_t height, int64_t width, T* out) {
  check_count(rows, "clip_boxes_cpu", "rows");
  const T hi[4] = {T(width), T(height), T(width), T(height)};
  for (int64_t i = 0; i < 4 * rows; ++i) {
    T v = in[i];
    v = v < T(0) ? T(0) : v;  // torch.clamp keeps NaN
    out[i] = v > hi[i % 4] ? hi[i % 4] : v;
  }
}

template <class T>
int64_t remove_small_boxes_cpu(const T* boxes, int64_t n, double min_size, int64_t* keep) {
  check_count(n, "remove_small_boxes_cpu", "n");
  const T s = T(min_size);
  int64_t k = 0;
  for (int64_t i = 0; i < n; ++i) {
    const T* b = boxes + 4 * i;
    if (b[2] - b[0] >= s && b[3] - b[1] >= s) keep[k++] = i;
  }
  return k;
}

template <class T>
void match_cpu(const T* q, int64_t m, int64_t n, const MatcherParams& p, int64_t* matches) {
  if (m <= 0) throw std::runtime_error("match_cpu: No ground-truth boxes available for one of the images during training");
  if (n <= 0) throw std::runtime_error("match_cpu: No proposal boxes available for one of the images during training");
  if (p.low_threshold > p.high_threshold)
    throw std::runtime_error("match_cpu: low_threshold (" + std::to_string(p.low_threshold) +
                             ") should be <= high_threshold (" + std::to_string(p.high_threshold) + ")");
  // torch compares a float tensor with a Python float after casting the threshold to the tensor's type.
  const T low = T(p.low_threshold), high = T(p.high_threshold);
  std::vector<T> highest;
  if (p.allow_low_quality_matches) {
    highest.resize(size_t(m));
    mrc::parallel_for(m, 4, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        T best = q[r * n];
        for (int64_t j = 1; j < n && !std::isnan(best); ++j)
          if (replaces_max(q[r * n + j], best)) best = q[r * n + j];
        highest[size_t(r)] = best;
      }
    });
  }
  // Row by row over a block of predictions, so every pass reads contiguous memory.
  mrc::parallel_for(n, 2048, [&](int64_t j0, int64_t j1) {
    const int64_t len = j1 - j0;
    std::vector<T> best(q + j0, q + j1);
    std::vector<int64_t> arg(static_cast<size_t>(len), 0);
    std::vector<uint8_t> is_best_for_some_gt(static_cast<size_t>(len), 0);
    for (int64_t r = 1; r < m; ++r) {
      const T* row = q + r * n + j0;
      for (int64_t j = 0; j < len; ++j)
        if (replaces_max(row[j], best[size_t(j)])) {
          best[size_t(j)] = row[j];
          arg[size_t(j)] = r;
        }
    }
    if (p.allow_low_quality_matches)
      for (int64_t r = 0; r < m; ++r) {
        const T* row = q + r * n + j0;
        const T h = highest[size_t(r)];
        for (int64_t j = 0; j < len; ++j) is_best_for_some_gt[size_t(j)] |= uint8_t(row[j] == h);
      }
    for (int64_t j = 0; j < len; ++j) {
      const T v = best[size_t(j)];
      int64_t match = arg[size_t(j)];
      if (v < low)
        match = kBelowLowThreshold;
      else if (v < high)
        match = kBetweenThresholds;
      matches[j0 + j] = is_best_for_some_gt[size_t(j)] ? arg[size_t(j)] : match;
    }
  });
}

SampleCounts balanced_sample(const int64_t* labels, int64_t n, int64_t batch_size_per_image, double positive_fraction,
                             const RandpermFn& randperm, uint8_t* pos_mask, uint8_t* neg_mask) {
  check_count(n, "balanced_sample", "n");
  if (batch_size_per_image < 0 || !(positive_fraction >= 0 && positive_fraction <= 1))
    throw std::runtime_error("balanced_sample: batch_size_per_image must be >= 0 and positive_fraction in [0, 1], got " +
                             std::to_string(batch_size_per_image) + " and " + std::to_string(positive_fraction));
  std::vector<int64_t> positive, negative;
  for (int64_t i = 0; i < n; ++i) {
    if (labels[i] >= 1) positive.push_back(i);
    if (labels[i] == 0) negative.push_back(i);
  }
  const int64_t num_pos = std::min<int64_t>(int64_t(positive.size()), int64_t(double(batch_size_per_image) * positive_fraction));
  const int64_t num_neg = std::min<int64_t>(int64_t(negative.size()), batch_size_per_image - num_pos);
  std::fill(pos_mask, pos_mask + n, uint8_t(0));
  std::fill(neg_mask, neg_mask + n, uint8_t(0));
  auto pick = [&](const std::vector<int64_t>& pool, int64_t count, uint8_t* mask, const char* what) {
    const std::vector<int64_t> perm = randperm(int64_t(pool.size()));
    if (perm.size() != pool.size())
      throw std::runtime_error(std::string("balanced_sample: randperm(") + std::to_string(pool.size()) + ") for the " +
                               what + " returned " + std::to_string(perm.size()) + " values");
    for (int64_t i = 0; i < count; ++i) {
      const int64_t v = perm[size_t(i)];
      if (v < 0 || v >= int64_t(pool.size()))
        throw std::runtime_error(std::string("balanced_sample: randperm for the ") + what + " returned " +
                                 std::to_string(v) + ", outside [0, " + std::to_string(pool.size()) + ")");
      mask[pool[size_t(v)]] = 1;
    }
  };
  pick(positive, num_pos, pos_mask, "positives");
  pick(negative, num_neg, neg_mask, "negatives");
  return {num_pos, num_neg};
}

#define MRC_BOX_OPS_INSTANTIATE(T)                                                                       \
  template void box_iou_cpu<T>(const T*, int64_t, const T*, int64_t, T*);                               \
  template void encode_boxes_cpu<T>(const T*, const T*, int64_t, const BoxCoderWeights&, T*);          \
  template void decode_boxes_cpu<T>(const T*, const T*, int64_t, int64_t, const BoxCoderWeights&, T*, \
                                    double);                                                           \
  template void clip_boxes_cpu<T>(const T*, int64_t, int64_t, int64_t, T*);                            \
  template int64_t remove_small_boxes_cpu<T>(const T*, int64_t, double, int64_t*);                     \
  template void match_cpu<T>(const T*, int64_t, int64_t, const MatcherParams&, int64_t*);
MRC_BOX_OPS_INSTANTIATE(float)
MRC_BOX_OPS_INSTANTIATE(double)
#undef MRC_BOX_OPS_INSTANTIATE

}  // namespace mrc::kernels
