// Presence (PROTOCOL.md section 7) and the live pushes it shares with typing: frames that are
// not stored in any inbox and only reach devices connected at the moment.
//
// announce_presence runs in the user's own actor when its first device attached or its last one
// detached; it reads the friend list from the store and hands one serialized frame to each online
// friend's actor (live_push_atom), which forwards it to its devices. It never waits for anyone.
// A friend this user has blocked does not see its presence.

#include <spdlog/spdlog.h>

#include "actors/directory.hpp"
#include "actors/user_state.hpp"
#include "store/social.hpp"

namespace im {

void push_live(Context& ctx, UserId user, const SharedText& frame_text) {
  if (ctx.directory.online_devices(user) == 0) return;
  if (auto actor = ctx.directory.find_user(user)) caf::anon_send(actor, live_push_atom::value, frame_text);
}

void on_live_push(UserSelf* self, const SharedText& frame_text) {
  for (auto& [name, dev] : self->state.devices)
    if (!dev.closing) dev.outlet->send(frame_text);
}

void announce_presence(UserSelf* self, bool online) {
  auto& st = self->state;
  auto friends = friends_of(st.ctx->store, st.user);
  if (friends.empty()) return;
  auto frame = std::make_shared<const std::string>(
      nlohmann::json{{"type", "presence"}, {"user", st.user}, {"online", online}}.dump());
  size_t told = 0;
  for (auto friend_id : friends) {
    if (st.ctx->directory.online_devices(friend_id) == 0) continue;
    if (is_blocked(st.ctx->store, st.user, friend_id)) continue;
    push_live(*st.ctx, friend_id, frame);
    ++told;
  }
  spdlog::debug("user {} {}: presence to {} of {} friends", st.user, online ? "online" : "offline", told,
                friends.size());
}

}  // namespace im
