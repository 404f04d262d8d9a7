#include "netlab/http/message.h"

namespace netlab::http {

bool listHasToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    if (equalsIgnoreCase(trimWhitespace(list.substr(0, comma)), token)) return true;
    list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
  }
  return false;
}

const Field* Head::find(std::string_view name) const {
  for (const Field& f : fields) {
    if (equalsIgnoreCase(f.name, name)) return &f;
  }
  return nullptr;
}

}  // namespace netlab::http
