// CPU convolution: im2col in cache-sized chunks + a packed GEMM (gemm.h), threads over independent
// pieces of the output. The split depends on the shapes and the thread count only (never on timing),
// and each output element is produced by exactly one piece, so results repeat run to run.
//
// Per group, with K = C/G * kH * kW and P = OH * OW:
//   forward        out[M/G x P]  = W[M/G x K] * col[K x P]            (+ bias)
//   input grad     col[K x P]    = W^T * grad_out, then col2im        (1x1 stride 1: straight into grad_x)
//   weight grad    gW[M/G x K]   = sum over images of grad_out * col^T
#include <algorithm>
#include <array>
#include <cstdlib>
#include <new>
#include <type_traits>
#include <utility>

#include "kernels/conv/conv.h"
#include "kernels/conv/conv_fused.h"
#include "kernels/gemm/gemm.h"
#include "kernels/conv/im2col.h"
#include "kernels/conv/winograd_cpu.h"
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

constexpr int64_t kColBudget = 4 << 20;  // bytes of column buffer per chunk (cache-sized, bounded for big images)
constexpr int64_t kMinCols = 96;          // narrower chunks make Eigen's kernel stall
constexpr double kSerialFlops = 4e6;      // below this a parallel region costs more than it saves

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t m) { return ceil_div(a, m) * m; }

// Output positions per chunk for a column buffer of `rows` rows over `cols` positions.
int64_t chunk_cols(int64_t rows, int64_t cols, size_t elt) {
  const int64_t nb = std::max<int64_t>(kColBudget / std::max<int64_t>(rows * int64_t(elt), 1), kMinCols);
  return nb >= cols ? cols : round_up(ceil_div(cols, ceil_div(cols, nb)), 16);
}

// Threads a convolution of `flops` should use: one when the work is too small to share.
int64_t threads_for(double flops) { return flops < kSerialFlops ? 1 : std::max(1, num_threads()); }

