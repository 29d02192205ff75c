// Typing indicators (PROTOCOL.md section 7), in the sender's user actor.
//
// {"type":"typing","to":{"user":U}|{"group":G}} becomes {"type":"typing","conv":C,"from":sender}
// on the recipients' connected devices: not stored, so a device that connects later never sees
// it. At most one per sender and conversation is forwarded per `typing_interval_ms` (default
// 1000); the rest are dropped silently. Every device of the sender goes through this actor, so
// the limit is per sender, not per device. A recipient who blocked the sender does not get it
// (silently too: typing has no answer, and a refusal would only tell the sender about the block).
// Errors: bad_request (to yourself), no_such_user, no_such_group, not_member.

#include <algorithm>

#include <spdlog/spdlog.h>

#include "actors/directory.hpp"
#include "actors/user_state.hpp"
#include "protocol/frames.hpp"
#include "store/keys.hpp"
#include "store/social.hpp"

namespace im {

namespace {

// Past this many tracked conversations, entries whose interval is over are forgotten.
constexpr size_t kTypingEntriesBeforePrune = 256;

// The members of group `gid` from its record, or nullopt when there is no such group.
std::optional<std::vector<UserId>> group_members(const Store& store, GroupId gid) {
  std::string record;
  if (!store.get(keys::group(gid), &record)) return std::nullopt;
  auto parsed = nlohmann::json::parse(record, nullptr, false);
  auto members = parsed.is_object() ? parsed.find("members") : parsed.end();
  if (!parsed.is_object() || members == parsed.end() || !members->is_array()) {
    spdlog::error("group {}: unreadable record", gid);
    return std::nullopt;
  }
  std::vector<UserId> out;
  for (const auto& m : *members)
    if (m.is_number_unsigned()) out.push_back(m.get<UserId>());
  return out;
}

// True when a typing for `conv` may be forwarded now; records it.
bool take_typing_turn(UserState& st, const std::string& conv) {
  auto now = Clock::now();
  auto interval = std::chrono::milliseconds(st.ctx->options.typing_interval_ms);
  auto it = st.typing_forwarded.find(conv);
  if (it != st.typing_forwarded.end() && now - it->second < interval) return false;
  if (st.typing_forwarded.size() >= kTypingEntriesBeforePrune) {
    for (auto e = st.typing_forwarded.begin(); e != st.typing_forwarded.end();)
      e = now - e->second >= interval ? st.typing_forwarded.erase(e) : std::next(e);
  }
  st.typing_forwarded[conv] = now;
  return true;
}

}  // namespace

void on_typing(UserSelf* self, const std::string& device, const TypingRequest& req,
               const std::optional<std::string>& rid) {
  auto& st = self->state;
  auto& store = st.ctx->store;
  auto fail = [&](Error e, const std::string& why) { send_to_device(self, device, frames::error(e, why, rid)); };
  Conv conv;
  std::vector<UserId> recipients;
  if (req.to.is_group) {
    auto members = group_members(store, req.to.id);
    if (!members) return fail(Error::no_such_group, "no such group");
    if (std::find(members->begin(), members->end(), st.user) == members->end())
      return fail(Error::not_member, "you are not a member of this group");
    conv = Conv::group(req.to.id);
    for (auto m : *members)
      if (m != st.user) recipients.push_back(m);
  } else {
    if (req.to.id == st.user) return fail(Error::bad_request, "cannot type to yourself");
    if (!st.ctx->accounts.exists(req.to.id)) return fail(Error::no_such_user, "no such user");
    conv = Conv::direct(st.user, req.to.id);
    recipients.push_back(req.to.id);
  }
  auto conv_text = conv.str();
  if (!take_typing_turn(st, conv_text)) return;
  auto frame = std::make_shared<const std::string>(
      nlohmann::json{{"type", "typing"}, {"conv", conv_text}, {"from", st.user}}.dump());
  for (auto r : recipients) {
    if (st.ctx->directory.online_devices(r) == 0) continue;
    if (is_blocked(store, r, st.user)) continue;
    push_live(*st.ctx, r, frame);
  }
}

}  // namespace im
