// Detection ops against torchvision.ops: roi_align forward/backward (2x256x200x272 features, 512/2000
// boxes, 7x7/14x14), nms (1k-100k proposal-like boxes), anchors for 1024x1024 over 5 levels. Inputs come
// from a splitmix64 stream bench/detection_ops_ref.py reproduces exactly. Each case is validated first
// (CPU: independent spot checks, the adjoint identity, NMS invariants; CUDA: against the CPU; with
// --with-ref: against torchvision's checks), then timed (median after warm-up), printed as JSON lines
// {"bench","device","ours_ms","ref","ref_ms","ratio","gbps","peak_gbps"} and a table.
//   bench-detection_ops [--device cpu|cuda] [--filter REGEX] [--with-ref]  (ref: $MRC_PYTHON or /usr/bin/python3)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")  // spot checks evaluate the shared math exactly as the library does
#endif
#include <nlohmann/json.hpp>
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_util.h"
#include "kernels/anchors/anchors.h"
#include "kernels/detection_math.h"
#include "kernels/nms/nms.h"
#include "kernels/roi_align/roi_align.h"
#include "tensor/parallel.h"
#if defined(MRC_WITH_CUDA)
#include <cuda_runtime.h>
#endif

using namespace mrc;
using namespace mrc::kernels;

namespace {

constexpr int64_t kN = 2, kC = 256, kH = 200, kW = 272, kImageH = 800, kImageW = 1088;

// u(stream, i) in [0, 1): the top 24 bits of splitmix64((stream << 40) + i) (detection_ops_ref.py).
double uniform(uint64_t stream, uint64_t i) {
  uint64_t z = (stream << 40) + i + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return double(z >> 40) / double(1 << 24);
}

std::vector<float> uniform_pm1(uint64_t stream, size_t n) {
  std::vector<float> v(n);
  mrc::parallel_for(int64_t(n), 1 << 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) v[size_t(i)] = float(2.0 * uniform(stream, uint64_t(i)) - 1.0);
  });
  return v;
}

std::vector<float> make_rois(int64_t k) {
  std::vector<float> r(size_t(5 * k));
  for (int64_t i = 0; i < k; ++i) {
    auto u = [&](int j) { return uniform(2, uint64_t(8 * i + j)); };
    const double w = 16 + u(1) * 384, h = 16 + u(2) * 384, x1 = u(3) * (kImageW - w), y1 = u(4) * (kImageH - h);
    const double row[5] = {std::floor(u(0) * 2), x1, y1, x1 + w, y1 + h};
    for (int j = 0; j < 5; ++j) r[size_t(5 * i + j)] = float(row[j]);
  }
  return r;
}

void make_nms_inputs(int64_t n, std::vector<float>& boxes, std::vector<float>& scores) {
  const int64_t objects = 20 + n / 500;
  std::vector<double> ox(static_cast<size_t>(objects)), oy(ox), ow(ox), oh(ox);
  for (int64_t o = 0; o < objects; ++o) {
    ox[size_t(o)] = uniform(5, uint64_t(4 * o)) * 1024;
    oy[size_t(o)] = uniform(5, uint64_t(4 * o + 1)) * 1024;
    ow[size_t(o)] = 24 + uniform(5, uint64_t(4 * o + 2)) * 300;
    oh[size_t(o)] = 24 + uniform(5, uint64_t(4 * o + 3)) * 300;
  }
  boxes.resize(size_t(4 * n));
  scores.resize(size_t(n));
  for (int64_t i = 0; i < n; ++i) {
    auto u = [&](int j) { return uniform(6, uint64_t(8 * i + j)); };
    const size_t p = size_t(std::min<int64_t>(int64_t(u(0) * double(objects)), objects - 1));
    double cx = ox[p] + (u(1) - 0.5) * 0.2 * ow[p], cy = oy[p] + (u(2) - 0.5) * 0.2 * oh[p];
    const double w = ow[p] * (0.8 + 0.4 * u(3)), h = oh[p] * (0.8 + 0.4 * u(4));
    if (u(5) < 0.05) {
      cx = u(6) * 1024;
      cy = u(7) * 1024;
    }
    const double b[4] = {cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2};
    for (int j = 0; j < 4; ++j) boxes[size_t(4 * i + j)] = float(b[j]);
    scores[size_t(i)] = float(uniform(7, uint64_t(i)));
  }
}

