// What the examples share and is not the point of any of them: where the broker keeps its data,
// and waiting (with a deadline) for consumers to catch up.
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace examples {

// The broker's data directory: argv[1] if given, else a fresh temporary directory that is removed
// when this object is destroyed.
class DataDir {
 public:
  DataDir(int argc, char** argv);
  ~DataDir();
  DataDir(const DataDir&) = delete;
  DataDir& operator=(const DataDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool temporary_ = false;
};

// Re-checks `done` every few milliseconds until it holds (true) or `timeout` passes (false).
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout);

}  // namespace examples
