#include "actors/inbox_writer.hpp"

#include <memory>

#include "actors/context.hpp"
#include "actors/directory.hpp"
#include "actors/messages.hpp"
#include "store/inbox.hpp"

namespace im {

void notify_appended(Context& context, UserId user, uint64_t useq, std::string text) {
  if (auto actor = context.directory.find_user(user))
    caf::anon_send(actor, appended_atom::value, useq,
                   SharedText(std::make_shared<const std::string>(std::move(text))));
}

void append_events(Context& context, std::vector<InboxAppend> appends, AppendDone done,
                   std::function<void(Txn&)> extra) {
  struct Written {
    std::vector<InboxAppend> appends;
    std::vector<uint64_t> useqs;
    std::vector<std::string> texts;
  };
  auto written = std::make_shared<Written>();
  written->appends = std::move(appends);
  auto max_events = static_cast<uint64_t>(context.options.inbox_max_events);
  auto* ctx = &context;
  context.store.commit(
      [written, max_events, extra](Txn& txn) {
        written->useqs.clear();
        written->texts.clear();
        for (auto& a : written->appends) {
          std::string text;
          written->useqs.push_back(append_inbox(txn, a.user, a.type.c_str(), a.members, max_events, &text));
          written->texts.push_back(std::move(text));
        }
        if (extra) extra(txn);
      },
      [ctx, written, done](bool ok) {
        if (ok) {
          ctx->counters.inbox_appends += written->appends.size();
          for (size_t i = 0; i < written->appends.size(); ++i)
            notify_appended(*ctx, written->appends[i].user, written->useqs[i], std::move(written->texts[i]));
        }
        if (done) done(ok, written->useqs);
      });
}

}  // namespace im
