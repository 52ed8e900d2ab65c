// The serialization format a node writes. Boost's binary archives are not
// portable between architectures or Boost versions, so every handshake
// exchanges this record and refuses a peer that would misread our messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace troupe {

struct wire_format {
  static constexpr std::size_t encoded_size = 16;

  std::uint8_t byte_order = 0;        ///< 1 = little-endian, 2 = big-endian
  std::uint8_t word_size = 0;         ///< sizeof(std::size_t)
  std::uint8_t long_size = 0;         ///< sizeof(long)
  std::uint8_t wchar_size = 0;        ///< sizeof(wchar_t)
  std::uint16_t archive_version = 0;  ///< boost::archive::BOOST_ARCHIVE_VERSION()
  std::uint16_t frame_version = 0;    ///< frame_header::current_version
  std::uint32_t boost_version = 0;    ///< BOOST_VERSION, informative

  /// The format of this build.
  static wire_format local();

  /// Why a peer writing `peer` cannot exchange messages with a node writing
  /// `*this`; nullopt when they are compatible.
  std::optional<std::string> incompatibility(const wire_format& peer) const;

  std::string to_string() const;
  void encode(std::span<std::byte, encoded_size> out) const noexcept;
  static wire_format decode(std::span<const std::byte, encoded_size> in) noexcept;

  friend bool operator==(const wire_format&, const wire_format&) = default;
};

}  // namespace troupe
