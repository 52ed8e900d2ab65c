#include <troupe/actor_registry.hpp>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

namespace troupe::detail {
namespace {

struct registry {
  std::mutex mutex;
  std::unordered_map<std::string, actor_factory> by_name;
  std::unordered_map<erased_function, std::string> by_fn;
};

registry& the_registry() {
  static registry r;
  return r;
}

}  // namespace

void register_actor_factory(actor_factory f) {
  registry& r = the_registry();
  std::lock_guard lock(r.mutex);
  auto it = r.by_name.find(f.name);
  if (it != r.by_name.end() && it->second.fn != f.fn) {
    std::fprintf(stderr, "troupe: two actor functions are registered as \"%s\"; name one with TROUPE_ACTOR_NAMED\n",
                 f.name.c_str());
    std::abort();
  }
  r.by_fn[f.fn] = f.name;
  r.by_name.emplace(f.name, std::move(f));
}

const actor_factory* find_actor_factory(std::string_view name) noexcept {
  registry& r = the_registry();
  std::lock_guard lock(r.mutex);
  auto it = r.by_name.find(std::string(name));
  return it == r.by_name.end() ? nullptr : &it->second;
}

const actor_factory* find_actor_factory(erased_function fn) noexcept {
  registry& r = the_registry();
  std::lock_guard lock(r.mutex);
  auto it = r.by_fn.find(fn);
  if (it == r.by_fn.end()) return nullptr;
  auto f = r.by_name.find(it->second);
  return f == r.by_name.end() ? nullptr : &f->second;
}

}  // namespace troupe::detail
