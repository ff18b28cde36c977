// CPU normalization kernels: one thread per channel (batch norm) or per sample and group (group norm),
// statistics in double with a fixed summation order, so results repeat run to run.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/norm/norm.h"
#include "tensor/parallel.h"

namespace mrc::cpu {

namespace {

struct Dims {
  int64_t N, C, S;  // x viewed as [N, C, S]
};
Dims dims_of(const Tensor& x) {
  int64_t s = 1;
  for (int64_t d = 2; d < x.dim(); ++d) s *= x.size(d);
  return {x.size(0), x.size(1), s};
}

// Per-task grain so that small tensors stay on one thread.
int64_t grain(int64_t tasks, int64_t per_task) {
  return std::min(tasks, std::max<int64_t>(1, 65536 / std::max<int64_t>(per_task, 1)));
}

// Sums with eight fixed partial accumulators (vectorizes; same order every run).
template <class T, class F>
double sum8(const T* p, int64_t n, F f) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += f(double(p[i + k]), i + k);
  for (; i < n; ++i) acc[i & 7] += f(double(p[i]), i);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

}  // namespace

void channel_affine(const Tensor& x, const Tensor& scale, const Tensor& shift, const Tensor& out, bool fused) {
  const Dims d = dims_of(x);
  MRC_DISPATCH_FLOATING(x.dtype(), "channel_affine", [&] {
    using T = scalar_t;
    const T* xp = x.data<T>();
    const T* sc = scale.data<T>();
    const T* sh = shift.defined() ? shift.data<T>() : nullptr;
    T* op = out.data<T>();
    const int64_t planes = d.N * d.C;
    parallel_for(planes, grain(planes, d.S), [&](int64_t p0, int64_t p1) {
      for (int64_t pl = p0; pl < p1; ++pl) {
        const int64_t c = pl % d.C;
        const T a = sc[c], b = sh ? sh[c] : T(0);
        const T* src = xp + pl * d.S;
        T* dst = op + pl * d.S;
        if (fused)
          for (int64_t i = 0; i < d.S; ++i) dst[i] = std::fma(src[i], a, b);
        else
          for (int64_t i = 0; i < d.S; ++i) dst[i] = src[i] * a + b;
      }
    });
  });
}

void channel_moments(const Tensor& x, const Tensor& mean, const Tensor& var_sum) {
  const Dims d = dims_of(x);
  MRC_DISPATCH_FLOATING(x.dtype(), "batch_norm", [&] {
    using T = scalar_t;
    const T* xp = x.data<T>();
    T* mp = mean.data<T>();
    T* vp = var_sum.data<T>();
    const double count = double(d.N * d.S);
    parallel_for(d.C, grain(d.C, d.N * d.S), [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        double s = 0;
        for (int64_t n = 0; n < d.N; ++n) s += sum8(xp + (n * d.C + c) * d.S, d.S, [](double v, int64_t) { return v; });
        // torch's rounding: the mean rounded to x's type, each squared deviation computed in x's type
        const T m = T(s / count);
        double q = 0;
        for (int64_t n = 0; n < d.N; ++n)
          q += sum8(xp + (n * d.C + c) * d.S, d.S, [m](double v, int64_t) {
            const T dev = T(v) - m;
            return double(T(dev * dev));
          });
        mp[c] = m;
        vp[c] = T(q);
      }
    });
  });
}

void batch_norm_grad_sums(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& invstd,
                          const Tensor& sum_dy, const Tensor& sum_dy_xhat) {
  const Dims d = dims_of(x);
  MRC_DISPATCH_FLOATING(x.dtype(), "batch_norm_backward", [&] {
    using T = scalar_t;
    const T *gp = dy.data<T>(), *xp = x.data<T>(), *mp = mean.data<T>(), *ip = invstd.data<T>();
    T *s1 = sum_dy.data<T>(), *s2 = sum_dy_xhat.data<T>();
    parallel_for(d.C, grain(d.C, d.N * d.S), [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const double m = double(mp[c]);
        double a = 0, b = 0;
        for (int64_t n = 0; n < d.N; ++n) {
          const T* g = gp + (n * d.C + c) * d.S;
          const T* xv = xp + (n * d.C + c) * d.S;
          a += sum8(g, d.S, [](double v, int64_t) { return v; });
          b += sum8(g, d.S, [&](double v, int64_t i) { return v * (double(xv[i]) - m); });
        }
        s1[c] = T(a);
        s2[c] = T(b * double(ip[c]));
      }
    });
  });
}

void batch_norm_backward_input(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& invstd,
                               const Tensor& scale, const Tensor& sum_dy, const Tensor& sum_dy_xhat, const Tensor& grad_x) {
  const Dims d = dims_of(x);
  MRC_DISPATCH_FLOATING(x.dtype(), "batch_norm_backward", [&] {
    using T = scalar_t;
    const T *gp = dy.data<T>(), *xp = x.data<T>(), *mp = mean.data<T>(), *ip = invstd.data<T>(), *sp = scale.data<T>();
    const T *s1 = sum_dy.data<T>(), *s2 = sum_dy_xhat.data<T>();
    T* out = grad_x.data<T>();
    const double count = double(d.N * d.S);
    const int64_t planes = d.N * d.C;
    parallel_for(planes, grain(planes, d.S), [&](int64_t p0, int64_t p1) {
      for (int64_t pl = p0; pl < p1; ++pl) {
        const int64_t c = pl % d.C;
        // gx = scale * (dy - mean(dy) - xhat * mean(dy * xhat)), xhat = (x - mean) * invstd
        const T k = T(double(s2[c]) / count * double(ip[c])), m = mp[c], a = sp[c], b = T(double(s1[c]) / count);
        const T* g = gp + pl * d.S;
        const T* xv = xp + pl * d.S;
        T* o = out + pl * d.S;
        for (int64_t i = 0; i < d.S; ++i) o[i] = a * (g[i] - b - (xv[i] - m) * k);
      }
    });
  });
}

