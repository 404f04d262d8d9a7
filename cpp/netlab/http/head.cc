#include "netlab/http/head.h"

#include <array>
#include <cstdint>
#include <cstring>

#include "netlab/http/chars.h"

namespace netlab::http {
namespace {

constexpr int64_t kMaxContentLength = int64_t{1} << 62;  // far past any disk, short of overflow

ParseError bad(std::string_view reason) { return {400, reason}; }

// Takes the next line off `rest` without its LF or CRLF. A bare LF ends a line too (RFC 9112
// §2.2 allows it).
std::string_view takeLine(std::string_view& rest) {
  size_t lf = rest.find('\n');
  std::string_view line = rest.substr(0, lf);
  rest.remove_prefix(lf == std::string_view::npos ? rest.size() : lf + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// A CR anywhere but at a line's end is refused, since another parser may split there.
bool hasBareCr(std::string_view line) { return line.find('\r') != std::string_view::npos; }

// "HTTP/" DIGIT "." DIGIT; case-sensitive (RFC 9112 §2.3).
ParseError parseVersion(std::string_view v, Head& head) {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || !isDigit(v[5]) || v[6] != '.' ||
      !isDigit(v[7])) {
    return bad("invalid HTTP version");
  }
  if (v[5] != '1') return {505, "HTTP version not supported"};
  head.versionMinor = v[7] - '0';
  return {};
}

// method SP request-target SP HTTP-version, single spaces only (RFC 9112 §3).
ParseError parseRequestLine(std::string_view line, Head& head) {
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return bad("invalid request line");
  head.method = line.substr(0, sp1);
  for (char c : head.method) {
    if (!isTokenChar(c)) return bad("invalid method");
  }
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return bad("invalid request line");
  head.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!allTargetChars(head.target)) return bad("invalid request target");
  return parseVersion(line.substr(sp2 + 1), head);
}

// HTTP-version SP 3DIGIT SP [reason]; the space before an empty reason is often left out
// by servers, so it is optional here (h11 and curl accept that too).
ParseError parseStatusLine(std::string_view line, Head& head) {
  ParseError e = parseVersion(line.substr(0, 8), head);
  if (!e.ok()) return {502, e.reason};
  if (line.size() < 12 || line[8] != ' ' || !isDigit(line[9]) || !isDigit(line[10]) ||
      !isDigit(line[11]) || (line.size() > 12 && line[12] != ' ')) {
    return {502, "invalid status line"};
  }
  head.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (head.status < 100) return {502, "invalid status code"};
  head.reason = line.size() > 12 ? line.substr(13) : std::string_view{};
  if (!allFieldChars(head.reason)) return {502, "invalid reason phrase"};
  return {};
}

ParseError parseField(std::string_view line, std::vector<Field>& out) {
  if (line.front() == ' ' || line.front() == '\t') {
    return bad("obsolete line folding");  // RFC 9112 §5.2: a server rejects it
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return bad("header line without a colon");
  if (colon == 0) return bad("empty header name");
  std::string_view name = line.substr(0, colon);
  for (char c : name) {
    if (c == ' ' || c == '\t') return bad("whitespace before the colon");  // §5.1
    if (!isTokenChar(c)) return bad("invalid header name");
  }
  std::string_view value = trimWhitespace(line.substr(colon + 1));
  if (!allFieldChars(value)) return bad("invalid character in a header value");
  out.push_back({name, value});
  return {};
}

// Content-Length may repeat, as fields or as a list, only with one value (RFC 9112 §6.3.5):
// each field's members are checked against what `length` holds so far (-1: none yet).
ParseError addContentLength(std::string_view rest, int64_t& length) {
  for (bool more = true; more;) {
    size_t comma = rest.find(',');
    more = comma != std::string_view::npos;  // "5," has an empty last member: refused
    std::string_view item = trimWhitespace(rest.substr(0, comma));
    rest.remove_prefix(more ? comma + 1 : rest.size());
    if (item.empty()) return bad("invalid Content-Length");
    int64_t value = 0;
    for (char c : item) {
      if (!isDigit(c)) return bad("invalid Content-Length");
      if (value > kMaxContentLength / 10) return bad("Content-Length too large");
      value = value * 10 + (c - '0');
    }
    if (length >= 0 && value != length) return bad("conflicting Content-Length values");
    length = value;
  }
  return {};
}

// The codings of every Transfer-Encoding field, in order: how many, how many are chunked,
// and the final one.
struct Codings {
  int count = 0, chunked = 0;
  bool emptyField = false;
  std::string_view last;
};

void addCodings(std::string_view rest, Codings& c) {
  c.emptyField = c.emptyField || rest.empty();
  do {
    size_t comma = rest.find(',');
    std::string_view item = trimWhitespace(rest.substr(0, comma));
    rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
    if (item.empty()) continue;
    ++c.count;
    c.last = item;
    if (equalsIgnoreCase(item, "chunked")) ++c.chunked;
  } while (!rest.empty());
}

// Connection's options (RFC 9110 §7.6.1), both looked for in one walk of the list.
void connectionTokens(std::string_view list, bool& close, bool& keepAlive) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view token = trimWhitespace(list.substr(0, comma));
    close = close || equalsIgnoreCase(token, "close");
    keepAlive = keepAlive || equalsIgnoreCase(token, "keep-alive");
    list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
  }
}

// The fields the parser acts on. A head's fields are told apart in one pass, by length
// first, rather than searched for by name once per rule: every request pays for this.
enum class Known : uint8_t { kOther, kHost, kExpect, kConnection, kContentLength, kTransfer };

template <typename Word>
Word load(const char* p) {
  Word w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

// Whether a field name (a token: parseField checked it) is `lower` in any case, `lower` being
// lowercase letters and '-' of the same length. Setting bit 0x20 lowercases a letter and
// leaves '-'; the only other byte it turns into one of these is CR, which no token holds. So
// the name is compared a word at a time, in two overlapping words at most for these names.
bool isName(std::string_view name, std::string_view lower) {
  const char *a = name.data(), *b = lower.data();
  size_t n = lower.size();
  if (n >= 8) {
    constexpr uint64_t kCase = 0x2020202020202020;
    for (size_t i = 0; i + 8 < n; i += 8) {
      if ((load<uint64_t>(a + i) | kCase) != load<uint64_t>(b + i)) return false;
    }
    return (load<uint64_t>(a + n - 8) | kCase) == load<uint64_t>(b + n - 8);
  }
  constexpr uint32_t kCase = 0x20202020;
  return (load<uint32_t>(a) | kCase) == load<uint32_t>(b) &&
         (load<uint32_t>(a + n - 4) | kCase) == load<uint32_t>(b + n - 4);
}

Known knownField(std::string_view name) {
  switch (name.size()) {
    case 4:
      return isName(name, "host") ? Known::kHost : Known::kOther;
    case 6:
      return isName(name, "expect") ? Known::kExpect : Known::kOther;
    case 10:
      return isName(name, "connection") ? Known::kConnection : Known::kOther;
    case 14:
      return isName(name, "content-length") ? Known::kContentLength : Known::kOther;
    case 17:
      return isName(name, "transfer-encoding") ? Known::kTransfer : Known::kOther;
    default:
      return Known::kOther;
  }
}

// uri-host [ ":" port ] (RFC 3986 §3.2.2): reg-name, IPv4 or a bracketed IPv6 literal; an
// empty value is allowed (RFC 9112 §3.2).
constexpr std::array<bool, 256> hostTable() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("-._~%!$&'()*+,;=:[]")) t[static_cast<uint8_t>(c)] = true;
  return t;
}
constexpr auto kHostChar = hostTable();

