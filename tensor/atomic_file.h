// A file that appears whole or not at all: bytes go to "<path>.tmp.<pid>", commit() flushes and
// renames over <path>; destruction without commit() removes the temporary file.
#pragma once
#include <cstdio>
#include <string>

namespace mrc {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void write(const std::string& s) { write(s.data(), s.size()); }
  void commit();
  const std::string& temp_path() const { return tmp_; }

 private:
  std::string path_, tmp_;
  std::FILE* f_ = nullptr;
  bool committed_ = false;
};

// Writes a whole string to path atomically.
void write_file_atomic(const std::string& path, const std::string& contents);

}  // namespace mrc
