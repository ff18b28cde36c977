// Epoch orders and sampling weights for the Prefetcher (see prefetch.h).
#include "data/prefetch.h"

#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>

#include "data/augment/rng.h"

namespace mrc::data {

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle) {
  if (n < 0) throw std::invalid_argument("epoch_order: negative item count");
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[size_t(i)] = i;
  if (shuffle) {
    aug::Rng rng(aug::derive_seed(seed, uint64_t(epoch), 0xE90C));
    rng.shuffle(order);
  }
  return order;
}

std::vector<int64_t> weighted_epoch_order(const std::vector<double>& weights, int64_t count, uint64_t seed,
                                          int64_t epoch) {
  const size_t n = weights.size();
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!(weights[i] >= 0) || !std::isfinite(weights[i]))
      throw std::invalid_argument("weighted_epoch_order: weight " + std::to_string(i) + " is negative or not finite");
    sum += weights[i];
  }
  if (n == 0 || !(sum > 0)) throw std::invalid_argument("weighted_epoch_order: the weights sum to zero");
  // Vose's alias method: O(1) per draw.
  std::vector<double> prob(n);
  std::vector<size_t> alias(n, 0), small, large;
  for (size_t i = 0; i < n; ++i) {
    prob[i] = weights[i] * double(n) / sum;
    (prob[i] < 1.0 ? small : large).push_back(i);
  }
  while (!small.empty() && !large.empty()) {
    const size_t s = small.back(), l = large.back();
    small.pop_back();
    alias[s] = l;
    prob[l] -= 1.0 - prob[s];
    if (prob[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  for (size_t i : large) prob[i] = 1.0;
  for (size_t i : small) prob[i] = 1.0;   // rounding leftovers
  aug::Rng rng(aug::derive_seed(seed, uint64_t(epoch), 0xBA1A));
  std::vector<int64_t> out(size_t(std::max<int64_t>(count, 0)));
  for (auto& o : out) {
    const size_t i = size_t(rng.integer(0, int64_t(n) - 1));
    o = int64_t(rng.uniform() < prob[i] ? i : alias[i]);
  }
  return out;
}

std::vector<double> class_balanced_weights(const std::vector<std::vector<int>>& classes_per_item) {
  std::map<int, int64_t> count;   // items containing the class
  for (const auto& cls : classes_per_item) {
    std::map<int, bool> seen;
    for (int c : cls)
      if (!seen[c]) {
        seen[c] = true;
        ++count[c];
      }
  }
  std::vector<double> w(classes_per_item.size(), 0.0);
  double smallest = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < w.size(); ++i) {
    for (int c : classes_per_item[i]) w[i] = std::max(w[i], 1.0 / double(count[c]));
    if (w[i] > 0) smallest = std::min(smallest, w[i]);
  }
  if (!std::isfinite(smallest)) smallest = 1.0;
  for (auto& x : w)
    if (x == 0) x = smallest;
  return w;
}

}  // namespace mrc::data
