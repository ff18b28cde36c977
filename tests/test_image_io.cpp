// Image decoding/encoding: PNG round trips (gray, gray+alpha, RGB, RGBA), JPEG quality, EXIF
// orientation (all eight, both byte orders, expected layouts written out by hand from the EXIF
// definitions), header-only info, atomic writes, errors for missing/corrupt/truncated files, and
// the bar-chart PNG renderer.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "data/image_io.h"
#include "data/plot.h"
#include "test_util.h"

using namespace mrc::data;
namespace fs = std::filesystem;

namespace {

using mrc::test::TempDir;
using mrc::test::write_bytes;

Image pattern(int w, int h, int c) {
  Image im(w, h, c);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) im.at(x, y)[k] = uint8_t((x * 37 + y * 11 + k * 71) & 255);
  return im;
}

// Stored layout for the EXIF tests: four flat quadrants (JPEG keeps flat blocks nearly exact).
enum Colour { R, G, B, Wh };
const uint8_t kRgb[4][3] = {{220, 20, 20}, {20, 200, 20}, {20, 20, 220}, {240, 240, 240}};
Image quadrants(int w, int h) {
  Image im(w, h, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      Colour c = y < h / 2 ? (x < w / 2 ? R : G) : (x < w / 2 ? B : Wh);
      for (int k = 0; k < 3; ++k) im.at(x, y)[k] = kRgb[c][k];
    }
  return im;
}
Colour colour_at(const Image& im, int x, int y) {
  int best = 0, best_d = 1 << 30;
  for (int c = 0; c < 4; ++c) {
    int d = 0;
    for (int k = 0; k < 3; ++k) d += std::abs(int(im.at(x, y)[k]) - kRgb[c][k]);
    if (d < best_d) { best_d = d; best = c; }
  }
  return Colour(best);
}

// A JPEG with an APP1/EXIF segment holding one IFD0 entry: Orientation (0x0112, SHORT) = o.
std::vector<uint8_t> with_orientation(const std::vector<uint8_t>& jpeg, int o, bool big_endian) {
  std::vector<uint8_t> tiff;
  auto u16 = [&](unsigned v) {
    if (big_endian) { tiff.push_back(uint8_t(v >> 8)); tiff.push_back(uint8_t(v)); }
    else { tiff.push_back(uint8_t(v)); tiff.push_back(uint8_t(v >> 8)); }
  };
  auto u32 = [&](uint32_t v) {
    if (big_endian) { u16(v >> 16); u16(v & 0xFFFF); } else { u16(v & 0xFFFF); u16(v >> 16); }
  };
  tiff.push_back(big_endian ? 'M' : 'I');
  tiff.push_back(big_endian ? 'M' : 'I');
  u16(42);
  u32(8);
  u16(2);                                       // two entries: an unrelated one first
  u16(0x010F); u16(2); u32(4); u32(0x00414141); // Make = "AAA"
  u16(0x0112); u16(3); u32(1); u16(unsigned(o)); u16(0);
  u32(0);
  std::vector<uint8_t> seg = {'E', 'x', 'i', 'f', 0, 0};
  seg.insert(seg.end(), tiff.begin(), tiff.end());
  const size_t len = seg.size() + 2;
  std::vector<uint8_t> out;
  out.reserve(jpeg.size() + seg.size() + 4);
  for (uint8_t b : {jpeg[0], jpeg[1], uint8_t(0xFF), uint8_t(0xE1), uint8_t(len >> 8), uint8_t(len & 0xFF)})
    out.push_back(b);  // SOI, then the APP1 marker and length
  for (uint8_t b : seg) out.push_back(b);
  for (size_t i = 2; i < jpeg.size(); ++i) out.push_back(jpeg[i]);
  return out;
}

}  // namespace

TEST_CASE("PNG round trips are exact for gray, RGB and RGBA; gray+alpha comes back as RGBA") {
  TempDir dir;
  for (int c : {1, 3, 4}) {
    Image im = pattern(13, 7, c);
    write_png(dir / "a.png", im);
    Image back = decode_image(dir / "a.png");
    CHECK(back.width == 13);
    CHECK(back.height == 7);
    CHECK(back.channels == c);
    CHECK(back.pixels == im.pixels);
  }
  Image ga = pattern(5, 4, 2);
  write_png(dir / "ga.png", ga);
  Image back = decode_image(dir / "ga.png");
  REQUIRE(back.channels == 4);
  CHECK(back.at(3, 2)[0] == ga.at(3, 2)[0]);  // gray replicated into R, G, B
  CHECK(back.at(3, 2)[2] == ga.at(3, 2)[0]);
  CHECK(back.at(3, 2)[3] == ga.at(3, 2)[1]);  // alpha kept

  Image gray = pattern(6, 6, 1);
  write_png(dir / "g.png", gray);
  Image rgb = decode_image(dir / "g.png", {3, true});
  REQUIRE(rgb.channels == 3);
  CHECK(rgb.at(4, 5)[1] == gray.at(4, 5)[0]);
  Image rgba = pattern(6, 6, 4);
  write_png(dir / "rgba.png", rgba);
  CHECK(decode_image(dir / "rgba.png", {3, true}).channels == 3);
}

