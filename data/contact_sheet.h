// A contact sheet: many pictures (overlays of photos or video frames) shrunk into one grid PNG with a
// caption under each, for a quick look at a whole folder of results.
#pragma once
#include <string>
#include <vector>

#include "data/image.h"

namespace mrc::data {

struct ContactSheetOptions {
  int columns = 0;        // 0: about square (ceil(sqrt(n)))
  int cell_width = 240;   // each picture fits in cell_width x cell_height, aspect kept
  int cell_height = 180;
};

// RGB grid of the pictures (gray/RGBA converted), captions below each cell. Throws std::invalid_argument
// when there is no picture or the captions do not match.
Image contact_sheet(const std::vector<Image>& pictures, const std::vector<std::string>& captions,
                    const ContactSheetOptions& options = {});

}  // namespace mrc::data
