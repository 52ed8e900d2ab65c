#include <troupe/transport/frame.hpp>
#include <troupe/transport/wire_format.hpp>

#include <bit>
#include <boost/archive/basic_archive.hpp>
#include <boost/version.hpp>
#include <cstring>

namespace troupe {

wire_format wire_format::local() {
  wire_format f;
  f.byte_order = std::endian::native == std::endian::little ? 1 : 2;
  f.word_size = sizeof(std::size_t);
  f.long_size = sizeof(long);
  f.wchar_size = sizeof(wchar_t);
  f.archive_version = static_cast<std::uint16_t>(boost::archive::BOOST_ARCHIVE_VERSION());
  f.frame_version = frame_header::current_version;
  f.boost_version = BOOST_VERSION;
  return f;
}

std::optional<std::string> wire_format::incompatibility(const wire_format& peer) const {
  auto mismatch = [&](const char* what, unsigned ours, unsigned theirs) {
    return std::string("serialization format mismatch: ") + what + " is " + std::to_string(theirs) +
           " on the peer and " + std::to_string(ours) + " here (peer " + peer.to_string() + ", local " + to_string() + ")";
  };
  if (peer.frame_version != frame_version) return mismatch("frame version", frame_version, peer.frame_version);
  if (peer.byte_order != byte_order) return mismatch("byte order (1 little, 2 big)", byte_order, peer.byte_order);
  if (peer.word_size != word_size) return mismatch("sizeof(size_t)", word_size, peer.word_size);
  if (peer.long_size != long_size) return mismatch("sizeof(long)", long_size, peer.long_size);
  if (peer.wchar_size != wchar_size) return mismatch("sizeof(wchar_t)", wchar_size, peer.wchar_size);
  if (peer.archive_version != archive_version)
    return mismatch("Boost archive version", archive_version, peer.archive_version);
  return std::nullopt;
}

std::string wire_format::to_string() const {
  return std::string(byte_order == 1 ? "little-endian" : byte_order == 2 ? "big-endian" : "unknown-endian") +
         ", size_t " + std::to_string(word_size) + " bytes, long " + std::to_string(long_size) + " bytes, wchar_t " +
         std::to_string(wchar_size) + " bytes, Boost archive v" + std::to_string(archive_version) + " (Boost " +
         std::to_string(boost_version / 100000) + "." + std::to_string(boost_version / 100 % 1000) + "), frame v" +
         std::to_string(frame_version);
}

void wire_format::encode(std::span<std::byte, encoded_size> out) const noexcept {
  std::byte* p = out.data();
  std::memset(p, 0, encoded_size);
  p[0] = std::byte{byte_order};
  p[1] = std::byte{word_size};
  p[2] = std::byte{long_size};
  p[3] = std::byte{wchar_size};
  p[4] = std::byte(archive_version & 0xff);
  p[5] = std::byte(archive_version >> 8);
  p[6] = std::byte(frame_version & 0xff);
  p[7] = std::byte(frame_version >> 8);
  for (int i = 0; i < 4; ++i) p[8 + i] = std::byte((boost_version >> (8 * i)) & 0xff);
}

wire_format wire_format::decode(std::span<const std::byte, encoded_size> in) noexcept {
  const std::byte* p = in.data();
  wire_format f;
  f.byte_order = std::to_integer<std::uint8_t>(p[0]);
  f.word_size = std::to_integer<std::uint8_t>(p[1]);
  f.long_size = std::to_integer<std::uint8_t>(p[2]);
  f.wchar_size = std::to_integer<std::uint8_t>(p[3]);
  f.archive_version = static_cast<std::uint16_t>(std::to_integer<unsigned>(p[4]) | std::to_integer<unsigned>(p[5]) << 8);
  f.frame_version = static_cast<std::uint16_t>(std::to_integer<unsigned>(p[6]) | std::to_integer<unsigned>(p[7]) << 8);
  for (int i = 0; i < 4; ++i) f.boost_version |= std::to_integer<std::uint32_t>(p[8 + i]) << (8 * i);
  return f;
}

}  // namespace troupe
