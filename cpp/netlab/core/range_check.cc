#include "netlab/core/range_check.h"

#include <cerrno>
#include <cstdint>
#include <sstream>

namespace netlab {
namespace {

std::string number(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v))) {
    return std::to_string(static_cast<int64_t>(v));
  }
  std::ostringstream out;
  out << v;
  return out.str();
}

}  // namespace

std::string gotValue(double value) {
  std::string out(" (got ");
  return out.append(number(value)).append(")");
}

Status checkRange(std::string_view name, double value, double lo, double hi, std::string_view unit,
                  std::string_view note) {
  if (value >= lo && value <= hi) return {};
  std::string message(name);
  message.append(" must be between ").append(number(lo)).append(" and ").append(number(hi));
  if (!unit.empty()) message.append(" ").append(unit);
  if (!note.empty()) message.append(" ").append(note);
  return Error{EINVAL, message.append(gotValue(value))};
}

}  // namespace netlab
