#pragma once
// A fresh directory under $TMPDIR for one test, removed with everything in it at the end.

#include <filesystem>
#include <string>

namespace chaosd::test {

class TempDir {
 public:
  explicit TempDir(const std::string& tag = "chaosd-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  /// Writes `content` to path()/name and returns the full path.
  std::filesystem::path write(const std::string& name, const std::string& content) const;

 private:
  std::filesystem::path path_;
};

}  // namespace chaosd::test
