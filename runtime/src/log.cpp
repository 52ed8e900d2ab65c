#include <troupe/log.hpp>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace troupe {
namespace {

log_level from_env() noexcept {
  const char* v = std::getenv("TROUPE_LOG");
  if (!v) return log_level::warn;
  if (!std::strcmp(v, "debug")) return log_level::debug;
  if (!std::strcmp(v, "info")) return log_level::info;
  if (!std::strcmp(v, "warn")) return log_level::warn;
  if (!std::strcmp(v, "error")) return log_level::error;
  if (!std::strcmp(v, "off")) return log_level::off;
  return log_level::warn;
}

std::atomic<int>& level_ref() noexcept {
  static std::atomic<int> level{static_cast<int>(from_env())};
  return level;
}

const char* name(log_level l) noexcept {
  switch (l) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warn: return "warn";
    case log_level::error: return "error";
    default: return "";
  }
}

}  // namespace

log_level current_log_level() noexcept { return static_cast<log_level>(level_ref().load(std::memory_order_relaxed)); }
void set_log_level(log_level l) noexcept { level_ref().store(static_cast<int>(l), std::memory_order_relaxed); }

void log_line(log_level level, const std::string& text) noexcept {
  try {
    std::string line = "troupe[" + std::to_string(::getpid()) + "] " + name(level) + ": " + text + "\n";
    const char* p = line.data();
    std::size_t left = line.size();
    while (left) {
      ssize_t n = ::write(STDERR_FILENO, p, left);
      if (n <= 0) break;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  } catch (...) {
  }
}

}  // namespace troupe
