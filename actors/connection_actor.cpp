#include "actors/connection_actor.hpp"

#include <deque>

#include <spdlog/spdlog.h>

#include "actors/context.hpp"
#include "actors/directory.hpp"
#include "actors/inflow.hpp"
#include "actors/inspect.hpp"
#include "actors/messages.hpp"
#include "protocol/frames.hpp"

namespace im {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

enum class Phase { awaiting_auth, authenticating, authenticated, closing };

// Frames a client may send between its `auth` and our `auth_ok`; processed after it.
constexpr size_t kMaxFramesWhileAuthenticating = 64;
constexpr int kAttachAttempts = 3;

struct ConnectionState {
  static inline const char* name = "connection";

  Context* ctx = nullptr;
  std::weak_ptr<Session> session;
  SessionInfo info;
  Clock::time_point accepted;
  Clock::time_point last_activity;
  Phase phase = Phase::awaiting_auth;
  bool reminders_started = false;
  Encoding encoding = Encoding::json;
  bool encoding_known = false;

  UserId user = 0;
  std::string device;
  std::string token_hash;
  std::optional<uint64_t> since;
  bool counted_authed = false;
  caf::actor user_actor;
  // Shared with the user actor once attached: its pushes go straight to the session. The
  // connection actor's own frames go through it too once it is open (after auth_ok).
  std::shared_ptr<Outlet> outlet;
  bool outlet_open = false;
  std::deque<Inbound> held;  // frames that arrived while authenticating
  std::shared_ptr<Inflow> inflow;  // frames the session handed over and this actor has not handled

  ConnectionStats stats;  // for the admin API
  caf::actor_id self_id = 0;

