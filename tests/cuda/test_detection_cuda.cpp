// Every detection op on CUDA against its CPU twin on random inputs: ROIAlign and multi-scale ROIAlign
// (forward, backward), NMS and batched NMS (identical keep lists, 100k boxes, ties), anchors, box ops,
// Matcher, mask targets and pasting. Skips (passing) without a GPU.
#include <doctest/doctest.h>

#if !defined(MRC_WITH_CUDA)
TEST_CASE("detection ops on CUDA (skipped: built without CUDA)") { MESSAGE("maskrcnn.cpp built without CUDA: skipped"); }
#else
#include <cuda_runtime.h>

#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "cuda_test_util.h"
#include "detection_test_util.h"
#include "kernels/anchors/anchors.h"
#include "kernels/box_ops/box_ops.h"
#include "kernels/masks/masks.h"
#include "kernels/multiscale_roi/multiscale_roi.h"
#include "kernels/nms/nms.h"
#include "kernels/roi_align/roi_align.h"

using namespace mrc;
using namespace mrc::kernels;
using mrc::test::expect_close;

namespace {

template <class T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(size_t count) : n(count) { REQUIRE(cudaMalloc(&p, std::max<size_t>(count, 1) * sizeof(T)) == cudaSuccess); }
  explicit Dev(const std::vector<T>& h) : Dev(h.size()) {
    REQUIRE(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess);
  }
  ~Dev() { cudaFree(p); }
  Dev(const Dev&) = delete;
  std::vector<T> get(size_t count) const {
    std::vector<T> h(count);
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
    REQUIRE(cudaMemcpy(h.data(), p, count * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
    return h;
  }
  std::vector<T> get() const { return get(n); }
};

std::mt19937 rng(2024);

std::vector<float> randn(size_t n, float scale = 1.f) {
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// K x 5 ROIs over an image of img x img pixels, N images.
std::vector<float> random_rois(int64_t k, int64_t n, float img) {
  std::uniform_real_distribution<float> u(-0.1f * img, img), s(0.f, 0.6f * img);
  std::vector<float> r;
  for (int64_t i = 0; i < k; ++i) {
    const float x = u(rng), y = u(rng);
    r.insert(r.end(), {float(i % n), x, y, x + s(rng), y + s(rng)});
  }
  return r;
}

std::vector<float> random_boxes(int64_t n, float size, float min_side = 4.f, float max_side = 120.f) {
  std::uniform_real_distribution<float> c(0.f, size), side(min_side, max_side);
  std::vector<float> b;
  for (int64_t i = 0; i < n; ++i) {
    const float x = c(rng), y = c(rng);
    b.insert(b.end(), {x, y, x + side(rng), y + side(rng)});
  }
  return b;
}

}  // namespace

TEST_CASE("roi_align and multi-scale roi_align: CUDA equals CPU") {
  if (!test::real_gpu()) return;  // raw device pointers: no fake-GPU mode
  const FeatureShape s{2, 16, 40, 52};
  const std::vector<float> x = randn(size_t(s.numel()));
  for (const RoiAlignParams& p : {RoiAlignParams{7, 7, 0.25, 2, false}, RoiAlignParams{14, 14, 0.25, -1, true},
                                  RoiAlignParams{5, 3, 0.125, 0, false}}) {
    const int64_t k = 120;
    const std::vector<float> rois = random_rois(k, s.n, 200.f);
    const size_t out_n = size_t(k * s.c * p.pooled_h * p.pooled_w);
    std::vector<float> y(out_n), gx(size_t(s.numel()));
    const std::vector<float> go = randn(out_n);
    roi_align_forward_cpu(x.data(), s, rois.data(), k, p, y.data());
    roi_align_backward_cpu(go.data(), rois.data(), k, p, s, gx.data());
    Dev<float> dx(x), drois(rois), dy(out_n), dgo(go), dgx(size_t(s.numel()));
    roi_align_forward_cuda(dx.p, s, drois.p, k, p, dy.p, nullptr);
    roi_align_backward_cuda(dgo.p, drois.p, k, p, s, dgx.p, nullptr);
    expect_close(dy.get(), y, 1e-5, 1e-5, "roi_align forward");
    expect_close(dgx.get(), gx, 1e-4, 1e-4, "roi_align backward");
  }
  // Pyramid of 4 levels for a 256 x 320 image.
  std::vector<FeatureShape> shapes;
  std::vector<std::vector<float>> feats;
  for (int l = 0; l < 4; ++l) {
    shapes.push_back({2, 8, 64 >> l, 80 >> l});
    feats.push_back(randn(size_t(shapes.back().numel())));
  }
  const Pyramid pyr = infer_pyramid(shapes, {{256, 320}, {240, 300}});
  const int64_t k = 90;
  std::vector<float> rois;
  std::uniform_real_distribution<float> u(0.f, 250.f), logside(2.f, 6.f);
  for (int64_t i = 0; i < k; ++i) {
    const float x = u(rng), y = u(rng), w = std::exp(logside(rng)), h = std::exp(logside(rng));
    rois.insert(rois.end(), {float(i % 2), x, y, x + w, y + h});
  }
  const RoiAlignParams p{7, 7, 1.0, 2, false};
  const size_t out_n = size_t(k * 8 * 49);
  std::vector<float> y(out_n);
  const std::vector<float> go = randn(out_n);
  std::vector<const float*> fp, dfp;
  std::vector<float*> gp, dgp;
  std::vector<std::vector<float>> grads;
  std::vector<std::unique_ptr<Dev<float>>> dfeat, dgrad;
  for (int l = 0; l < 4; ++l) {
    grads.emplace_back(feats[size_t(l)].size());
    fp.push_back(feats[size_t(l)].data());
    gp.push_back(grads.back().data());
    dfeat.push_back(std::make_unique<Dev<float>>(feats[size_t(l)]));
    dgrad.push_back(std::make_unique<Dev<float>>(feats[size_t(l)].size()));
    dfp.push_back(dfeat.back()->p);
    dgp.push_back(dgrad.back()->p);
  }
  multiscale_roi_align_forward_cpu(fp.data(), pyr, rois.data(), k, p, y.data());
  multiscale_roi_align_backward_cpu(go.data(), pyr, rois.data(), k, p, gp.data());
  Dev<float> drois(rois), dy(out_n), dgo(go);
  Dev<int64_t> dlv(static_cast<size_t>(k));
  multiscale_roi_align_forward_cuda(dfp.data(), pyr, drois.p, k, p, dy.p, nullptr);
  multiscale_roi_align_backward_cuda(dgo.p, pyr, drois.p, k, p, dgp.data(), nullptr);
  fpn_levels_cuda(drois.p, k, pyr, dlv.p, nullptr);
  std::vector<int64_t> lv(static_cast<size_t>(k));
  fpn_levels_cpu(rois.data(), k, pyr, lv.data());
  CHECK(dlv.get() == lv);
  expect_close(dy.get(), y, 1e-5, 1e-5, "multiscale forward");
  for (int l = 0; l < 4; ++l) expect_close(dgrad[size_t(l)]->get(), grads[size_t(l)], 1e-4, 1e-4, "multiscale backward");
}

TEST_CASE("nms and batched_nms: CUDA keeps exactly what the CPU keeps") {
  if (!test::real_gpu()) return;  // raw device pointers: no fake-GPU mode
  auto check_nms = [](int64_t n, double thr, bool ties, const std::vector<int64_t>* cats) {
    CAPTURE(n);
    CAPTURE(ties);
    const std::vector<float> boxes = random_boxes(n, 1024.f, 8.f, 200.f);
    std::vector<float> scores(static_cast<size_t>(n));
    std::uniform_real_distribution<float> u(0.f, 1.f);
    for (float& s : scores) s = ties ? float(int(u(rng) * 8)) / 8.f : u(rng);
    std::vector<int64_t> keep(static_cast<size_t>(n));
    Dev<float> db(boxes), ds(scores);
    Dev<int64_t> dk(static_cast<size_t>(n));
    int64_t kc, kg;
    if (cats) {
      Dev<int64_t> dc(*cats);
      kc = batched_nms_cpu(boxes.data(), scores.data(), cats->data(), n, thr, keep.data(), NmsTies::Stable);
      kg = batched_nms_cuda(db.p, ds.p, dc.p, n, thr, dk.p, nullptr);
    } else {
      kc = nms_cpu(boxes.data(), scores.data(), n, thr, keep.data());
      kg = nms_cuda(db.p, ds.p, n, thr, dk.p, nullptr);
    }
    REQUIRE(kg == kc);
    keep.resize(size_t(kc));
    CHECK(dk.get(size_t(kg)) == keep);
  };
  for (int64_t n : {1, 63, 64, 65, 1000, 6000, 12000}) check_nms(n, 0.5, false, nullptr);
  check_nms(5000, 0.7, true, nullptr);
  check_nms(100000, 0.7, false, nullptr);
  for (int64_t n : {300, 1000, 1001, 8000}) {
    std::vector<int64_t> cats(static_cast<size_t>(n));
    std::uniform_int_distribution<int64_t> c(0, 9);
    for (int64_t& v : cats) v = c(rng);
    check_nms(n, 0.5, n == 1001, &cats);
  }
  CHECK(nms_cuda(nullptr, nullptr, 0, 0.5, nullptr, nullptr) == 0);
}

TEST_CASE("batched_nms_mask: the CUDA mask equals the CPU's, with ties, below and above 1000 boxes") {
  if (!test::real_gpu()) return;  // raw device pointers: no fake-GPU mode
  for (int64_t n : {1, 65, 300, 1000, 4000, 20000}) {
    CAPTURE(n);
    const bool ties = n == 4000;
    const std::vector<float> boxes = random_boxes(n, 1024.f, 8.f, 200.f);
    std::vector<float> scores(static_cast<size_t>(n));
    std::vector<int64_t> cats(static_cast<size_t>(n));
    std::uniform_real_distribution<float> u(0.f, 1.f);
    std::uniform_int_distribution<int64_t> c(0, 11);
    for (float& s : scores) s = ties ? float(int(u(rng) * 8)) / 8.f : u(rng);
    for (int64_t& v : cats) v = c(rng);
    std::vector<uint8_t> want(static_cast<size_t>(n), 7);
    batched_nms_mask_cpu(boxes.data(), scores.data(), cats.data(), n, 0.5, want.data());
    Dev<float> db(boxes), ds(scores);
    Dev<int64_t> dc(cats);
    Dev<uint8_t> dm(static_cast<size_t>(n));
    batched_nms_mask_cuda(db.p, ds.p, dc.p, n, 0.5, dm.p, nullptr);  // queued: get() synchronizes
    CHECK(dm.get() == want);
  }
}

TEST_CASE("anchors, box ops and the matcher: CUDA equals CPU") {
  if (!test::real_gpu()) return;  // raw device pointers: no fake-GPU mode
  const std::vector<float> cell = cell_anchors({32, 45}, {0.5, 1.0, 2.0});
  const AnchorGrid g = anchor_grid(800, 1216, 200, 304);
  std::vector<float> a(size_t(4 * g.count(6)));
  grid_anchors_cpu(cell.data(), 6, g, a.data());
  Dev<float> da(a.size());
  grid_anchors_cuda(cell.data(), 6, g, da.p, nullptr);
  CHECK(da.get() == a);

  const int64_t n = 700, m = 13;
  const std::vector<float> anchors = random_boxes(n, 400.f), gt = random_boxes(m, 400.f, 10.f, 150.f);
  std::vector<float> iou(size_t(m * n));
  box_iou_cpu(gt.data(), m, anchors.data(), n, iou.data());
  Dev<float> dgt(gt), dan(anchors), diou(size_t(m * n));
  box_iou_cuda(dgt.p, m, dan.p, n, diou.p, nullptr);
  CHECK(diou.get() == iou);  // same arithmetic, no FMA: bit-identical
  for (const MatcherParams& p : {MatcherParams{0.7, 0.3, true}, MatcherParams{0.5, 0.5, false}}) {
    std::vector<int64_t> mc(static_cast<size_t>(n));
    Dev<int64_t> dm(static_cast<size_t>(n));
    match_cpu(iou.data(), m, n, p, mc.data());
    match_cuda(diou.p, m, n, p, dm.p, nullptr);
    CHECK(dm.get() == mc);
  }
  const std::vector<float> ref = random_boxes(n, 400.f);
  for (const BoxCoderWeights& w : {BoxCoderWeights{1, 1, 1, 1}, BoxCoderWeights{10, 10, 5, 5}}) {
    std::vector<float> enc(size_t(4 * n)), dec(size_t(12 * n));
    encode_boxes_cpu(ref.data(), anchors.data(), n, w, enc.data());
    Dev<float> dref(ref), denc(size_t(4 * n));
    encode_boxes_cuda(dref.p, dan.p, n, w, denc.p, nullptr);
    expect_close(denc.get(), enc, 1e-5, 1e-5, "encode");
    const std::vector<float> deltas = randn(size_t(12 * n), 2.f);
    decode_boxes_cpu(deltas.data(), anchors.data(), n, 3, w, dec.data());
    Dev<float> dd(deltas), ddec(size_t(12 * n));
    decode_boxes_cuda(dd.p, dan.p, n, 3, w, ddec.p, nullptr);
    expect_close(ddec.get(), dec, 1e-3, 1e-5, "decode");
  }
  std::vector<float> clipped(anchors.size());
  clip_boxes_cpu(anchors.data(), n, 300, 350, clipped.data());
  Dev<float> dcl(anchors.size());
  clip_boxes_cuda(dan.p, n, 300, 350, dcl.p, nullptr);
  CHECK(dcl.get() == clipped);
  const std::vector<float> small = random_boxes(n, 100.f, 0.f, 5.f);
  std::vector<int64_t> keep(static_cast<size_t>(n));
  keep.resize(size_t(remove_small_boxes_cpu(small.data(), n, 2.5, keep.data())));
  Dev<float> dsm(small);
  Dev<int64_t> dkeep(static_cast<size_t>(n));
  const int64_t kg = remove_small_boxes_cuda(dsm.p, n, 2.5, dkeep.p, nullptr);
  REQUIRE(kg == int64_t(keep.size()));
  CHECK(dkeep.get(size_t(kg)) == keep);
}

TEST_CASE("mask targets and pasting: CUDA equals CPU") {
  if (!test::real_gpu()) return;  // raw device pointers: no fake-GPU mode
  const int64_t ng = 5, h = 60, w = 80, nb = 40, m = 28;
  std::vector<uint8_t> gt(size_t(ng * h * w));
  std::bernoulli_distribution coin(0.4);
  for (uint8_t& v : gt) v = coin(rng);
  const std::vector<float> boxes = random_boxes(nb, 70.f, 2.f, 40.f);
  std::vector<int64_t> matched(static_cast<size_t>(nb));
  for (int64_t i = 0; i < nb; ++i) matched[size_t(i)] = i % ng;
  std::vector<float> t(size_t(nb * m * m));
  project_masks_on_boxes_cpu(gt.data(), ng, h, w, boxes.data(), matched.data(), nb, m, t.data());
  Dev<uint8_t> dgt(gt);
  Dev<float> db(boxes), dt(t.size());
  Dev<int64_t> dmi(matched);
  project_masks_on_boxes_cuda(dgt.p, ng, h, w, db.p, dmi.p, nb, m, dt.p, nullptr);
  expect_close(dt.get(), t, 1e-5, 1e-5, "mask targets");

  const int64_t ih = 90, iw = 110;
  std::vector<float> probs(size_t(nb * m * m));
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (float& v : probs) v = u(rng);
  std::vector<float> pasted(size_t(nb * ih * iw));
  std::vector<uint8_t> bin(pasted.size());
  paste_masks_in_image_cpu(probs.data(), nb, m, boxes.data(), ih, iw, pasted.data());
  paste_masks_in_image_binary_cpu(probs.data(), nb, m, boxes.data(), ih, iw, 0.5f, bin.data());
  Dev<float> dp(probs), dout(pasted.size());
  Dev<uint8_t> dbin(pasted.size());
  paste_masks_in_image_cuda(dp.p, nb, m, db.p, ih, iw, dout.p, nullptr);
  paste_masks_in_image_binary_cuda(dp.p, nb, m, db.p, ih, iw, 0.5f, dbin.p, nullptr);
  expect_close(dout.get(), pasted, 1e-6, 1e-5, "pasted masks");
  const std::vector<uint8_t> gbin = dbin.get();
  size_t bad = 0;
  for (size_t i = 0; i < bin.size(); ++i)
    if (gbin[i] != bin[i] && std::abs(pasted[i] - 0.5f) > 1e-6f) ++bad;
  CHECK(bad == 0);
}
#endif
