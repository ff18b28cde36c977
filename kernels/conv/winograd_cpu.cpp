// Winograd F(2x2, 3x3) convolution forward on the CPU (see winograd_cpu.h). Tile rows are numbered over all
// images (image, tile row) and cut into chunks of whole tile rows, a number fixed by the shapes alone; a thread
// transforms its chunk's input tiles, runs the 16 GEMMs on them and writes their outputs, so every output
// is produced by one chunk the same way whatever the thread count. The transforms run along tile rows (input
// columns split into even and odd first), so the compiler vectorizes them.
#include "kernels/conv/winograd_cpu.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "kernels/gemm/gemm.h"
#include "tensor/parallel.h"

namespace mrc::cpu {

namespace {

bool initial_enabled() {
  const char* v = std::getenv("MRC_WINOGRAD");
  return !(v && std::string(v) == "0");
}
bool g_enabled = initial_enabled();

constexpr int64_t kChunkTiles = 96;  // tiles per chunk: the GEMMs' column count; V and the products stay cache-sized

// U[xi * M * C + m * C + c] = (G g G^T)[xi] for each filter g = w[m, c] (3x3). One output channel's 16 values
// per filter go to a small buffer first and then to the planes a row at a time: written straight, 16 stores
// M * C apart (a multiple of 4 KiB) land in one L1 set and ran 4x slower.
void transform_filters(const float* w, int64_t M, int64_t C, float* U) {
  const int64_t plane = M * C;
  parallel_for(M, 1, [&](int64_t m0, int64_t m1) {
    std::vector<float> u(size_t(16 * C));  // [16][C]
    for (int64_t m = m0; m < m1; ++m) {
      for (int64_t c = 0; c < C; ++c) {
        const float* g = w + (m * C + c) * 9;
        float t[4][3];  // G g
        for (int j = 0; j < 3; ++j) {
          t[0][j] = g[j];
          t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
          t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
          t[3][j] = g[6 + j];
        }
        for (int i = 0; i < 4; ++i) {  // (G g) G^T
          u[size_t((i * 4 + 0) * C + c)] = t[i][0];
          u[size_t((i * 4 + 1) * C + c)] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
          u[size_t((i * 4 + 2) * C + c)] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
          u[size_t((i * 4 + 3) * C + c)] = t[i][2];
        }
      }
      for (int64_t xi = 0; xi < 16; ++xi) std::copy_n(u.data() + xi * C, C, U + xi * plane + m * C);
    }
  });
}

}  // namespace

bool winograd_applies(const ConvGeom& g) {
  // at least two chunks, so two threads share the work (smaller maps keep the im2col path, which splits rows)
  const int64_t tiles = g.N * ((g.OH + 1) / 2) * ((g.OW + 1) / 2);
  return g_enabled && g.KH == 3 && g.KW == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.G == 1 &&
         g.C >= 16 && g.M >= 16 && tiles >= 2 * kChunkTiles;
}

void set_winograd_enabled(bool on) { g_enabled = on; }

namespace {

// The forward geometry whose output is g's input gradient (see winograd_cpu.h).
ConvGeom input_gradient_geom(const ConvGeom& g) {
  ConvGeom t = g;  // channels and sizes swap roles
  std::swap(t.C, t.M);
  std::swap(t.H, t.OH);
  std::swap(t.W, t.OW);
  t.ph = 2 - g.ph;
  t.pw = 2 - g.pw;
  return t;
}

}  // namespace

bool winograd_backward_input_applies(const ConvGeom& g) {
  return g.KH == 3 && g.KW == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.G == 1 && g.ph <= 2 &&
         g.pw <= 2 && winograd_applies(input_gradient_geom(g));
}

void winograd_backward_input(const ConvGeom& g, const float* grad_out, const float* w, float* grad_x) {
  thread_local std::vector<float> flipped;  // [C, M, 3, 3]: w[m, c, 2 - i, 2 - j]
  flipped.resize(std::max(flipped.size(), size_t(g.M * g.C * 9)));
  float* wt = flipped.data();
  parallel_for(g.C, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t m = 0; m < g.M; ++m)
        for (int k = 0; k < 9; ++k) wt[(c * g.M + m) * 9 + k] = w[(m * g.C + c) * 9 + (8 - k)];
  });
  winograd_forward(input_gradient_geom(g), grad_out, wt, nullptr, grad_x, nullptr, false);
}

