// Tests metrics/http_request.cc: every input fed whole, one byte at a time,
// and with trailing bytes after the head (h11's tr()).

#include "metrics/http_request.h"

#include <gtest/gtest.h>

#include <string>

namespace tern::metrics {
namespace {

using State = RequestParser::State;
using namespace std::string_literals;

struct Case {
  const char* what;
  std::string input;
  State want;
  int status = 0;           // when Failed
  std::string method = {};  // when Complete
  std::string path = {};
};

std::string repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

const Case kCases[] = {
    {"prometheus scrape", "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9464\r\nUser-Agent: Prometheus/2.42.0\r\n"
     "Accept: text/plain;version=0.0.4;q=1\r\nAccept-Encoding: gzip\r\n\r\n", State::Complete, 0, "GET", "/metrics"},
    {"http/1.0, no headers", "GET /healthz HTTP/1.0\r\n\r\n", State::Complete, 0, "GET", "/healthz"},
    {"head", "HEAD /readyz HTTP/1.1\r\nHost: x\r\n\r\n", State::Complete, 0, "HEAD", "/readyz"},
    {"post is parsed; routing refuses it", "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", State::Complete, 0,
     "POST", "/metrics"},
    {"query dropped", "GET /metrics?name[]=x HTTP/1.1\r\n\r\n", State::Complete, 0, "GET", "/metrics"},
    {"bare LF lines", "GET /metrics HTTP/1.1\nHost: x\n\n", State::Complete, 0, "GET", "/metrics"},
    {"leading empty line", "\r\nGET / HTTP/1.1\r\n\r\n", State::Complete, 0, "GET", "/"},
    {"absolute-form", "GET http://127.0.0.1:9464/metrics HTTP/1.1\r\n\r\n", State::Complete, 0, "GET", "/metrics"},
    {"absolute-form https, no path", "GET HTTPS://host HTTP/1.1\r\n\r\n", State::Complete, 0, "GET", "/"},
    {"absolute-form, query only", "GET http://host?x HTTP/1.1\r\n\r\n", State::Complete, 0, "GET", "/"},
    {"asterisk-form", "OPTIONS * HTTP/1.1\r\n\r\n", State::Complete, 0, "OPTIONS", "*"},
    {"empty header value", "GET / HTTP/1.1\r\nX-Empty:\r\n\r\n", State::Complete, 0, "GET", "/"},
    {"http/1.9 is 1.x", "GET / HTTP/1.9\r\n\r\n", State::Complete, 0, "GET", "/"},

    {"incomplete request line", "GET /metrics HTT", State::NeedMore},
    {"incomplete head", "GET /metrics HTTP/1.1\r\nHost: x\r\n", State::NeedMore},
    {"only CR of the end", "GET /metrics HTTP/1.1\r\n\r", State::NeedMore},

    {"garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n"s, State::Failed, 400},
    {"tls client hello, no newline", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"s, State::Failed, 400},
    {"NUL in request line", "GET /\0 HTTP/1.1\r\n"s, State::Failed, 400},
    {"DEL in header", "GET / HTTP/1.1\r\nA: \x7f\r\n\r\n", State::Failed, 400},
    {"tab in header value", "GET / HTTP/1.1\r\nA:\tb\r\n\r\n", State::Complete, 0, "GET", "/"},
    {"obs-text in header value", "GET / HTTP/1.1\r\nA: caf\xc3\xa9\r\n\r\n", State::Complete, 0, "GET", "/"},
    {"http/0.9", "GET /\r\n", State::Failed, 400},
    {"two spaces", "GET  / HTTP/1.1\r\n", State::Failed, 400},
    {"trailing space", "GET / HTTP/1.1 \r\n", State::Failed, 400},
    {"lower-case version", "GET / http/1.1\r\n", State::Failed, 400},
    {"version junk", "GET / HTTP/1.1x\r\n", State::Failed, 400},
    {"http/2", "GET / HTTP/2.0\r\n", State::Failed, 505},
    {"bad method char", "GE(T / HTTP/1.1\r\n", State::Failed, 400},
    {"relative target", "GET metrics HTTP/1.1\r\n", State::Failed, 400},
    {"ftp target", "GET ftp://x/metrics HTTP/1.1\r\n", State::Failed, 400},
    {"control char in target", "GET /me\x01trics HTTP/1.1\r\n", State::Failed, 400},
    {"bare CR", "GET / HTTP/1.1\rHost: x\r\n\r\n", State::Failed, 400},
    {"NUL in header", "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n"s, State::Failed, 400},
    {"header without colon", "GET / HTTP/1.1\r\nHost\r\n\r\n", State::Failed, 400},
    {"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", State::Failed, 400},
    {"empty header name", "GET / HTTP/1.1\r\n: x\r\n\r\n", State::Failed, 400},
    {"obs-fold", "GET / HTTP/1.1\r\nX-A: 1\r\n  2\r\n\r\n", State::Failed, 400},
    {"too long request line", "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n", State::Failed, 431},
    {"too long without newline", std::string(9000, 'a'), State::Failed, 431},
    {"too many headers", "GET / HTTP/1.1\r\n" + repeat("X-H: v\r\n", 1200) + "\r\n", State::Failed, 431},
    {"endless empty lines", std::string(9000, '\n'), State::Failed, 431},
};

void check(const Case& c, RequestParser& p, State got) {
  ASSERT_EQ(got, c.want);
  ASSERT_EQ(p.state(), c.want);
  if (c.want == State::Failed) {
    EXPECT_EQ(p.error_status(), c.status);
  }
  if (c.want == State::Complete) {
    EXPECT_EQ(p.request().method, c.method);
    EXPECT_EQ(p.request().path, c.path);
  }
}

TEST(RequestParser, Whole) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.what);
    RequestParser p;
    check(c, p, p.feed(c.input));
  }
}

