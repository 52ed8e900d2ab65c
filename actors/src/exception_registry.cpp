#include <troupe/actors/exception_registry.hpp>

#include <cstdlib>
#include <cxxabi.h>
#include <memory>
#include <unordered_map>

namespace troupe::detail {
namespace {

// Filled while the program starts (registrations at namespace scope), read
// afterwards: no lock.
std::unordered_map<std::string, exception_thrower>& throwers() {
  static std::unordered_map<std::string, exception_thrower> t;
  return t;
}

}  // namespace

std::string exception_type_name(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  return status == 0 && d ? std::string(d.get()) : std::string(type.name());
}

bool register_exception_type(const std::type_info& type, exception_thrower thrower) {
  return throwers().emplace(exception_type_name(type), thrower).second;
}

exception_thrower find_exception_thrower(std::string_view type_name) noexcept {
  auto& t = throwers();
  auto i = t.find(std::string(type_name));
  return i == t.end() ? nullptr : i->second;
}

}  // namespace troupe::detail
