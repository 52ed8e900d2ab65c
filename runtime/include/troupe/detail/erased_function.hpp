// A function pointer whose type is erased, for registries of functions.
#pragma once

namespace troupe::detail {

/// Converting a function pointer to another function pointer type and back
/// is well-defined (to `void*` it is only conditionally supported, and
/// loses nothing but sanity), so registries keep functions as this.
using erased_function = void (*)();

template <class F>
erased_function erase_function(F* f) noexcept {
  return reinterpret_cast<erased_function>(f);
}

/// `f` must have been erased from an `F*`.
template <class F>
F* restore_function(erased_function f) noexcept {
  return reinterpret_cast<F*>(f);
}

}  // namespace troupe::detail
