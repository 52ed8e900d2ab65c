#include <troupe/actors/task_registry.hpp>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

namespace troupe::detail {
namespace {

struct registry {
  std::mutex mutex;
  std::unordered_map<std::uint64_t, task_function> by_id;
  std::unordered_map<erased_function, std::uint64_t> by_fn;
};

registry& the_registry() {
  static registry r;
  return r;
}

}  // namespace

void register_task_function(task_function f) {
  registry& r = the_registry();
  std::lock_guard lock(r.mutex);
  auto it = r.by_id.find(f.id);
  if (it != r.by_id.end() && it->second.fn != f.fn) {
    std::fprintf(stderr, "troupe: two task functions are registered as \"%s\" (or their names collide)\n",
                 f.name.c_str());
    std::abort();
  }
  r.by_fn[f.fn] = f.id;
  r.by_id.emplace(f.id, std::move(f));
}

const task_function* find_task_function(std::uint64_t id) noexcept {
  registry& r = the_registry();
  std::lock_guard lock(r.mutex);
  auto it = r.by_id.find(id);
  return it == r.by_id.end() ? nullptr : &it->second;
}

const task_function* find_task_function(erased_function fn) noexcept {
  registry& r = the_registry();
  std::lock_guard lock(r.mutex);
  auto it = r.by_fn.find(fn);
  if (it == r.by_fn.end()) return nullptr;
  auto t = r.by_id.find(it->second);
  return t == r.by_id.end() ? nullptr : &t->second;
}

}  // namespace troupe::detail
