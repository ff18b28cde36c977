// Pixel drawing on RGB images for charts and overlays: filled rectangles, text (stb_easy_font glyph
// quads scaled up for legibility) and the tab10 colour cycle.
#pragma once
#include <cstdint>
#include <string>

#include "data/image.h"

namespace mrc::data {

struct Rgb {
  uint8_t r, g, b;
};

// matplotlib's tab10: ten colours chosen to stay apart from each other (and on white).
Rgb palette_color(size_t i);

// An RGB copy (gray repeated over the channels, alpha dropped); RGB photos are returned as they are.
Image to_rgb(const Image& photo);

void fill_rect(Image& im, int x0, int y0, int x1, int y1, Rgb c);  // [x0, x1) x [y0, y1), clipped
int text_width(const std::string& s, int scale);                  // pixels; glyphs are 10 * scale high
void draw_text(Image& im, int x, int y, const std::string& s, Rgb c, int scale);

}  // namespace mrc::data
