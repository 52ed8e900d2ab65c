// A single-producer single-consumer byte ring in shared memory, carrying
// variable-length records. The producer publishes a record by advancing
// `head` (release) after writing it completely, so a producer that dies in
// the middle of a record leaves nothing half-visible. Neither side ever
// holds a lock, so neither can hang because the other died.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace troupe::shm_detail {

inline constexpr std::uint64_t ring_magic = 0x474e495245505254ull;  // "TRPERING"

struct alignas(64) ring_control {
  std::uint64_t magic;
  std::uint64_t capacity;  // bytes of data, a power of two
  std::uint32_t creator_pid;
  std::uint32_t reserved;
  alignas(64) std::atomic<std::uint64_t> head;  // bytes ever written; producer only
  alignas(64) std::atomic<std::uint64_t> tail;  // bytes ever consumed; consumer only
  alignas(64) std::atomic<std::uint32_t> consumer_sleeping;  // set by the consumer before it sleeps
  alignas(64) std::atomic<std::uint32_t> producer_waiting;   // set by the producer when it found no room
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

inline constexpr std::size_t data_offset = sizeof(ring_control);

/// Record kinds. A frame fits in one `whole` record or is split into
/// `first`, `middle`..., `last` chunks. A `compact` record is a whole frame
/// whose header leaves out what the link implies (both node ids, magic,
/// version): 40 bytes instead of 64, see compact_header.
enum record_kind : std::uint32_t { whole = 1, first = 2, middle = 3, last = 4, wrap = 5, compact = 6 };

/// The header of a compact record (host byte order; both ends share it):
///  0 u32 payload size   4 u8 flags   5..7 zero   8 u64 type
/// 16 u64 destination actor   24 u64 source actor   32 u64 correlation
inline constexpr std::size_t compact_header_size = 40;

struct record_header {
  std::uint32_t length;  // payload bytes of this record
  std::uint32_t kind;
};

constexpr std::size_t align8(std::size_t n) { return (n + 7) & ~std::size_t{7}; }
constexpr std::size_t record_size(std::size_t payload) { return sizeof(record_header) + align8(payload); }

/// The producer's side of a ring.
class ring_writer {
 public:
  ring_writer() = default;
  explicit ring_writer(void* base) noexcept
      : ctl_(static_cast<ring_control*>(base)),
        data_(static_cast<std::byte*>(base) + data_offset),
        cap_(ctl_->capacity),
        head_(ctl_->head.load(std::memory_order_relaxed)),
        tail_cache_(ctl_->tail.load(std::memory_order_acquire)) {}

  std::size_t capacity() const noexcept { return cap_; }
  /// The largest record payload this ring takes in one piece.
  std::size_t max_record() const noexcept { return cap_ / 4; }

  /// Writes one record made of the concatenation of `parts` (total at most
  /// max_record()); false when there is no room now.
  bool try_write(record_kind kind, std::span<const std::byte> a, std::span<const std::byte> b = {}) noexcept {
    std::size_t len = a.size() + b.size();
    std::size_t need = record_size(len);
    std::size_t pos = head_ & (cap_ - 1);
    std::size_t contiguous = cap_ - pos;
    std::size_t total = need <= contiguous ? need : contiguous + need;
    if (!room(total)) return false;
    if (need > contiguous) {
      auto* h = reinterpret_cast<record_header*>(data_ + pos);
      h->length = static_cast<std::uint32_t>(contiguous - sizeof(record_header));
      h->kind = wrap;
      head_ += contiguous;
      pos = 0;
    }
    // Ask for the lines a few records ahead now: a store to a line the
    // reader's core holds stalls until the line comes over.
    __builtin_prefetch(data_ + ((pos + 512) & (cap_ - 1)), 1);
    __builtin_prefetch(data_ + ((pos + 576) & (cap_ - 1)), 1);
    auto* h = reinterpret_cast<record_header*>(data_ + pos);
    h->length = static_cast<std::uint32_t>(len);
    h->kind = kind;
    std::byte* p = data_ + pos + sizeof(record_header);
    if (!a.empty()) std::memcpy(p, a.data(), a.size());
    if (!b.empty()) std::memcpy(p + a.size(), b.data(), b.size());
    head_ += need;
    return true;
  }

  /// Makes written records visible; true when the consumer sleeps and must
  /// be woken.
  bool publish() noexcept {
    ctl_->head.store(head_, std::memory_order_release);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (ctl_->consumer_sleeping.load(std::memory_order_relaxed) == 0) return false;
    return ctl_->consumer_sleeping.exchange(0, std::memory_order_acq_rel) != 0;
  }

