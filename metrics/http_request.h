#pragma once
// RequestParser: a sans-I/O, incremental parser for the head of an HTTP/1.x
// request (request line and header fields), just enough for /metrics,
// /healthz and /readyz: it keeps the method and the path, drops the query and
// every header, and ignores anything after the blank line (the server answers
// and closes). It accepts any split of input, never throws, and fails with the
// status to answer: 400 for malformed input, 431 past max_bytes, 505 for a
// version other than 1.x. format_response() builds a Connection: close reply.

#include <cstddef>
#include <string>
#include <string_view>

namespace tern::metrics {

struct Request {
  std::string method;  // as sent, case-sensitive ("GET", "HEAD", ...)
  std::string path;    // origin-form path, without the query; "*" for asterisk-form
};

class RequestParser {
 public:
  enum class State { NeedMore, Complete, Failed };
  static constexpr std::size_t kDefaultMaxBytes = 8 * 1024;

  explicit RequestParser(std::size_t max_bytes = kDefaultMaxBytes) : max_bytes_(max_bytes) {}

  // Consumes bytes until the head is complete or fails; later input is ignored.
  State feed(std::string_view bytes);
  State state() const { return state_; }
  const Request& request() const { return request_; }  // meaningful once Complete
  int error_status() const { return error_status_; }    // 400, 431 or 505 once Failed

 private:
  void line(std::string_view l);  // one line without its LF
  void fail(int status) {
    state_ = State::Failed;
    error_status_ = status;
  }

  std::size_t max_bytes_;
  std::size_t seen_ = 0;  // bytes consumed, counted against max_bytes_
  std::string partial_;   // the current line so far
  bool have_request_line_ = false;
  State state_ = State::NeedMore;
  int error_status_ = 0;
  Request request_;
};

// A complete HTTP/1.1 response with Content-Length and Connection: close.
// extra_headers are whole "Name: value\r\n" lines. With head = true the body
// is left out but Content-Length still gives its size (RFC 9110 §9.3.2).
std::string format_response(int status, std::string_view content_type, std::string_view body, bool head,
                            std::string_view extra_headers = {});

// "OK", "Not Found", ...; "Unknown" for codes tern never sends.
std::string_view reason_phrase(int status);

}  // namespace tern::metrics
