// conv2d forward, and forward + backward (input and weight gradients), on ResNet-50's layer shapes
// (224x224, batch 1, float32). Each case is validated first (output and gradient entries recomputed
// directly in double), then timed: median after warm-up. One JSON line per case on stdout,
//   {"bench","device","ours_ms","ref","ref_ms","ratio","gflops"}
// and a table on stderr. "conv_fwd_resnet50_sum" adds the forward times weighted by how often each
// shape occurs in ResNet-50 (53 convolutions). The torch reference (bench/conv_ref.py, same case
// names, torch.set_num_threads(2)) joins on "bench": scripts/bench runs both and fills ref_ms and
// ratio; --with-ref runs it from here instead ($MRC_PYTHON or /usr/bin/python3).
//   bench-conv [--device cpu|cuda] [--filter REGEX] [--with-ref]
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_util.h"
#include "conv_shapes.h"
#include "kernels/ops.h"
#include "tensor/parallel.h"

using namespace mrc;

namespace {

struct Row {
  std::string name;
  double ms = 0, gflops = 0;
  double ref_ms = 0;   // filled from the reference when run with --with-ref
  std::string ref = {};
};

// Reads conv_ref.py's JSON lines: bench -> (ref, ref_ms).
std::map<std::string, std::pair<std::string, double>> run_reference(const bench::Args& args) {
  const char* py = std::getenv("MRC_PYTHON");
  std::string cmd = std::string(py ? py : "/usr/bin/python3") + " " + MRC_SOURCE_DIR + "/bench/conv_ref.py --device " +
                    args.device + (args.filter.empty() ? "" : " --filter '" + args.filter + "'");
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("bench-conv: cannot run " + cmd);
  std::map<std::string, std::pair<std::string, double>> out;
  char line[4096];
  while (std::fgets(line, sizeof line, p)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("bench") && j.contains("ref_ms"))
      out[j["bench"].get<std::string>()] = {j.value("ref", "torch"), j["ref_ms"].get<double>()};
  }
  if (pclose(p) != 0) std::fprintf(stderr, "bench-conv: the reference (%s) failed\n", cmd.c_str());
  return out;
}

// Spot checks against direct sums in double: forward output, and (when given) the gradients of
// sum(out * g) with respect to x and w.
void validate(const bench::ConvShape& s, const Tensor& x, const Tensor& w, const Tensor& out, const Tensor& g,
              const Tensor& gx, const Tensor& gw) {
  const auto X = x.cpu().to_vector<float>(), Wt = w.cpu().to_vector<float>(), O = out.cpu().to_vector<float>();
  const int64_t C = s.cin, M = s.cout, H = s.hw, K = s.k, OH = out.size(2);
  auto xat = [&](int64_t c, int64_t i, int64_t j) -> double {
    return (i < 0 || i >= H || j < 0 || j >= H) ? 0.0 : X[size_t((c * H + i) * H + j)];
  };
  auto wat = [&](int64_t m, int64_t c, int64_t i, int64_t j) -> double { return Wt[size_t(((m * C + c) * K + i) * K + j)]; };
  auto fail = [&](const char* what, double got, double want) {
    throw std::runtime_error(std::string("bench-conv: ") + s.name + " " + what + " is wrong: " + std::to_string(got) +
                             " vs direct " + std::to_string(want));
  };
  auto check = [&](const char* what, double got, double want, double scale) {
    if (std::abs(got - want) > 1e-4 * scale + 1e-3 * std::abs(want)) fail(what, got, want);
  };
  Generator gen(7);
  const auto pick = Tensor::randint(0, 1 << 30, {16, 4}, &gen).to_vector<int64_t>();
  for (int t = 0; t < 16; ++t) {
    const int64_t m = pick[size_t(4 * t)] % M, oy = pick[size_t(4 * t + 1)] % OH, ox = pick[size_t(4 * t + 2)] % OH;
    double acc = 0, scale = 0;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < K; ++i)
        for (int64_t j = 0; j < K; ++j) {
          const double v = wat(m, c, i, j) * xat(c, oy * s.stride - s.pad + i, ox * s.stride - s.pad + j);
          acc += v;
          scale += std::abs(v);
        }
    check("output", O[size_t((m * OH + oy) * OH + ox)], acc, scale);
  }
  if (!g.defined()) return;
  const auto G = g.cpu().to_vector<float>(), GX = gx.cpu().to_vector<float>(), GW = gw.cpu().to_vector<float>();
  for (int t = 0; t < 8; ++t) {
    const int64_t c = pick[size_t(4 * t)] % C, iy = pick[size_t(4 * t + 1)] % H, ix = pick[size_t(4 * t + 2)] % H;
    double acc = 0, scale = 0;  // dL/dx[c, iy, ix] = sum over taps that read it
    for (int64_t m = 0; m < M; ++m)
      for (int64_t i = 0; i < K; ++i)
        for (int64_t j = 0; j < K; ++j) {
          const int64_t ny = iy + s.pad - i, nx = ix + s.pad - j;
          if (ny < 0 || nx < 0 || ny % s.stride || nx % s.stride || ny / s.stride >= OH || nx / s.stride >= OH) continue;
          const double v = wat(m, c, i, j) * G[size_t((m * OH + ny / s.stride) * OH + nx / s.stride)];
          acc += v;
          scale += std::abs(v);
        }
    check("input gradient", GX[size_t((c * H + iy) * H + ix)], acc, scale);
    const int64_t m = pick[size_t(4 * t + 3)] % M, ki = pick[size_t(4 * t + 1)] % K, kj = pick[size_t(4 * t + 2)] % K;
    acc = scale = 0;
    for (int64_t oy = 0; oy < OH; ++oy)
      for (int64_t ox = 0; ox < OH; ++ox) {
        const double v = G[size_t((m * OH + oy) * OH + ox)] * xat(c, oy * s.stride - s.pad + ki, ox * s.stride - s.pad + kj);
        acc += v;
        scale += std::abs(v);
      }
    check("weight gradient", GW[size_t(((m * C + c) * K + ki) * K + kj)], acc, scale);
  }
}

