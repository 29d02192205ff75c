#include "protocol/requests.hpp"

#include "protocol/codec.hpp"

namespace im {

namespace {

using json = nlohmann::json;

bool read_string(const json& f, const char* key, std::string& out) {
  auto it = f.find(key);
  if (it == f.end() || !it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}

// {"user":U} or {"group":G}, exactly one of them, a positive id.
std::optional<Target> read_target(const json& f) {
  auto it = f.find("to");
  if (it == f.end() || !it->is_object()) return std::nullopt;
  bool has_user = it->contains("user"), has_group = it->contains("group");
  if (has_user == has_group) return std::nullopt;
  Target t;
  t.is_group = has_group;
  if (!read_u64(*it, has_group ? "group" : "user", t.id) || t.id == 0) return std::nullopt;
  return t;
}

std::optional<Conv> read_conv(const json& f) {
  std::string text;
  if (!read_string(f, "conv", text)) return std::nullopt;
  return parse_conv(text);
}

}  // namespace

RequestType request_type(const std::string& type) {
  if (type == "auth") return RequestType::auth;
  if (type == "ping") return RequestType::ping;
  if (type == "send") return RequestType::send;
  if (type == "ack") return RequestType::ack;
  if (type == "read") return RequestType::read;
  if (type == "typing") return RequestType::typing;
  if (type == "recall") return RequestType::recall;
  if (type == "sync") return RequestType::sync;
  return RequestType::unknown;
}

std::optional<std::string> request_rid(const json& frame) {
  auto it = frame.find("rid");
  if (it == frame.end() || !it->is_string()) return std::nullopt;
  const auto& rid = it->get_ref<const std::string&>();
  if (!valid_rid(rid)) return std::nullopt;
  return rid;
}

Parsed<AuthRequest> parse_auth(const json& f) {
  AuthRequest r;
  if (!read_string(f, "token", r.token) || r.token.empty())
    return Parsed<AuthRequest>::fail(Error::bad_request, "auth needs a string \"token\"");
  if (!read_string(f, "device", r.device) || !valid_device(r.device))
    return Parsed<AuthRequest>::fail(Error::bad_request, "auth needs \"device\": 1 to 64 bytes");
  if (f.contains("since") && !f["since"].is_null()) {
    uint64_t since = 0;
    if (!read_u64(f, "since", since))
      return Parsed<AuthRequest>::fail(Error::bad_request, "\"since\" must be an unsigned integer");
    r.since = since;
  }
  Parsed<AuthRequest> p;
  p.value = std::move(r);
  return p;
}

Parsed<SendRequest> parse_send(const json& f, uint64_t max_body_bytes) {
  SendRequest r;
  if (!read_string(f, "cid", r.cid) || !valid_cid(r.cid))
    return Parsed<SendRequest>::fail(Error::bad_request, "send needs \"cid\": 1 to 64 bytes");
  auto to = read_target(f);
  if (!to)
    return Parsed<SendRequest>::fail(Error::bad_request,
                                     "send needs \"to\": {\"user\":U} or {\"group\":G}");
  r.to = *to;
  auto body = f.find("body");
  if (body == f.end() || !body->is_object())
    return Parsed<SendRequest>::fail(Error::bad_request, "send needs an object \"body\"");
  r.body_json = body->dump();
  if (r.body_json.size() > max_body_bytes)
    return Parsed<SendRequest>::fail(Error::too_large, "body is over max_body_bytes");
  if (f.contains("cseq") && !f["cseq"].is_null()) {
    uint64_t cseq = 0;
    if (!read_u64(f, "cseq", cseq) || cseq == 0)
      return Parsed<SendRequest>::fail(Error::bad_request, "\"cseq\" must be a positive integer");
    r.cseq = cseq;
  }
  Parsed<SendRequest> p;
  p.value = std::move(r);
  return p;
}

Parsed<AckRequest> parse_ack(const json& f) {
  AckRequest r;
  if (!read_u64(f, "useq", r.useq))
    return Parsed<AckRequest>::fail(Error::bad_request, "ack needs an unsigned integer \"useq\"");
  Parsed<AckRequest> p;
  p.value = r;
  return p;
}

Parsed<ReadRequest> parse_read(const json& f) {
  ReadRequest r;
  auto conv = read_conv(f);
  if (!conv) return Parsed<ReadRequest>::fail(Error::bad_request, "read needs a valid \"conv\"");
  r.conv = *conv;
  if (!read_u64(f, "seq", r.seq))
    return Parsed<ReadRequest>::fail(Error::bad_request, "read needs an unsigned integer \"seq\"");
  Parsed<ReadRequest> p;
  p.value = r;
  return p;
}

Parsed<TypingRequest> parse_typing(const json& f) {
  auto to = read_target(f);
  if (!to)
    return Parsed<TypingRequest>::fail(Error::bad_request,
                                       "typing needs \"to\": {\"user\":U} or {\"group\":G}");
  Parsed<TypingRequest> p;
  p.value = TypingRequest{*to};
  return p;
}

Parsed<RecallRequest> parse_recall(const json& f) {
  RecallRequest r;
  auto conv = read_conv(f);
  if (!conv) return Parsed<RecallRequest>::fail(Error::bad_request, "recall needs a valid \"conv\"");
  r.conv = *conv;
  if (!read_u64(f, "seq", r.seq) || r.seq == 0)
    return Parsed<RecallRequest>::fail(Error::bad_request, "recall needs a positive \"seq\"");
  Parsed<RecallRequest> p;
  p.value = r;
  return p;
}

Parsed<SyncRequest> parse_sync(const json& f) {
  SyncRequest r;
  if (!read_u64(f, "since", r.since))
    return Parsed<SyncRequest>::fail(Error::bad_request, "sync needs an unsigned integer \"since\"");
  Parsed<SyncRequest> p;
  p.value = r;
  return p;
}

}  // namespace im
