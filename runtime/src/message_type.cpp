#include <troupe/errors.hpp>
#include <troupe/message_type.hpp>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

namespace troupe {
namespace {

struct registry {
  std::mutex mutex;
  std::unordered_map<type_id, const message_type*> types;
};

registry& the_registry() {
  static registry r;
  return r;
}

}  // namespace

namespace detail {

void register_message_type(const message_type& t) {
  registry& r = the_registry();
  std::lock_guard lock(r.mutex);
  auto [it, inserted] = r.types.emplace(t.id, &t);
  if (!inserted && it->second->name != t.name) {
    // Two names hashing to one id would make frames ambiguous: refuse to run.
    std::fprintf(stderr, "troupe: message types \"%.*s\" and \"%.*s\" have the same type id; rename one\n",
                 static_cast<int>(t.name.size()), t.name.data(), static_cast<int>(it->second->name.size()),
                 it->second->name.data());
    std::abort();
  }
}

}  // namespace detail

const message_type* find_message_type(type_id id) noexcept {
  registry& r = the_registry();
  std::lock_guard lock(r.mutex);
  auto it = r.types.find(id);
  return it == r.types.end() ? nullptr : it->second;
}

std::vector<const message_type*> registered_message_types() {
  registry& r = the_registry();
  std::lock_guard lock(r.mutex);
  std::vector<const message_type*> v;
  for (auto& [id, t] : r.types) v.push_back(t);
  return v;
}

const char* to_string(exit_reason r) noexcept {
  switch (r) {
    case exit_reason::normal: return "normal";
    case exit_reason::error: return "error";
    case exit_reason::killed: return "killed";
    case exit_reason::shutdown: return "shutdown";
    case exit_reason::unreachable: return "unreachable";
    case exit_reason::no_such_actor: return "no such actor";
  }
  return "unknown";
}

const char* to_string(request_errc e) noexcept {
  switch (e) {
    case request_errc::timeout: return "timeout";
    case request_errc::no_such_actor: return "no such actor";
    case request_errc::actor_down: return "actor down";
    case request_errc::unreachable: return "unreachable";
    case request_errc::unexpected_reply: return "unexpected reply";
    case request_errc::remote_error: return "remote error";
  }
  return "unknown";
}

}  // namespace troupe
