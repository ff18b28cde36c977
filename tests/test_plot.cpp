// Tests of the line-chart renderer (data/plot.h): where a series' colour lands, nice axis ranges,
// the legend, bad input, and the PNG appearing atomically. (The bar chart is tested in test_image_io.)
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "data/image_io.h"
#include "data/plot.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace mrc::data;

namespace {

bool is_color(const Image& im, int x, int y, std::array<uint8_t, 3> c) {
  if (x < 0 || y < 0 || x >= im.width || y >= im.height) return false;
  const uint8_t* p = im.at(x, y);
  return p[0] == c[0] && p[1] == c[1] && p[2] == c[2];
}

// The colour within one pixel of (x, y) (the line is two pixels wide).
bool color_near(const Image& im, double x, double y, std::array<uint8_t, 3> c) {
  const int ix = int(std::lround(x)), iy = int(std::lround(y));
  for (int dy = -1; dy <= 1; ++dy)
    for (int dx = -1; dx <= 1; ++dx)
      if (is_color(im, ix + dx, iy + dy, c)) return true;
  return false;
}

int count_color(const Image& im, int x0, int y0, int x1, int y1, std::array<uint8_t, 3> c) {
  int n = 0;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) n += is_color(im, x, y, c);
  return n;
}

}  // namespace

TEST_CASE("line chart: each series draws its own colour along its points, nowhere else") {
  // Training loss falls from 4 to 1 over 10 epochs; validation is flat at 3 from epoch 2.
  const LineSeries train{"training", {0, 2, 4, 6, 8, 10}, {4, 3, 2.2, 1.6, 1.2, 1.0}};
  const LineSeries val{"validation", {2, 10}, {3, 3}};
  ChartFrame f;
  const Image im = render_line_chart("loss", "epoch", "loss", {train, val}, 800, 500, &f);
  REQUIRE(im.width == 800);
  REQUIRE(im.height == 500);
  REQUIRE(im.channels == 3);
  const auto c0 = line_chart_color(0), c1 = line_chart_color(1);
  CHECK(c0 != c1);

  // Nice ranges enclosing the data: x 0..10 exactly, y from at most 1 to at least 4.
  CHECK(f.x_min == 0);
  CHECK(f.x_max == 10);
  CHECK(f.y_min <= 1.0);
  CHECK(f.y_max >= 4.0);
  CHECK(f.y_min > 0.0 - 1e-9);
  CHECK(f.y_max <= 5.0);
  CHECK(f.left > 20);            // room for the tick labels and the y label
  CHECK(f.bottom < im.height - 30);  // room for the x ticks and the x label
  CHECK(f.right <= im.width);
  CHECK(f.px(0) == doctest::Approx(f.left));
  CHECK(f.py(f.y_min) == doctest::Approx(f.bottom - 1));

  // Every vertex and the middle of every segment carry the series' colour.
  for (size_t k = 0; k < train.xs.size(); ++k) {
    CHECK(color_near(im, f.px(train.xs[k]), f.py(train.ys[k]), c0));
    if (k + 1 < train.xs.size())
      CHECK(color_near(im, f.px((train.xs[k] + train.xs[k + 1]) / 2), f.py((train.ys[k] + train.ys[k + 1]) / 2), c0));
  }
  for (double x : {2.0, 4.5, 7.0, 10.0}) CHECK(color_near(im, f.px(x), f.py(3.0), c1));
  // Validation starts at epoch 2: nothing of its colour in the plot left of it.
  CHECK(count_color(im, f.left, f.top, int(f.px(2.0)) - 2, f.bottom, c1) == 0);
  // The training line never goes up: no training colour above its start's row, nor below its end's.
  CHECK(count_color(im, f.left, f.top, f.right, int(f.py(4.0)) - 2, c0) == 0);
  CHECK(count_color(im, f.left, int(f.py(1.0)) + 3, f.right, f.bottom, c0) == 0);
  // A point far from both lines is background.
  const uint8_t* bg = im.at(int(f.px(9.0)), int(f.py(2.2)));
  CHECK((bg[0] > 200 && bg[1] > 200 && bg[2] > 200));

  // The legend (above the plot) shows both colours.
  CHECK(count_color(im, 0, 0, im.width, f.top, c0) > 20);
  CHECK(count_color(im, 0, 0, im.width, f.top, c1) > 20);
  // Axis labels and tick labels are drawn left of and below the plot.
  CHECK(count_color(im, 0, f.top, f.left - 2, f.bottom, {30, 30, 30}) > 20);      // y label (black)
  CHECK(count_color(im, f.left, f.bottom + 25, f.right, im.height, {30, 30, 30}) > 20);  // x label
}

