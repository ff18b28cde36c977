// CPU convolution: blocked im2col + Eigen's packed GEMM on row-major maps, threads over independent
// output blocks. The split into blocks depends on the shapes only (never on the thread count or on
// timing), and each output element is produced by exactly one block, so results are reproducible.
//
// Per group, with K = C/G * kH * kW and P = OH * OW:
//   forward        out[M/G x P]  = W[M/G x K] * col[K x P]            (+ bias)
//   input grad     col[K x P]    = W^T * grad_out, then col2im        (1x1 stride 1: straight into grad_x)
//   weight grad    gW[M/G x K]   = sum over images of grad_out * col^T
#include <algorithm>
#include <array>
#include <cstdlib>
#include <new>

#include "kernels/conv/conv.h"
#include "kernels/conv/gemm.h"
#include "kernels/conv/im2col.h"
#include "tensor/parallel.h"

namespace mrc::cpu {

namespace {

// Per-thread scratch that only grows, so steady-state calls allocate nothing. Slot 0 is private to
// the block a thread works on; slot 1 holds a buffer the calling thread shares with the workers.
class Scratch {
 public:
  ~Scratch() { std::free(p_); }
  void* get(size_t bytes) {
    if (bytes > size_) {
      std::free(p_);
      size_ = (bytes + 63) / 64 * 64;
      p_ = std::aligned_alloc(64, size_);
      if (!p_) throw std::bad_alloc();
    }
    return p_;
  }

 private:
  void* p_ = nullptr;
  size_t size_ = 0;
};
enum : int { kTaskSlot = 0, kSharedSlot = 1 };
template <class T>
T* scratch(int slot, int64_t n) {
  thread_local std::array<Scratch, 2> s;
  return static_cast<T*>(s[size_t(slot)].get(size_t(n) * sizeof(T)));
}

constexpr int64_t kMinTasks = 4;                 // blocks enough to keep two to four threads busy
constexpr int64_t kColBudget = 384 * 1024;       // bytes of column buffer per block (stays in L2)
constexpr int64_t kMinCols = 96;                 // narrower column blocks make Eigen's kernel stall

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t m) { return ceil_div(a, m) * m; }

// Output positions per block for a column buffer of `rows` rows: cache-sized, at least kMinCols,
// and the same for every block (the last one takes the rest).
int64_t col_block(int64_t rows, int64_t P, size_t elt) {
  int64_t nb = std::max<int64_t>(kColBudget / std::max<int64_t>(rows * int64_t(elt), 1), kMinCols);
  if (nb >= P) return P;
  const int64_t blocks = ceil_div(P, nb);
  return std::min(P, round_up(ceil_div(P, blocks), 16));
}

ConvGeom make_geom(const Tensor& x, const Tensor& w, const Tensor& out, const Conv2dParams& p) {
  ConvGeom g;
  g.N = x.size(0);
  g.C = x.size(1);
  g.H = x.size(2);
  g.W = x.size(3);
  g.M = w.size(0);
  g.KH = w.size(2);
  g.KW = w.size(3);
  g.OH = out.size(2);
  g.OW = out.size(3);
  g.sh = p.stride_h;
  g.sw = p.stride_w;
  g.ph = p.pad_h;
  g.pw = p.pad_w;
  g.dh = p.dil_h;
  g.dw = p.dil_w;
  g.G = p.groups;
  return g;
}

template <class T>
void forward_impl(const ConvGeom& g, const T* x, const T* w, const T* bias, T* out) {
  const int64_t K = g.K(), P = g.P(), Mg = g.Mg();
  const bool pw = g.pointwise();
  const int64_t nb = col_block(K, P, sizeof(T));
  const int64_t nblk = ceil_div(P, nb);
  // out[b, group rows m0..m1, positions n0..n1] = bias + W rows * B (B: K x (n1 - n0), row stride ldb)
  auto block_gemm = [&](int64_t b, int64_t gi, int64_t m0, int64_t m1, const T* B, int64_t ldb, int64_t n0, int64_t n1) {
    T* C = out + (b * g.M + gi * Mg + m0) * P + n0;
    if (bias) {
      for (int64_t i = 0; i < m1 - m0; ++i) std::fill(C + i * P, C + i * P + (n1 - n0), bias[gi * Mg + m0 + i]);
    }
    gemm<T>(false, false, m1 - m0, n1 - n0, K, w + (gi * Mg + m0) * K, K, B, ldb, C, P, bias != nullptr);
  };
  const int64_t tasks = g.N * g.G * nblk;
  if (tasks >= kMinTasks) {
    parallel_for(tasks, 1, [&](int64_t t0, int64_t t1) {
      T* col = pw ? nullptr : scratch<T>(kTaskSlot, K * nb);
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t b = t / (g.G * nblk), gi = (t / nblk) % g.G, n0 = (t % nblk) * nb, n1 = std::min(P, n0 + nb);
        const T* xg = x + (b * g.C + gi * g.Cg()) * g.HW();
        if (pw) {
          block_gemm(b, gi, 0, Mg, xg + n0, P, n0, n1);
        } else {
          im2col_block(xg, g, 0, K, n0, n1, col);
          block_gemm(b, gi, 0, Mg, col, n1 - n0, n0, n1);
        }
      }
    });
    return;
  }
  // Few column blocks (small maps, small batch): build each image's column matrix once with all
  // threads, then split the weight rows.
  const int64_t mb = round_up(ceil_div(Mg, std::clamp<int64_t>(ceil_div(kMinTasks, g.N * g.G), 1, std::max<int64_t>(1, Mg / 16))), 8);
  const int64_t nmb = ceil_div(Mg, mb);
  for (int64_t b = 0; b < g.N; ++b) {
    for (int64_t gi = 0; gi < g.G; ++gi) {
      const T* xg = x + (b * g.C + gi * g.Cg()) * g.HW();
      const T* B = xg;
      if (!pw) {
        T* col = scratch<T>(kSharedSlot, K * P);
        parallel_for(K, std::max<int64_t>(1, 8192 / P), [&](int64_t r0, int64_t r1) {
          im2col_block(xg, g, r0, r1, 0, P, col + r0 * P);
        });
        B = col;
      }
      parallel_for(nmb, 1, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) block_gemm(b, gi, t * mb, std::min(Mg, (t + 1) * mb), B, P, 0, P);
      });
    }
  }
}

