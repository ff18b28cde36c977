// Anchor generation: cell anchors and a 2x2 grid by hand, then torchvision's AnchorGenerator on random
// image sizes over five FPN levels and on odd sizes and ratios, value for value.
#include <doctest/doctest.h>

#include "detection_test_util.h"
#include "kernels/anchors/anchors.h"

using namespace mrc;
using namespace mrc::kernels;
using mrc::test::fx;

TEST_CASE("anchors: cell anchors and a 2x2 grid by hand") {
  // Ratio 1, size 32: a 32 x 32 box centred on 0.
  const std::vector<float> square = cell_anchors({32}, {1.0});
  CHECK(square == std::vector<float>{-16, -16, 16, 16});
  // Ratio 0.5 (h/w): h = sqrt(0.5) * 32 = 22.63, w = 45.25; halves 11.31 and 22.63 round to 11 and 23.
  // Ratio 2 is the transpose. Rows go ratio-major, then size.
  CHECK(cell_anchors({32}, {0.5, 2.0}) == std::vector<float>{-23, -11, 23, 11, -11, -23, 11, 23});
  CHECK(cell_anchors({16, 32}, {1.0}) == std::vector<float>{-8, -8, 8, 8, -16, -16, 16, 16});
  // torch.round rounds halves to even: size 5 gives 2.5 -> 2, size 3 gives 1.5 -> 2.
  CHECK(cell_anchors({5, 3}, {1.0}) == std::vector<float>{-2, -2, 2, 2, -2, -2, 2, 2});
  // A 64 x 64 image over a 2 x 2 feature map: stride 32; the cell (y, x) shifts by (32 x, 32 y).
  const AnchorGrid g = anchor_grid(64, 64, 2, 2);
  CHECK(g.stride_h == 32);
  CHECK(g.stride_w == 32);
  std::vector<float> out(16);
  grid_anchors_cpu(square.data(), 1, g, out.data());
  CHECK(out == std::vector<float>{-16, -16, 16, 16, 16, -16, 48, 16, -16, 16, 16, 48, 16, 16, 48, 48});
  // Two cell anchors per position: position-major, cell anchors inside.
  const std::vector<float> two = cell_anchors({32}, {0.5, 2.0});
  std::vector<float> out2(32);
  grid_anchors_cpu(two.data(), 2, anchor_grid(60, 70, 2, 2), out2.data());  // strides 30 and 35
  CHECK(std::vector<float>(out2.begin(), out2.begin() + 8) == std::vector<float>{-23, -11, 23, 11, -11, -23, 11, 23});
  CHECK(std::vector<float>(out2.begin() + 8, out2.begin() + 12) == std::vector<float>{12, -11, 58, 11});
  CHECK(std::vector<float>(out2.begin() + 16, out2.begin() + 20) == std::vector<float>{-23, 19, 23, 41});
  CHECK_THROWS_WITH_AS(cell_anchors({}, {1.0}), doctest::Contains("non-empty"), std::runtime_error);
  CHECK_THROWS_WITH_AS(anchor_grid(64, 64, 0, 2), doctest::Contains("must be positive"), std::runtime_error);
}

TEST_CASE("anchors: AnchorGenerator on random sizes matches torchvision exactly") {
  const SafetensorsFile f = mrc::test::load_detection_fixture("anchors.safetensors");
  mrc::test::for_each_fixture_case(f, 1, [&](int, const std::string& p) {
    const std::vector<int64_t> image = fx<int64_t>(f, p + "image"), grid_sizes = fx<int64_t>(f, p + "grids");
    const auto& se = f.at(p + "sizes");
    const auto& re = f.at(p + "ratios");
    const std::vector<double> sizes = se.as<double>(), ratios = re.as<double>();
    const size_t levels = grid_sizes.size() / 2, ns = size_t(se.shape[1]), nr = size_t(re.shape[1]);
    std::vector<std::vector<float>> cells;
    std::vector<AnchorGrid> grids;
    for (size_t l = 0; l < levels; ++l) {
      cells.push_back(cell_anchors(std::vector<double>(sizes.begin() + long(l * ns), sizes.begin() + long((l + 1) * ns)),
                                   std::vector<double>(ratios.begin() + long(l * nr), ratios.begin() + long((l + 1) * nr))));
      CHECK(cells.back() == fx<float>(f, p + "cell" + std::to_string(l)));
      grids.push_back(anchor_grid(image[0], image[1], grid_sizes[2 * l], grid_sizes[2 * l + 1]));
    }
    CHECK(pyramid_anchors_cpu(cells, grids) == fx<float>(f, p + "anchors"));
  });
}
