// Instance masks drawn over a photo, as Mask R-CNN demos show them: each instance in its own colour
// (the tab10 cycle), its mask blended in with its outline solid, its box, and a caption such as
// "circle 0.97" on a filled tag above the box.
#pragma once
#include <string>
#include <vector>

#include "data/image.h"

namespace mrc::data {

struct OverlayInstance {
  Mask mask;                  // at the photo's size, or empty (box and caption only)
  float box[4] = {0, 0, 0, 0};  // x1, y1, x2, y2 in the photo's pixels
  std::string caption;
};

// An RGB copy of `photo` (gray and RGBA photos are converted) with the instances drawn in order.
// Throws std::invalid_argument naming the instance when a mask's size differs from the photo's.
Image render_overlay(const Image& photo, const std::vector<OverlayInstance>& instances, double alpha = 0.45);

}  // namespace mrc::data