  /// Declares that the producer waits for room; returns true if room
  /// appeared meanwhile (so it need not wait).
  bool wait_for_room(std::size_t bytes) noexcept {
    ctl_->producer_waiting.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    tail_cache_ = ctl_->tail.load(std::memory_order_acquire);
    return cap_ - (head_ - tail_cache_) >= bytes;
  }

 private:
  bool room(std::size_t bytes) noexcept {
    if (cap_ - (head_ - tail_cache_) >= bytes) return true;
    tail_cache_ = ctl_->tail.load(std::memory_order_acquire);
    return cap_ - (head_ - tail_cache_) >= bytes;
  }

  ring_control* ctl_ = nullptr;
  std::byte* data_ = nullptr;
  std::uint64_t cap_ = 0;
  std::uint64_t head_ = 0;
  std::uint64_t tail_cache_ = 0;
};

/// The consumer's side of a ring. It checks everything it reads: the peer
/// writing into this memory may be broken.
class ring_reader {
 public:
  struct record {
    record_kind kind;
    std::span<const std::byte> bytes;
  };

  ring_reader() = default;
  explicit ring_reader(void* base) noexcept
      : ctl_(static_cast<ring_control*>(base)),
        data_(static_cast<std::byte*>(base) + data_offset),
        cap_(ctl_->capacity),
        tail_(ctl_->tail.load(std::memory_order_relaxed)) {}

  bool valid() const noexcept { return ctl_ && ctl_->magic == ring_magic; }

  /// True if a record is waiting (refreshes the view of head).
  bool poll() noexcept {
    if (tail_ != head_cache_) return true;
    head_cache_ = ctl_->head.load(std::memory_order_acquire);
    return tail_ != head_cache_;
  }

  enum class status { ok, empty, corrupt };

  /// Reads the next record (skipping wrap records); its bytes stay valid
  /// until release(). Corrupt when the peer wrote nonsense.
  status next(record& r) noexcept {
    for (;;) {
      if (!poll()) return status::empty;
      std::uint64_t avail = head_cache_ - tail_;
      if (avail > cap_ || avail < sizeof(record_header)) return status::corrupt;
      std::size_t pos = tail_ & (cap_ - 1);
      record_header h;
      std::memcpy(&h, data_ + pos, sizeof h);
      std::size_t size = record_size(h.length);
      if (size > avail || size > cap_ - pos) return status::corrupt;
      if (h.kind == wrap) {
        if (pos + size != cap_) return status::corrupt;
        tail_ += size;
        continue;
      }
      if (h.kind < whole || h.kind > compact || h.kind == wrap || h.length > cap_ / 4) return status::corrupt;
      r.kind = static_cast<record_kind>(h.kind);
      r.bytes = {data_ + pos + sizeof(record_header), h.length};
      pending_ = size;
      return status::ok;
    }
  }

  /// Gives the last record's space back to the producer (published lazily by flush()).
  void consume() noexcept {
    tail_ += pending_;
    pending_ = 0;
  }

  /// Publishes consumed space; true when the producer waits for room and
  /// must be woken.
  bool flush() noexcept {
    if (ctl_->tail.load(std::memory_order_relaxed) == tail_) return false;
    ctl_->tail.store(tail_, std::memory_order_release);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (ctl_->producer_waiting.load(std::memory_order_relaxed) == 0) return false;
    return ctl_->producer_waiting.exchange(0, std::memory_order_acq_rel) != 0;
  }

  /// Before sleeping: announce it, then look once more (the producer may
  /// have written meanwhile). True if there is data after all.
  bool prepare_sleep() noexcept {
    ctl_->consumer_sleeping.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    head_cache_ = ctl_->head.load(std::memory_order_acquire);
    return head_cache_ != tail_;
  }
  void cancel_sleep() noexcept { ctl_->consumer_sleeping.store(0, std::memory_order_relaxed); }

 private:
  ring_control* ctl_ = nullptr;
  std::byte* data_ = nullptr;
  std::uint64_t cap_ = 0;
  std::uint64_t tail_ = 0;
  std::uint64_t head_cache_ = 0;
  std::size_t pending_ = 0;
};

/// Initializes a fresh ring in `base` (data capacity `capacity`).
inline void init_ring(void* base, std::uint64_t capacity, std::uint32_t pid) noexcept {
  auto* c = new (base) ring_control;
  c->magic = ring_magic;
  c->capacity = capacity;
  c->creator_pid = pid;
  c->reserved = 0;
  c->head.store(0, std::memory_order_relaxed);
  c->tail.store(0, std::memory_order_relaxed);
  c->consumer_sleeping.store(0, std::memory_order_relaxed);
  c->producer_waiting.store(0, std::memory_order_relaxed);
}

}  // namespace troupe::shm_detail
