// One wording for every option that is out of range, so Python users always see which
// option, what it may be, and what they gave: "high_water must be between 1024 and
// 1073741824 bytes (got -1)".
#pragma once

#include <string>
#include <string_view>

#include "netlab/io/result.h"

namespace netlab {

/// An EINVAL Error with that sentence when value is outside [lo, hi]; `note` follows the unit
/// ("(0: never)").
Status checkRange(std::string_view name, double value, double lo, double hi,
                  std::string_view unit = "", std::string_view note = "");

/// " (got 5)" or " (got 2.5)": integers without a fraction.
std::string gotValue(double value);

}  // namespace netlab
