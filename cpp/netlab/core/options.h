// Options written once. Each options struct lists its fields in one table (name, member,
// range, help); validation, the Python keyword arguments, the CLI flags and the README's
// option tables are all made from that table, so a default or a range lives in one place:
// the struct's initialiser and its row.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "netlab/core/range_check.h"
#include "netlab/io/result.h"

namespace netlab {

/// A value an option can hold, as it crosses to Python and the CLI. monostate is None: for
/// fields where zero means "no limit" or "never", and for optional ones.
/// Bytes is a payload (bytes in Python), kept apart from text so it goes back as bytes.
struct Bytes {
  std::string value;
  bool operator==(const Bytes& other) const { return value == other.value; }
};
using OptionValue = std::variant<std::monostate, int64_t, double, bool, std::string, Bytes>;

/// Options by name, as a caller gives them (keyword arguments, CLI flags).
using OptionMap = std::map<std::string, OptionValue, std::less<>>;

/// The longest line any line-based app accepts (its max_line option's upper bound).
constexpr double kMaxLineLimit = 16 << 20;

enum class OptionType { kInt, kFloat, kBool, kString, kBytes };

/// What a user needs to know about one option; describe() adds the struct's default.
struct OptionInfo {
  std::string name;  // snake_case; the CLI flag is --name-with-dashes
  OptionType type = OptionType::kInt;
  OptionValue defaultValue;
  double lo = 0, hi = 0;  // numbers only
  std::string unit;
  std::string help;
  /// What 0 (or None) means, where it is special: "(0: never)".
  std::string note;
  /// None is accepted: it means 0 (no limit, never) or, for an optional field, unset.
  bool noneAllowed = false;
  /// Must be given (it has no sensible default).
  bool required = false;
  /// The valid strings, when there is a fixed list.
  std::vector<std::string> choices;
};

/// One row of a struct's table. Made by the functions below, which know the member's type,
/// so reading, setting and checking need no dispatch on it.
template <class S>
struct Field {
  OptionInfo info;
  std::function<OptionValue(const S&)> get;
  /// Type conversion only (an int is taken for a float); the range is check's.
  std::function<Status(S&, const OptionValue&)> set;
  std::function<Status(const S&)> check;
};

/// Specialised for each options struct: `static const std::vector<Field<S>>& fields();`.
template <class S>
struct Fields;

namespace options_detail {

inline Error wrongType(const std::string& name, const char* wanted) {
  return Error{EINVAL, name + " must be " + wanted};
}

template <class S, class T>
Field<S> numberField(const char* name, T S::*m, double lo, double hi, const char* unit,
                     const char* help, const char* note, bool zeroIsNone) {
  Field<S> f;
  f.info.name = name;
  f.info.type = std::is_integral_v<T> ? OptionType::kInt : OptionType::kFloat;
  f.info.lo = lo;
  f.info.hi = hi;
  f.info.unit = unit;
  f.info.help = help;
  f.info.noneAllowed = zeroIsNone;
  f.info.note = note;
  std::string n = name, u = unit, why = note;
  f.get = [m, zeroIsNone](const S& s) -> OptionValue {
    if (zeroIsNone && s.*m == 0) return std::monostate{};
    if constexpr (std::is_integral_v<T>) return static_cast<int64_t>(s.*m);
    return static_cast<double>(s.*m);
  };
  f.set = [m, n, u, why, lo, hi, zeroIsNone](S& s, const OptionValue& v) -> Status {
    if (zeroIsNone && std::holds_alternative<std::monostate>(v)) return (s.*m = 0), Status{};
    if (auto i = std::get_if<int64_t>(&v)) {
      // A narrower or unsigned member would wrap a value out of range before check() saw it.
      if constexpr (!std::is_same_v<T, int64_t> && !std::is_same_v<T, double>) {
        if (*i < lo || *i > hi) return checkRange(n, static_cast<double>(*i), lo, hi, u, why);
      } else {
        (void)lo, (void)hi;  // wide enough: the range is check()'s alone
      }
      return (s.*m = static_cast<T>(*i)), Status{};
    }
    if constexpr (std::is_same_v<T, double>) {
      if (auto d = std::get_if<double>(&v)) return (s.*m = *d), Status{};
      return wrongType(n, zeroIsNone ? "a number or None" : "a number");
    }
    return wrongType(n, zeroIsNone ? "an integer or None" : "an integer");
  };
  f.check = [m, n, lo, hi, u, why](const S& s) {
    return checkRange(n, static_cast<double>(s.*m), lo, hi, u, why);
  };
  return f;
}

}  // namespace options_detail

/// An integer option in [lo, hi]; with zeroIsNone, None stands for 0 (no limit, never).
template <class S, class T, class = std::enable_if_t<std::is_integral_v<T>>>
Field<S> number(const char* name, T S::*m, double lo, double hi, const char* unit, const char* help,
                const char* note = "", bool zeroIsNone = false) {
  return options_detail::numberField(name, m, lo, hi, unit, help, note, zeroIsNone);
}

/// A real-valued option in [lo, hi] (an int is accepted).
template <class S>
Field<S> number(const char* name, double S::*m, double lo, double hi, const char* unit,
                const char* help, const char* note = "", bool zeroIsNone = false) {
  return options_detail::numberField(name, m, lo, hi, unit, help, note, zeroIsNone);
}

/// A real-valued option that may be unset (None).
template <class S>
Field<S> optionalNumber(const char* name, std::optional<double> S::*m, double lo, double hi,
                        const char* unit, const char* help) {
  Field<S> f;
  f.info.name = name;
  f.info.type = OptionType::kFloat;
  f.info.lo = lo;
  f.info.hi = hi;
  f.info.unit = unit;
  f.info.help = help;
  f.info.noneAllowed = true;
  std::string n = name, u = unit;
  f.get = [m](const S& s) -> OptionValue {
    if (!(s.*m)) return std::monostate{};
    return *(s.*m);
  };
  f.set = [m, n](S& s, const OptionValue& v) -> Status {
    if (std::holds_alternative<std::monostate>(v)) return (s.*m = std::nullopt), Status{};
    if (auto d = std::get_if<double>(&v)) return (s.*m = *d), Status{};
    if (auto i = std::get_if<int64_t>(&v)) return (s.*m = static_cast<double>(*i)), Status{};
    return options_detail::wrongType(n, "a number or None");
  };
  f.check = [m, n, lo, hi, u](const S& s) {
    return s.*m ? checkRange(n, *(s.*m), lo, hi, u) : Status{};
  };
  return f;
}

/// A string option; with choices, only those ("unknown model 'x'; valid models: ...").
template <class S>
Field<S> text(const char* name, std::string S::*m, const char* unit, const char* help,
              std::vector<std::string> choices = {}, bool required = false) {
  Field<S> f;
  f.info.name = name;
  f.info.type = OptionType::kString;
  f.info.unit = unit;
  f.info.help = help;
  f.info.choices = choices;
  f.info.required = required;
  std::string n = name;
  f.get = [m](const S& s) -> OptionValue { return s.*m; };
  f.set = [m, n](S& s, const OptionValue& v) -> Status {
    if (auto str = std::get_if<std::string>(&v)) return (s.*m = *str), Status{};
    return options_detail::wrongType(n, "a string");
  };
  f.check = [m, n, choices](const S& s) -> Status {
    if (choices.empty()) return {};
    std::string valid;
    for (const auto& choice : choices) {
      if (s.*m == choice) return {};
      valid += (valid.empty() ? "" : ", ") + choice;
    }
    return Error{EINVAL, "unknown " + n + " '" + s.*m + "'; valid " + n + "s: " + valid};
  };
  return f;
}

/// A payload option: bytes from Python, text from the command line (taken as UTF-8).
template <class S>
Field<S> bytes(const char* name, std::string S::*m, const char* help) {
  Field<S> f;
  f.info.name = name;
  f.info.type = OptionType::kBytes;
  f.info.help = help;
  std::string n = name;
  f.get = [m](const S& s) -> OptionValue {
    if ((s.*m).empty()) return std::monostate{};  // empty means the default payload
    return Bytes{s.*m};
  };
  f.set = [m, n](S& s, const OptionValue& v) -> Status {
    if (std::holds_alternative<std::monostate>(v)) return (s.*m).clear(), Status{};
    if (auto b = std::get_if<Bytes>(&v)) return (s.*m = b->value), Status{};
    if (auto str = std::get_if<std::string>(&v)) return (s.*m = *str), Status{};
    return options_detail::wrongType(n, "bytes or None");
  };
  f.check = [](const S&) { return Status{}; };
  f.info.noneAllowed = true;
  return f;
}

/// A payload option that may be unset (None).
template <class S>
Field<S> bytes(const char* name, std::optional<std::string> S::*m, const char* help) {
  Field<S> f;
  f.info.name = name;
  f.info.type = OptionType::kBytes;
  f.info.help = help;
  f.info.noneAllowed = true;
  std::string n = name;
  f.get = [m](const S& s) -> OptionValue {
    if (!(s.*m)) return std::monostate{};
    return Bytes{*(s.*m)};
  };
  f.set = [m, n](S& s, const OptionValue& v) -> Status {
    if (std::holds_alternative<std::monostate>(v)) return (s.*m = std::nullopt), Status{};
    if (auto b = std::get_if<Bytes>(&v)) return (s.*m = b->value), Status{};
    if (auto str = std::get_if<std::string>(&v)) return (s.*m = *str), Status{};
    return options_detail::wrongType(n, "bytes or None");
  };
  f.check = [](const S&) { return Status{}; };
  return f;
}

/// A yes/no option.
template <class S>
Field<S> flag(const char* name, bool S::*m, const char* help) {
  Field<S> f;
  f.info.name = name;
  f.info.type = OptionType::kBool;
  f.info.help = help;
  std::string n = name;
  f.get = [m](const S& s) -> OptionValue { return s.*m; };
  f.set = [m, n](S& s, const OptionValue& v) -> Status {
    if (auto b = std::get_if<bool>(&v)) return (s.*m = *b), Status{};
    return options_detail::wrongType(n, "True or False");
  };
  f.check = [](const S&) { return Status{}; };
  return f;
}

/// Every field's range, in table order; the first field out of range is the Error.
template <class S>
Status checkFields(const S& s) {
  for (const auto& f : Fields<S>::fields()) {
    Status st = f.check(s);
    if (!st.ok()) return st;
  }
  return {};
}

/// The field named `name`, or null.
template <class S>
const Field<S>* findField(std::string_view name) {
  for (const auto& f : Fields<S>::fields()) {
    if (name == f.info.name) return &f;
  }
  return nullptr;
}

/// The table as users see it, with the defaults of a default-built S.
template <class S>
std::vector<OptionInfo> describe() {
  const S defaults{};
  std::vector<OptionInfo> out;
  for (const auto& f : Fields<S>::fields()) {
    out.push_back(f.info);
    out.back().defaultValue = f.get(defaults);
  }
  return out;
}

/// Every field of `s` by name.
template <class S>
OptionMap valuesOf(const S& s) {
  OptionMap out;
  for (const auto& f : Fields<S>::fields()) out[f.info.name] = f.get(s);
  return out;
}

/// Sets the fields named in `values` that S has, then checks every range; names S does not
/// have are left for the caller (they may belong to another struct).
template <class S>
Status applyValues(S& s, const OptionMap& values) {
  for (const auto& f : Fields<S>::fields()) {
    auto it = values.find(f.info.name);
    if (it == values.end()) {
      if (f.info.required) return Error{EINVAL, f.info.name + " is required"};
      continue;
    }
    Status st = f.set(s, it->second);
    if (!st.ok()) return st;
  }
  return checkFields(s);
}

}  // namespace netlab
