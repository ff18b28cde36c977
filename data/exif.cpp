// A small EXIF reader (just the orientation tag of a JPEG's APP1 segment) and the eight EXIF
// orientations applied to an image. See image_io.h.
#include <cstdio>
#include <fstream>
#include <stdexcept>

#include "data/image_io.h"

namespace mrc::data {
namespace {

struct Reader {
  const uint8_t* p;
  size_t n;
  bool big_endian = false;
  bool ok(size_t off, size_t len) const { return off <= n && len <= n - off; }
  unsigned u16(size_t off) const {
    return big_endian ? (unsigned(p[off]) << 8) | p[off + 1] : (unsigned(p[off + 1]) << 8) | p[off];
  }
  uint32_t u32(size_t off) const {
    return big_endian ? (uint32_t(p[off]) << 24) | (uint32_t(p[off + 1]) << 16) | (uint32_t(p[off + 2]) << 8) | p[off + 3]
                      : (uint32_t(p[off + 3]) << 24) | (uint32_t(p[off + 2]) << 16) | (uint32_t(p[off + 1]) << 8) | p[off];
  }
};

// Orientation tag (0x0112) in IFD0 of a TIFF block; 1 when absent or damaged.
int tiff_orientation(const uint8_t* tiff, size_t n) {
  Reader r{tiff, n};
  if (!r.ok(0, 8)) return 1;
  if (tiff[0] == 'M' && tiff[1] == 'M') r.big_endian = true;
  else if (!(tiff[0] == 'I' && tiff[1] == 'I')) return 1;
  if (r.u16(2) != 42) return 1;
  size_t ifd = r.u32(4);
  if (!r.ok(ifd, 2)) return 1;
  unsigned entries = r.u16(ifd);
  for (unsigned i = 0; i < entries; ++i) {
    size_t e = ifd + 2 + size_t(i) * 12;
    if (!r.ok(e, 12)) return 1;
    if (r.u16(e) != 0x0112) continue;
    unsigned type = r.u16(e + 2);
    // SHORT (3) is what the standard says; a few writers use LONG (4).
    unsigned v = type == 3 ? r.u16(e + 8) : type == 4 ? unsigned(r.u32(e + 8)) : 0;
    return v >= 1 && v <= 8 ? int(v) : 1;
  }
  return 1;
}

}  // namespace

int exif_orientation(const uint8_t* data, size_t size) {
  if (size < 4 || data[0] != 0xFF || data[1] != 0xD8) return 1;
  size_t pos = 2;
  while (pos + 4 <= size) {
    if (data[pos] != 0xFF) return 1;              // lost sync: not a marker
    uint8_t marker = data[pos + 1];
    if (marker == 0xFF) { ++pos; continue; }      // fill byte
    if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) { pos += 2; continue; }
    if (marker == 0xDA || marker == 0xD9) return 1;  // scan data / end: no EXIF before the pixels
    size_t len = (size_t(data[pos + 2]) << 8) | data[pos + 3];
    if (len < 2 || pos + 2 + len > size) return 1;
    const uint8_t* seg = data + pos + 4;
    size_t seg_len = len - 2;
    if (marker == 0xE1 && seg_len >= 6 && seg[0] == 'E' && seg[1] == 'x' && seg[2] == 'i' && seg[3] == 'f' &&
        seg[4] == 0 && seg[5] == 0)
      return tiff_orientation(seg + 6, seg_len - 6);
    pos += 2 + len;
  }
  return 1;
}

int read_exif_orientation(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("image file not found or unreadable: " + path);
  // APP1 must come before the scan; 128 KiB covers EXIF blocks with embedded thumbnails.
  std::vector<uint8_t> head(128 * 1024);
  f.read(reinterpret_cast<char*>(head.data()), std::streamsize(head.size()));
  head.resize(size_t(f.gcount()));
  return exif_orientation(head.data(), head.size());
}

bool has_exif_rotation(const std::string& path) { return read_exif_orientation(path) != 1; }

Image apply_exif_orientation(const Image& in, int orientation) {
  if (orientation < 2 || orientation > 8) return in;
  const int W = in.width, H = in.height, C = in.channels;
  const bool swap = orientation >= 5;
  Image out(swap ? H : W, swap ? W : H, C);
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      int sx = x, sy = y;
      switch (orientation) {
        case 2: sx = W - 1 - x; break;                        // mirrored left-right
        case 3: sx = W - 1 - x; sy = H - 1 - y; break;        // upside down
        case 4: sy = H - 1 - y; break;                        // mirrored top-bottom
        case 5: sx = y; sy = x; break;                        // transpose
        case 6: sx = y; sy = H - 1 - x; break;                // shown rotated 90 clockwise
        case 7: sx = W - 1 - y; sy = H - 1 - x; break;        // transverse
        case 8: sx = W - 1 - y; sy = x; break;                // shown rotated 90 counter-clockwise
      }
      const uint8_t* s = in.at(sx, sy);
      uint8_t* d = out.at(x, y);
      for (int c = 0; c < C; ++c) d[c] = s[c];
    }
  }
  return out;
}

}  // namespace mrc::data
