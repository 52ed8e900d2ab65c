// The wire frame shared by every transport: a fixed 64-byte little-endian
// header followed by the payload. Decoding never trusts the wire: lengths,
// magic and version are checked before anything else looks at the bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

namespace troupe {

using node_id = std::uint64_t;
using actor_id = std::uint64_t;
using type_id = std::uint64_t;

/// Frame flag bits.
namespace frame_flags {
inline constexpr std::uint8_t request = 0x01;   ///< the sender awaits a reply with this correlation id
inline constexpr std::uint8_t response = 0x02;  ///< this frame answers a request
inline constexpr std::uint8_t raw = 0x04;       ///< payload is the object's bytes (trivially copyable type)
inline constexpr std::uint8_t system = 0x08;    ///< runtime control message (spawn, monitor, ...)
inline constexpr std::uint8_t known = request | response | raw | system;
}  // namespace frame_flags

/// Decoded frame header. On the wire every field is little-endian.
struct frame_header {
  static constexpr std::uint32_t magic_value = 0x45505254;  // "TRPE"
  static constexpr std::uint8_t current_version = 1;
  static constexpr std::size_t size = 64;

  std::uint8_t version = current_version;
  std::uint8_t flags = 0;
  std::uint32_t payload_size = 0;
  type_id type = 0;
  node_id dst_node = 0;
  actor_id dst_actor = 0;
  node_id src_node = 0;
  actor_id src_actor = 0;
  std::uint64_t correlation = 0;

  bool has(std::uint8_t flag) const noexcept { return (flags & flag) != 0; }
};

/// What a decoder accepts.
struct frame_limits {
  std::uint32_t max_payload = 256u << 20;  ///< bigger frames are refused (oversized)
};

/// Why a frame was refused.
enum class frame_errc {
  truncated,     ///< fewer bytes than the header or the declared payload
  bad_magic,     ///< not a troupe frame (garbled, or another protocol)
  bad_version,   ///< a version this build does not speak
  bad_flags,     ///< flag bits this build does not know
  oversized,     ///< payload longer than the configured limit
  bad_reserved,  ///< reserved header bytes not zero (garbled)
  trailing,      ///< more bytes than the header declares
};

const char* to_string(frame_errc) noexcept;

class frame_error : public std::runtime_error {
 public:
  frame_error(frame_errc code, const std::string& what) : std::runtime_error(what), code_(code) {}
  frame_errc code() const noexcept { return code_; }

 private:
  frame_errc code_;
};

/// Writes `h` into the first frame_header::size bytes of `out`.
void encode_header(const frame_header& h, std::span<std::byte, frame_header::size> out) noexcept;

/// Reads and validates a header; throws frame_error. Checks the payload size
/// against `limits` but not against the bytes present (streams read the
/// header first and the payload later).
frame_header decode_header(std::span<const std::byte> bytes, const frame_limits& limits = {});

/// A whole frame in one buffer: decodes the header and checks that exactly
/// header + payload bytes are present. Throws frame_error.
struct frame_view {
  frame_header header;
  std::span<const std::byte> payload;
};
frame_view decode_frame(std::span<const std::byte> bytes, const frame_limits& limits = {});

}  // namespace troupe