namespace {

// Rows [r0, r1) of one channel of one image split into even and odd input columns, padding included: row r
// (stored at r - r0) holds input row r - ph, even[k] = column 2k - pw and odd[k] = column 2k + 1 - pw (0 outside
// the image), k < n1. Tile (ty, tx) reads rows 2ty..2ty+3 and, of each, even[tx], odd[tx], even[tx+1], odd[tx+1].
void split_columns(const ConvGeom& g, const float* xc, int64_t r0, int64_t r1, int64_t n1, float* even, float* odd) {
  std::fill(even, even + (r1 - r0) * n1, 0.f);
  std::fill(odd, odd + (r1 - r0) * n1, 0.f);
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t yy = r - g.ph;
    if (yy < 0 || yy >= g.H) continue;
    const float* src = xc + yy * g.W;
    for (int j = 0; j < 2; ++j) {  // column 2k + j - pw lies in [0, W) for k in [lo, hi)
      float* dst = (j == 0 ? even : odd) + (r - r0) * n1;
      const int64_t off = j - g.pw;
      const int64_t lo = off >= 0 ? 0 : (1 - off) / 2, hi = std::min(n1, (g.W - off + 1) / 2);
      for (int64_t k = lo; k < hi; ++k) dst[k] = src[2 * k + off];
    }
  }
}

// The transforms' inner loops, on pointers that do not alias (so the compiler vectorizes them).
// b[i][k] = (B^T d)[i] of the 4 rows d[i][k] (row stride n1), k < n1.
void rows_times_bt(const float* __restrict d, int64_t n1, float* __restrict b) {
  for (int64_t k = 0; k < n1; ++k) {
    const float d0 = d[k], d1 = d[n1 + k], d2 = d[2 * n1 + k], d3 = d[3 * n1 + k];
    b[k] = d0 - d2;
    b[n1 + k] = d1 + d2;
    b[2 * n1 + k] = d2 - d1;
    b[3 * n1 + k] = d1 - d3;
  }
}

// v[j * plane + tx] = ((B^T d) B)[j] of tile tx, from one row of B^T d split into even e and odd o columns.
void row_times_b(const float* __restrict e, const float* __restrict o, int64_t tw, int64_t plane, float* __restrict v) {
  for (int64_t tx = 0; tx < tw; ++tx) {
    v[tx] = e[tx] - e[tx + 1];
    v[plane + tx] = o[tx] + e[tx + 1];
    v[2 * plane + tx] = e[tx + 1] - o[tx];
    v[3 * plane + tx] = o[tx] - o[tx + 1];
  }
}

// y[k * T + t] = output k = (0,0), (0,1), (1,0), (1,1) of tile t: A^T p A of its 16 products p[xi * plane + t].
void tiles_times_a(const float* __restrict p, int64_t plane, int64_t T, float* __restrict y) {
  for (int64_t t = 0; t < T; ++t) {
    float a[2][4];  // A^T p
    for (int j = 0; j < 4; ++j) {
      a[0][j] = p[(0 * 4 + j) * plane + t] + p[(1 * 4 + j) * plane + t] + p[(2 * 4 + j) * plane + t];
      a[1][j] = p[(1 * 4 + j) * plane + t] - p[(2 * 4 + j) * plane + t] - p[(3 * 4 + j) * plane + t];
    }
    y[t] = a[0][0] + a[0][1] + a[0][2];
    y[T + t] = a[0][1] - a[0][2] - a[0][3];
    y[2 * T + t] = a[1][0] + a[1][1] + a[1][2];
    y[3 * T + t] = a[1][1] - a[1][2] - a[1][3];
  }
}

// One output row: row[2 tx] = ye[tx] + bias, row[2 tx + 1] = yo[tx] + bias, then + residual (may be null), ReLU.
void write_row(const float* __restrict ye, const float* __restrict yo, int64_t width, float bias,
               const float* __restrict residual, bool relu, float* __restrict row) {
  for (int64_t tx = 0; tx < width / 2; ++tx) {
    row[2 * tx] = ye[tx] + bias;
    row[2 * tx + 1] = yo[tx] + bias;
  }
  if (width % 2) row[width - 1] = ye[width / 2] + bias;
  if (residual)
    for (int64_t x = 0; x < width; ++x) row[x] += residual[x];
  if (relu)
    for (int64_t x = 0; x < width; ++x) row[x] = row[x] < 0.f ? 0.f : row[x];
}

}  // namespace