template <class T>
void backward_input_impl(const ConvGeom& g, const T* gout, const T* w, T* gx) {
  const int64_t K = g.K(), P = g.P(), Mg = g.Mg(), Cg = g.Cg(), KK = g.KK();
  const bool pw = g.pointwise();
  // Blocks own whole input channels, so col2im never adds into another block's channel.
  const int64_t cb = ceil_div(Cg, std::clamp<int64_t>(ceil_div(kMinTasks, g.N * g.G), 1, Cg));
  const int64_t ncb = ceil_div(Cg, cb);
  const int64_t nb = pw ? P : col_block(cb * KK, P, sizeof(T));
  parallel_for(g.N * g.G * ncb, 1, [&](int64_t t0, int64_t t1) {
    T* col = pw ? nullptr : scratch<T>(kTaskSlot, cb * KK * nb);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / (g.G * ncb), gi = (t / ncb) % g.G, c0 = (t % ncb) * cb, c1 = std::min(Cg, c0 + cb);
      const int64_t r0 = c0 * KK, r1 = c1 * KK;
      T* xg = gx + (b * g.C + gi * Cg) * g.HW();
      const T* go = gout + (b * g.M + gi * Mg) * P;
      const T* wg = w + gi * Mg * K + r0;  // W^T rows r0..r1: a transposed view of W's columns
      if (pw) {
        gemm<T>(true, false, c1 - c0, P, Mg, wg, K, go, P, xg + c0 * P, P, false);
        continue;
      }
      std::fill(xg + c0 * g.HW(), xg + c1 * g.HW(), T(0));
      for (int64_t n0 = 0; n0 < P; n0 += nb) {
        const int64_t n1 = std::min(P, n0 + nb);
        gemm<T>(true, false, r1 - r0, n1 - n0, Mg, wg, K, go + n0, P, col, n1 - n0, false);
        col2im_block(col, g, r0, r1, n0, n1, xg);
      }
    }
  });
}

