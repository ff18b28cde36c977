// ffmpeg/ffprobe subprocesses behind VideoReader and VideoWriter (see video.h).
#include "data/video.h"

#include <sys/wait.h>

#include <csignal>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace mrc::data {

namespace {

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext;
}

bool have_program(const char* name) {
  const std::string cmd = std::string("command -v ") + name + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

void require_ffmpeg(const std::string& path) {
  if (!have_program("ffmpeg") || !have_program("ffprobe"))
    throw std::runtime_error(path + ": reading and writing video needs ffmpeg and ffprobe on PATH (Debian: apt-get "
                                    "install ffmpeg, or scripts/setup --test)");
}

// Output of a shell command (stdout), and its exit status.
std::string run_capture(const std::string& cmd, int* status) {
  std::FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("cannot start: " + cmd);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *status = pclose(p);
  return out;
}

bool exited_ok(int status) { return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0; }

}  // namespace

std::string shell_quote(const std::string& text) {
  std::string q = "'";
  for (char c : text) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  return q + "'";
}

bool is_video_file(const std::string& path) {
  const std::string e = lower_extension(path);
  return e == ".mp4" || e == ".mov" || e == ".avi" || e == ".mkv" || e == ".webm" || e == ".m4v" || e == ".mpg" ||
         e == ".mpeg";
}

VideoInfo probe_video(const std::string& path) {
  require_ffmpeg(path);
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": no such file");
  int status = 0;
  const std::string out = run_capture("ffprobe -v error -select_streams v:0 -show_entries stream=width,height,avg_frame_rate "
                                      "-of default=noprint_wrappers=1 " + shell_quote(path) + " 2>&1",
                                      &status);
  VideoInfo info;
  size_t pos = 0;
  while (pos < out.size()) {
    const size_t end = std::min(out.find('\n', pos), out.size());
    const std::string line = out.substr(pos, end - pos);
    pos = end + 1;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "width") info.width = std::atoi(value.c_str());
    if (key == "height") info.height = std::atoi(value.c_str());
    if (key == "avg_frame_rate") {
      const size_t slash = value.find('/');
      const double num = std::atof(value.substr(0, slash).c_str());
      const double den = slash == std::string::npos ? 1.0 : std::atof(value.substr(slash + 1).c_str());
      info.fps = den > 0 ? num / den : 0;
    }
  }
  if (!exited_ok(status) || info.width <= 0 || info.height <= 0) {
    std::string why = out.substr(0, out.find('\n'));
    throw std::runtime_error(path + ": not a video ffmpeg can read" + (why.empty() ? "" : " (" + why + ")"));
  }
  return info;
}

VideoReader::VideoReader(const std::string& path) : path_(path), info_(probe_video(path)) {
  const std::string cmd = "ffmpeg -v error -nostdin -i " + shell_quote(path) + " -map 0:v:0 -f rawvideo -pix_fmt rgb24 -";
  pipe_ = popen(cmd.c_str(), "r");
  if (!pipe_) throw std::runtime_error(path + ": cannot start ffmpeg");
}

VideoReader::~VideoReader() {
  if (pipe_) pclose(pipe_);
}

std::optional<Image> VideoReader::next() {
  if (!pipe_) return std::nullopt;
  Image frame(info_.width, info_.height, 3);
  const size_t want = frame.pixels.size();
  const size_t got = std::fread(frame.pixels.data(), 1, want, pipe_);
  if (got == want) {
    ++frames_;
    return frame;
  }
  const int status = pclose(pipe_);
  pipe_ = nullptr;
  if (!exited_ok(status))
    throw std::runtime_error(path_ + ": ffmpeg failed while decoding frame " + std::to_string(frames_ + 1));
  if (got != 0)
    throw std::runtime_error(path_ + ": the stream ended inside frame " + std::to_string(frames_ + 1));
  return std::nullopt;
}

VideoWriter::VideoWriter(const std::string& path, int width, int height, double fps)
    : path_(path), width_(width), height_(height) {
  require_ffmpeg(path);
  std::signal(SIGPIPE, SIG_IGN);  // ffmpeg exiting early must be an error here, not the end of the process
  if (width <= 0 || height <= 0) throw std::invalid_argument(path + ": video size must be positive");
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.6g", fps > 0 ? fps : 25.0);
  const std::string cmd = "ffmpeg -v error -nostdin -y -f rawvideo -pix_fmt rgb24 -s " + std::to_string(width) + "x" +
                          std::to_string(height) + " -r " + rate +
                          " -i - -vf 'pad=ceil(iw/2)*2:ceil(ih/2)*2' -c:v libx264 -preset veryfast -pix_fmt yuv420p "
                          "-movflags +faststart -f mp4 " + shell_quote(path);
  pipe_ = popen(cmd.c_str(), "w");
  if (!pipe_) throw std::runtime_error(path + ": cannot start ffmpeg");
}

VideoWriter::~VideoWriter() {
  if (pipe_) pclose(pipe_);
}

void VideoWriter::write(const Image& frame) {
  if (!pipe_) throw std::runtime_error(path_ + ": writing to a closed video");
  if (frame.width != width_ || frame.height != height_ || frame.channels != 3)
    throw std::invalid_argument(path_ + ": frame of " + std::to_string(frame.width) + "x" + std::to_string(frame.height) +
                                "x" + std::to_string(frame.channels) + ", expected " + std::to_string(width_) + "x" +
                                std::to_string(height_) + " RGB");
  if (std::fwrite(frame.pixels.data(), 1, frame.pixels.size(), pipe_) != frame.pixels.size())
    throw std::runtime_error(path_ + ": ffmpeg stopped taking frames");
}

void VideoWriter::close() {
  if (!pipe_) return;
  const int status = pclose(pipe_);
  pipe_ = nullptr;
  if (!exited_ok(status)) throw std::runtime_error(path_ + ": ffmpeg failed to encode the video");
}

}  // namespace mrc::data
