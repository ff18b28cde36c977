// A generic worker-thread pipeline for loading ahead of the consumer: N workers run a user
// function on item indices, results come back in order through a bounded window (at most
// `capacity` items started but not yet taken), so memory stays flat however slow the consumer is.
// Plus the epoch orders that feed it: seeded, deterministic shuffling per epoch, and optional
// class-balanced sampling weights (the online alternative to mrc-augment's copies).
// The tensor-batch loader builds on this; it knows nothing about images.
#pragma once
#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace mrc::data {

// 0..n-1, shuffled with (seed, epoch) when shuffle; the same arguments give the same order.
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle = true);

// `count` indices drawn with replacement, item i with probability weights[i] / sum (seeded by
// (seed, epoch); alias method). Throws on negative weights or a zero sum.
std::vector<int64_t> weighted_epoch_order(const std::vector<double>& weights, int64_t count, uint64_t seed,
                                          int64_t epoch);

// Weights that make every class equally likely to be seen: item weight = 1 / (number of items
// containing its rarest class); items without instances get the smallest weight present.
// classes_per_item[i] = the class ids present in item i.
std::vector<double> class_balanced_weights(const std::vector<std::vector<int>>& classes_per_item);

// Runs fn(index, position) on order[position] for every position, on `workers` threads, and hands
// the results out in position order. A worker exception is rethrown by next() at its position.
// Destroying the Prefetcher early stops the workers (items in flight finish first).
template <class T>
class Prefetcher {
 public:
  using Fn = std::function<T(int64_t index, int64_t position)>;

  Prefetcher(std::vector<int64_t> order, Fn fn, int workers = 2, int capacity = 8)
      : order_(std::move(order)), fn_(std::move(fn)), capacity_(capacity < 1 ? 1 : capacity),
        slots_(size_t(capacity_)) {
    if (workers < 1) workers = 1;
    for (int w = 0; w < workers; ++w) threads_.emplace_back([this] { work(); });
  }
  ~Prefetcher() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  int64_t size() const { return int64_t(order_.size()); }
  // The next result in order; false when all have been taken.
  bool next(T& out) {
    std::unique_lock<std::mutex> lock(mu_);
    if (taken_ >= size()) return false;
    Slot& s = slots_[size_t(taken_ % capacity_)];
    cv_.wait(lock, [&] { return s.ready; });
    std::exception_ptr err = s.error;
    if (!err) out = std::move(*s.value);
    s.value.reset();
    s.error = nullptr;
    s.ready = false;
    ++taken_;
    lock.unlock();
    cv_.notify_all();
    if (err) std::rethrow_exception(err);
    return true;
  }
  // Most items ever in flight or waiting at once (for tests of the bound).
  int64_t max_outstanding() const {
    std::lock_guard<std::mutex> lock(mu_);
    return max_outstanding_;
  }

 private:
  struct Slot {
    std::optional<T> value;
    std::exception_ptr error;
    bool ready = false;
  };

  void work() {
    for (;;) {
      int64_t pos;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || next_ >= size() || next_ < taken_ + capacity_; });
        if (stop_ || next_ >= size()) return;
        pos = next_++;
        max_outstanding_ = std::max(max_outstanding_, next_ - taken_);
      }
      std::optional<T> value;
      std::exception_ptr error;
      try {
        value.emplace(fn_(order_[size_t(pos)], pos));
      } catch (...) {
        error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        Slot& s = slots_[size_t(pos % capacity_)];
        s.value = std::move(value);
        s.error = error;
        s.ready = true;
      }
      cv_.notify_all();
    }
  }

  std::vector<int64_t> order_;
  Fn fn_;
  int64_t capacity_;
  std::vector<Slot> slots_;
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t next_ = 0, taken_ = 0, max_outstanding_ = 0;
  bool stop_ = false;
};

}  // namespace mrc::data