std::string keep_hash(const std::vector<int64_t>& keep) {
  uint64_t h = 1469598103934665603ull;
  for (int64_t v : keep) h = (h ^ (uint64_t(v) & 0xFFFFFFFFull)) * 1099511628211ull;
  return std::to_string(h);
}

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Median of repeated runs after a warm-up; slow cases get fewer repetitions (as the reference does).
// `sync` waits for the device (a no-op on the CPU).
template <class F, class S>
double median_ms(F&& f, S&& sync) {
  auto timed = [&] {
    sync();
    const double t = now_ms();
    f();
    sync();
    return now_ms() - t;
  };
  const double first = timed();
  const int reps = first > 500 ? 3 : (first > 20 ? 7 : 21);
  if (first <= 500) timed();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) t.push_back(timed());
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

struct Result {
  std::string name;
  double ours_ms = 0, gbps = 0;
  nlohmann::json ref;  // the reference line, when run
};

[[noreturn]] void invalid(const std::string& name, const std::string& what) {
  throw std::runtime_error("bench-detection_ops: " + name + " failed validation: " + what);
}

void check_close(const std::string& name, const std::string& what, double got, double want, double tol) {
  if (!(std::abs(got - want) <= tol))
    invalid(name, what + " is " + std::to_string(got) + ", expected " + std::to_string(want) +
                      " (tolerance " + std::to_string(tol) + ")");
}

// NMS invariants: kept boxes are in non-increasing score order and pairwise IoU <= thr; sampled
// dropped boxes overlap a kept box of at least their score by more than thr.
void check_nms(const std::string& name, const std::vector<float>& b, const std::vector<float>& s,
               const std::vector<int64_t>& keep, double thr) {
  const float t = iou_threshold_for(0.f, thr);
  auto iou = [&](int64_t i, int64_t j) { return box_iou(&b[size_t(4 * i)], box_area(&b[size_t(4 * i)]), &b[size_t(4 * j)], box_area(&b[size_t(4 * j)])); };
  std::vector<uint8_t> kept(s.size(), 0);
  for (size_t a = 0; a < keep.size(); ++a) {
    kept[size_t(keep[a])] = 1;
    if (a && s[size_t(keep[a])] > s[size_t(keep[a - 1])]) invalid(name, "kept boxes not sorted by score");
    for (size_t c = 0; c < a; ++c)
      if (iou(keep[c], keep[a]) > t) invalid(name, "two kept boxes overlap above the threshold");
  }
  std::mt19937 rng(1);
  for (int probe = 0; probe < 500; ++probe) {
    const int64_t j = int64_t(rng() % s.size());
    if (kept[size_t(j)]) continue;
    bool explained = false;
    for (int64_t k : keep)
      if (s[size_t(k)] >= s[size_t(j)] && iou(k, j) > t) {
        explained = true;
        break;
      }
    if (!explained) invalid(name, "box " + std::to_string(j) + " was dropped without a reason");
  }
}

double measure_bandwidth_cpu() {
  const size_t n = size_t(1) << 24;
  std::vector<float> a(n), b(n, 1.f), c(n, 2.f);
  auto triad = [&] {
    float* pa = a.data();
    const float *pb = b.data(), *pc = c.data();
#pragma omp parallel for schedule(static) num_threads(mrc::num_threads())
    for (int64_t i = 0; i < int64_t(n); ++i) pa[i] = pb[i] + 3.f * pc[i];
  };
  triad();
  double best = 1e30;
  for (int r = 0; r < 7; ++r) {
    const double t = now_ms();
    triad();
    best = std::min(best, now_ms() - t);
  }
  return 3.0 * double(n) * 4.0 / (best * 1e6);
}

