// Error values for setup paths. Runtime socket errors never throw: they close one connection.
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace netlab {

/// An errno value and a sentence that says which call failed on what.
struct Error {
  int code = 0;
  std::string message;
};

/// Builds an Error from the current errno, e.g. sysError("bind 127.0.0.1:80").
Error sysError(const std::string& what);

/// A value or an Error; the binding layer turns the Error into a Python exception.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  T& value() { return std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

/// Result of an operation that yields nothing on success.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), failed_(true) {}
  bool ok() const { return !failed_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool failed_ = false;
};

}  // namespace netlab