bool validHost(std::string_view host) {
  for (char c : host) {
    if (!kHostChar[static_cast<uint8_t>(c)]) return false;
  }
  return true;
}

ParseError requestChecks(Head& head) {
  int hosts = 0;
  const Field* host = nullptr;
  const Field* expect = nullptr;
  for (const Field& f : head.fields) {
    Known known = knownField(f.name);
    if (known == Known::kHost && hosts++ == 0) host = &f;
    if (known == Known::kExpect && !expect) expect = &f;
  }
  // RFC 9112 §3.2: a 1.1 request without Host, or any with two, gets 400.
  if (hosts > 1) return bad("more than one Host header");
  if (hosts == 0 && head.versionMinor >= 1) return bad("missing Host header");
  if (host && !validHost(host->value)) return bad("invalid Host header");
  head.expectContinue =
      expect && head.versionMinor >= 1 && equalsIgnoreCase(expect->value, "100-continue");
  return {};
}

}  // namespace

// A CR is neither a name's token character nor a value's field character, so a line that
// parses holds none: the line is searched for one only when it fails, to name the fault.
ParseError parseFields(std::string_view lines, std::vector<Field>& out) {
  while (!lines.empty()) {
    std::string_view line = takeLine(lines);
    if (line.empty()) continue;
    ParseError e = parseField(line, out);
    if (!e.ok()) return hasBareCr(line) ? bad("bare CR in the header section") : e;
  }
  return {};
}