std::map<std::string, nlohmann::json> run_reference(const std::string& device, const std::string& filter) {
  const char* py = std::getenv("MRC_PYTHON");
  const std::string script = std::string(MRC_SOURCE_DIR) + "/bench/detection_ops_ref.py";
  std::string cmd = std::string(py ? py : "/usr/bin/python3") + " " + script + " --device " + device +
                    " --threads " + std::to_string(mrc::num_threads());
  if (!filter.empty()) cmd += " --filter '" + filter + "'";
  std::fprintf(stderr, "reference: %s\n", cmd.c_str());
  std::map<std::string, nlohmann::json> out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("bench-detection_ops: cannot run " + cmd);
  char line[65536];
  while (std::fgets(line, sizeof line, p)) {
    const std::string s(line);
    if (s.empty() || s[0] != '{') continue;
    const auto j = nlohmann::json::parse(s, nullptr, false);
    if (!j.is_discarded() && j.contains("bench")) out[j["bench"].get<std::string>()] = j;
  }
  if (pclose(p) != 0) std::fprintf(stderr, "bench-detection_ops: the reference exited with an error\n");
  return out;
}

}  // namespace


#if defined(MRC_WITH_CUDA)
namespace {

void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("bench-detection_ops: ") + what + ": " + cudaGetErrorString(e));
}

template <class T>
struct DeviceArray {
  T* p = nullptr;
  size_t n = 0;
  explicit DeviceArray(size_t count) : n(count) { cuda_check(cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(T)), "cudaMalloc"); }
  explicit DeviceArray(const std::vector<T>& h) : DeviceArray(h.size()) {
    cuda_check(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice), "upload");
  }
  ~DeviceArray() { cudaFree(p); }
  DeviceArray(const DeviceArray&) = delete;
  std::vector<T> get(size_t count) const {
    std::vector<T> h(count);
    cuda_check(cudaMemcpy(h.data(), p, count * sizeof(T), cudaMemcpyDeviceToHost), "download");
    return h;
  }
};

// Median of event-timed runs after warm-up.
template <class F>
double median_ms_cuda(F&& f) {
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  auto timed = [&] {
    cudaEventRecord(a);
    f();
    cudaEventRecord(b);
    cuda_check(cudaEventSynchronize(b), "timing");
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    return double(ms);
  };
  const double first = timed();
  const int reps = first > 500 ? 3 : 21;
  timed();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) t.push_back(timed());
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Device-to-device copy of 1 GiB: 2 GiB of traffic.
double measure_bandwidth_cuda() {
  const size_t bytes = size_t(1) << 30;
  DeviceArray<char> a(bytes), b(bytes);
  const double ms = median_ms_cuda([&] { cudaMemcpyAsync(b.p, a.p, bytes, cudaMemcpyDeviceToDevice); });
  return 2.0 * double(bytes) / (ms * 1e6);
}

void compare(const std::string& name, const std::vector<float>& got, const std::vector<float>& want, double atol, double rtol) {
  size_t bad = 0;
  for (size_t i = 0; i < want.size(); ++i)
    if (!(std::abs(got[i] - want[i]) <= atol + rtol * std::abs(want[i]))) ++bad;
  if (bad) invalid(name, std::to_string(bad) + " of " + std::to_string(want.size()) + " values differ from the CPU");
}

double bench_roi_align_cuda(const std::string& name, const std::vector<float>& feats, const FeatureShape& fs,
                            const std::vector<float>& rois, int64_t k, const RoiAlignParams& rp,
                            const std::vector<float>& y, const std::vector<float>& go, const std::vector<float>& gx,
                            bool forward) {
  DeviceArray<float> dx(feats), dr(rois), dy(y.size()), dgo(go), dgx(gx.size());
  auto run = [&] {
    if (forward)
      roi_align_forward_cuda(dx.p, fs, dr.p, k, rp, dy.p, nullptr);
    else
      roi_align_backward_cuda(dgo.p, dr.p, k, rp, fs, dgx.p, nullptr);
  };
  run();
  cuda_check(cudaDeviceSynchronize(), name.c_str());
  if (forward)
    compare(name, dy.get(y.size()), y, 1e-5, 1e-5);
  else
    compare(name, dgx.get(gx.size()), gx, 1e-4, 1e-4);
  return median_ms_cuda(run);
}

