// What a client may call a file: a relative path whose every component stays inside the
// root. Checked before any system call sees the name; the kernel's RESOLVE_BENEATH (root.h)
// then guards against symlinks planted inside the root.
#pragma once

#include <string>
#include <string_view>

namespace netlab::files {

/// The hidden area inside the root (partial uploads, stored checksums): never listed, served
/// or written by a client.
constexpr std::string_view kHiddenDir = ".netlab";
constexpr size_t kMaxName = 1024;

/// Why `name` cannot name a file under the root ("" when it can): empty, too long, absolute,
/// a NUL or control character, an empty, "." or ".." component, or the hidden area.
std::string_view nameProblem(std::string_view name);

/// `path` with %XX escapes decoded; false when an escape is malformed.
bool percentDecode(std::string_view path, std::string& out);
/// `name` escaped for a URL path (unreserved characters and '/' kept).
std::string percentEncode(std::string_view name);
/// `text` escaped for HTML.
std::string htmlEscape(std::string_view text);

}  // namespace netlab::files
