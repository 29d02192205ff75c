#include "actors/group_ops.hpp"

#include <algorithm>
#include <memory>

#include <spdlog/spdlog.h>

#include "actors/context.hpp"
#include "actors/directory.hpp"
#include "actors/group_messages.hpp"
#include "actors/inbox_writer.hpp"
#include "store/accounts.hpp"
#include "store/keys.hpp"
#include "store/social.hpp"

namespace im {

namespace {

// What a group that does not exist answers, without an actor: no_such_group to a request, an
// empty snapshot to inspect (as the group actor answers for a missing group).
template <class Reply>
std::optional<Reply> missing_group_answer();
template <>
std::optional<GroupReply> missing_group_answer<GroupReply>() {
  GroupReply reply;
  reply.error = Error::no_such_group;
  reply.message = "no such group";
  return reply;
}
template <>
std::optional<std::string> missing_group_answer<std::string>() {
  return std::string();
}

// Asks the group's actor from a short-lived actor (callers may be I/O threads, which must not
// block) and hands the answer, or nullopt on timeout, to `done`. A group actor that passivated
// between lookup and request is looked up once more.
template <class Reply>
void ask_group(caf::event_based_actor* self, Context* ctx, GroupId group, caf::message request,
               std::function<void(std::optional<Reply>)> done, int attempt) {
  auto target = ctx->directory.group(group);
  if (!target) {  // no such group: no actor to ask (Directory::group)
    done(missing_group_answer<Reply>());
    self->quit();
    return;
  }
  self->request(target, std::chrono::milliseconds(ctx->options.group_timeout_ms), request)
      .then(
          [self, done](Reply& reply) {
            done(std::move(reply));
            self->quit();
          },
          [self, ctx, group, request, done, attempt](caf::error& err) {
            if (attempt == 0 && err == caf::sec::request_receiver_down) {
              ask_group<Reply>(self, ctx, group, request, done, 1);
              return;
            }
            spdlog::warn("group {} did not answer: {}", group, self->system().render(err));
            done(std::nullopt);
            self->quit();
          });
}

template <class Reply>
void spawn_ask(Context& context, GroupId group, caf::message request, std::function<void(std::optional<Reply>)> done) {
  auto* ctx = &context;
  context.system.spawn([ctx, group, request, done](caf::event_based_actor* self) {
    ask_group<Reply>(self, ctx, group, request, done, 0);
  });
}

void ask_for_outcome(Context& context, GroupId group, caf::message request, GroupDone done) {
  spawn_ask<GroupReply>(context, group, std::move(request), [done](std::optional<GroupReply> reply) {
    GroupOutcome outcome;
    if (!reply) {
      outcome.error = Error::unavailable;
      outcome.message = "the group did not answer in time";
    } else {
      outcome.error = reply->error;
      outcome.message = std::move(reply->message);
      outcome.group = std::move(reply->group);
    }
    done(std::move(outcome));
  });
}

}  // namespace

void create_group(Context& context, UserId owner, std::string name, std::vector<UserId> members,
                  GroupDone done) {
  members.push_back(owner);
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  for (auto m : members) {
    if (!context.accounts.exists(m)) {
      done(GroupOutcome{Error::no_such_user, "no such user: " + std::to_string(m), std::nullopt});
      return;
    }
  }
  // Consent: nobody is put in a group by a user they blocked. One point read per member (a Bloom
  // filter answers most), bounded by max_group_members and the creation rate.
  for (auto m : members) {
    if (m != owner && is_blocked(context.store, m, owner)) {
      done(GroupOutcome{Error::blocked, "user " + std::to_string(m) + " blocked you", std::nullopt});
      return;
    }
  }
  struct Written {
    GroupRecord record;
    std::vector<uint64_t> useqs;
    std::vector<std::string> texts;
  };
  auto written = std::make_shared<Written>();
  written->record.name = std::move(name);
  written->record.owner = owner;
  written->record.members = std::move(members);
  written->record.created_ms = now_ms();
  auto max_events = static_cast<uint64_t>(context.options.inbox_max_events);
  auto* ctx = &context;
  // The group id comes from the same write as the group, so ids have no gaps after a crash.
  context.store.commit(
      [written, max_events](Txn& txn) {
        auto& record = written->record;
        written->useqs.clear();
        written->texts.clear();
        record.id = txn.next(keys::counter_next_group_id());
        put_group(txn, record);
        auto event = group_event_members(record.id, "created", record.owner);
        for (auto m : record.members) {
          put_membership(txn, m, record.id);
          std::string text;
          written->useqs.push_back(append_inbox(txn, m, "group", event, max_events, &text));
          written->texts.push_back(std::move(text));
        }
      },
      [ctx, written, done](bool ok) {
        if (!ok) {
          spdlog::debug("store write failed creating a group of user {}", written->record.owner);
          done(GroupOutcome{Error::unavailable, "could not store the group", std::nullopt});
          return;
        }
        spdlog::info("user {} created group {} with {} members", written->record.owner, written->record.id,
                     written->record.members.size());
        ctx->counters.inbox_appends += written->useqs.size();
        const auto& members = written->record.members;
        for (size_t i = 0; i < members.size(); ++i)
          notify_appended(*ctx, members[i], written->useqs[i], std::move(written->texts[i]));
        done(GroupOutcome{std::nullopt, "", written->record});
      });
}

void add_group_members(Context& context, GroupId group, UserId by, std::vector<UserId> users, GroupDone done) {
  ask_for_outcome(context, group, caf::make_message(group_add_atom::value, by, std::move(users)), std::move(done));
}

void remove_group_member(Context& context, GroupId group, UserId by, UserId user, GroupDone done) {
  ask_for_outcome(context, group, caf::make_message(group_remove_atom::value, by, user), std::move(done));
}

void inspect_group(Context& context, GroupId group, std::function<void(std::optional<std::string>)> done) {
  spawn_ask<std::string>(context, group, caf::make_message(inspect_atom::value), std::move(done));
}

}  // namespace im
