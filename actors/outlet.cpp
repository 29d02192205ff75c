#include "actors/outlet.hpp"

#include "actors/context.hpp"

namespace im {

Outlet::Outlet(std::weak_ptr<Session> session, Encoding encoding, Counters& counters)
    : session_(std::move(session)), encoding_(encoding), counters_(counters) {}

void Outlet::send(const Text& json_text) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (gate_ == Gate::shut) return;
    if (gate_ == Gate::held) {
      held_.push_back(json_text);
      return;
    }
  }
  // Open: two threads may write at once, each in its own order, as two actors' messages did.
  write(json_text);
}

void Outlet::open() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (gate_ != Gate::held) return;
  // Written under the lock, so that a frame sent meanwhile cannot overtake the held ones.
  for (auto& text : held_) write(text);
  held_.clear();
  held_.shrink_to_fit();
  gate_ = Gate::open;
}

void Outlet::shut() {
  std::lock_guard<std::mutex> lock(mutex_);
  gate_ = Gate::shut;
  held_.clear();
}

void Outlet::write(const Text& json_text) {
  auto session = session_.lock();
  if (!session) return;
  Text bytes = encoding_ == Encoding::json
                   ? json_text
                   : std::make_shared<const std::string>(transcode_json_text(*json_text, encoding_));
  counters_.frames_out++;
  counters_.bytes_out += bytes->size();
  frames_out_++;
  bytes_out_ += bytes->size();
  session->send_frame(std::move(bytes), encoding_ == Encoding::msgpack);
}

}  // namespace im
