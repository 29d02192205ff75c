// Transport detection (net/detect_session.cpp): TLS or not (Beast's ClientHello check), then HTTP
// or raw TCP by the first bytes (protocol/raw_framer.cpp sniff_transport), read as they arrive.
// Properties: sniffing waits only while the bytes are a proper prefix of an HTTP method token
// (so it buffers at most 8 bytes), and once it decides, more bytes never change the decision.

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/detect_ssl.hpp>

#include "fuzz/fuzz_common.hpp"
#include "protocol/raw_framer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)boost::beast::detail::is_tls_client_hello(boost::asio::buffer(data, size));

  auto verdict = im::Sniffed::need_more;
  size_t decided_at = 0;
  for (size_t n = 0; n <= size; ++n) {
    auto v = im::sniff_transport(input.substr(0, n));
    if (verdict != im::Sniffed::need_more) {
      FUZZ_CHECK(v == verdict);
      if (n > decided_at + 16) break;  // enough: the decision looks only at the start
      continue;
    }
    if (v == im::Sniffed::need_more) {
      FUZZ_CHECK(n < 8);  // "OPTIONS " is the longest token
    } else {
      verdict = v;
      decided_at = n;
    }
  }
  return 0;
}
