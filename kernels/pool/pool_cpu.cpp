// CPU pooling and resampling kernels: one (n, c) plane per task. Backward passes write each plane of
// grad_x from one thread, so accumulation order is fixed.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/pool/pool.h"
#include "kernels/pool/pool_math.h"
#include "tensor/parallel.h"

namespace mrc::cpu {

void max_pool2d_forward(const Tensor& x, const Pool2dParams& p, const Tensor& out, const Tensor& indices) {
  const int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3), OH = out.size(2), OW = out.size(3);
  MRC_DISPATCH_FLOATING(x.dtype(), "max_pool2d", [&] {
    using T = scalar_t;
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    int64_t* ip = indices.defined() ? indices.data<int64_t>() : nullptr;
    // the kernel columns inside the input, the same for every row
    std::vector<pool::WindowTaps> cols(static_cast<size_t>(OW));
    for (int64_t ox = 0; ox < OW; ++ox) cols[size_t(ox)] = pool::window_taps(ox, p.kw, p.sw, p.pw, p.dw, W);
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(OH * OW * p.kh * p.kw, 1));
    if (!ip) {
      // Values only (inference): the max over the window's rows first, vectorized across the whole
      // row, then over its columns. NaN wins as in torch, so the value matches the indexed path.
      auto vmax = [](T a, T v) {
        const T m = v > a ? v : a;
        return v != v ? v : m;  // NaN check written so the loop vectorizes
      };
      parallel_for(planes, grain, [&](int64_t b, int64_t e) {
        std::vector<T> rowmax(static_cast<size_t>(W));
        for (int64_t pl = b; pl < e; ++pl) {
          const T* in = xp + pl * H * W;
          for (int64_t oy = 0; oy < OH; ++oy) {
            const pool::WindowTaps rows = pool::window_taps(oy, p.kh, p.sh, p.ph, p.dh, H);
            T* rm = rowmax.data();
            std::fill(rm, rm + W, -std::numeric_limits<T>::infinity());
            for (int64_t ky = rows.k0; ky < rows.k1; ++ky) {
              const T* row = in + (rows.start + ky * p.dh) * W;
              for (int64_t i = 0; i < W; ++i) rm[i] = vmax(rm[i], row[i]);
            }
            T* orow = op + (pl * OH + oy) * OW;
            for (int64_t ox = 0; ox < OW; ++ox) {
              const pool::WindowTaps& c = cols[size_t(ox)];
              T best = -std::numeric_limits<T>::infinity();
              for (int64_t kx = c.k0; kx < c.k1; ++kx) best = vmax(best, rm[c.start + kx * p.dw]);
              orow[ox] = best;
            }
          }
        }
      });
      return;
    }
    parallel_for(planes, grain, [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl) {
        const T* in = xp + pl * H * W;
        for (int64_t oy = 0; oy < OH; ++oy) {
          const pool::WindowTaps rows = pool::window_taps(oy, p.kh, p.sh, p.ph, p.dh, H);
          T* orow = op + (pl * OH + oy) * OW;
          int64_t* irow = ip + (pl * OH + oy) * OW;
          for (int64_t ox = 0; ox < OW; ++ox) {
            const pool::WindowTaps& c = cols[size_t(ox)];
            // torch's rule: a larger value or a NaN replaces the current maximum; the first one wins ties
            T best = -std::numeric_limits<T>::infinity();
            int64_t arg = -1;
            for (int64_t ky = rows.k0; ky < rows.k1; ++ky) {
              const int64_t y = rows.start + ky * p.dh;
              const T* row = in + y * W;
              for (int64_t kx = c.k0; kx < c.k1; ++kx) {
                const int64_t xx = c.start + kx * p.dw;
                const T v = row[xx];
                if (v > best || std::isnan(v) || arg < 0) {
                  best = v;
                  arg = y * W + xx;
                }
              }
            }
            orow[ox] = best;
            irow[ox] = arg;
          }
        }
      }
    });
  });
}

