#include "netlab/core/options.h"

#include <gtest/gtest.h>

#include "netlab/apps/registry.h"
#include "netlab/apps/relay.h"
#include "netlab/load/load_config.h"

namespace netlab {

struct Sample {
  int64_t count = 3;
  double seconds = 1.5;
  std::optional<double> when;
  bool on = false;
  std::string mode = "a";
  int64_t limit = 0;  // 0: none
};

template <>
struct Fields<Sample> {
  static const std::vector<Field<Sample>>& fields() {
    static const std::vector<Field<Sample>> table = {
        number("count", &Sample::count, 1, 10, "", "how many"),
        number("seconds", &Sample::seconds, 0, 60, "seconds", "how long"),
        optionalNumber("when", &Sample::when, 0, 100, "seconds", "when, if ever"),
        flag("on", &Sample::on, "whether"),
        text("mode", &Sample::mode, "", "which", {"a", "b"}),
        number("limit", &Sample::limit, 0, 1000, "", "at most", "(0: no limit)", true),
    };
    return table;
  }
};

struct Narrow {
  uint16_t port = 80;
  uint64_t budget = 0;
  std::string payload;
  std::optional<std::string> expect;
};

template <>
struct Fields<Narrow> {
  static const std::vector<Field<Narrow>>& fields() {
    static const std::vector<Field<Narrow>> table = {
        number("port", &Narrow::port, 1, 65535, "", "port"),
        number("budget", &Narrow::budget, 0, 1e12, "", "budget", "(0: none)", true),
        bytes("payload", &Narrow::payload, "what to send"),
        bytes("expect", &Narrow::expect, "what should come back"),
    };
    return table;
  }
};

namespace {

TEST(OptionsTest, NarrowAndUnsignedMembersRejectWhatWouldWrap) {
  Narrow n;
  Status st = applyValues(n, {{"port", int64_t{70000}}});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "port must be between 1 and 65535 (got 70000)");
  EXPECT_EQ(n.port, 80);  // untouched, not 70000 mod 65536
  st = applyValues(n, {{"budget", int64_t{-1}}});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "budget must be between 0 and 1000000000000 (0: none) (got -1)");
  ASSERT_TRUE(applyValues(n, {{"port", int64_t{8080}}, {"budget", int64_t{5}}}).ok());
  EXPECT_EQ(n.port, 8080);
  EXPECT_EQ(std::get<int64_t>(valuesOf(n)["budget"]), 5);
}

TEST(OptionsTest, BytesTakeBytesOrTextAndGoBackAsBytes) {
  Narrow n;
  OptionMap unset = valuesOf(n);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(unset["payload"]));  // empty: default
  EXPECT_TRUE(std::holds_alternative<std::monostate>(unset["expect"]));
  ASSERT_TRUE(
      applyValues(n, {{"payload", Bytes{std::string("a\0b", 3)}}, {"expect", std::string("pong")}})
          .ok());
  EXPECT_EQ(n.payload, std::string("a\0b", 3));
  EXPECT_EQ(n.expect, "pong");
  OptionMap back = valuesOf(n);
  EXPECT_EQ(std::get<Bytes>(back["expect"]).value, "pong");
  ASSERT_TRUE(applyValues(n, {{"expect", std::monostate{}}}).ok());
  EXPECT_FALSE(n.expect.has_value());
  EXPECT_FALSE(applyValues(n, {{"payload", int64_t{1}}}).ok());
}

TEST(OptionsTest, LoadConfigIsCheckedByItsTableThenByItsCombinations) {
  LoadConfig c;
  ASSERT_TRUE(
      applyValues(c,
                  {{"port", int64_t{9}}, {"requests", int64_t{10}}, {"duration", std::monostate{}}})
          .ok());
  EXPECT_EQ(c.port, 9);
  EXPECT_EQ(c.durationSec, 0);
  EXPECT_TRUE(validate(c).ok());
  LoadConfig bad = c;
  Status st = applyValues(bad, {{"scenario", std::string("smtp")}});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message,
            "unknown scenario 'smtp'; valid scenarios: echo, line, framed, connect, chat, http, "
            "log, syslog");
  LoadConfig endless = c;
  endless.requests = 0;
  EXPECT_FALSE(validate(endless).ok());
  EXPECT_TRUE(validate(endless, /*runEnds=*/false).ok());  // the async client runs until shut
  LoadConfig framed = c;
  framed.scenario = "framed";
  ASSERT_FALSE(validate(framed).ok());
  EXPECT_EQ(validate(framed).error().message, "the framed scenario needs a codec");
  LoadConfig noPort;
  noPort.requests = 1;
  ASSERT_FALSE(validate(noPort).ok());
  EXPECT_EQ(validate(noPort).error().message, "port must be between 1 and 65535 (got 0)");
}

