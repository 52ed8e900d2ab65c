// The set-up of a TCP link: the fixed-size handshake message (little-endian
// fields, docs/protocol.md) and the HMAC proof of the cluster secret.
#pragma once

#include <troupe/transport/detail/byte_order.hpp>
#include <troupe/transport/transport.hpp>
#include <troupe/transport/wire_format.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace troupe::tcp_detail {

constexpr std::uint32_t hs_magic = 0x54505254;  // "TRPT"
constexpr std::uint16_t hs_version = 1;
enum hs_type : std::uint16_t { hs_hello = 1, hs_proof = 2, hs_reject = 3 };

// The handshake message: fixed size, little-endian integers, written and
// read field by field (docs/protocol.md).
struct hs_msg {
  static constexpr std::size_t size = 256;
  std::uint16_t type = 0;
  std::uint16_t version = hs_version;
  std::uint64_t node = 0;
  std::array<std::byte, wire_format::encoded_size> format{};
  std::array<std::byte, 32> nonce{};
  std::uint16_t listen_port = 0;
  std::string listen_host;  // up to 63 bytes
  std::array<std::byte, 32> proof{};
  std::string reason;  // up to 95 bytes

  void encode(std::array<std::byte, size>& out) const {
    out.fill(std::byte{0});
    detail::store_le<std::uint32_t>(&out[0], hs_magic);
    detail::store_le<std::uint16_t>(&out[4], version);
    detail::store_le<std::uint16_t>(&out[6], type);
    detail::store_le<std::uint64_t>(&out[8], node);
    std::memcpy(&out[16], format.data(), format.size());
    std::memcpy(&out[32], nonce.data(), nonce.size());
    detail::store_le<std::uint16_t>(&out[64], listen_port);
    std::memcpy(&out[66], listen_host.data(), std::min<std::size_t>(listen_host.size(), 63));
    std::memcpy(&out[130], proof.data(), proof.size());
    std::memcpy(&out[162], reason.data(), std::min<std::size_t>(reason.size(), 93));
  }
  // Returns an error text, or empty when well formed.
  std::string decode(const std::array<std::byte, size>& in) {
    if (detail::load_le<std::uint32_t>(&in[0]) != hs_magic) return "not a troupe node (bad handshake magic)";
    version = detail::load_le<std::uint16_t>(&in[4]);
    type = detail::load_le<std::uint16_t>(&in[6]);
    node = detail::load_le<std::uint64_t>(&in[8]);
    std::memcpy(format.data(), &in[16], format.size());
    std::memcpy(nonce.data(), &in[32], nonce.size());
    listen_port = detail::load_le<std::uint16_t>(&in[64]);
    auto text = [&](std::size_t at, std::size_t max) {
      const char* p = reinterpret_cast<const char*>(&in[at]);
      return std::string(p, strnlen(p, max));
    };
    listen_host = text(66, 63);
    std::memcpy(proof.data(), &in[130], proof.size());
    reason = text(162, 93);
    return {};
  }
};

/// HMAC-SHA256 of the secret over the role, both nonces and both node ids:
/// what each side proves it knows the secret with.
std::array<std::byte, 32> proof_of(const std::string& secret, const char* role, const std::array<std::byte, 32>& a,
                                   const std::array<std::byte, 32>& b, node_id x, node_id y);

/// A node id as 16 hex digits, as messages show it.
std::string hex(std::uint64_t v);

}  // namespace troupe::tcp_detail