ParseError parseHead(std::string_view lines, bool isRequest, Head& head) {
  std::vector<Field> fields = std::move(head.fields);  // keeps its capacity for the next head
  fields.clear();
  head = Head{};
  head.fields = std::move(fields);
  head.isRequest = isRequest;
  std::string_view start = takeLine(lines);
  if (hasBareCr(start)) return {isRequest ? 400 : 502, "bare CR in the start line"};
  ParseError e = isRequest ? parseRequestLine(start, head) : parseStatusLine(start, head);
  if (!e.ok()) return e;
  e = parseFields(lines, head.fields);
  if (!e.ok() && !isRequest) e.status = 502;
  if (e.ok() && isRequest) e = requestChecks(head);
  return e;
}

namespace {

ParseError codingError(const Head& head, const Codings& codings, int64_t length) {
  if (codings.emptyField) return bad("empty Transfer-Encoding");
  if (codings.count > 0 && length >= 0) {
    return bad("both Content-Length and Transfer-Encoding");  // §6.1: the smuggling vector
  }
  bool lastChunked = codings.chunked > 0 && equalsIgnoreCase(codings.last, "chunked");
  if (codings.chunked > 1 || (codings.chunked == 1 && !lastChunked)) {
    return bad("chunked applied more than once or not last");  // §7: it must be the final one
  }
  if (head.isRequest && codings.count > 0 && !lastChunked) {
    return bad("Transfer-Encoding of a request must end in chunked");  // §6.3 item 4
  }
  if (head.isRequest && codings.count > 0 && head.versionMinor == 0) {
    return bad("Transfer-Encoding in an HTTP/1.0 request");  // §6.1: faulty framing
  }
  if (head.isRequest && codings.count > 1) {
    return {501, "unsupported transfer coding"};  // RFC 9112 §6.1: gzip etc. are not decoded
  }
  return {};
}

Framing framingOf(const Head& head, const Codings& codings, int64_t length, bool toHead) {
  bool bodiless = !head.isRequest &&
                  (toHead || head.informational() || head.status == 204 || head.status == 304);
  if (bodiless) return Framing::kNone;
  if (codings.count > 0) {
    bool lastChunked = equalsIgnoreCase(codings.last, "chunked");
    return lastChunked ? Framing::kChunked : Framing::kUntilClose;
  }
  if (length > 0) return Framing::kLength;
  if (length < 0 && !head.isRequest) return Framing::kUntilClose;  // §6.3 item 8
  return Framing::kNone;
}

}  // namespace

ParseError decideFraming(Head& head, bool toHead) {
  int64_t length = -1;
  ParseError e;
  Codings codings;
  bool close = false, keepAlive = false;
  for (const Field& f : head.fields) {
    switch (knownField(f.name)) {
      case Known::kContentLength:
        if (e.ok()) e = addContentLength(f.value, length);
        break;
      case Known::kTransfer:
        addCodings(f.value, codings);
        break;
      case Known::kConnection:
        connectionTokens(f.value, close, keepAlive);
        break;
      default:
        break;
    }
  }
  if (e.ok()) e = codingError(head, codings, length);
  if (!e.ok()) return head.isRequest ? e : ParseError{502, e.reason};
  head.contentLength = length;
  head.keepAlive = !close && (head.versionMinor >= 1 || keepAlive);  // 1.0 closes unless asked
  head.framing = framingOf(head, codings, length, toHead);
  if (head.framing == Framing::kUntilClose) head.keepAlive = false;
  return {};
}

}  // namespace netlab::http