template <class T>
void backward_weight_impl(const ConvGeom& g, const T* x, const T* gout, T* gw) {
  const int64_t K = g.K(), P = g.P(), Mg = g.Mg();
  const bool pw = g.pointwise();
  // Blocks of weight-gradient columns (im2col rows), then of rows when that is not enough.
  const int64_t rb = std::min(K, round_up(ceil_div(K, std::clamp<int64_t>(ceil_div(kMinTasks, g.G), 1, std::max<int64_t>(1, K / 32))), 8));
  const int64_t nrb = ceil_div(K, rb);
  const int64_t mb = ceil_div(Mg, std::clamp<int64_t>(ceil_div(kMinTasks, g.G * nrb), 1, std::max<int64_t>(1, Mg / 32)));
  const int64_t nmb = ceil_div(Mg, mb);
  const int64_t nb = pw ? P : col_block(rb, P, sizeof(T));
  parallel_for(g.G * nrb * nmb, 1, [&](int64_t t0, int64_t t1) {
    T* col = pw ? nullptr : scratch<T>(kTaskSlot, rb * nb);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t gi = t / (nrb * nmb), ri = (t / nmb) % nrb, mi = t % nmb;
      const int64_t r0 = ri * rb, r1 = std::min(K, r0 + rb), m0 = mi * mb, m1 = std::min(Mg, m0 + mb);
      T* gW = gw + (gi * Mg + m0) * K + r0;
      for (int64_t i = 0; i < m1 - m0; ++i) std::fill(gW + i * K, gW + i * K + (r1 - r0), T(0));
      for (int64_t b = 0; b < g.N; ++b) {
        const T* xg = x + (b * g.C + gi * g.Cg()) * g.HW();
        const T* go = gout + (b * g.M + gi * Mg + m0) * P;
        for (int64_t n0 = 0; n0 < P; n0 += nb) {
          const int64_t n1 = std::min(P, n0 + nb);
          const T* B = xg + r0 * P + n0;
          int64_t ldb = P;
          if (!pw) {
            im2col_block(xg, g, r0, r1, n0, n1, col);
            B = col;
            ldb = n1 - n0;
          }
          gemm<T>(false, true, m1 - m0, r1 - r0, n1 - n0, go + n0, P, B, ldb, gW, K, true);
        }
      }
    }
  });
}

// Sum of n contiguous values with eight fixed partial sums in double (vectorizes, same order every run).
template <class T>
double sum_contiguous(const T* p, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += double(p[i + k]);
  for (; i < n; ++i) acc[0] += double(p[i]);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p, const Tensor& out) {
  const ConvGeom g = make_geom(x, w, out, p);
  MRC_DISPATCH_FLOATING(x.dtype(), "conv2d", [&] {
    forward_impl<scalar_t>(g, x.data<scalar_t>(), w.data<scalar_t>(), b.defined() ? b.data<scalar_t>() : nullptr,
                           out.data<scalar_t>());
  });
}

void conv2d_backward_input(const Tensor& grad_out, const Tensor& w, const Conv2dParams& p, const Tensor& grad_x) {
  const ConvGeom g = make_geom(grad_x, w, grad_out, p);
  MRC_DISPATCH_FLOATING(grad_out.dtype(), "conv2d_backward_input", [&] {
    backward_input_impl<scalar_t>(g, grad_out.data<scalar_t>(), w.data<scalar_t>(), grad_x.data<scalar_t>());
  });
}

void conv2d_backward_weight(const Tensor& x, const Tensor& grad_out, const Conv2dParams& p, const Tensor& grad_w) {
  const ConvGeom g = make_geom(x, grad_w, grad_out, p);
  MRC_DISPATCH_FLOATING(x.dtype(), "conv2d_backward_weight", [&] {
    backward_weight_impl<scalar_t>(g, x.data<scalar_t>(), grad_out.data<scalar_t>(), grad_w.data<scalar_t>());
  });
}

void conv2d_backward_bias(const Tensor& grad_out, const Tensor& grad_b) {
  const int64_t N = grad_out.size(0), C = grad_out.size(1), P = grad_out.size(2) * grad_out.size(3);
  MRC_DISPATCH_FLOATING(grad_out.dtype(), "conv2d_backward_bias", [&] {
    const scalar_t* g = grad_out.data<scalar_t>();
    scalar_t* gb = grad_b.data<scalar_t>();
    parallel_for(C, std::max<int64_t>(1, 32768 / std::max<int64_t>(N * P, 1)), [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        double acc = 0;
        for (int64_t b = 0; b < N; ++b) acc += sum_contiguous(g + (b * C + c) * P, P);
        gb[c] = scalar_t(acc);
      }
    });
  });
}

}  // namespace mrc::cpu
