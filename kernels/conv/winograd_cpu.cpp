// Winograd F(2x2, 3x3) convolution forward on the CPU (see winograd_cpu.h). Tiles are numbered over all
// images (image, tile row, tile column) and cut into chunks of a size fixed by the shapes alone; a thread
// transforms its chunk's input tiles, runs the 16 GEMMs on them and writes their outputs, so every output
// is produced by one chunk the same way whatever the thread count.
#include "kernels/conv/winograd_cpu.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/gemm/gemm.h"
#include "tensor/parallel.h"

namespace mrc::cpu {

namespace {

bool initial_enabled() {
  const char* v = std::getenv("MRC_WINOGRAD");
  return v && std::string(v) == "1";
}
bool g_enabled = initial_enabled();

constexpr int64_t kChunkTiles = 96;  // tiles per chunk: the GEMMs' column count; V and the products stay cache-sized

// U[xi * M * C + m * C + c] = (G g G^T)[xi] for each filter g = w[m, c] (3x3).
void transform_filters(const float* w, int64_t M, int64_t C, float* U) {
  const int64_t plane = M * C;
  parallel_for(M, 1, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m)
      for (int64_t c = 0; c < C; ++c) {
        const float* g = w + (m * C + c) * 9;
        float t[4][3];  // G g
        for (int j = 0; j < 3; ++j) {
          t[0][j] = g[j];
          t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
          t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
          t[3][j] = g[6 + j];
        }
        float* u = U + m * C + c;
        for (int i = 0; i < 4; ++i) {  // (G g) G^T
          u[(i * 4 + 0) * plane] = t[i][0];
          u[(i * 4 + 1) * plane] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
          u[(i * 4 + 2) * plane] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
          u[(i * 4 + 3) * plane] = t[i][2];
        }
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

void winograd_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* out,
                      const float* residual, bool relu) {
  const int64_t C = g.C, M = g.M, H = g.H, W = g.W, OH = g.OH, OW = g.OW;
  const int64_t th = (OH + 1) / 2, tw = (OW + 1) / 2, per_image = th * tw, tiles = g.N * per_image;
  std::vector<float> U(size_t(16 * M * C));
  transform_filters(w, M, C, U.data());
  const int64_t chunks = (tiles + kChunkTiles - 1) / kChunkTiles;
  parallel_for(chunks, 1, [&](int64_t k0, int64_t k1) {
    thread_local std::vector<float> V, P;  // transformed inputs [16][C][T], products [16][M][T]
    V.resize(size_t(16 * C * kChunkTiles));
    P.resize(size_t(16 * M * kChunkTiles));
    for (int64_t k = k0; k < k1; ++k) {
      const int64_t t0 = k * kChunkTiles, T = std::min(tiles, t0 + kChunkTiles) - t0;
      // input tiles -> V = B^T d B
      for (int64_t c = 0; c < C; ++c)
        for (int64_t t = 0; t < T; ++t) {
          const int64_t tile = t0 + t, n = tile / per_image, r = tile % per_image;
          const int64_t y0 = (r / tw) * 2 - g.ph, x0 = (r % tw) * 2 - g.pw;
          const float* xc = x + (n * C + c) * H * W;
          float d[4][4];
          for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) {
              const int64_t yy = y0 + i, xx = x0 + j;
              d[i][j] = yy >= 0 && yy < H && xx >= 0 && xx < W ? xc[yy * W + xx] : 0.f;
            }
          float b[4][4];  // B^T d
          for (int j = 0; j < 4; ++j) {
            b[0][j] = d[0][j] - d[2][j];
            b[1][j] = d[1][j] + d[2][j];
            b[2][j] = d[2][j] - d[1][j];
            b[3][j] = d[1][j] - d[3][j];
          }
          float* v = V.data() + c * T + t;
          const int64_t plane = C * T;
          for (int i = 0; i < 4; ++i) {  // (B^T d) B
            v[(i * 4 + 0) * plane] = b[i][0] - b[i][2];
            v[(i * 4 + 1) * plane] = b[i][1] + b[i][2];
            v[(i * 4 + 2) * plane] = b[i][2] - b[i][1];
            v[(i * 4 + 3) * plane] = b[i][1] - b[i][3];
          }
        }
      for (int64_t xi = 0; xi < 16; ++xi)
        gemm<float>(false, false, M, T, C, U.data() + xi * M * C, C, V.data() + xi * C * T, T, P.data() + xi * M * T, T,
                    false);
      // products -> Y = A^T p A, then bias, residual, ReLU
      const int64_t plane = M * T;
      for (int64_t m = 0; m < M; ++m)
        for (int64_t t = 0; t < T; ++t) {
          const float* p = P.data() + m * T + t;
          float a[2][4];  // A^T p
          for (int j = 0; j < 4; ++j) {
            a[0][j] = p[(0 * 4 + j) * plane] + p[(1 * 4 + j) * plane] + p[(2 * 4 + j) * plane];
            a[1][j] = p[(1 * 4 + j) * plane] - p[(2 * 4 + j) * plane] - p[(3 * 4 + j) * plane];
          }
          const int64_t tile = t0 + t, n = tile / per_image, r = tile % per_image;
          const int64_t oy = (r / tw) * 2, ox = (r % tw) * 2;
          const float bm = bias ? bias[m] : 0.f;
          for (int i = 0; i < 2 && oy + i < OH; ++i) {
            const float y[2] = {a[i][0] + a[i][1] + a[i][2], a[i][1] - a[i][2] - a[i][3]};
            for (int j = 0; j < 2 && ox + j < OW; ++j) {
              const int64_t o = ((n * M + m) * OH + oy + i) * OW + ox + j;
              float v = y[j] + bm;
              if (residual) v += residual[o];
              out[o] = relu && v < 0.f ? 0.f : v;
            }
          }
        }
    }
  });
}

}  // namespace mrc::cpu
