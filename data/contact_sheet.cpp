// Contact sheet layout (see contact_sheet.h).
#include "data/contact_sheet.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "data/draw.h"
#include "data/resize.h"

namespace mrc::data {

Image contact_sheet(const std::vector<Image>& pictures, const std::vector<std::string>& captions,
                    const ContactSheetOptions& o) {
  if (pictures.empty()) throw std::invalid_argument("contact sheet: no pictures");
  if (captions.size() != pictures.size())
    throw std::invalid_argument("contact sheet: " + std::to_string(pictures.size()) + " pictures but " +
                                std::to_string(captions.size()) + " captions");
  const int n = int(pictures.size());
  const int cols = o.columns > 0 ? std::min(o.columns, n) : int(std::ceil(std::sqrt(double(n))));
  const int rows = (n + cols - 1) / cols;
  const int pad = 6, caption_h = 14, text_scale = 1;
  const int cw = o.cell_width + 2 * pad, ch = o.cell_height + caption_h + 2 * pad;
  Image sheet(cols * cw, rows * ch, 3, 255);
  for (int i = 0; i < n; ++i) {
    const Image& p = pictures[size_t(i)];
    if (p.empty()) continue;
    const double s = std::min(double(o.cell_width) / p.width, double(o.cell_height) / p.height);
    const int w = std::max(1, int(std::lround(p.width * s))), h = std::max(1, int(std::lround(p.height * s)));
    const Image thumb = resize_bilinear(to_rgb(p), w, h);
    const int x0 = (i % cols) * cw + pad + (o.cell_width - w) / 2, y0 = (i / cols) * ch + pad + (o.cell_height - h) / 2;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < 3; ++c) sheet.at(x0 + x, y0 + y)[c] = thumb.at(x, y)[c];
    std::string caption = captions[size_t(i)];
    while (!caption.empty() && text_width(caption, text_scale) > o.cell_width) caption.pop_back();
    draw_text(sheet, (i % cols) * cw + pad, (i / cols) * ch + pad + o.cell_height + 2, caption, Rgb{30, 30, 30}, text_scale);
  }
  return sheet;
}

}  // namespace mrc::data