void winograd_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* out,
                      const float* residual, bool relu) {
  const int64_t C = g.C, M = g.M, H = g.H, W = g.W, OH = g.OH, OW = g.OW;
  const int64_t th = (OH + 1) / 2, tw = (OW + 1) / 2, rows = g.N * th;  // tile rows, numbered over all images
  const int64_t rows_per_chunk = std::max<int64_t>(1, (kChunkTiles + tw - 1) / tw);
  const int64_t n1 = tw + 1, split_rows = 2 * std::min(th, rows_per_chunk) + 2;  // split_columns' sizes
  thread_local std::vector<float> filters;  // grows only; the workers see it through U (a thread_local is not captured)
  filters.resize(std::max(filters.size(), size_t(16 * M * C)));
  const float* U = filters.data();
  transform_filters(w, M, C, filters.data());
  const int64_t chunks = (rows + rows_per_chunk - 1) / rows_per_chunk;
  parallel_for(chunks, 1, [&](int64_t k0, int64_t k1) {
    // transformed inputs [16][C][T], products [16][M][T]; one channel's split columns, B^T d of one
    // tile row [4][n1] on the even and on the odd columns; the chunk's outputs [4][T] before the epilogue
    thread_local std::vector<float> V, P, split, bt, Y;
    for (int64_t k = k0; k < k1; ++k) {
      const int64_t q0 = k * rows_per_chunk, q1 = std::min(rows, q0 + rows_per_chunk), T = (q1 - q0) * tw;
      V.resize(std::max(V.size(), size_t(16 * C * T)));
      P.resize(std::max(P.size(), size_t(16 * M * T)));
      split.resize(size_t(2 * split_rows * n1));
      bt.resize(size_t(8 * n1));
      Y.resize(std::max(Y.size(), size_t(4 * T)));
      float* even = split.data();
      float* odd = even + split_rows * n1;
      // input tiles -> V = B^T d B, one tile row at a time, the arithmetic along the row
      const int64_t vplane = C * T;
      for (int64_t c = 0; c < C; ++c)
        for (int64_t q = q0, next = q0, base = 0; q < q1; ++q) {
          if (q == next) {  // split the rows that this image's tile rows in the chunk read
            const int64_t image = q / th, last = std::min(q1, (image + 1) * th) - 1;
            base = (q % th) * 2;
            split_columns(g, x + (image * C + c) * H * W, base, (last % th) * 2 + 4, n1, even, odd);
            next = last + 1;
          }
          const int64_t r0 = (q % th) * 2 - base;
          for (int half = 0; half < 2; ++half)  // B^T d down the columns
            rows_times_bt((half == 0 ? even : odd) + r0 * n1, n1, bt.data() + half * 4 * n1);
          for (int i = 0; i < 4; ++i)  // (B^T d) B along the row
            row_times_b(bt.data() + i * n1, bt.data() + (4 + i) * n1, tw, vplane,
                        V.data() + (i * 4) * vplane + c * T + (q - q0) * tw);
        }
      for (int64_t xi = 0; xi < 16; ++xi)
        gemm<float>(false, false, M, T, C, U + xi * M * C, C, V.data() + xi * C * T, T, P.data() + xi * M * T, T,
                    false);
      // products -> Y = A^T p A over the whole chunk, then bias, residual, ReLU along each output row
      const int64_t pplane = M * T;
      float* y = Y.data();  // [4][T]: output (0,0), (0,1), (1,0), (1,1) of each tile
      for (int64_t m = 0; m < M; ++m) {
        tiles_times_a(P.data() + m * T, pplane, T, y);
        const float bm = bias ? bias[m] : 0.f;
        for (int64_t q = q0; q < q1; ++q) {
          const int64_t n = q / th, oy = (q % th) * 2;
          for (int64_t i = 0; i < 2 && oy + i < OH; ++i) {
            const int64_t o = ((n * M + m) * OH + oy + i) * OW;
            const float* ye = y + 2 * i * T + (q - q0) * tw;
            write_row(ye, ye + T, OW, bm, residual ? residual + o : nullptr, relu, out + o);
          }
        }
      }
    }
  });
}

}  // namespace mrc::cpu