TEST(OptionsTest, DescribeGivesTheStructsOwnDefaults) {
  std::vector<OptionInfo> info = describe<Sample>();
  ASSERT_EQ(info.size(), 6u);
  EXPECT_EQ(info[0].name, "count");
  EXPECT_EQ(std::get<int64_t>(info[0].defaultValue), 3);
  EXPECT_EQ(std::get<double>(info[1].defaultValue), 1.5);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(info[2].defaultValue));
  EXPECT_TRUE(info[2].noneAllowed);
  EXPECT_EQ(info[4].choices, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(std::holds_alternative<std::monostate>(info[5].defaultValue));  // 0 is None
  EXPECT_TRUE(info[5].noneAllowed);
}

TEST(OptionsTest, ValuesAreSetByNameAndReadBack) {
  Sample s;
  OptionMap values{{"count", int64_t{7}}, {"seconds", int64_t{2}},    {"when", 4.5},
                   {"on", true},          {"mode", std::string("b")}, {"limit", std::monostate{}},
                   {"other", int64_t{1}}};
  ASSERT_TRUE(applyValues(s, values).ok());
  EXPECT_EQ(s.count, 7);
  EXPECT_EQ(s.seconds, 2.0);  // an int is taken for a float
  EXPECT_EQ(s.when, 4.5);
  EXPECT_TRUE(s.on);
  EXPECT_EQ(s.mode, "b");
  EXPECT_EQ(s.limit, 0);
  OptionMap back = valuesOf(s);
  EXPECT_EQ(std::get<int64_t>(back["count"]), 7);
  EXPECT_EQ(back.count("other"), 0u);  // another struct's name is left alone
}

TEST(OptionsTest, ErrorsNameTheFieldAndWhatItMayBe) {
  Sample s;
  Status st = applyValues(s, {{"count", int64_t{11}}});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, EINVAL);
  EXPECT_EQ(st.error().message, "count must be between 1 and 10 (got 11)");
  Sample t;
  st = applyValues(t, {{"count", 2.5}});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "count must be an integer");
  Sample u;
  st = applyValues(u, {{"mode", std::string("c")}});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "unknown mode 'c'; valid modes: a, b");
  Sample v;
  st = applyValues(v, {{"on", int64_t{1}}});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "on must be True or False");
}

TEST(AppRegistryTest, EveryAppBuildsFromItsDefaultsAndUnknownNamesAreFound) {
  ASSERT_GE(apps().size(), 4u);
  for (const AppSpec& app : apps()) {
    OptionMap values{{"port", int64_t{0}}};
    if (app.name == "relay") values["target"] = std::string("127.0.0.1:9");
    if (app.name == "http-proxy") values["upstreams"] = std::string("127.0.0.1:9");
    auto server = makeAppServer(app, values, nullptr);
    ASSERT_TRUE(server.ok()) << app.name << ": " << server.error().message;
    EXPECT_EQ(server.value()->protocolName(), app.name);
    EXPECT_TRUE(unknownOptions(app, values).empty());
    EXPECT_EQ(unknownOptions(app, {{"no_such_option", int64_t{1}}}),
              std::vector<std::string>{"no_such_option"});
  }
  EXPECT_EQ(findApp("gopher"), nullptr);
}

TEST(AppRegistryTest, AppOptionsReachTheProtocol) {
  const AppSpec* chat = findApp("chat");
  ASSERT_NE(chat, nullptr);
  auto server = makeAppServer(*chat, {{"max_queue", int64_t{4096}}, {"port", int64_t{0}}}, nullptr);
  ASSERT_TRUE(server.ok());
  OptionMap held = server.value()->protocol().optionValues();
  EXPECT_EQ(std::get<int64_t>(held["max_queue"]), 4096);
  auto bad = makeAppServer(*chat, {{"max_queue", int64_t{5}}}, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.rfind("max_queue must be between 1024", 0), 0u);
}

TEST(AppRegistryTest, RelayTargetsAreSplitLikeTheClassicTools) {
  auto v4 = parseTarget("example.org:8080");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4.value().first, "example.org");
  EXPECT_EQ(v4.value().second, 8080);
  auto v6 = parseTarget("[::1]:25");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6.value().first, "::1");
  EXPECT_EQ(parseTarget(":7").value().first, "127.0.0.1");
  EXPECT_FALSE(parseTarget("nohost").ok());
  EXPECT_EQ(parseTarget("h:70000").error().message,
            "target port must be between 1 and 65535 (got 70000)");
  const AppSpec* relay = findApp("relay");
  ASSERT_NE(relay, nullptr);
  EXPECT_FALSE(makeAppServer(*relay, {}, nullptr).ok());  // the target is required
}

}  // namespace
}  // namespace netlab
