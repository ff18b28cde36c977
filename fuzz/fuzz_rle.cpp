// libFuzzer target: the COCO RLE codec (data/rle.cpp). The bytes are read twice: as a compressed RLE
// string (decode; what decodes must re-encode and decode to the same runs), and as a small mask
// (width, height, then pixels) that must survive mask -> runs -> string -> runs -> mask unchanged.
#include <string>

#include "data/rle.h"
#include "fuzz_util.h"

using namespace mrc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string s(reinterpret_cast<const char*>(data), size);
  fuzz::expect_clean_errors([&] {
    const std::vector<uint32_t> counts = data::rle_from_string(s, "fuzz RLE");
    const std::string again = data::rle_to_string(counts);
    fuzz::check(data::rle_from_string(again, "re-encoded RLE") == counts, "RLE string round trip changed the runs", s);
    int64_t total = 0;
    for (uint32_t c : counts) total += c;
    if (total > 0 && total <= 4096) {  // decode as a one-column mask when small
      const data::Rle rle{1, int(total), counts};
      fuzz::check(data::rle_area(rle) == data::rle_to_mask(rle).area(), "rle_area disagrees with the decoded mask");
    }
  });

  if (size < 2) return 0;
  const int w = 1 + data[0] % 16, h = 1 + data[1] % 16;
  data::Mask m(w, h);
  for (size_t i = 0; i < m.pixels.size(); ++i) m.pixels[i] = 2 + i < size ? data[2 + i] & 1 : 0;
  const data::Rle rle = data::mask_to_rle(m);
  fuzz::check(data::rle_area(rle) == m.area(), "rle_area differs from the mask's area");
  const std::vector<uint32_t> back = data::rle_from_string(data::rle_to_string(rle.counts), "round trip");
  fuzz::check(back == rle.counts, "mask runs changed through the compressed string");
  fuzz::check(data::rle_to_mask(data::Rle{w, h, back}).pixels == m.pixels, "mask changed through RLE");
  return 0;
}
