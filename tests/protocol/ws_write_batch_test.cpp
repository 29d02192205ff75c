// The batching of server frames into one send, and what a partial send completed
// (protocol/ws_write_batch.hpp): the bookkeeping behind a WebSocket session's writes.

#include <doctest/doctest.h>

#include "protocol/ws_write_batch.hpp"

using im::ws::OutFrame;
using im::ws::Opcode;
using im::ws::WriteBatch;

namespace {

OutFrame frame(std::string payload, Opcode op = Opcode::text) {
  return {std::make_shared<const std::string>(std::move(payload)), op};
}

// The bytes of a server frame: header (FIN set, unmasked, short length) and payload.
std::string wire(const std::string& payload, Opcode op = Opcode::text) {
  std::string out;
  out.push_back(static_cast<char>(0x80 | static_cast<uint8_t>(op)));
  out.push_back(static_cast<char>(payload.size()));
  return out + payload;
}

}  // namespace

TEST_CASE("a batch is the frames' bytes back to back, and stops at the size limit but takes at least one") {
  std::vector<OutFrame> queue{frame("one"), frame("two"), frame("three")};
  WriteBatch batch;
  batch.fill(queue, 1000);
  CHECK(batch.frames() == 3);
  CHECK(batch.bytes() == wire("one") + wire("two") + wire("three"));
  CHECK(queue.size() == 3);  // the frames stay queued until sent

  batch.fill(queue, wire("one").size() + wire("two").size());  // exactly two fit
  CHECK(batch.frames() == 2);
  batch.fill(queue, wire("one").size() + wire("two").size() - 1);
  CHECK(batch.frames() == 1);
  batch.fill(queue, 1);  // the first frame is taken however large
  CHECK(batch.frames() == 1);
  CHECK(batch.bytes() == wire("one"));
}

TEST_CASE("a batch ends with a close frame: nothing after it is taken") {
  std::vector<OutFrame> queue{frame("a"), frame("\x03\xe8", Opcode::close), frame("late")};
  WriteBatch batch;
  batch.fill(queue, 1000);
  CHECK(batch.frames() == 2);
  CHECK(batch.bytes() == wire("a") + wire("\x03\xe8", Opcode::close));
  auto all = batch.after_send(batch.bytes().size());
  CHECK(all.whole == 2);
  CHECK(all.close_sent);
  CHECK(all.cut_tail.empty());
  auto cut = batch.after_send(batch.bytes().size() - 1);  // the close frame's last byte missing
  CHECK(cut.whole == 1);
  CHECK_FALSE(cut.close_sent);
  CHECK(cut.cut_tail == "\xe8");
  CHECK(cut.cut_is_close);
  auto data_cut = batch.after_send(1);  // inside the data frame before the close
  CHECK(data_cut.whole == 0);
  CHECK_FALSE(data_cut.close_sent);
  CHECK(data_cut.cut_tail == wire("a").substr(1));
  CHECK_FALSE(data_cut.cut_is_close);

  // The batch is reused (one per I/O thread): a refill without a close forgets the last one.
  std::vector<OutFrame> plain{frame("b")};
  batch.fill(plain, 1000);
  auto refilled = batch.after_send(batch.bytes().size());
  CHECK(refilled.whole == 1);
  CHECK_FALSE(refilled.close_sent);
}

TEST_CASE("a close frame that does not fit waits for the next batch; one alone is a batch") {
  std::vector<OutFrame> queue{frame("data"), frame("\x03\xe8", Opcode::close)};
  WriteBatch batch;
  batch.fill(queue, wire("data").size());  // room for the data frame only
  CHECK(batch.frames() == 1);
  auto sent = batch.after_send(batch.bytes().size());
  CHECK(sent.whole == 1);
  CHECK_FALSE(sent.close_sent);  // the close is still queued: the connection must not end yet

  std::vector<OutFrame> close_only{frame("\x03\xe8", Opcode::close)};
  batch.fill(close_only, 1);
  CHECK(batch.frames() == 1);
  CHECK(batch.after_send(batch.bytes().size()).close_sent);
  CHECK(batch.after_send(0).whole == 0);
}

TEST_CASE("after a partial send: the frames wholly sent, and the tail of the one cut in two") {
  std::vector<OutFrame> queue{frame("hello"), frame("world"), frame("!")};
  WriteBatch batch;
  batch.fill(queue, 1000);
  const auto first = wire("hello").size(), second = wire("world").size();

  auto none = batch.after_send(0);  // the socket took nothing
  CHECK(none.whole == 0);
  CHECK(none.cut_tail.empty());

  auto mid_first = batch.after_send(3);  // header and one payload byte of the first
  CHECK(mid_first.whole == 0);
  CHECK(mid_first.cut_tail == "ello");
  CHECK_FALSE(mid_first.cut_is_close);

  auto at_boundary = batch.after_send(first);  // the first whole, the second not started
  CHECK(at_boundary.whole == 1);
  CHECK(at_boundary.cut_tail.empty());

  auto mid_second = batch.after_send(first + 1);  // one header byte of the second
  CHECK(mid_second.whole == 1);
  CHECK(mid_second.cut_tail == wire("world").substr(1));

  auto two = batch.after_send(first + second);
  CHECK(two.whole == 2);
  CHECK(two.cut_tail.empty());
  CHECK_FALSE(two.close_sent);

  auto all = batch.after_send(batch.bytes().size());
  CHECK(all.whole == 3);
  CHECK(all.cut_tail.empty());
  CHECK_FALSE(all.close_sent);
}

TEST_CASE("a cut inside an extended-length header keeps the rest of the header and the payload") {
  std::string payload(300, 'p');  // a 16-bit extended length: 4 header bytes
  std::vector<OutFrame> queue{frame(payload)};
  WriteBatch batch;
  batch.fill(queue, 1000);
  CHECK(batch.bytes().size() == 304);
  auto cut = batch.after_send(3);
  CHECK(cut.whole == 0);
  CHECK(cut.cut_tail.size() == 301);
  CHECK(cut.cut_tail.substr(1) == payload);
}

TEST_CASE("trim frees a buffer that one huge frame made large, and keeps a normal one") {
  std::vector<OutFrame> big{frame(std::string(100000, 'x'))};
  WriteBatch batch;
  batch.fill(big, 64 * 1024);
  CHECK(batch.frames() == 1);
  CHECK(batch.bytes().size() == 100000 + 10);  // a 64-bit extended length
  batch.trim(2 * 64 * 1024);
  CHECK(batch.bytes().capacity() >= 100000);
  batch.trim(64 * 1024);
  CHECK(batch.bytes().capacity() < 64 * 1024);
}
