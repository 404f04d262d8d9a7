#include "netlab/codec/stream_decoder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace netlab {
namespace {

std::shared_ptr<const Codec> lengthPrefix(uint64_t maxFrame = 1 << 20) {
  Error error;
  return makeLengthPrefixCodec(4, true, maxFrame, &error);
}

std::string frame(const Codec& codec, std::string_view payload) {
  std::string out;
  FrameError error;
  EXPECT_TRUE(codec.encode(FrameView{payload}, out, error));
  return out;
}

TEST(StreamDecoder, FramesInsideAChunkAreNotCopied) {
  auto codec = lengthPrefix();
  std::string chunk = frame(*codec, "one") + frame(*codec, "two");
  StreamDecoder decoder(codec);
  std::vector<const char*> where;
  ASSERT_TRUE(decoder.feed(chunk, [&](const FrameView& f) { where.push_back(f.payload.data()); }));
  ASSERT_EQ(where.size(), 2u);
  EXPECT_EQ(where[0], chunk.data() + 4);  // a view into the caller's bytes
  EXPECT_EQ(where[1], chunk.data() + 11);
}

TEST(StreamDecoder, SplitFrameTakesOnlyWhatItNeeds) {
  auto codec = lengthPrefix();
  std::string wire = frame(*codec, std::string(100, 'a')) + frame(*codec, "tail");
  StreamDecoder decoder(codec);
  std::vector<std::string> got;
  auto collect = [&](const FrameView& f) { got.emplace_back(f.payload); };
  ASSERT_TRUE(decoder.feed(std::string_view(wire).substr(0, 50), collect));
  EXPECT_EQ(decoder.pending(), 50u);
  std::string rest = wire.substr(50);
  const char* tailPayload = nullptr;
  ASSERT_TRUE(decoder.feed(rest, [&](const FrameView& f) {
    got.emplace_back(f.payload);
    tailPayload = f.payload.data();
  }));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], std::string(100, 'a'));
  EXPECT_EQ(tailPayload, rest.data() + 54 + 4);  // the second frame was not copied
  EXPECT_EQ(decoder.pending(), 0u);
}

TEST(StreamDecoder, PendingStaysWithinOneFrame) {
  auto codec = lengthPrefix(1000);
  StreamDecoder decoder(codec);
  std::string big = frame(*codec, std::string(1000, 'b'));
  for (char c : big) {
    ASSERT_TRUE(decoder.feed(std::string_view(&c, 1), [](const FrameView&) {}));
    EXPECT_LE(decoder.pending(), codec->maxWireFrame());
  }
  EXPECT_EQ(decoder.offset(), big.size());
}

TEST(StreamDecoder, ErrorCarriesStreamOffsetAndSticks) {
  auto codec = lengthPrefix(10);
  StreamDecoder decoder(codec);
  std::string wire = frame(*codec, "ok") + std::string("\x00\x00\x00\x20", 4);
  int frames = 0;
  EXPECT_FALSE(decoder.feed(wire, [&](const FrameView&) { ++frames; }));
  EXPECT_EQ(frames, 1);
  EXPECT_EQ(decoder.error().kind, FrameErrorKind::kTooLarge);
  EXPECT_EQ(decoder.error().offset, 6u);
  EXPECT_FALSE(decoder.feed(frame(*codec, "x"), [&](const FrameView&) { ++frames; }));
  EXPECT_EQ(frames, 1);
}

TEST(StreamDecoder, DelimiterSplitAcrossPiecesIsFound) {
  Error error;
  auto codec = makeLineCodec("\r\n", 100000, false, &error);
  StreamDecoder decoder(codec);
  std::string line(99994, 'x');  // the CR ends a 7-byte piece, the LF starts the next
  line += "\r\n";
  std::vector<size_t> sizes;
  for (size_t at = 0; at < line.size(); at += 7) {
    ASSERT_TRUE(decoder.feed(std::string_view(line).substr(at, 7),
                             [&](const FrameView& f) { sizes.push_back(f.payload.size()); }));
  }
  EXPECT_EQ(sizes, std::vector<size_t>{99994});
}

}  // namespace
}  // namespace netlab
