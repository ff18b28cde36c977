// Pixel drawing (see draw.h). stb_easy_font emits each glyph as quads; each quad is filled as a rectangle.
#include "data/draw.h"

#include <algorithm>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb_easy_font.h>
#pragma GCC diagnostic pop

namespace mrc::data {

Rgb palette_color(size_t i) {
  static constexpr Rgb kPalette[10] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},
                                       {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
                                       {188, 189, 34},  {23, 190, 207}};
  return kPalette[i % 10];
}

void fill_rect(Image& im, int x0, int y0, int x1, int y1, Rgb c) {
  x0 = std::max(x0, 0);
  y0 = std::max(y0, 0);
  x1 = std::min(x1, im.width);
  y1 = std::min(y1, im.height);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      uint8_t* p = im.at(x, y);
      p[0] = c.r;
      p[1] = c.g;
      p[2] = c.b;
    }
}

int text_width(const std::string& s, int scale) {
  std::string t = s;
  return stb_easy_font_width(t.data()) * scale;
}

void draw_text(Image& im, int x, int y, const std::string& s, Rgb c, int scale) {
  std::string t = s;
  std::vector<char> buf(t.size() * 270 + 1024);  // ~ at most 64 quads of 64 bytes per character
  unsigned char col[4] = {c.r, c.g, c.b, 255};
  const int quads = stb_easy_font_print(0, 0, t.data(), col, buf.data(), int(buf.size()));
  for (int q = 0; q < quads; ++q) {
    const float* v0 = reinterpret_cast<const float*>(buf.data() + size_t(q) * 64);       // top-left
    const float* v2 = reinterpret_cast<const float*>(buf.data() + size_t(q) * 64 + 32);  // bottom-right
    fill_rect(im, x + int(v0[0] * scale), y + int(v0[1] * scale), x + int(v2[0] * scale), y + int(v2[1] * scale), c);
  }
}

Image to_rgb(const Image& photo) {
  if (photo.channels == 3) return photo;
  Image out(photo.width, photo.height, 3);
  for (int y = 0; y < photo.height; ++y)
    for (int x = 0; x < photo.width; ++x) {
      const uint8_t* p = photo.at(x, y);
      uint8_t* q = out.at(x, y);
      if (photo.channels < 3) q[0] = q[1] = q[2] = p[0];
      else q[0] = p[0], q[1] = p[1], q[2] = p[2];
    }
  return out;
}

}  // namespace mrc::data
