// A stream of raw video frames, as `ffmpeg -i video.mp4 -f rawvideo -pix_fmt rgb24 -` writes them: width *
// height * 3 bytes per frame, one frame after another, no header. Lets mrc-predict segment a video through a
// pipe without a video library.
#pragma once
#include <cstdint>
#include <istream>
#include <optional>
#include <string>

#include "data/image.h"

namespace mrc::data {

class RawFrameReader {
 public:
  // Throws std::invalid_argument on a size outside 1..16384.
  RawFrameReader(std::istream& in, int width, int height, std::string name = "stdin");
  // The next frame (RGB); nothing at a clean end of the stream. Throws std::runtime_error naming the stream
  // and the frame when the stream ends inside a frame or cannot be read.
  std::optional<Image> next();
  int64_t frames_read() const { return frames_; }

 private:
  std::istream& in_;
  int width_, height_;
  std::string name_;
  int64_t frames_ = 0;
};

// "1280x720" -> {1280, 720}; throws std::invalid_argument naming `what` otherwise.
std::pair<int, int> parse_frame_size(const std::string& text, const std::string& what);

}  // namespace mrc::data
