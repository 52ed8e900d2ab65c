#include <troupe/detail/pool.hpp>

#include <array>
#include <cstdint>

namespace troupe::detail {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool pooling = false;  // let AddressSanitizer see every allocation
#else
constexpr bool pooling = true;
#endif

constexpr std::size_t granularity = 32;
constexpr std::size_t classes = 32;           // blocks up to 1 KiB
constexpr std::size_t max_cached = 1u << 14;  // per class, to bound idle memory

struct free_block {
  free_block* next;
};

thread_local bool lists_gone = false;  // trivially destructible: valid to the very end

struct free_lists {
  std::array<free_block*, classes> head{};
  std::array<std::uint32_t, classes> count{};
  ~free_lists() {
    lists_gone = true;
    for (free_block* b : head)
      while (b) {
        free_block* next = b->next;
        ::operator delete(b);
        b = next;
      }
  }
};

free_lists& lists() noexcept {
  thread_local free_lists l;
  return l;
}

}  // namespace

void* pool_allocate(std::size_t n) {
  std::size_t c = (n + granularity - 1) / granularity;
  if (!pooling || c >= classes || lists_gone) return ::operator new(n);
  free_lists& l = lists();
  if (free_block* b = l.head[c]) {
    l.head[c] = b->next;
    --l.count[c];
    return b;
  }
  return ::operator new(c * granularity);
}

void pool_deallocate(void* p, std::size_t n) noexcept {
  std::size_t c = (n + granularity - 1) / granularity;
  if (!pooling || c >= classes || lists_gone) return ::operator delete(p);
  free_lists& l = lists();
  if (l.count[c] >= max_cached) return ::operator delete(p);
  auto* b = static_cast<free_block*>(p);
  b->next = l.head[c];
  l.head[c] = b;
  ++l.count[c];
}

}  // namespace troupe::detail