double bench_nms_cuda(const std::string& name, const std::vector<float>& boxes, const std::vector<float>& scores,
                      const std::vector<int64_t>& keep) {
  const int64_t n = int64_t(scores.size());
  DeviceArray<float> db(boxes), ds(scores);
  DeviceArray<int64_t> dk(scores.size());
  const int64_t kept = nms_cuda(db.p, ds.p, n, 0.7, dk.p, nullptr);
  if (kept != int64_t(keep.size()) || dk.get(size_t(kept)) != keep) invalid(name, "CUDA keep list differs from the CPU's");
  return median_ms_cuda([&] { nms_cuda(db.p, ds.p, n, 0.7, dk.p, nullptr); });
}

double bench_anchors_cuda(const std::string& name, const std::vector<std::vector<float>>& cells,
                          const std::vector<AnchorGrid>& grids, const std::vector<float>& a) {
  DeviceArray<float> da(a.size());
  auto run = [&] {
    int64_t row = 0;
    for (size_t l = 0; l < grids.size(); ++l) {
      const int64_t nc = int64_t(cells[l].size() / 4);
      grid_anchors_cuda(cells[l].data(), nc, grids[l], da.p + 4 * row, nullptr);
      row += grids[l].count(nc);
    }
  };
  run();
  if (da.get(a.size()) != a) invalid(name, "CUDA anchors differ from the CPU's");
  return median_ms_cuda(run);
}

}  // namespace
#endif