void group_norm_forward(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps,
                        const Tensor& out, const Tensor& mean, const Tensor& rstd) {
  const Dims d = dims_of(x);
  const int64_t cg = d.C / groups, len = cg * d.S;
  MRC_DISPATCH_FLOATING(x.dtype(), "group_norm", [&] {
    using T = scalar_t;
    const T* xp = x.data<T>();
    const T* wp = weight.defined() ? weight.data<T>() : nullptr;
    const T* bp = bias.defined() ? bias.data<T>() : nullptr;
    T *op = out.data<T>(), *mp = mean.data<T>(), *rp = rstd.data<T>();
    const int64_t tasks = d.N * groups;
    parallel_for(tasks, grain(tasks, len), [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const T* src = xp + t * len;
        const double m = sum8(src, len, [](double v, int64_t) { return v; }) / double(len);
        const double var = sum8(src, len, [m](double v, int64_t) { return (v - m) * (v - m); }) / double(len);
        const double r = 1.0 / std::sqrt(var + eps);
        mp[t] = T(m);
        rp[t] = T(r);
        for (int64_t j = 0; j < cg; ++j) {
          const int64_t c = (t % groups) * cg + j;
          const double a = r * (wp ? double(wp[c]) : 1.0);
          const T sc = T(a), sh = T((bp ? double(bp[c]) : 0.0) - m * a);
          const T* s = src + j * d.S;
          T* o = op + t * len + j * d.S;
          for (int64_t i = 0; i < d.S; ++i) o[i] = s[i] * sc + sh;
        }
      }
    });
  });
}

void group_norm_backward(const Tensor& dy, const Tensor& x, int64_t groups, const Tensor& mean, const Tensor& rstd,
                         const Tensor& weight, const Tensor& grad_x, const Tensor& grad_w, const Tensor& grad_b) {
  const Dims d = dims_of(x);
  const int64_t cg = d.C / groups, len = cg * d.S;
  MRC_DISPATCH_FLOATING(x.dtype(), "group_norm_backward", [&] {
    using T = scalar_t;
    const T *gp = dy.data<T>(), *xp = x.data<T>(), *mp = mean.data<T>(), *rp = rstd.data<T>();
    const T* wp = weight.defined() ? weight.data<T>() : nullptr;
    if (grad_x.defined()) {
      T* out = grad_x.data<T>();
      const int64_t tasks = d.N * groups;
      parallel_for(tasks, grain(tasks, len), [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          const double m = double(mp[t]), r = double(rp[t]);
          // with dxhat = dy * w: gx = r * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
          double s1 = 0, s2 = 0;
          for (int64_t j = 0; j < cg; ++j) {
            const int64_t c = (t % groups) * cg + j;
            const double w = wp ? double(wp[c]) : 1.0;
            const T* g = gp + t * len + j * d.S;
            const T* xv = xp + t * len + j * d.S;
            s1 += w * sum8(g, d.S, [](double v, int64_t) { return v; });
            s2 += w * sum8(g, d.S, [&](double v, int64_t i) { return v * (double(xv[i]) - m); });
          }
          const double b = s1 / double(len), k = s2 * r * r / double(len);
          for (int64_t j = 0; j < cg; ++j) {
            const int64_t c = (t % groups) * cg + j;
            const T a = T(r * (wp ? double(wp[c]) : 1.0)), bb = T(b * r), kk = T(k * r), mm = T(m);
            const T* g = gp + t * len + j * d.S;
            const T* xv = xp + t * len + j * d.S;
            T* o = out + t * len + j * d.S;
            for (int64_t i = 0; i < d.S; ++i) o[i] = a * g[i] - bb - (xv[i] - mm) * kk;
          }
        }
      });
    }
    if (!grad_w.defined() && !grad_b.defined()) return;
    T* gw = grad_w.defined() ? grad_w.data<T>() : nullptr;
    T* gb = grad_b.defined() ? grad_b.data<T>() : nullptr;
    parallel_for(d.C, grain(d.C, d.N * d.S), [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        double sw = 0, sb = 0;
        for (int64_t n = 0; n < d.N; ++n) {
          const int64_t t = n * groups + c / cg;
          const double m = double(mp[t]), r = double(rp[t]);
          const T* g = gp + (n * d.C + c) * d.S;
          const T* xv = xp + (n * d.C + c) * d.S;
          sb += sum8(g, d.S, [](double v, int64_t) { return v; });
          sw += r * sum8(g, d.S, [&](double v, int64_t i) { return v * (double(xv[i]) - m); });
        }
        if (gw) gw[c] = T(sw);
        if (gb) gb[c] = T(sb);
      }
    });
  });
}

}  // namespace mrc::cpu