TEST(RequestParser, ByteByByte) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.what);
    RequestParser p;
    State got = p.state();
    for (char ch : c.input) got = p.feed(std::string_view(&ch, 1));
    check(c, p, got);
  }
}

TEST(RequestParser, WithTrailingBytes) {
  // A body, a pipelined request or junk after the head changes nothing.
  for (const Case& c : kCases) {
    if (c.want == State::NeedMore) continue;
    SCOPED_TRACE(c.what);
    RequestParser p;
    check(c, p, p.feed(c.input + "DELETE /x HTTP/1.1\r\n\r\n\x01\x02"));
    check(c, p, p.feed("more"));
  }
}

TEST(RequestParser, LimitIsExactlyMaxBytes) {
  const std::string head = "GET /metrics HTTP/1.1\r\n\r\n";
  RequestParser fits(head.size());
  EXPECT_EQ(fits.feed(head), State::Complete);
  RequestParser over(head.size() - 1);
  EXPECT_EQ(over.feed(head), State::Failed);
  EXPECT_EQ(over.error_status(), 431);
}

TEST(FormatResponse, GetAndHead) {
  EXPECT_EQ(format_response(200, "text/plain", "ok\n", false),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\nok\n");
  EXPECT_EQ(format_response(405, "text/plain", "no\n", true, "Allow: GET, HEAD\r\n"),
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\nAllow: GET, HEAD\r\n\r\n");
}

TEST(FormatResponse, ReasonPhrases) {
  const std::pair<int, std::string_view> rows[] = {
      {200, "OK"},           {400, "Bad Request"},
      {404, "Not Found"},    {405, "Method Not Allowed"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"}, {503, "Service Unavailable"},
      {505, "HTTP Version Not Supported"}, {299, "Unknown"},
  };
  for (const auto& [code, phrase] : rows) EXPECT_EQ(reason_phrase(code), phrase) << code;
}

}  // namespace
}  // namespace tern::metrics
