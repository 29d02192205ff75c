#pragma once
// Decoding of client frames from bytes and encoding of server frames to bytes. Never throws: bad
// input comes back as a status the caller turns into an error frame or a close.

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace im {

enum class Encoding { json, msgpack };

enum class DecodeStatus {
  ok,
  malformed,    // not JSON / not MessagePack, or a string that is not valid UTF-8
  too_deep,     // arrays and objects nested deeper than max_nesting
  not_object,   // valid, but not a JSON object
  missing_type, // an object without a string "type"
};

struct Decoded {
  DecodeStatus status = DecodeStatus::malformed;
  nlohmann::json value;  // the object when status is ok
  std::string message;   // what was wrong, for the error frame
};

// Checks the nesting (protocol/nesting.hpp) before parsing, so the parser and everything after
// it see at most `max_nesting` levels: a decoded value may be dumped, copied and compared, which
// recurse once per level. JSON text with a NUL byte is malformed (nlohmann's parser would stop
// at it and accept whatever follows).
Decoded decode_frame(std::string_view bytes, Encoding encoding, size_t max_nesting);

// An HTTP request body: a JSON object in valid UTF-8 without NUL bytes, nested at most
// `max_nesting` deep, or a discarded value (is_discarded()) when it is anything else.
nlohmann::json parse_json_object(std::string_view text, size_t max_nesting);

// Serializes a server frame. JSON text is compact; MessagePack as nlohmann encodes it.
std::string encode_frame(const nlohmann::json& frame, Encoding encoding);

// Re-encodes a frame that is already JSON text (the server's canonical form) for `encoding`.
std::string transcode_json_text(const std::string& json_text, Encoding encoding);

// True when `bytes` is well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

// Reads a field that must be an unsigned integer (a JSON number without fraction, >= 0).
bool read_u64(const nlohmann::json& object, const char* key, uint64_t& out);

}  // namespace im
