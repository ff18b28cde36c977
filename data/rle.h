// COCO run-length encoding of binary masks: column-major runs starting with a run of zeros
// (pycocotools' uncompressed "counts"), and the compressed string form (pycocotools' variant of
// LEB128: 5-bit groups + continuation bit as characters 48..111; from the fourth run on, each run is
// stored as its difference from the run two before).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"

namespace mrc::data {

struct Rle {
  int width = 0, height = 0;
  std::vector<uint32_t> counts;   // sum == width * height
};

Rle mask_to_rle(const Mask& mask);
// Throws std::runtime_error when the counts do not sum to width*height.
Mask rle_to_mask(const Rle& rle);
int64_t rle_area(const Rle& rle);

// pycocotools' compressed string <-> counts. decode throws on characters outside the alphabet or a
// truncated group; `what` names the file/entry for the message.
std::string rle_to_string(const std::vector<uint32_t>& counts);
std::vector<uint32_t> rle_from_string(const std::string& s, const std::string& what = "RLE string");

}  // namespace mrc::data
