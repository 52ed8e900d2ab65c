// Minimal logging to stderr: one write(2) per line, so lines of different
// processes do not interleave. Level from TROUPE_LOG (debug, info, warn,
// error, off; default warn).
#pragma once

#include <sstream>
#include <string>

namespace troupe {

enum class log_level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

log_level current_log_level() noexcept;
void set_log_level(log_level) noexcept;
void log_line(log_level level, const std::string& text) noexcept;

namespace detail {
class log_stream {
 public:
  explicit log_stream(log_level l) : level_(l) {}
  ~log_stream() { log_line(level_, out_.str()); }
  template <class T>
  log_stream& operator<<(const T& v) {
    out_ << v;
    return *this;
  }

 private:
  log_level level_;
  std::ostringstream out_;
};
}  // namespace detail

}  // namespace troupe

#define TROUPE_LOG(level)                                                  \
  if (::troupe::log_level::level < ::troupe::current_log_level()) {        \
  } else                                                                   \
    ::troupe::detail::log_stream(::troupe::log_level::level)
