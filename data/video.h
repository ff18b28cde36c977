// Video files in and out through Debian's ffmpeg, run as a subprocess with a pipe (no codec of our own):
// VideoReader decodes any video ffmpeg reads into RGB frames (ffprobe tells the size and frame rate),
// VideoWriter encodes RGB frames into an H.264 MP4. Both throw std::runtime_error naming the file when
// ffmpeg is missing, cannot open the file or fails.
#pragma once
#include <cstdio>
#include <optional>
#include <string>

#include "data/image.h"

namespace mrc::data {

// Whether `path` looks like a video by its extension (.mp4, .mov, .avi, .mkv, .webm, .m4v, .mpg, .mpeg).
bool is_video_file(const std::string& path);

struct VideoInfo {
  int width = 0, height = 0;
  double fps = 0;       // average frame rate (0 when ffprobe does not say)
};

// ffprobe of the first video stream.
VideoInfo probe_video(const std::string& path);

class VideoReader {
 public:
  explicit VideoReader(const std::string& path);
  ~VideoReader();
  VideoReader(const VideoReader&) = delete;
  VideoReader& operator=(const VideoReader&) = delete;

  const VideoInfo& info() const { return info_; }
  // The next frame (RGB); nothing at the end. Throws when ffmpeg stops inside a frame or reports an error.
  std::optional<Image> next();
  int64_t frames_read() const { return frames_; }

 private:
  std::string path_;
  VideoInfo info_;
  std::FILE* pipe_ = nullptr;
  int64_t frames_ = 0;
};

class VideoWriter {
 public:
  // Frames must all be width x height RGB; odd sizes are padded by one pixel (H.264 needs even sizes).
  VideoWriter(const std::string& path, int width, int height, double fps);
  ~VideoWriter();  // closes without checking (use close() to learn about errors)
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;

  void write(const Image& frame);
  void close();  // waits for ffmpeg; throws when it failed

 private:
  std::string path_;
  int width_, height_;
  std::FILE* pipe_ = nullptr;
};

// 'text' quoted for /bin/sh (single quotes, embedded quotes escaped).
std::string shell_quote(const std::string& text);

}  // namespace mrc::data
