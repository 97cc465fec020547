#include "chaos/proxy/loopback_endpoint.h"

#include <charconv>

namespace chaosd {
namespace ip = boost::asio::ip;

bool is_loopback(const ip::address& address) {
  if (address.is_v4()) return address.to_v4().is_loopback();
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, v6).is_loopback();
  return v6.is_loopback();
}

Result<ip::tcp::endpoint> require_loopback(const ip::tcp::endpoint& endpoint,
                                           std::string_view role) {
  if (is_loopback(endpoint.address())) return endpoint;
  return Error{ErrorCode::invalid_argument,
               std::string(role) + " address " + to_string(endpoint) +
                   " is not loopback (the fault proxy only uses 127.0.0.0/8 or ::1)"};
}

Result<ip::tcp::endpoint> parse_loopback_endpoint(std::string_view text) {
  auto fail = [&](const std::string& why) -> Result<ip::tcp::endpoint> {
    return Error{ErrorCode::invalid_argument,
                 "\"" + std::string(text) + "\": " + why +
                     " (use e.g. \"127.0.0.1:6380\" or \"[::1]:6380\")"};
  };
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return fail("no port");
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return fail("an IPv6 address needs brackets");
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return fail("port is not a number in [0, 65535]");
  }
  boost::system::error_code parse_error;
  ip::address address = host == "localhost" ? ip::address(ip::address_v4::loopback())
                                            : ip::make_address(std::string(host), parse_error);
  if (parse_error) return fail("\"" + std::string(host) + "\" is not an IP address");
  if (!is_loopback(address)) return fail("not a loopback address (only 127.0.0.0/8 or ::1)");
  return ip::tcp::endpoint(address, static_cast<uint16_t>(port));
}

std::string to_string(const ip::tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(endpoint.port());
}

}  // namespace chaosd
