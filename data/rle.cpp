// COCO RLE: mask <-> column-major runs, and pycocotools' compressed string form (see rle.h).
#include "data/rle.h"

#include <stdexcept>

namespace mrc::data {

Rle mask_to_rle(const Mask& mask) {
  Rle r;
  r.width = mask.width;
  r.height = mask.height;
  uint8_t current = 0;  // runs alternate starting with zeros
  uint32_t run = 0;
  for (int x = 0; x < mask.width; ++x) {
    for (int y = 0; y < mask.height; ++y) {
      uint8_t v = mask.at(x, y) ? 1 : 0;
      if (v != current) {
        r.counts.push_back(run);
        run = 0;
        current = v;
      }
      ++run;
    }
  }
  r.counts.push_back(run);
  return r;
}

Mask rle_to_mask(const Rle& rle) {
  if (rle.width < 0 || rle.height < 0) throw std::runtime_error("RLE: negative size");
  const int64_t total = int64_t(rle.width) * rle.height;
  int64_t sum = 0;
  for (uint32_t c : rle.counts) sum += c;
  if (sum != total)
    throw std::runtime_error("RLE: runs sum to " + std::to_string(sum) + " pixels, expected " +
                             std::to_string(total) + " (" + std::to_string(rle.height) + "x" +
                             std::to_string(rle.width) + ")");
  Mask m(rle.width, rle.height);
  int64_t pos = 0;
  uint8_t v = 0;
  for (uint32_t c : rle.counts) {
    if (v) {
      for (int64_t p = pos; p < pos + c; ++p) {
        int64_t x = p / rle.height, y = p % rle.height;
        m.pixels[size_t(y) * rle.width + x] = 1;
      }
    }
    pos += c;
    v ^= 1;
  }
  return m;
}

int64_t rle_area(const Rle& rle) {
  int64_t a = 0;
  for (size_t i = 1; i < rle.counts.size(); i += 2) a += rle.counts[i];
  return a;
}

std::string rle_to_string(const std::vector<uint32_t>& counts) {
  std::string s;
  for (size_t i = 0; i < counts.size(); ++i) {
    int64_t x = counts[i];
    if (i > 2) x -= int64_t(counts[i - 2]);
    // 5 payload bits per character; bit 0x20 says another character follows; the group that ends a
    // number carries its sign in bit 0x10 (so the remaining high bits are implied all 0 or all 1).
    for (;;) {
      int c = int(x & 0x1f);
      x >>= 5;  // arithmetic shift keeps the sign
      bool more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      s.push_back(char(c + 48));
      if (!more) break;
    }
  }
  return s;
}

std::vector<uint32_t> rle_from_string(const std::string& s, const std::string& what) {
  std::vector<uint32_t> counts;
  size_t p = 0;
  while (p < s.size()) {
    int64_t x = 0;
    int k = 0;
    for (;;) {
      if (p >= s.size()) throw std::runtime_error(what + ": compressed RLE string ends inside a number");
      int c = int(static_cast<unsigned char>(s[p])) - 48;
      if (c < 0 || c > 63)
        throw std::runtime_error(what + ": character '" + std::string(1, s[p]) + "' at " + std::to_string(p) +
                                 " is not a compressed RLE digit (expected '0'..'o')");
      if (k >= 12) throw std::runtime_error(what + ": compressed RLE number too long at " + std::to_string(p));
      x |= int64_t(c & 0x1f) << (5 * k);
      ++p;
      ++k;
      if (!(c & 0x20)) {
        if (c & 0x10) x |= ~int64_t(0) << (5 * k);  // negative: extend the sign
        break;
      }
    }
    if (counts.size() > 2) x += int64_t(counts[counts.size() - 2]);
    if (x < 0 || x > int64_t(UINT32_MAX))
      throw std::runtime_error(what + ": compressed RLE decodes to an invalid run length " + std::to_string(x));
    counts.push_back(uint32_t(x));
  }
  return counts;
}

}  // namespace mrc::data
