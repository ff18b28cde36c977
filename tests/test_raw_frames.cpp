// Raw RGB24 frame streams (data/raw_frames.h): frames split at the right bytes, a clean end, a truncated frame
// named in the error, sizes parsed and checked.
#include <doctest/doctest.h>

#include <sstream>

#include "data/raw_frames.h"

using namespace mrc::data;

TEST_CASE("raw RGB24 frames come out one by one and end cleanly") {
  std::string bytes;
  for (int f = 0; f < 2; ++f)
    for (int i = 0; i < 4 * 3 * 3; ++i) bytes.push_back(char(f * 100 + i));
  std::istringstream in(bytes);
  RawFrameReader r(in, 4, 3);
  const auto a = r.next();
  REQUIRE(a.has_value());
  CHECK(a->width == 4);
  CHECK(a->height == 3);
  CHECK(a->channels == 3);
  CHECK(a->at(1, 0)[2] == 5);        // x = 1, y = 0, blue: byte 3 * 1 + 2
  CHECK(a->at(3, 2)[0] == 33);       // x = 3, y = 2, red: byte 3 * (2 * 4 + 3)
  const auto b = r.next();
  REQUIRE(b.has_value());
  CHECK(b->pixels.front() == 100);
  CHECK_FALSE(r.next().has_value());
  CHECK(r.frames_read() == 2);
}

TEST_CASE("a stream ending inside a frame is an error naming the stream and the frame") {
  std::istringstream in(std::string(4 * 3 * 3 + 7, 'x'));
  RawFrameReader r(in, 4, 3, "video pipe");
  REQUIRE(r.next().has_value());
  CHECK_THROWS_WITH_AS(r.next(), doctest::Contains("video pipe: frame 2 ends after 7 of 36 bytes"), std::runtime_error);
}

TEST_CASE("frame sizes") {
  CHECK(parse_frame_size("1280x720", "--raw-size") == std::pair<int, int>{1280, 720});
  CHECK(parse_frame_size("64X48", "--raw-size") == std::pair<int, int>{64, 48});
  CHECK_THROWS_WITH_AS(parse_frame_size("1280", "--raw-size"), doctest::Contains("--raw-size: expected WIDTHxHEIGHT"),
                       std::invalid_argument);
  CHECK_THROWS_AS(parse_frame_size("0x5", "--raw-size"), std::invalid_argument);
  CHECK_THROWS_AS(parse_frame_size("12x5junk", "--raw-size"), std::invalid_argument);
  std::istringstream in;
  CHECK_THROWS_AS(RawFrameReader(in, 0, 10), std::invalid_argument);
}