  ~ConnectionState() {
    if (ctx) {
      ctx->directory.connections().leave(self_id);
      ctx->counters.actors_connection--;
      ctx->counters.connections_open--;
      if (counted_authed) ctx->counters.connections_authed--;
    }
  }
};

using Self = caf::stateful_actor<ConnectionState>;

int64_t wall_ms() {
  return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Serializes `frame` in the connection's encoding and queues it on the socket.
void send_json(Self* self, const nlohmann::json& frame) {
  auto& st = self->state;
  if (st.outlet_open && st.encoding == Encoding::json) {
    st.outlet->send(std::make_shared<const std::string>(frame.dump()));
    return;
  }
  auto session = st.session.lock();
  if (!session) return;
  auto bytes = std::make_shared<const std::string>(encode_frame(frame, st.encoding));
  st.ctx->counters.frames_out++;
  st.ctx->counters.bytes_out += bytes->size();
  st.stats.frames_out++;
  st.stats.bytes_out += bytes->size();
  session->send_frame(std::move(bytes), st.encoding == Encoding::msgpack);
}

void send_text(Self* self, const SharedText& text) {
  auto& st = self->state;
  if (st.outlet_open) {
    st.outlet->send(text);
    return;
  }
  auto session = st.session.lock();
  if (!session) return;
  SharedText bytes = st.encoding == Encoding::json
                         ? text
                         : std::make_shared<const std::string>(transcode_json_text(*text, st.encoding));
  st.ctx->counters.frames_out++;
  st.ctx->counters.bytes_out += bytes->size();
  st.stats.frames_out++;
  st.stats.bytes_out += bytes->size();
  session->send_frame(std::move(bytes), st.encoding == Encoding::msgpack);
}

void send_error(Self* self, Error code, const std::string& message,
                const std::optional<std::string>& rid, const std::optional<std::string>& cid = {}) {
  send_json(self, frames::error(code, message, rid, cid));
}

void close_with(Self* self, int code, const std::string& reason) {
  auto& st = self->state;
  if (st.phase == Phase::closing) return;
  st.phase = Phase::closing;
  if (st.outlet) st.outlet->shut();
  if (auto session = st.session.lock()) session->close(code, reason);
  // The session answers with closed_atom once the socket is gone; we detach then.
}

int64_t ms_until_deadline(Self* self) {
  auto& st = self->state;
  auto deadline = st.accepted + milliseconds(st.ctx->options.auth_timeout_ms);
  return std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
}

// Arms the next auth tick: the next reminder or the deadline, whichever comes first.
void schedule_auth_tick(Self* self) {
  auto left = ms_until_deadline(self);
  auto wait = self->state.reminders_started
                  ? std::min<int64_t>(left, self->state.ctx->options.auth_reminder_ms)
                  : left;
  self->delayed_send(self, milliseconds(std::max<int64_t>(wait, 0)), auth_tick_atom::value);
}

void schedule_idle_tick(Self* self, int64_t wait_ms) {
  self->delayed_send(self, milliseconds(std::max<int64_t>(wait_ms, 1)), idle_tick_atom::value);
}

void handle_frame(Self* self, const Inbound& in);

void start_attach(Self* self, int attempt);

void on_attached(Self* self, const AttachReply& reply) {
  auto& st = self->state;
  if (st.phase != Phase::authenticating) return;
  if (reply.error) {
    st.ctx->counters.auth_failures++;
    send_error(self, *reply.error, "too many devices connected", std::nullopt);
    close_with(self, close_code::auth_failed, "too many devices");
    return;
  }
  st.phase = Phase::authenticated;
  st.ctx->counters.connections_authed++;
  st.counted_authed = true;
  st.last_activity = Clock::now();
  send_json(self, frames::auth_ok(st.user, st.device, reply.useq, st.ctx->options.heartbeat_ms,
                                  reply.next_cseq, reply.gap));
  st.outlet->open();  // the user actor's pushes, held until now, follow auth_ok
  st.outlet_open = true;
  schedule_idle_tick(self, st.ctx->options.effective_idle_timeout_ms());
  spdlog::debug("connection {} authenticated as user {} device {}", st.info.address, st.user,
                st.device);
  auto held = std::move(st.held);
  for (auto& frame : held) handle_frame(self, frame);
}

void start_attach(Self* self, int attempt) {
  auto& st = self->state;
  st.user_actor = st.ctx->directory.user(st.user);
  if (!st.outlet) st.outlet = std::make_shared<Outlet>(st.session, st.encoding, st.ctx->counters);
  AttachRequest req{st.device, st.token_hash, st.since, self, st.outlet};
  self->request(st.user_actor, std::chrono::seconds(5), attach_atom::value, std::move(req))
      .then([=](const AttachReply& reply) { on_attached(self, reply); },
            [=](caf::error& err) {
              // The user actor may have passivated between lookup and request: look again.
              if (attempt + 1 < kAttachAttempts && self->state.phase == Phase::authenticating) {
                start_attach(self, attempt + 1);
                return;
              }
              spdlog::warn("attach of user {} failed: {}", self->state.user,
                           self->system().render(err));
              send_error(self, Error::unavailable, "try again", std::nullopt);
              close_with(self, close_code::going_away, "unavailable");
            });
}

void handle_auth(Self* self, const nlohmann::json& frame, const std::optional<std::string>& rid) {
  auto& st = self->state;
  auto parsed = parse_auth(frame);
  if (!parsed) {
    send_error(self, parsed.error, parsed.message, rid);
    return;
  }
  bool unreadable = false;
  auto token = st.ctx->accounts.authenticate(parsed.value->token, &unreadable);
  if (unreadable) {  // the token may be valid: the client reconnects later, keeping it
    send_error(self, Error::unavailable, "the database cannot be reached; try again", rid);
    close_with(self, close_code::going_away, "unavailable");
    return;
  }
  if (!token) {
    st.ctx->counters.auth_failures++;
    send_error(self, Error::auth_failed, "unknown, expired or revoked token", rid);
    close_with(self, close_code::auth_failed, "auth failed");
    return;
  }
  st.phase = Phase::authenticating;
  st.user = token->user;
  st.device = parsed.value->device;
  st.token_hash = token->token_hash;
  st.since = parsed.value->since;
  start_attach(self, 0);
}

void handle_authenticated(Self* self, RequestType type, const nlohmann::json& frame,
                          const std::optional<std::string>& rid) {
  auto& st = self->state;
  auto& opts = st.ctx->options;
  switch (type) {
    case RequestType::ping: {
      auto pong = frames::pong(wall_ms());
      frames::attach_rid(pong, rid);
      send_json(self, pong);
      return;
    }
    case RequestType::auth:
      send_error(self, Error::bad_request, "already authenticated", rid);
      return;
    case RequestType::send: {
      std::optional<std::string> cid;
      if (auto it = frame.find("cid"); it != frame.end() && it->is_string())
        cid = it->get<std::string>();
      auto parsed = parse_send(frame, static_cast<uint64_t>(opts.max_body_bytes));
      if (!parsed) {
        send_error(self, parsed.error, parsed.message, rid, cid);
        return;
      }
      self->send(st.user_actor, send_atom::value,
                 SendCommand{st.device, std::move(*parsed.value), rid});
      return;
    }
    case RequestType::ack: {
      auto parsed = parse_ack(frame);
      if (!parsed) {
        send_error(self, parsed.error, parsed.message, rid);
        return;
      }
      self->send(st.user_actor, ack_atom::value, st.device, parsed.value->useq);
      return;
    }
    case RequestType::sync: {
      auto parsed = parse_sync(frame);
      if (!parsed) {
        send_error(self, parsed.error, parsed.message, rid);
        return;
      }
      self->send(st.user_actor, sync_atom::value, st.device, parsed.value->since);
      return;
    }
    case RequestType::read:
    case RequestType::typing:
    case RequestType::recall:
      // Forwarded whole: the user actor validates them. The dump recurses once per level;
      // decode_frame() let no frame deeper than max_nesting through.
      self->send(st.user_actor, inbound_atom::value, st.device,
                 std::make_shared<const std::string>(frame.dump()));
      return;
    case RequestType::unknown:
      send_error(self, Error::unknown_type, "unknown type", rid);
      return;
  }
}

void handle_frame(Self* self, const Inbound& in) {
  auto& st = self->state;
  if (st.phase == Phase::closing) return;
  if (!st.encoding_known) {
    st.encoding = in.encoding;
    st.encoding_known = true;
  }
  if (st.phase == Phase::authenticating) {
    if (st.held.size() < kMaxFramesWhileAuthenticating) st.held.push_back(in);
    else send_error(self, Error::rate_limited, "wait for auth_ok", std::nullopt);
    return;
  }
  if (in.status != DecodeStatus::ok) {
    send_error(self, Error::bad_request, in.message, std::nullopt);
    return;
  }
  const auto& frame = *in.frame;
  auto rid = request_rid(frame);
  auto type = request_type(frame["type"].get<std::string>());
  if (st.phase == Phase::awaiting_auth) {
    if (type == RequestType::auth) {
      handle_auth(self, frame, rid);
      return;
    }
    send_error(self, Error::auth_required, "authenticate first", rid);
    if (!st.reminders_started) {
      // Raw TCP: reminders start with the first frame that was not an auth.
      st.reminders_started = true;
      send_json(self, frames::auth_required(ms_until_deadline(self)));
      schedule_auth_tick(self);
    }
    return;
  }
  handle_authenticated(self, type, frame, rid);
}

caf::behavior connection_actor(Self* self, Context* ctx, std::weak_ptr<Session> session,
                               SessionInfo info, Clock::time_point accepted, bool announce,
                               std::shared_ptr<Inflow> inflow) {
  auto& st = self->state;
  st.ctx = ctx;
  st.session = std::move(session);
  st.info = std::move(info);
  st.accepted = accepted;
  st.last_activity = Clock::now();
  st.inflow = std::move(inflow);
  ctx->counters.actors_connection++;
  ctx->counters.connections_open++;
  st.self_id = self->id();
  ctx->directory.connections().join(caf::actor_cast<caf::actor>(self));
  st.stats.since_ms =
      wall_ms() - std::chrono::duration_cast<milliseconds>(Clock::now() - accepted).count();
  if (announce) {
    st.reminders_started = true;
    send_json(self, frames::auth_required(ms_until_deadline(self)));
  }
  schedule_auth_tick(self);
  return {
      [=](inbound_atom, const Inbound& in) {
        auto& st = self->state;
        st.ctx->counters.frames_in++;
        st.ctx->counters.bytes_in += in.bytes;
        st.stats.frames_in++;
        st.stats.bytes_in += in.bytes;
        st.last_activity = Clock::now();
        handle_frame(self, in);
        // Handled (or held, at most kMaxFramesWhileAuthenticating): room for the next one.
        if (st.inflow->leave(in.bytes))
          if (auto session = st.session.lock()) session->resume_reading();
      },
      [=](auth_tick_atom) {
        auto& st = self->state;
        if (st.phase != Phase::awaiting_auth && st.phase != Phase::authenticating) return;
        if (ms_until_deadline(self) <= 0) {
          spdlog::debug("connection {}: auth timeout", st.info.address);
          close_with(self, close_code::auth_timeout, "auth timeout");
          return;
        }
        if (st.phase == Phase::awaiting_auth && st.reminders_started)
          send_json(self, frames::auth_required(ms_until_deadline(self)));
        schedule_auth_tick(self);
      },
      [=](idle_tick_atom) {
        auto& st = self->state;
        if (st.phase != Phase::authenticated) return;
        auto idle = st.ctx->options.effective_idle_timeout_ms();
        auto last = std::max(st.last_activity, st.inflow->last_activity());
        auto quiet = std::chrono::duration_cast<milliseconds>(Clock::now() - last).count();
        if (quiet >= idle) {
          spdlog::debug("connection {} user {}: idle for {} ms", st.info.address, st.user, quiet);
          close_with(self, close_code::idle, "idle");
          return;
        }
        schedule_idle_tick(self, idle - quiet);
      },
      [=](frame_atom, const SharedText& text) {
        if (self->state.phase != Phase::closing) send_text(self, text);
      },
      [=](kick_atom, const std::string& reason) {
        if (self->state.phase == Phase::closing) return;
        send_json(self, frames::kicked(reason));
        close_with(self, close_code::kicked, reason);
      },
      [=](close_atom, int code, const std::string& reason) { close_with(self, code, reason); },
      [=](shutdown_atom) { close_with(self, close_code::going_away, "server shutting down"); },
      [=](inspect_atom) -> std::string {
        auto& st = self->state;
        static const char* phases[] = {"open", "authenticating", "authenticated", "closing"};
        auto stats = st.stats;  // what this actor wrote, plus what went through the outlet
        if (st.outlet) {
          stats.frames_out += st.outlet->frames_out();
          stats.bytes_out += st.outlet->bytes_out();
        }
        return connection_snapshot(ConnectionFacts{st.info, stats, phases[static_cast<int>(st.phase)],
                                                   st.user, st.device, st.encoding});
      },
      [=](closed_atom) {
        auto& st = self->state;
        if (st.user_actor && (st.phase == Phase::authenticated || st.phase == Phase::closing ||
                              st.phase == Phase::authenticating))
          self->send(st.user_actor, detach_atom::value, st.device,
                     caf::actor_cast<caf::actor>(self));
        st.phase = Phase::closing;
        st.user_actor = nullptr;
        self->quit();
      },
  };
}

}  // namespace

caf::actor spawn_connection_actor(Context& context, std::weak_ptr<Session> session,
                                  SessionInfo info, std::chrono::steady_clock::time_point accepted,
                                  bool announce_auth_required, std::shared_ptr<Inflow> inflow) {
  return context.system.spawn(connection_actor, &context, std::move(session), std::move(info),
                              accepted, announce_auth_required, std::move(inflow));
}

}  // namespace im