void max_pool2d_backward(const Tensor& g, const Tensor& indices, const Pool2dParams&, const Tensor& gx) {
  const int64_t planes = gx.size(0) * gx.size(1), HW = gx.size(2) * gx.size(3), OHW = g.size(2) * g.size(3);
  MRC_DISPATCH_FLOATING(g.dtype(), "max_pool2d_backward", [&] {
    using T = scalar_t;
    const T* gp = g.data<T>();
    const int64_t* ip = indices.data<int64_t>();
    T* xp = gx.data<T>();
    parallel_for(planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(HW, 1)), [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl)
        for (int64_t k = 0; k < OHW; ++k) {
          const int64_t i = ip[pl * OHW + k];
          if (i >= 0) xp[pl * HW + i] += gp[pl * OHW + k];
        }
    });
  });
}

namespace {

// Taps of every output index along one axis, computed once per call.
template <class T>
std::vector<pool::LinearTap<T>> axis_taps(int64_t in, int64_t out, bool align_corners) {
  std::vector<pool::LinearTap<T>> t(static_cast<size_t>(out));
  for (int64_t i = 0; i < out; ++i) t[size_t(i)] = pool::linear_tap<T>(i, in, out, align_corners);
  return t;
}

// One adaptive-pooling window [y0, y1) x [x0, x1) of a plane whose first element is at `base`.
struct AdaptiveWindow {
  int64_t base, W, y0, y1, x0, x1;
  int64_t area() const { return (y1 - y0) * (x1 - x0); }
  template <class F>
  void each(F f) const {  // f(input offset), rows then columns
    for (int64_t y = y0; y < y1; ++y)
      for (int64_t x = x0; x < x1; ++x) f(base + y * W + x);
  }
};

// Calls f(output offset, window) for every output of adaptive pooling from x's planes to out's, one (n, c)
// plane per task, outputs in row-major order.
template <class F>
void for_each_adaptive_window(const Tensor& x, const Tensor& out, F f) {
  const int64_t H = x.size(2), W = x.size(3), OH = out.size(2), OW = out.size(3);
  parallel_for(x.size(0) * x.size(1), std::max<int64_t>(1, 16384 / std::max<int64_t>(H * W, 1)), [&](int64_t b, int64_t e) {
    for (int64_t pl = b; pl < e; ++pl)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox)
          f((pl * OH + oy) * OW + ox,
            AdaptiveWindow{pl * H * W, W, pool::adaptive_start(oy, OH, H), pool::adaptive_end(oy, OH, H),
                           pool::adaptive_start(ox, OW, W), pool::adaptive_end(ox, OW, W)});
  });
}

// The sh x sw block of output offsets one input pixel of nearest upsampling fills.
struct NearestBlock {
  int64_t corner, row, sh, sw;  // top-left output offset, output row length
  template <class F>
  void each(F f) const {  // f(output offset), rows then columns
    for (int64_t r = 0; r < sh; ++r)
      for (int64_t j = 0; j < sw; ++j) f(corner + r * row + j);
  }
};

// Calls f(input offset, its block) for every pixel of `x` (the input-shaped tensor), one (n, c) plane per task.
template <class F>
void for_each_nearest_block(const Tensor& x, int64_t sh, int64_t sw, F f) {
  const int64_t H = x.size(2), W = x.size(3);
  parallel_for(x.size(0) * x.size(1), std::max<int64_t>(1, 16384 / std::max<int64_t>(H * W * sh * sw, 1)),
               [&](int64_t b, int64_t e) {
                 for (int64_t i = b * H * W; i < e * H * W; ++i)  // i = (plane * H + y) * W + x
                   f(i, NearestBlock{(i / W * sh * W + i % W) * sw, W * sw, sh, sw});
               });
}

}  // namespace

void bilinear_forward(const Tensor& x, bool ac, const Tensor& out) {
  const int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3), OH = out.size(2), OW = out.size(3);
  MRC_DISPATCH_FLOATING(x.dtype(), "interpolate_bilinear", [&] {
    using T = scalar_t;
    const auto ty = axis_taps<T>(H, OH, ac), tx = axis_taps<T>(W, OW, ac);
    const bool cl = pool::torch_channels_last_kernel(x.size(1), H, W);
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    parallel_for(planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(OH * OW, 1)), [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl) {
        const T* in = xp + pl * H * W;
        const auto at = [in, W](int64_t r, int64_t c) { return in[r * W + c]; };
        for (int64_t oy = 0; oy < OH; ++oy) {
          T* o = op + (pl * OH + oy) * OW;
          for (int64_t ox = 0; ox < OW; ++ox) o[ox] = pool::bilinear_value(ty[size_t(oy)], tx[size_t(ox)], at, cl);
        }
      }
    });
  });
}