// [begin, end) of part t when `n` items are cut into `parts` pieces aligned to `align`.
std::pair<int64_t, int64_t> part(int64_t n, int64_t parts, int64_t t, int64_t align) {
  const int64_t step = round_up(ceil_div(n, parts), align);
  return {std::min(n, t * step), std::min(n, (t + 1) * step)};
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

// The work of one call is split, in an order fixed by the shapes and the thread count alone, into
// one piece per thread: whole images when there are enough of them, else columns (output positions)
// or rows (output channels) of each image, mostly whichever side is larger, because the GEMM repacks
// the other operand for every piece.
// The epilogue each output block gets while it is in cache: + residual (same layout as out), then ReLU.
template <class T>
struct Epilogue {
  const T* residual = nullptr;
  bool relu = false;
};

template <class T>
void forward_impl(const ConvGeom& g, const T* x, const T* w, const T* bias, T* out, Epilogue<T> epi = {}) {
  if constexpr (std::is_same_v<T, float>)
    if (winograd_applies(g)) return winograd_forward(g, x, w, bias, out, epi.residual, epi.relu);
  const int64_t K = g.K(), P = g.P(), Mg = g.Mg(), images = g.N * g.G;
  const bool pw = g.pointwise();
  const int64_t threads = threads_for(2.0 * double(images) * double(Mg) * double(P) * double(K));
  auto input = [&](int64_t i) { return x + (i / g.G * g.C + i % g.G * g.Cg()) * g.HW(); };
  // out rows m0..m1, positions n0..n1 of image-group i = bias + W rows * B (K x (n1 - n0), row stride ldb)
  // (the block starts as bias + residual and the GEMM accumulates onto it; ReLU runs on the finished block)
  auto block_gemm = [&](int64_t i, int64_t m0, int64_t m1, const T* B, int64_t ldb, int64_t n0, int64_t n1) {
    const int64_t gi = i % g.G, offset = (i / g.G * g.M + gi * Mg + m0) * P + n0, cols = n1 - n0;
    T* C = out + offset;
    const T* R = epi.residual ? epi.residual + offset : nullptr;
    if (bias || R)
      for (int64_t r = 0; r < m1 - m0; ++r) {
        T* c = C + r * P;
        const T b = bias ? bias[gi * Mg + m0 + r] : T(0);
        if (R)
          for (int64_t j = 0; j < cols; ++j) c[j] = R[r * P + j] + b;
        else
          std::fill(c, c + cols, b);
      }
    gemm<T>(false, false, m1 - m0, cols, K, w + (gi * Mg + m0) * K, K, B, ldb, C, P, bias || R);
    if (epi.relu)
      for (int64_t r = 0; r < m1 - m0; ++r)
        for (T* c = C + r * P; c < C + r * P + cols; ++c) *c = *c > T(0) ? *c : T(0);
  };
  // positions n0..n1 of image-group i, all rows, in cache-sized chunks of im2col
  auto columns = [&](int64_t i, int64_t n0, int64_t n1) {
    if (pw) return block_gemm(i, 0, Mg, input(i) + n0, P, n0, n1);
    const int64_t nb = chunk_cols(K, n1 - n0, sizeof(T));
    T* col = scratch<T>(kTaskSlot, K * nb);
    for (int64_t c0 = n0; c0 < n1; c0 += nb) {
      const int64_t c1 = std::min(n1, c0 + nb);
      im2col_block(input(i), g, 0, K, c0, c1, col);
      block_gemm(i, 0, Mg, col, c1 - c0, c0, c1);
    }
  };
  if (threads == 1 || images >= threads) {
    parallel_for(images, threads == 1 ? images : 1, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) columns(i, 0, P);
    });
    return;
  }
  for (int64_t i = 0; i < images; ++i) {
    // columns repack the weights per piece, rows the column matrix (built first, with a barrier), so
    // im2col convolutions favour columns; measured on ResNet-50's shapes
    if (pw ? P >= Mg : 4 * P >= Mg) {
      parallel_for(threads, 1, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          const auto [n0, n1] = part(P, threads, t, 16);
          if (n0 < n1) columns(i, n0, n1);
        }
      });
      continue;
    }
    const T* B = input(i);
    if (!pw) {  // one column matrix for all row pieces, built by all threads
      T* col = scratch<T>(kSharedSlot, K * P);
      parallel_for(K, 1, [&](int64_t r0, int64_t r1) { im2col_block(input(i), g, r0, r1, 0, P, col + r0 * P); });
      B = col;
    }
    parallel_for(threads, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const auto [m0, m1] = part(Mg, threads, t, 8);
        if (m0 < m1) block_gemm(i, m0, m1, B, P, 0, P);
      }
    });
  }
}

