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
    // the kernel columns kx in [kx0[ox], kx1[ox]) fall inside the input; the same for every row
    std::vector<int64_t> kx0(static_cast<size_t>(OW)), kx1(static_cast<size_t>(OW));
    for (int64_t ox = 0; ox < OW; ++ox) {
      const int64_t x0 = ox * p.sw - p.pw;
      kx0[size_t(ox)] = x0 >= 0 ? 0 : (-x0 + p.dw - 1) / p.dw;
      kx1[size_t(ox)] = std::max(kx0[size_t(ox)], std::min(p.kw, W - x0 <= 0 ? 0 : (W - x0 + p.dw - 1) / p.dw));
    }
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
            const int64_t y0 = oy * p.sh - p.ph;
            const int64_t ky0 = y0 >= 0 ? 0 : (-y0 + p.dh - 1) / p.dh;
            const int64_t ky1 = std::max(ky0, std::min(p.kh, H - y0 <= 0 ? 0 : (H - y0 + p.dh - 1) / p.dh));
            T* rm = rowmax.data();
            std::fill(rm, rm + W, -std::numeric_limits<T>::infinity());
            for (int64_t ky = ky0; ky < ky1; ++ky) {
              const T* row = in + (y0 + ky * p.dh) * W;
              for (int64_t i = 0; i < W; ++i) rm[i] = vmax(rm[i], row[i]);
            }
            T* orow = op + (pl * OH + oy) * OW;
            for (int64_t ox = 0; ox < OW; ++ox) {
              const int64_t x0 = ox * p.sw - p.pw;
              T best = -std::numeric_limits<T>::infinity();
              for (int64_t kx = kx0[size_t(ox)]; kx < kx1[size_t(ox)]; ++kx) best = vmax(best, rm[x0 + kx * p.dw]);
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
          const int64_t y0 = oy * p.sh - p.ph;
          const int64_t ky0 = y0 >= 0 ? 0 : (-y0 + p.dh - 1) / p.dh;
          const int64_t ky1 = std::max(ky0, std::min(p.kh, H - y0 <= 0 ? 0 : (H - y0 + p.dh - 1) / p.dh));
          T* orow = op + (pl * OH + oy) * OW;
          int64_t* irow = ip ? ip + (pl * OH + oy) * OW : nullptr;
          for (int64_t ox = 0; ox < OW; ++ox) {
            const int64_t x0 = ox * p.sw - p.pw;
            // torch's rule: a larger value or a NaN replaces the current maximum; the first one wins ties
            T best = -std::numeric_limits<T>::infinity();
            int64_t arg = -1;
            for (int64_t ky = ky0; ky < ky1; ++ky) {
              const int64_t y = y0 + ky * p.dh;
              const T* row = in + y * W;
              for (int64_t kx = kx0[size_t(ox)]; kx < kx1[size_t(ox)]; ++kx) {
                const int64_t xx = x0 + kx * p.dw;
                const T v = row[xx];
                if (v > best || std::isnan(v) || arg < 0) {
                  best = v;
                  arg = y * W + xx;
                }
              }
            }
            orow[ox] = best;
            if (irow) irow[ox] = arg;
          }
        }
      }
    });
  });
}

void max_pool2d_backward(const Tensor& g, const Tensor& indices, const Tensor& gx) {
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
struct Taps {
  std::vector<int64_t> i0, i1;
  std::vector<double> w1;
  Taps(int64_t in, int64_t out, bool ac) : i0(static_cast<size_t>(out)), i1(static_cast<size_t>(out)), w1(static_cast<size_t>(out)) {
    for (int64_t i = 0; i < out; ++i) pool::bilinear_taps(i, in, out, ac, i0[size_t(i)], i1[size_t(i)], w1[size_t(i)]);
  }
};
}  // namespace

void bilinear_forward(const Tensor& x, bool ac, const Tensor& out) {
  const int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3), OH = out.size(2), OW = out.size(3);
  const Taps ty(H, OH, ac), tx(W, OW, ac);
  MRC_DISPATCH_FLOATING(x.dtype(), "interpolate_bilinear", [&] {
    using T = scalar_t;
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    parallel_for(planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(OH * OW, 1)), [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl) {
        const T* in = xp + pl * H * W;
        for (int64_t oy = 0; oy < OH; ++oy) {
          const double wy = ty.w1[size_t(oy)];
          const T* r0 = in + ty.i0[size_t(oy)] * W;
          const T* r1 = in + ty.i1[size_t(oy)] * W;
          T* o = op + (pl * OH + oy) * OW;
          for (int64_t ox = 0; ox < OW; ++ox) {
            const int64_t x0 = tx.i0[size_t(ox)], x1 = tx.i1[size_t(ox)];
            const double wx = tx.w1[size_t(ox)];
            o[ox] = T((1 - wy) * ((1 - wx) * double(r0[x0]) + wx * double(r0[x1])) +
                      wy * ((1 - wx) * double(r1[x0]) + wx * double(r1[x1])));
          }
        }
      }
    });
  });
}