TEST_CASE("JPEG encode/decode stays close to the original and quality matters") {
  Image im(64, 48, 3);
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 64; ++x) {
      im.at(x, y)[0] = uint8_t(x * 4);
      im.at(x, y)[1] = uint8_t(y * 5);
      im.at(x, y)[2] = 128;
    }
  auto err = [&](int q) {
    auto bytes = encode_jpeg(im, q);
    Image d = decode_image_memory(bytes.data(), bytes.size(), "mem.jpg");
    double e = 0;
    for (size_t i = 0; i < im.pixels.size(); ++i) e += std::abs(int(d.pixels[i]) - int(im.pixels[i]));
    return std::make_pair(e / double(im.pixels.size()), bytes.size());
  };
  auto [e95, s95] = err(95);
  auto [e20, s20] = err(20);
  CHECK(e95 < 2.0);
  CHECK(e20 > e95);
  CHECK(s20 < s95);
  CHECK_THROWS_AS(encode_jpeg(im, 0), std::invalid_argument);
  CHECK(encode_jpeg(pattern(8, 8, 4), 90).size() > 0);  // alpha dropped, not an error
}

TEST_CASE("EXIF orientation 1..8 is read (both byte orders) and applied as the EXIF spec defines") {
  TempDir dir;
  const int w = 32, h = 16;
  auto base = encode_jpeg(quadrants(w, h), 95);
  // Displayed quadrants (TL, TR, BL, BR) for each orientation, from the EXIF definitions.
  const Colour expected[9][4] = {{},
                                 {R, G, B, Wh},   // 1 normal
                                 {G, R, Wh, B},   // 2 mirrored left-right
                                 {Wh, B, G, R},   // 3 rotated 180
                                 {B, Wh, R, G},   // 4 mirrored top-bottom
                                 {R, B, G, Wh},   // 5 transposed
                                 {B, R, Wh, G},   // 6 rotated 90 clockwise
                                 {Wh, G, B, R},   // 7 transversed
                                 {G, Wh, R, B}};  // 8 rotated 90 counter-clockwise
  for (int o = 1; o <= 8; ++o) {
    for (bool be : {false, true}) {
      auto bytes = with_orientation(base, o, be);
      CAPTURE(o);
      CAPTURE(be);
      CHECK(exif_orientation(bytes.data(), bytes.size()) == o);
      Image im = decode_image_memory(bytes.data(), bytes.size(), "x.jpg");
      const int ow = o >= 5 ? h : w, oh = o >= 5 ? w : h;
      REQUIRE(im.width == ow);
      REQUIRE(im.height == oh);
      CHECK(colour_at(im, ow / 4, oh / 4) == expected[o][0]);
      CHECK(colour_at(im, 3 * ow / 4, oh / 4) == expected[o][1]);
      CHECK(colour_at(im, ow / 4, 3 * oh / 4) == expected[o][2]);
      CHECK(colour_at(im, 3 * ow / 4, 3 * oh / 4) == expected[o][3]);
      Image raw = decode_image_memory(bytes.data(), bytes.size(), "x.jpg", {0, false});
      CHECK(raw.width == w);
      CHECK(colour_at(raw, w / 4, h / 4) == R);
    }
  }
  write_bytes(dir / "rot.jpg", with_orientation(base, 6, false));
  write_bytes(dir / "plain.jpg", base);
  CHECK(has_exif_rotation(dir / "rot.jpg"));
  CHECK_FALSE(has_exif_rotation(dir / "plain.jpg"));
  ImageInfo info = read_image_info(dir / "rot.jpg");
  CHECK(info.width == w);
  CHECK(info.height == h);
  CHECK(info.orientation == 6);
  CHECK(info.oriented_width() == h);
  CHECK(info.channels == 3);
  // Damaged EXIF is ignored, not fatal.
  auto broken = with_orientation(base, 6, false);
  broken[12] = 'X';  // TIFF byte-order mark
  CHECK(exif_orientation(broken.data(), broken.size()) == 1);
}

