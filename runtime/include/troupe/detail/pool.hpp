// Size-class free lists for the hot allocations of a node (envelopes,
// coroutine frames, actors). Each thread keeps its own lists, so there is no
// locking; a block freed on another thread simply joins that thread's list.
#pragma once

#include <cstddef>
#include <new>

namespace troupe::detail {

void* pool_allocate(std::size_t n);
void pool_deallocate(void* p, std::size_t n) noexcept;

/// Mix-in giving a class pooled operator new/delete.
struct pooled {
  static void* operator new(std::size_t n) { return pool_allocate(n); }
  static void operator delete(void* p, std::size_t n) noexcept { pool_deallocate(p, n); }
};

}  // namespace troupe::detail