void bilinear_backward(const Tensor& g, bool ac, const Tensor& gx) {
  const int64_t planes = gx.size(0) * gx.size(1), H = gx.size(2), W = gx.size(3), OH = g.size(2), OW = g.size(3);
  const Taps ty(H, OH, ac), tx(W, OW, ac);
  MRC_DISPATCH_FLOATING(g.dtype(), "interpolate_bilinear_backward", [&] {
    using T = scalar_t;
    const T* gp = g.data<T>();
    T* xp = gx.data<T>();
    parallel_for(planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(OH * OW, 1)), [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl) {  // one plane per thread: a fixed order of accumulation
        T* in = xp + pl * H * W;
        for (int64_t oy = 0; oy < OH; ++oy) {
          const double wy = ty.w1[size_t(oy)];
          T* r0 = in + ty.i0[size_t(oy)] * W;
          T* r1 = in + ty.i1[size_t(oy)] * W;
          const T* go = gp + (pl * OH + oy) * OW;
          for (int64_t ox = 0; ox < OW; ++ox) {
            const int64_t x0 = tx.i0[size_t(ox)], x1 = tx.i1[size_t(ox)];
            const double wx = tx.w1[size_t(ox)], v = double(go[ox]);
            r0[x0] += T((1 - wy) * (1 - wx) * v);
            r0[x1] += T((1 - wy) * wx * v);
            r1[x0] += T(wy * (1 - wx) * v);
            r1[x1] += T(wy * wx * v);
          }
        }
      }
    });
  });
}

void adaptive_avg_forward(const Tensor& x, const Tensor& out) {
  const int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3), OH = out.size(2), OW = out.size(3);
  MRC_DISPATCH_FLOATING(x.dtype(), "adaptive_avg_pool2d", [&] {
    using T = scalar_t;
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    parallel_for(planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(H * W, 1)), [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl)
        for (int64_t oy = 0; oy < OH; ++oy)
          for (int64_t ox = 0; ox < OW; ++ox) {
            const int64_t y0 = pool::adaptive_start(oy, OH, H), y1 = pool::adaptive_end(oy, OH, H);
            const int64_t x0 = pool::adaptive_start(ox, OW, W), x1 = pool::adaptive_end(ox, OW, W);
            double s = 0;
            for (int64_t y = y0; y < y1; ++y)
              for (int64_t xx = x0; xx < x1; ++xx) s += double(xp[(pl * H + y) * W + xx]);
            op[(pl * OH + oy) * OW + ox] = T(s / double((y1 - y0) * (x1 - x0)));
          }
    });
  });
}

void adaptive_avg_backward(const Tensor& g, const Tensor& gx) {
  const int64_t planes = gx.size(0) * gx.size(1), H = gx.size(2), W = gx.size(3), OH = g.size(2), OW = g.size(3);
  MRC_DISPATCH_FLOATING(g.dtype(), "adaptive_avg_pool2d_backward", [&] {
    using T = scalar_t;
    const T* gp = g.data<T>();
    T* xp = gx.data<T>();
    parallel_for(planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(H * W, 1)), [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl)
        for (int64_t oy = 0; oy < OH; ++oy)
          for (int64_t ox = 0; ox < OW; ++ox) {
            const int64_t y0 = pool::adaptive_start(oy, OH, H), y1 = pool::adaptive_end(oy, OH, H);
            const int64_t x0 = pool::adaptive_start(ox, OW, W), x1 = pool::adaptive_end(ox, OW, W);
            const T v = T(double(gp[(pl * OH + oy) * OW + ox]) / double((y1 - y0) * (x1 - x0)));
            for (int64_t y = y0; y < y1; ++y)
              for (int64_t xx = x0; xx < x1; ++xx) xp[(pl * H + y) * W + xx] += v;
          }
    });
  });
}

void upsample_nearest_forward(const Tensor& x, int64_t sh, int64_t sw, const Tensor& out) {
  const int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3), OW = W * sw;
  MRC_DISPATCH_FLOATING(x.dtype(), "upsample_nearest2d", [&] {
    using T = scalar_t;
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    parallel_for(planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(H * W * sh * sw, 1)), [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl)
        for (int64_t y = 0; y < H; ++y) {
          const T* src = xp + (pl * H + y) * W;
          T* row = op + (pl * H + y) * sh * OW;
          for (int64_t x0 = 0; x0 < W; ++x0)
            for (int64_t j = 0; j < sw; ++j) row[x0 * sw + j] = src[x0];
          for (int64_t i = 1; i < sh; ++i) std::copy(row, row + OW, row + i * OW);
        }
    });
  });
}

void upsample_nearest_backward(const Tensor& g, int64_t sh, int64_t sw, const Tensor& gx) {
  const int64_t planes = gx.size(0) * gx.size(1), H = gx.size(2), W = gx.size(3), OW = W * sw;
  MRC_DISPATCH_FLOATING(g.dtype(), "upsample_nearest2d_backward", [&] {
    using T = scalar_t;
    const T* gp = g.data<T>();
    T* xp = gx.data<T>();
    parallel_for(planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(H * W * sh * sw, 1)), [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl)
        for (int64_t y = 0; y < H; ++y) {
          T* dst = xp + (pl * H + y) * W;
          for (int64_t x0 = 0; x0 < W; ++x0) {
            T acc = 0;  // block sum in a fixed order: rows, then columns
            for (int64_t i = 0; i < sh; ++i)
              for (int64_t j = 0; j < sw; ++j) acc += gp[((pl * H + y) * sh + i) * OW + x0 * sw + j];
            dst[x0] = acc;
          }
        }
    });
  });
}

}  // namespace mrc::cpu