TEST_CASE("masks are written as lossless PNG and read back") {
  TempDir dir;
  Mask m(9, 5);
  m.at(2, 1) = m.at(8, 4) = 1;
  write_mask_png(dir / "m.png", m);
  Image im = decode_image(dir / "m.png");
  CHECK(im.channels == 1);
  CHECK(int(im.at(2, 1)[0]) == 255);
  Mask back = read_mask_png(dir / "m.png");
  CHECK(back.pixels == m.pixels);
}

TEST_CASE("bad image files: missing, empty, truncated, corrupt, unsupported - the message names the file") {
  TempDir dir;
  CHECK_THROWS_WITH_AS(decode_image(dir / "nope.jpg"), doctest::Contains("not found"), std::runtime_error);
  CHECK_THROWS_WITH_AS(decode_image(dir / "nope.jpg"), doctest::Contains("nope.jpg"), std::runtime_error);
  write_bytes(dir / "empty.png", {});
  CHECK_THROWS_WITH_AS(decode_image(dir / "empty.png"), doctest::Contains("empty.png"), std::runtime_error);

  auto jpg = encode_jpeg(pattern(64, 64, 3), 90);
  write_bytes(dir / "cut.jpg", std::vector<uint8_t>(jpg.begin(), jpg.begin() + long(jpg.size() / 2)));
  CHECK_THROWS_WITH_AS(decode_image(dir / "cut.jpg"), doctest::Contains("truncated"), std::runtime_error);
  CHECK_THROWS_WITH_AS(decode_image(dir / "cut.jpg"), doctest::Contains("cut.jpg"), std::runtime_error);

  auto png = encode_png(pattern(64, 64, 3));
  write_bytes(dir / "cut.png", std::vector<uint8_t>(png.begin(), png.begin() + long(png.size() / 2)));
  CHECK_THROWS_WITH_AS(decode_image(dir / "cut.png"), doctest::Contains("corrupt image file"), std::runtime_error);

  auto garbled = png;
  for (size_t i = 40; i < garbled.size(); ++i) garbled[i] = uint8_t(i * 7);
  write_bytes(dir / "garbled.png", garbled);
  CHECK_THROWS_WITH_AS(decode_image(dir / "garbled.png"), doctest::Contains("garbled.png"), std::runtime_error);

  write_bytes(dir / "notes.jpg", {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
  CHECK_THROWS_WITH_AS(decode_image(dir / "notes.jpg"), doctest::Contains("unsupported image format"),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(read_image_info(dir / "notes.jpg"), doctest::Contains("notes.jpg"), std::runtime_error);
  CHECK_THROWS_AS(decode_image(dir.path.string()), std::runtime_error);
  CHECK_THROWS_AS(decode_image(dir / "empty.png", {2, true}), std::invalid_argument);
}

TEST_CASE("writes are atomic: no file and no temporary left when the folder does not exist") {
  TempDir dir;
  const std::string bad = dir / "no/such/dir/a.png";
  CHECK_THROWS_AS(write_png(bad, pattern(4, 4, 3)), std::runtime_error);
  CHECK_FALSE(fs::exists(bad));
  write_jpeg(dir / "ok.jpg", pattern(8, 8, 3), 90);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) {
    (void)e;
    ++files;
  }
  CHECK(files == 1);  // ok.jpg and nothing else
  CHECK_THROWS_AS(write_png(dir / "x.png", Image()), std::invalid_argument);
}

TEST_CASE("bar chart: bar heights proportional to the values, sizes checked, PNG written") {
  Image im = render_bar_chart("t", {"a", "b"}, {10, 20});
  REQUIRE(im.channels == 3);
  // Height of the tallest run of the first series' colour in each half of the chart.
  auto bar_height = [&](int x0, int x1) {
    int best = 0;
    for (int x = x0; x < x1; ++x) {
      int n = 0;
      for (int y = 0; y < im.height; ++y) {
        const uint8_t* p = im.at(x, y);
        n += p[0] == 66 && p[1] == 114 && p[2] == 196;
      }
      best = std::max(best, n);
    }
    return best;
  };
  const int h1 = bar_height(0, im.width / 2), h2 = bar_height(im.width / 2, im.width);
  CHECK(h1 > 20);
  CHECK(std::abs(h2 - 2 * h1) <= 1);
  CHECK_THROWS_AS(render_bar_chart("t", {"a"}, {1, 2}), std::invalid_argument);
  CHECK_THROWS_AS(render_bar_chart("t", {"a"}, {1}, {1, 2}), std::invalid_argument);
  TempDir dir;
  write_bar_chart_png(dir / "c.png", "before/after", {"x", "y", "z"}, {1, 2, 3}, {3, 3, 3});
  CHECK(decode_image(dir / "c.png").width == im.width);
}
