// Turns a complete message head into a Head: the start line, the field lines, and the body
// framing they imply. Pure functions over bytes the parser already holds; the parser finds
// where a head ends and enforces the size limits.
#pragma once

#include <string_view>
#include <vector>

#include "netlab/http/message.h"

namespace netlab::http {

/// Why a message was refused: the status a server answers with (400, 414, 431, 501, 505;
/// a client reports a bad response as 502) and a fixed sentence.
struct ParseError {
  int status = 0;
  std::string_view reason;
  bool ok() const { return status == 0; }
};

/// `lines` is the head without its final empty line; each line ends in LF or CRLF.
ParseError parseHead(std::string_view lines, bool isRequest, Head& head);
/// Field lines alone (a trailer section), appended to `out`.
ParseError parseFields(std::string_view lines, std::vector<Field>& out);
/// Sets head.framing, contentLength and keepAlive from the fields (RFC 9112 §6.3).
/// `toHead`: the response answers a HEAD request, so it has no body whatever it says.
ParseError decideFraming(Head& head, bool toHead);

}  // namespace netlab::http