int main(int argc, char** argv) try {
  const auto args = bench::parse_args(argc, argv);
  bool with_ref = false;
  for (int i = 1; i < argc; ++i) with_ref |= std::string(argv[i]) == "--with-ref";
  if (args.device != "cpu" && args.device != "cuda")
    throw std::runtime_error("bench-detection_ops: --device must be cpu or cuda, got " + args.device);
#if !defined(MRC_WITH_CUDA)
  if (args.device == "cuda") throw std::runtime_error("bench-detection_ops: built without CUDA");
#endif
  const bool cuda = args.device == "cuda";
  std::map<std::string, nlohmann::json> refs;
  if (with_ref) refs = run_reference(args.device, args.filter);
  double peak = 0;
#if defined(MRC_WITH_CUDA)
  if (cuda) peak = measure_bandwidth_cuda();
#endif
  if (!cuda) peak = measure_bandwidth_cpu();
  std::printf("{\"bench\": \"memory_bandwidth\", \"device\": \"%s\", \"gbps\": %.2f}\n", args.device.c_str(), peak);
  std::vector<Result> results;
  auto ref_check = [&](const std::string& name) -> const nlohmann::json* {
    auto it = refs.find(name);
    return it == refs.end() ? nullptr : &it->second;
  };
  // The sum and the sum of magnitudes of `what` against torchvision's (when it ran), relative to the latter.
  auto check_sums = [&](const std::string& name, const std::string& what, double sum, double abs_sum) {
    if (const auto* rj = ref_check(name)) {
      check_close(name, "sum of " + what + " vs torchvision", sum, (*rj)["check"]["sum"].get<double>(), 1e-5 * abs_sum);
      check_close(name, "sum of |" + what + "| vs torchvision", abs_sum, (*rj)["check"]["abs_sum"].get<double>(), 1e-5 * abs_sum);
    }
  };
  // A validated, timed case: achieved GB/s from the bytes it moves, and torchvision's line when it ran.
  auto record = [&](const std::string& name, double ms, double bytes) {
    Result res;
    res.name = name;
    res.ours_ms = ms;
    res.gbps = bytes / (ms * 1e6);
    if (const auto* rj = ref_check(name)) res.ref = *rj;
    results.push_back(res);
  };

  // ---- roi_align --------------------------------------------------------------------------------
  const FeatureShape fs{kN, kC, kH, kW};
  std::vector<float> feats;
  for (const auto& [k, p] : std::vector<std::pair<int64_t, int64_t>>{{512, 7}, {2000, 7}, {512, 14}, {2000, 14}}) {
    const std::string suffix = "_k" + std::to_string(k) + "_" + std::to_string(p) + "x" + std::to_string(p);
    const std::string fwd = "roi_align_fwd" + suffix, bwd = "roi_align_bwd" + suffix;
    if (!args.selected(fwd) && !args.selected(bwd)) continue;
    if (feats.empty()) feats = uniform_pm1(1, size_t(fs.numel()));
    const std::vector<float> rois = make_rois(k);
    const RoiAlignParams rp{p, p, 0.25, 2, false};
    const size_t out_n = size_t(k * kC * p * p);
    std::vector<float> y(out_n), gx(size_t(fs.numel()));
    const std::vector<float> go = uniform_pm1(3, out_n);
    roi_align_forward_cpu(feats.data(), fs, rois.data(), k, rp, y.data());
    if (args.selected(fwd)) {
      // Spot checks through the shared per-bin function (no precomputed taps).
      std::mt19937 rng(7);
      for (int probe = 0; probe < 256; ++probe) {
        const size_t idx = rng() % out_n;
        const int64_t pw = int64_t(idx) % p, ph = int64_t(idx) / p % p, c = int64_t(idx) / (p * p) % kC, r = int64_t(idx) / (p * p * kC);
        const RoiBins<float> g = roi_bins(&rois[size_t(5 * r)], 0.25f, p, p, 2, false);
        const float want = roi_align_bin(feats.data() + (g.batch * kC + c) * kH * kW, kH, kW, g, ph, pw);
        check_close(fwd, "spot-checked output", y[idx], want, 1e-6 * (1 + std::abs(want)));
      }
      double sum = 0, abs_sum = 0;
      for (float v : y) {
        sum += v;
        abs_sum += std::abs(v);
      }
      check_sums(fwd, "outputs", sum, abs_sum);
      double ms = 0;
#if defined(MRC_WITH_CUDA)
      if (cuda) ms = bench_roi_align_cuda(fwd, feats, fs, rois, k, rp, y, go, gx, true);
#endif
      if (!cuda) ms = median_ms([&] { roi_align_forward_cpu(feats.data(), fs, rois.data(), k, rp, y.data()); }, [] {});
      record(fwd, ms, double(out_n + size_t(fs.numel())) * 4);
    }
    if (args.selected(bwd)) {
      roi_align_backward_cpu(go.data(), rois.data(), k, rp, fs, gx.data());
      // Adjoint identity: <roi_align(x), g> == <x, roi_align_backward(g)>.
      double lhs = 0, rhs = 0, scale = 0, sum = 0, abs_sum = 0;
      for (size_t i = 0; i < out_n; ++i) lhs += double(y[i]) * go[i];
      for (size_t i = 0; i < gx.size(); ++i) {
        rhs += double(feats[i]) * gx[i];
        scale += std::abs(double(feats[i]) * gx[i]);
        sum += gx[i];
        abs_sum += std::abs(gx[i]);
      }
      check_close(bwd, "<x, backward(g)> against <forward(x), g>", rhs, lhs, 1e-5 * scale);
      check_sums(bwd, "gradients", sum, abs_sum);
      double ms = 0;
#if defined(MRC_WITH_CUDA)
      if (cuda) ms = bench_roi_align_cuda(bwd, feats, fs, rois, k, rp, y, go, gx, false);
#endif
      if (!cuda) ms = median_ms([&] { roi_align_backward_cpu(go.data(), rois.data(), k, rp, fs, gx.data()); }, [] {});
      record(bwd, ms, double(out_n + size_t(fs.numel())) * 4);
    }
  }

  // ---- nms ---------------------------------------------------------------------------------------
  for (int64_t n : {1000, 6000, 12000, 100000}) {
    const std::string name = "nms_" + std::to_string(n / 1000) + "k";
    if (!args.selected(name)) continue;
    std::vector<float> boxes, scores;
    make_nms_inputs(n, boxes, scores);
    std::vector<int64_t> keep(scores.size());
    keep.resize(size_t(nms_cpu(boxes.data(), scores.data(), n, 0.7, keep.data())));
    check_nms(name, boxes, scores, keep, 0.7);
    if (const auto* rj = ref_check(name)) {
      if (int64_t(keep.size()) != (*rj)["check"]["kept"].get<int64_t>() || keep_hash(keep) != (*rj)["check"]["hash"].get<std::string>())
        invalid(name, "keep list differs from torchvision's (" + std::to_string(keep.size()) + " vs " +
                          std::to_string((*rj)["check"]["kept"].get<int64_t>()) + " kept)");
    }
    double ms = 0;
#if defined(MRC_WITH_CUDA)
    if (cuda) ms = bench_nms_cuda(name, boxes, scores, keep);
#endif
    if (!cuda) {
      std::vector<int64_t> k2(scores.size());
      ms = median_ms([&] { nms_cpu(boxes.data(), scores.data(), n, 0.7, k2.data()); }, [] {});
    }
    record(name, ms, double(n) * 20);
  }

  // ---- anchors -----------------------------------------------------------------------------------
  if (args.selected("anchors_1024_5lvl")) {
    const std::string name = "anchors_1024_5lvl";
    std::vector<std::vector<float>> cells;
    std::vector<AnchorGrid> grids;
    for (int64_t s : {4, 8, 16, 32, 64}) {
      cells.push_back(cell_anchors({double(8 * s)}, {0.5, 1.0, 2.0}));
      grids.push_back(anchor_grid(1024, 1024, 1024 / s, 1024 / s));
    }
    const std::vector<float> a = pyramid_anchors_cpu(cells, grids);
    const int64_t count = int64_t(a.size() / 4);
    if (count != 3 * (65536 + 16384 + 4096 + 1024 + 256)) invalid(name, "wrong anchor count");
    if (!(a[0] == -23.f && a[1] == -11.f && a[2] == 23.f && a[3] == 11.f)) invalid(name, "wrong first anchor");
    double sum = 0;
    for (float v : a) sum += v;
    if (const auto* rj = ref_check(name)) {
      if (count != (*rj)["check"]["count"].get<int64_t>()) invalid(name, "anchor count differs from torchvision's");
      check_close(name, "sum of coordinates vs torchvision", sum, (*rj)["check"]["sum"].get<double>(), 0.5);
    }
    double ms = 0;
#if defined(MRC_WITH_CUDA)
    if (cuda) ms = bench_anchors_cuda(name, cells, grids, a);
#endif
    if (!cuda) ms = median_ms([&] { (void)pyramid_anchors_cpu(cells, grids); }, [] {});
    record(name, ms, double(a.size()) * 4);
  }

  // ---- report ------------------------------------------------------------------------------------
  for (const Result& r : results) {
    nlohmann::json j{{"bench", r.name}, {"device", args.device}, {"ours_ms", std::round(r.ours_ms * 1e4) / 1e4},
                     {"gbps", std::round(r.gbps * 100) / 100}, {"peak_gbps", std::round(peak * 100) / 100}};
    if (!r.ref.is_null()) {
      j["ref"] = r.ref["ref"];
      j["ref_ms"] = r.ref["ref_ms"];
      j["ratio"] = std::round(r.ours_ms / r.ref["ref_ms"].get<double>() * 1000) / 1000;
    }
    std::printf("%s\n", j.dump().c_str());
  }
  std::printf("\n%-28s %-5s %11s %11s %7s %9s\n", "bench", "dev", "ours ms", "ref ms", "ratio", "GB/s");
  for (const Result& r : results) {
    const bool has = !r.ref.is_null();
    std::printf("%-28s %-5s %11.3f %11s %7s %9.2f\n", r.name.c_str(), args.device.c_str(), r.ours_ms,
                has ? std::to_string(r.ref["ref_ms"].get<double>()).c_str() : "-",
                has ? std::to_string(r.ours_ms / r.ref["ref_ms"].get<double>()).substr(0, 5).c_str() : "-", r.gbps);
  }
  std::printf("(memory bandwidth %.1f GB/s, %d threads)\n", peak, cuda ? 0 : mrc::num_threads());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s\n", e.what());
  return 2;
}
