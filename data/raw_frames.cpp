// Raw RGB24 frames from a stream (see raw_frames.h).
#include "data/raw_frames.h"

#include <cstdio>
#include <stdexcept>

namespace mrc::data {

RawFrameReader::RawFrameReader(std::istream& in, int width, int height, std::string name)
    : in_(in), width_(width), height_(height), name_(std::move(name)) {
  if (width < 1 || height < 1 || width > 16384 || height > 16384)
    throw std::invalid_argument(name_ + ": frame size " + std::to_string(width) + "x" + std::to_string(height) +
                                " is outside 1..16384");
}

std::optional<Image> RawFrameReader::next() {
  Image frame(width_, height_, 3);
  const std::streamsize want = std::streamsize(frame.pixels.size());
  in_.read(reinterpret_cast<char*>(frame.pixels.data()), want);
  const std::streamsize got = in_.gcount();
  if (got == 0 && in_.eof()) return std::nullopt;
  if (got != want)
    throw std::runtime_error(name_ + ": frame " + std::to_string(frames_ + 1) + " ends after " + std::to_string(got) +
                             " of " + std::to_string(want) + " bytes (expected " + std::to_string(width_) + "x" +
                             std::to_string(height_) + " RGB24 frames, e.g. ffmpeg -f rawvideo -pix_fmt rgb24)");
  ++frames_;
  return frame;
}

std::pair<int, int> parse_frame_size(const std::string& text, const std::string& what) {
  int w = 0, h = 0;
  char x = 0, tail = 0;
  if (std::sscanf(text.c_str(), "%d%c%d%c", &w, &x, &h, &tail) != 3 || (x != 'x' && x != 'X') || w < 1 || h < 1)
    throw std::invalid_argument(what + ": expected WIDTHxHEIGHT such as 1280x720, got \"" + text + "\"");
  return {w, h};
}

}  // namespace mrc::data
