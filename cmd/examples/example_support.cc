#include "example_support.h"

#include <stdlib.h>

#include <filesystem>
#include <system_error>
#include <thread>

namespace examples {

DataDir::DataDir(int argc, char** argv) {
  if (argc > 1) {
    path_ = argv[1];
    return;
  }
  std::string pattern = (std::filesystem::temp_directory_path() / "broker-example-XXXXXX").string();
  if (mkdtemp(pattern.data()) != nullptr) {
    path_ = pattern;
    temporary_ = true;
  } else {
    path_ = "./broker-example-data";
  }
}

DataDir::~DataDir() {
  if (!temporary_) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace examples
