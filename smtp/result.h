#pragma once
// Result<T> and Error: how every layer of tern reports failure. A Result holds
// a value or an Error; the member names follow C++23's std::expected so that
// moving to it is a rename. An Error is Transient (4xx, timeout, SERVFAIL: try
// again later) or Permanent (5xx, NXDOMAIN, null MX: give up), plus one
// sentence an operator can read. Nothing in tern throws on a loop thread.
// This header lives in smtp/ because smtp/ is the lowest layer: every other
// folder may include it, and it includes nothing of ours.

#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace tern {

class Error {
 public:
  enum class Kind { Transient, Permanent };

  Error(Kind kind, std::string message) : kind_(kind), message_(std::move(message)) {}
  static Error transient(std::string message) { return Error(Kind::Transient, std::move(message)); }
  static Error permanent(std::string message) { return Error(Kind::Permanent, std::move(message)); }

  Kind kind() const { return kind_; }
  bool is_transient() const { return kind_ == Kind::Transient; }
  bool is_permanent() const { return kind_ == Kind::Permanent; }
  const std::string& message() const { return message_; }

  // The same error with more context in front: "while sending RCPT TO: ...".
  Error prefixed(std::string_view context) const {
    return Error(kind_, std::string(context) + ": " + message_);
  }

  friend bool operator==(const Error&, const Error&) = default;

 private:
  Kind kind_;
  std::string message_;
};

template <class T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::remove_cvref_t<T>, Error>, "Result<Error> is ambiguous");

 public:
  using value_type = T;
  using error_type = Error;

  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit by design

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { check_value(); return std::get<0>(v_); }
  const T& value() const& { check_value(); return std::get<0>(v_); }
  T&& value() && { check_value(); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    if (has_value()) std::abort();  // our bug: asked a success for its error
    return std::get<1>(v_);
  }
  template <class U>
  T value_or(U&& fallback) const& {
    return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  void check_value() const {
    if (!has_value()) std::abort();  // our bug: used a failed Result's value
  }
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const {
    if (!ok_) std::abort();
  }
  const Error& error() const {
    if (ok_) std::abort();
    return error_;
  }

 private:
  Error error_{Error::Kind::Permanent, {}};
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace tern