// Input gradient: per piece, gcol = W^T * grad_out, then col2im into the input. Pieces own whole
// images, or whole input channels of one image (col2im never adds into another piece's channel); a
// 1x1 convolution without im2col may split positions instead.
template <class T>
void backward_input_impl(const ConvGeom& g, const T* gout, const T* w, T* gx) {
  if constexpr (std::is_same_v<T, float>)
    if (winograd_backward_input_applies(g)) return winograd_backward_input(g, gout, w, gx);
  const int64_t K = g.K(), P = g.P(), Mg = g.Mg(), Cg = g.Cg(), KK = g.KK(), images = g.N * g.G;
  const bool pw = g.pointwise();
  const int64_t threads = threads_for(2.0 * double(images) * double(Mg) * double(P) * double(K));
  auto grad_in = [&](int64_t i) { return gx + (i / g.G * g.C + i % g.G * Cg) * g.HW(); };
  auto grad_out = [&](int64_t i) { return gout + (i / g.G * g.M + i % g.G * Mg) * P; };
  auto weight = [&](int64_t i) { return w + i % g.G * Mg * K; };
  // input channels c0..c1 of image-group i (positions n0..n1 for 1x1)
  auto channels = [&](int64_t i, int64_t c0, int64_t c1, int64_t n0, int64_t n1) {
    const int64_t r0 = c0 * KK, r1 = c1 * KK;
    T* xg = grad_in(i);
    if (pw) return gemm<T>(true, false, c1 - c0, n1 - n0, Mg, weight(i) + r0, K, grad_out(i) + n0, P, xg + c0 * P + n0, P, false);
    const bool disjoint = col2im_disjoint(g);  // every input position written once: no zero fill, no adds
    if (!disjoint) std::fill(xg + c0 * g.HW(), xg + c1 * g.HW(), T(0));
    const int64_t nb = chunk_cols(r1 - r0, P, sizeof(T));
    T* col = scratch<T>(kTaskSlot, (r1 - r0) * nb);
    for (int64_t q0 = 0; q0 < P; q0 += nb) {
      const int64_t q1 = std::min(P, q0 + nb);
      gemm<T>(true, false, r1 - r0, q1 - q0, Mg, weight(i) + r0, K, grad_out(i) + q0, P, col, q1 - q0, false);
      if (disjoint)
        col2im_disjoint_block(col, g, r0, r1, q0, q1, xg);
      else
        col2im_block(col, g, r0, r1, q0, q1, xg);
    }
  };
  if (threads == 1 || images >= threads) {
    parallel_for(images, threads == 1 ? images : 1, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) channels(i, 0, Cg, 0, P);
    });
    return;
  }
  const bool split_positions = pw && P > Cg;
  for (int64_t i = 0; i < images; ++i) {
    parallel_for(threads, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        if (split_positions) {
          const auto [n0, n1] = part(P, threads, t, 16);
          if (n0 < n1) channels(i, 0, Cg, n0, n1);
        } else {
          const auto [c0, c1] = part(Cg, threads, t, 1);
          if (c0 < c1) channels(i, c0, c1, 0, P);
        }
      }
    });
  }
}

// Weight gradient: pieces own columns of gW (im2col rows, so each piece builds only its own rows),
// or rows of gW when the columns are too few; each sums over all images and positions in order.
template <class T>
void backward_weight_impl(const ConvGeom& g, const T* x, const T* gout, T* gw) {
  const int64_t K = g.K(), P = g.P(), Mg = g.Mg();
  const bool pw = g.pointwise();
  const int64_t threads = threads_for(2.0 * double(g.N * g.G) * double(Mg) * double(P) * double(K));
  const int64_t per_group = ceil_div(threads, g.G);
  const int64_t nrb = std::clamp<int64_t>(per_group, 1, std::max<int64_t>(1, K / 32));
  const int64_t nmb = std::clamp<int64_t>(ceil_div(per_group, nrb), 1, std::max<int64_t>(1, Mg / 32));
  const int64_t pieces = g.G * nrb * nmb;
  parallel_for(pieces, threads == 1 ? pieces : 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t gi = t / (nrb * nmb);
      const auto [r0, r1] = part(K, nrb, (t / nmb) % nrb, 8);
      const auto [m0, m1] = part(Mg, nmb, t % nmb, 8);
      if (r0 >= r1 || m0 >= m1) continue;
      T* gW = gw + (gi * Mg + m0) * K + r0;
      for (int64_t r = 0; r < m1 - m0; ++r) std::fill(gW + r * K, gW + r * K + (r1 - r0), T(0));
      const int64_t nb = pw ? P : chunk_cols(r1 - r0, P, sizeof(T));
      T* col = pw ? nullptr : scratch<T>(kTaskSlot, (r1 - r0) * nb);
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
  conv2d_forward_fused(x, w, b, p, out, Tensor(), false);
}

void conv2d_forward_fused(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p, const Tensor& out,
                          const Tensor& residual, bool relu) {
  const ConvGeom g = make_geom(x, w, out, p);
  MRC_DISPATCH_FLOATING(x.dtype(), "conv2d", [&] {
    Epilogue<scalar_t> epi{residual.defined() ? residual.data<scalar_t>() : nullptr, relu};
    forward_impl<scalar_t>(g, x.data<scalar_t>(), w.data<scalar_t>(), b.defined() ? b.data<scalar_t>() : nullptr,
                           out.data<scalar_t>(), epi);
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
