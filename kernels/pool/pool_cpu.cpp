// CPU pooling and resampling kernels: one (n, c) plane per task. Backward passes write each plane of
// grad_x from one thread, so accumulation order is fixed.
#include <cmath>
#include <limits>

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
    int64_t* ip = indices.data<int64_t>();
    parallel_for(planes, 1, [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl) {
        const T* in = xp + pl * H * W;
        for (int64_t oy = 0; oy < OH; ++oy)
          for (int64_t ox = 0; ox < OW; ++ox) {
            T best = -std::numeric_limits<T>::infinity();
            int64_t arg = -1;
            for (int64_t ky = 0; ky < p.kh; ++ky) {
              const int64_t y = oy * p.sh - p.ph + ky * p.dh;
              if (y < 0 || y >= H) continue;
              for (int64_t kx = 0; kx < p.kw; ++kx) {
                const int64_t xx = ox * p.sw - p.pw + kx * p.dw;
                if (xx < 0 || xx >= W) continue;
                const T v = in[y * W + xx];
                if (v > best || std::isnan(v) || arg < 0) {
                  best = v;
                  arg = y * W + xx;
                  if (std::isnan(v)) break;
                }
              }
            }
            op[(pl * OH + oy) * OW + ox] = best;
            ip[(pl * OH + oy) * OW + ox] = arg;
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
    parallel_for(planes, 1, [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl)
        for (int64_t k = 0; k < OHW; ++k) {
          const int64_t i = ip[pl * OHW + k];
          if (i >= 0) xp[pl * HW + i] += gp[pl * OHW + k];
        }
    });
  });
}

void bilinear_forward(const Tensor& x, bool ac, const Tensor& out) {
  const int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3), OH = out.size(2), OW = out.size(3);
  MRC_DISPATCH_FLOATING(x.dtype(), "interpolate_bilinear", [&] {
    using T = scalar_t;
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    parallel_for(planes, 1, [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl) {
        const T* in = xp + pl * H * W;
        for (int64_t oy = 0; oy < OH; ++oy) {
          int64_t y0, y1;
          double wy;
          pool::bilinear_taps(oy, H, OH, ac, y0, y1, wy);
          for (int64_t ox = 0; ox < OW; ++ox) {
            int64_t x0, x1;
            double wx;
            pool::bilinear_taps(ox, W, OW, ac, x0, x1, wx);
            const double v = (1 - wy) * ((1 - wx) * double(in[y0 * W + x0]) + wx * double(in[y0 * W + x1])) +
                             wy * ((1 - wx) * double(in[y1 * W + x0]) + wx * double(in[y1 * W + x1]));
            op[(pl * OH + oy) * OW + ox] = T(v);
          }
        }
      }
    });
  });
}

void bilinear_backward(const Tensor& g, bool ac, const Tensor& gx) {
  const int64_t planes = gx.size(0) * gx.size(1), H = gx.size(2), W = gx.size(3), OH = g.size(2), OW = g.size(3);
  MRC_DISPATCH_FLOATING(g.dtype(), "interpolate_bilinear_backward", [&] {
    using T = scalar_t;
    const T* gp = g.data<T>();
    T* xp = gx.data<T>();
    parallel_for(planes, 1, [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl) {
        T* in = xp + pl * H * W;
        for (int64_t oy = 0; oy < OH; ++oy) {
          int64_t y0, y1;
          double wy;
          pool::bilinear_taps(oy, H, OH, ac, y0, y1, wy);
          for (int64_t ox = 0; ox < OW; ++ox) {
            int64_t x0, x1;
            double wx;
            pool::bilinear_taps(ox, W, OW, ac, x0, x1, wx);
            const double v = double(gp[(pl * OH + oy) * OW + ox]);
            in[y0 * W + x0] += T((1 - wy) * (1 - wx) * v);
            in[y0 * W + x1] += T((1 - wy) * wx * v);
            in[y1 * W + x0] += T(wy * (1 - wx) * v);
            in[y1 * W + x1] += T(wy * wx * v);
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
    parallel_for(planes, 1, [&](int64_t b, int64_t e) {
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
    parallel_for(planes, 1, [&](int64_t b, int64_t e) {
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

}  // namespace mrc::cpu