TEST_CASE("line chart: ten distinct colours, a lone point, gaps, degenerate ranges, bad input") {
  for (size_t i = 0; i < 10; ++i)
    for (size_t j = i + 1; j < 10; ++j) CHECK(line_chart_color(i) != line_chart_color(j));
  CHECK(line_chart_color(10) == line_chart_color(0));

  // One series with a NaN in the middle: the two halves are not joined across the gap.
  ChartFrame f;
  const LineSeries gap{"sgd", {0, 1, 2, 3, 4}, {1, 1, NAN, 3, 3}};
  const Image im = render_line_chart("gap", "it", "", {gap}, 400, 300, &f);
  const auto c = line_chart_color(0);
  CHECK(color_near(im, f.px(0.5), f.py(1), c));
  CHECK(color_near(im, f.px(3.5), f.py(3), c));
  CHECK_FALSE(color_near(im, f.px(2), f.py(2), c));

  // A single point: drawn as a dot, the range around it is not empty.
  const Image dot = render_line_chart("one", "x", "y", {{"adam", {5}, {0.25}}}, 400, 300, &f);
  CHECK(f.x_min < 5);
  CHECK(f.x_max > 5);
  CHECK(f.y_min < 0.25);
  CHECK(f.y_max > 0.25);
  CHECK(count_color(dot, f.left, f.top, f.right, f.bottom, line_chart_color(0)) >= 9);

  // No series at all: an empty frame, no throw.
  CHECK_NOTHROW(render_line_chart("empty", "x", "y", {}, 400, 300));
  CHECK_THROWS_WITH_AS(render_line_chart("bad", "x", "y", {{"val", {1, 2}, {1}}}), doctest::Contains("'val'"),
                       std::invalid_argument);
  CHECK_THROWS_AS(render_line_chart("tiny", "x", "y", {}, 100, 100), std::invalid_argument);
}

TEST_CASE("line chart: the PNG appears whole or not at all") {
  const mrc::test::TempDir dir;
  const std::string out = dir / "loss.png";
  const std::vector<LineSeries> s{{"train", {1, 2, 3}, {0.9, 0.5, 0.4}}, {"val", {1, 2, 3}, {1.0, 0.7, 0.6}}};
  write_line_chart_png(out, "loss", "epoch", "loss", s, 640, 400);
  const Image back = decode_image(out);
  CHECK(back.width == 640);
  CHECK(back.height == 400);
  CHECK(back.pixels == render_line_chart("loss", "epoch", "loss", s, 640, 400).pixels);  // PNG is lossless
  CHECK(dir.files() == std::vector<std::string>{"loss.png"});  // no temporary left behind

  // Over an existing file: replaced whole. Into a missing folder: an error naming it, nothing written.
  write_line_chart_png(out, "loss", "epoch", "loss", {s[0]}, 500, 300);
  CHECK(decode_image(out).width == 500);
  CHECK_THROWS_WITH_AS(write_line_chart_png(dir / "missing/loss.png", "loss", "epoch", "loss", s),
                       doctest::Contains("missing"), std::runtime_error);
  CHECK_FALSE(fs::exists(dir.path / "missing"));

  // The bar chart still renders next to it.
  CHECK(render_bar_chart("classes", {"a", "b"}, {3, 5}).width > 0);
}
