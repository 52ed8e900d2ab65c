#include <troupe/transport/detail/byte_order.hpp>
#include <troupe/transport/frame.hpp>

#include <cstring>

namespace troupe {
namespace {

// Little-endian on the wire (detail/byte_order.hpp).
template <class T>
void put(std::byte* p, T v) noexcept {
  detail::store_le<T>(p, v);
}
template <class T>
T get(const std::byte* p) noexcept {
  return detail::load_le<T>(p);
}

// Layout (offsets in bytes):
//  0 u32 magic   4 u8 version   5 u8 flags   6 u16 reserved (0)
//  8 u32 payload size          12 u32 reserved (0)
// 16 u64 type id   24 u64 destination node   32 u64 destination actor
// 40 u64 source node   48 u64 source actor   56 u64 correlation id
}  // namespace

const char* to_string(frame_errc e) noexcept {
  switch (e) {
    case frame_errc::truncated: return "truncated frame";
    case frame_errc::bad_magic: return "bad magic (not a troupe frame)";
    case frame_errc::bad_version: return "unsupported frame version";
    case frame_errc::bad_flags: return "unknown frame flags";
    case frame_errc::oversized: return "oversized frame";
    case frame_errc::bad_reserved: return "reserved header bytes not zero";
    case frame_errc::trailing: return "bytes after the frame";
  }
  return "frame error";
}

void encode_header(const frame_header& h, std::span<std::byte, frame_header::size> out) noexcept {
  std::byte* p = out.data();
  put<std::uint16_t>(p + 6, 0);
  put<std::uint32_t>(p + 12, 0);
  put<std::uint32_t>(p + 0, frame_header::magic_value);
  put<std::uint8_t>(p + 4, h.version);
  put<std::uint8_t>(p + 5, h.flags);
  put<std::uint32_t>(p + 8, h.payload_size);
  put<std::uint64_t>(p + 16, h.type);
  put<std::uint64_t>(p + 24, h.dst_node);
  put<std::uint64_t>(p + 32, h.dst_actor);
  put<std::uint64_t>(p + 40, h.src_node);
  put<std::uint64_t>(p + 48, h.src_actor);
  put<std::uint64_t>(p + 56, h.correlation);
}

frame_header decode_header(std::span<const std::byte> bytes, const frame_limits& limits) {
  if (bytes.size() < frame_header::size)
    throw frame_error(frame_errc::truncated, "truncated frame: " + std::to_string(bytes.size()) +
                                                 " bytes, the header alone needs " + std::to_string(frame_header::size));
  const std::byte* p = bytes.data();
  if (get<std::uint32_t>(p) != frame_header::magic_value)
    throw frame_error(frame_errc::bad_magic, "bad frame magic: not a troupe frame (garbled stream or another protocol)");
  frame_header h;
  h.version = get<std::uint8_t>(p + 4);
  if (h.version != frame_header::current_version)
    throw frame_error(frame_errc::bad_version, "unsupported frame version " + std::to_string(h.version) +
                                                   " (this build speaks " + std::to_string(frame_header::current_version) + ")");
  h.flags = get<std::uint8_t>(p + 5);
  if ((h.flags & ~frame_flags::known) != 0)
    throw frame_error(frame_errc::bad_flags, "unknown frame flags 0x" + std::to_string(h.flags));
  if (get<std::uint16_t>(p + 6) != 0 || get<std::uint32_t>(p + 12) != 0)
    throw frame_error(frame_errc::bad_reserved, "garbled frame header: reserved bytes are not zero");
  h.payload_size = get<std::uint32_t>(p + 8);
  if (h.payload_size > limits.max_payload)
    throw frame_error(frame_errc::oversized, "oversized frame: payload of " + std::to_string(h.payload_size) +
                                                 " bytes exceeds the limit of " + std::to_string(limits.max_payload));
  h.type = get<std::uint64_t>(p + 16);
  h.dst_node = get<std::uint64_t>(p + 24);
  h.dst_actor = get<std::uint64_t>(p + 32);
  h.src_node = get<std::uint64_t>(p + 40);
  h.src_actor = get<std::uint64_t>(p + 48);
  h.correlation = get<std::uint64_t>(p + 56);
  return h;
}

frame_view decode_frame(std::span<const std::byte> bytes, const frame_limits& limits) {
  frame_view v{decode_header(bytes, limits), {}};
  std::size_t need = frame_header::size + v.header.payload_size;
  if (bytes.size() < need)
    throw frame_error(frame_errc::truncated, "truncated frame: header declares " + std::to_string(v.header.payload_size) +
                                                 " payload bytes, " + std::to_string(bytes.size() - frame_header::size) +
                                                 " present");
  if (bytes.size() > need)
    throw frame_error(frame_errc::trailing, "frame has " + std::to_string(bytes.size() - need) +
                                                " bytes after its declared payload");
  v.payload = bytes.subspan(frame_header::size, v.header.payload_size);
  return v;
}

}  // namespace troupe