void bilinear_backward(const Tensor& g, bool ac, const Tensor& gx) {
  const int64_t planes = gx.size(0) * gx.size(1), H = gx.size(2), W = gx.size(3), OH = g.size(2), OW = g.size(3);
  MRC_DISPATCH_FLOATING(g.dtype(), "interpolate_bilinear_backward", [&] {
    using T = scalar_t;
    const auto ty = axis_taps<T>(H, OH, ac), tx = axis_taps<T>(W, OW, ac);
    const T* gp = g.data<T>();
    T* xp = gx.data<T>();
    parallel_for(planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(OH * OW, 1)), [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl) {  // one plane per thread: a fixed order of accumulation
        T* in = xp + pl * H * W;
        for (int64_t oy = 0; oy < OH; ++oy) {
          const pool::LinearTap<T>& y = ty[size_t(oy)];
          const T* go = gp + (pl * OH + oy) * OW;
          for (int64_t ox = 0; ox < OW; ++ox) {
            const pool::LinearTap<T>& t = tx[size_t(ox)];
            in[y.i0 * W + t.i0] += pool::bilinear_grad(y, t, 0, 0, go[ox]);
            in[y.i0 * W + t.i1] += pool::bilinear_grad(y, t, 0, 1, go[ox]);
            in[y.i1 * W + t.i0] += pool::bilinear_grad(y, t, 1, 0, go[ox]);
            in[y.i1 * W + t.i1] += pool::bilinear_grad(y, t, 1, 1, go[ox]);
          }
        }
      }
    });
  });
}

void adaptive_avg_forward(const Tensor& x, const Tensor& out) {
  MRC_DISPATCH_FLOATING(x.dtype(), "adaptive_avg_pool2d", [&] {
    const scalar_t* xp = x.data<scalar_t>();
    scalar_t* op = out.data<scalar_t>();
    for_each_adaptive_window(x, out, [&](int64_t o, const AdaptiveWindow& w) {
      double s = 0;
      w.each([&](int64_t i) { s += double(xp[i]); });
      op[o] = scalar_t(s / double(w.area()));
    });
  });
}

void adaptive_avg_backward(const Tensor& g, const Tensor& gx) {
  MRC_DISPATCH_FLOATING(g.dtype(), "adaptive_avg_pool2d_backward", [&] {
    const scalar_t* gp = g.data<scalar_t>();
    scalar_t* xp = gx.data<scalar_t>();
    for_each_adaptive_window(gx, g, [&](int64_t o, const AdaptiveWindow& w) {
      const scalar_t v = scalar_t(double(gp[o]) / double(w.area()));
      w.each([&](int64_t i) { xp[i] += v; });
    });
  });
}

void upsample_nearest_forward(const Tensor& x, int64_t sh, int64_t sw, const Tensor& out) {
  MRC_DISPATCH_FLOATING(x.dtype(), "upsample_nearest2d", [&] {
    const scalar_t* xp = x.data<scalar_t>();
    scalar_t* op = out.data<scalar_t>();
    for_each_nearest_block(x, sh, sw, [&](int64_t i, const NearestBlock& blk) { blk.each([&](int64_t o) { op[o] = xp[i]; }); });
  });
}

void upsample_nearest_backward(const Tensor& g, int64_t sh, int64_t sw, const Tensor& gx) {
  MRC_DISPATCH_FLOATING(g.dtype(), "upsample_nearest2d_backward", [&] {
    const scalar_t* gp = g.data<scalar_t>();
    scalar_t* xp = gx.data<scalar_t>();
    for_each_nearest_block(gx, sh, sw, [&](int64_t i, const NearestBlock& blk) {
      scalar_t acc = 0;  // block sum in a fixed order: rows, then columns
      blk.each([&](int64_t o) { acc += gp[o]; });
      xp[i] = acc;
    });
  });
}

}  // namespace mrc::cpu
