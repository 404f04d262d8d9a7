#include <gtest/gtest.h>

#include "netlab/apps/http_proxy/allowlist.h"
#include "netlab/apps/http_proxy/filter.h"

namespace netlab {
namespace {

Cidr cidr(const char* text) {
  auto c = parseCidr(text);
  EXPECT_TRUE(c.ok()) << text;
  return c.ok() ? c.value() : Cidr{};
}

TEST(ProxyFilterTest, CidrBlocksHoldTheirAddresses) {
  EXPECT_TRUE(cidr("10.0.0.0/8").contains(cidr("10.200.3.4")));
  EXPECT_FALSE(cidr("10.0.0.0/8").contains(cidr("11.0.0.1")));
  EXPECT_TRUE(cidr("192.168.1.128/25").contains(cidr("192.168.1.200")));
  EXPECT_FALSE(cidr("192.168.1.128/25").contains(cidr("192.168.1.127")));
  EXPECT_TRUE(cidr("0.0.0.0/0").contains(cidr("8.8.8.8")));
  EXPECT_TRUE(cidr("127.0.0.1").contains(cidr("::ffff:127.0.0.1")));  // mapped is IPv4
  EXPECT_FALSE(cidr("::1").contains(cidr("127.0.0.1")));
  EXPECT_TRUE(cidr("2001:db8::/32").contains(cidr("2001:db8:1::5")));
  EXPECT_FALSE(parseCidr("10.0.0.0/33").ok());
  EXPECT_FALSE(parseCidr("10.0.0/8").ok());
  EXPECT_FALSE(parseCidr("::1/129").ok());
}

TEST(ProxyFilterTest, ARuleMatchesWhenEveryConditionDoes) {
  auto rules = parseDenyRules("method=POST,DELETE path=/admin; from=10.0.0.0/8");
  ASSERT_TRUE(rules.ok());
  EXPECT_NE(deniedBy(rules.value(), "DELETE", "/admin/x", "127.0.0.1"), nullptr);
  EXPECT_EQ(deniedBy(rules.value(), "GET", "/admin/x", "127.0.0.1"), nullptr);
  EXPECT_EQ(deniedBy(rules.value(), "POST", "/public", "127.0.0.1"), nullptr);
  const DenyRule* second = deniedBy(rules.value(), "GET", "/", "10.1.2.3");
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->text, "from=10.0.0.0/8");
  EXPECT_EQ(deniedBy(rules.value(), "GET", "/", "not an address"), nullptr);
}

TEST(ProxyFilterTest, HeaderEditsParseAndRefuseBadInput) {
  auto edits = parseHeaderEdits("Authorization: Bearer x\nX-Empty:", "X-A, x-b");
  ASSERT_TRUE(edits.ok());
  EXPECT_EQ(edits.value().set.size(), 2u);
  EXPECT_TRUE(edits.value().removes("X-B"));
  EXPECT_TRUE(edits.value().removes("authorization"));  // a field set replaces the client's
  EXPECT_FALSE(edits.value().removes("X-C"));
  EXPECT_FALSE(parseHeaderEdits("X-A: a\x01", "").ok());
  EXPECT_FALSE(parseHeaderEdits("", "host").ok());
}

TEST(ProxyFilterTest, RateLimiterRefillsAndSaysWhenToComeBack) {
  RateLimiter limiter(10, 2);  // 10 a second, bursts of 2
  double after = 0;
  EXPECT_TRUE(limiter.admit("a", 0, after));
  EXPECT_TRUE(limiter.admit("a", 0, after));
  EXPECT_FALSE(limiter.admit("a", 0, after));
  EXPECT_NEAR(after, 0.1, 1e-9);
  EXPECT_TRUE(limiter.admit("b", 0, after));  // another address has its own bucket
  EXPECT_TRUE(limiter.admit("a", 100'000'000, after));
  EXPECT_FALSE(limiter.admit("a", 100'000'000, after));
}

TEST(ProxyFilterTest, RateLimiterTableStaysBounded) {
  RateLimiter limiter(1, 1);
  double after = 0;
  for (size_t i = 0; i < RateLimiter::kMaxAddresses + 10; ++i) {
    limiter.admit("10.0." + std::to_string(i), static_cast<int64_t>(i), after);
  }
  EXPECT_TRUE(limiter.admit("fresh", 0, after));  // no crash, no unbounded growth
}

TEST(ProxyFilterTest, ConnectAllowMatchesNamesAddressesBlocksAndPorts) {
  auto allow = parseConnectAllow("Example.COM:443, 10.0.0.0/8:*  [::1]:8443 *:22");
  ASSERT_TRUE(allow.ok()) << allow.error().message;
  const auto& a = allow.value();
  EXPECT_TRUE(connectAllowed(a, "example.com", 443));
  EXPECT_TRUE(connectAllowed(a, "EXAMPLE.com", 443));  // names are case-insensitive
  EXPECT_FALSE(connectAllowed(a, "example.com", 80));
  EXPECT_FALSE(connectAllowed(a, "sub.example.com", 443));
  EXPECT_TRUE(connectAllowed(a, "10.9.8.7", 5432));
  EXPECT_FALSE(connectAllowed(a, "11.0.0.1", 5432));
  EXPECT_TRUE(connectAllowed(a, "::1", 8443));
  EXPECT_FALSE(connectAllowed(a, "::1", 443));
  EXPECT_TRUE(connectAllowed(a, "anything", 22));
  // A name is not resolved: an address block admits only targets given as addresses.
  EXPECT_FALSE(connectAllowed(parseConnectAllow("127.0.0.0/8:80").value(), "localhost", 80));
  EXPECT_TRUE(parseConnectAllow("").value().empty());
  EXPECT_FALSE(connectAllowed({}, "127.0.0.1", 80));  // nothing configured: nothing allowed
  for (const char* bad : {"example.com", "host:0", "host:70000", ":443", "a b/c:1", "x:y"}) {
    EXPECT_FALSE(parseConnectAllow(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace netlab
