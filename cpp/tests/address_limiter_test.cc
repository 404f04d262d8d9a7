#include "netlab/models/address_limiter.h"

#include <gtest/gtest.h>

namespace netlab {
namespace {

TEST(AddressLimiterTest, EachAddressHasItsOwnSlots) {
  AddressLimiter limiter(2);
  EXPECT_TRUE(limiter.acquire("127.0.0.2"));
  EXPECT_TRUE(limiter.acquire("127.0.0.2"));
  EXPECT_FALSE(limiter.acquire("127.0.0.2"));
  EXPECT_TRUE(limiter.acquire("127.0.0.1"));  // another address is not affected
  limiter.release("127.0.0.2");
  EXPECT_TRUE(limiter.acquire("127.0.0.2"));  // a slot given back can be taken again
  EXPECT_FALSE(limiter.acquire("127.0.0.2"));
}

TEST(AddressLimiterTest, ZeroMeansNoLimit) {
  AddressLimiter limiter(0);
  EXPECT_FALSE(limiter.enabled());
  for (int i = 0; i < 10000; ++i) EXPECT_TRUE(limiter.acquire("::1"));
}

TEST(AddressLimiterTest, ReleasingAnUnknownAddressIsHarmless) {
  AddressLimiter limiter(1);
  limiter.release("10.0.0.1");
  EXPECT_TRUE(limiter.acquire("10.0.0.1"));
  EXPECT_FALSE(limiter.acquire("10.0.0.1"));
}

}  // namespace
}  // namespace netlab