// Enough repetitions for about a quarter second per case, at least 7.
double timed(const std::function<void()>& f) {
  const double first = bench::median_ms(f, 1, 1);
  const int reps = int(std::clamp(250.0 / std::max(first, 1e-3), 7.0, 51.0));
  return bench::median_ms(f, 2, reps);
}

}  // namespace

int main(int argc, char** argv) try {
  const auto args = bench::parse_args(argc, argv);
  bool with_ref = false;
  for (int i = 1; i < argc; ++i) with_ref |= std::string(argv[i]) == "--with-ref";
  const Device dev = Device::parse(args.device);
  std::map<std::string, std::pair<std::string, double>> refs;
  if (with_ref) refs = run_reference(args);  // first, so the two never share the cores

  std::vector<Row> rows;
  double fwd_sum = 0, flops_sum = 0;
  bool all_fwd = true;
  Generator gen(0);
  for (const auto& s : bench::resnet50_conv_shapes()) {
    const Tensor x = Tensor::randn({1, s.cin, s.hw, s.hw}, &gen).to(dev);
    const Tensor w = Tensor::randn({s.cout, s.cin, s.k, s.k}, &gen).mul_(1.0 / std::sqrt(double(s.cin * s.k * s.k))).to(dev);
    const int64_t oh = (s.hw + 2 * s.pad - s.k) / s.stride + 1;
    const Tensor g = Tensor::randn({1, s.cout, oh, oh}, &gen).to(dev);
    const double flops = 2.0 * double(s.cout * oh * oh) * double(s.cin * s.k * s.k);
    const std::string fwd = std::string("conv_fwd_") + s.name, fb = std::string("conv_fwdbwd_") + s.name;
    if (args.selected(fwd)) {
      NoGradGuard ng;
      validate(s, x, w, conv2d(x, w, Tensor(), s.stride, s.pad), Tensor(), Tensor(), Tensor());
      const double ms = timed([&] { conv2d(x, w, Tensor(), s.stride, s.pad).view({-1}).narrow(0, 0, 1).to_vector<float>(); });
      rows.push_back({fwd, ms, flops / (ms * 1e6)});
      fwd_sum += double(s.count) * ms;
      flops_sum += double(s.count) * flops;
    } else {
      all_fwd = false;
    }
    if (args.selected(fb)) {
      Tensor xg = x.clone().requires_grad_(), wg = w.clone().requires_grad_();
      auto step = [&] {
        const Tensor y = conv2d(xg, wg, Tensor(), s.stride, s.pad);
        y.backward(g);
        return y;
      };
      const Tensor y = step();
      validate(s, x, w, y.detach(), g, xg.grad(), wg.grad());
      const double ms = timed([&] {
        step();
        wg.grad().view({-1}).narrow(0, 0, 1).to_vector<float>();  // waits for a device
        xg.zero_grad();
        wg.zero_grad();
      });
      rows.push_back({fb, ms, 3 * flops / (ms * 1e6)});
    }
  }
  if (all_fwd) rows.push_back({"conv_fwd_resnet50_sum", fwd_sum, flops_sum / (fwd_sum * 1e6)});

  std::fprintf(stderr, "%-32s %10s %10s %7s %10s\n", "case", "ours ms", "ref ms", "ratio", "GFLOP/s");
  for (Row& r : rows) {
    nlohmann::json j{{"bench", r.name}, {"device", args.device}, {"ours_ms", r.ms}, {"gflops", r.gflops}};
    if (auto it = refs.find(r.name); it != refs.end()) {
      r.ref = it->second.first;
      r.ref_ms = it->second.second;
      j["ref"] = r.ref;
      j["ref_ms"] = r.ref_ms;
      j["ratio"] = r.ms / r.ref_ms;
    }
    std::printf("%s\n", j.dump().c_str());
    std::fprintf(stderr, "%-32s %10.3f %10s %7s %10.1f\n", r.name.c_str(), r.ms,
                 r.ref_ms > 0 ? std::to_string(r.ref_ms).substr(0, 7).c_str() : "-",
                 r.ref_ms > 0 ? std::to_string(r.ms / r.ref_ms).substr(0, 5).c_str() : "-", r.gflops);
  }
  std::fflush(stdout);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s\n", e.what());
  return 1;
}
