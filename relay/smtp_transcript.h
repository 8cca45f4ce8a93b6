#pragma once
// SmtpTranscript: the SMTP dialogue `tern sendmail -v` prints on stderr.
// Server lines come out as "<<< 250 ok" (bytes fed in any split; a line shows
// once complete), client lines as ">>> MAIL FROM:<a@b>", notes as "*** ...".
// It never shows a secret: during AUTH the client's lines are masked
// ("AUTH PLAIN *****", "*****"), and the password and every base64 form we
// send are replaced by "*****" wherever they appear, server lines included
// (servers quote what they could not decode). The body is shown as its size.
// Writing fails silently with the stream; nothing here throws.

#include <cstddef>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern::relay {

class SmtpTranscript {
 public:
  // `out` must outlive the transcript. `user` set: AUTH will run with these.
  SmtpTranscript(std::ostream& out, const std::optional<std::string>& user, const std::string& password);

  void received(std::string_view bytes);
  // Client bytes (one or more CRLF-ended lines). in_auth: the session is
  // authenticating, so every line but the AUTH verb and mechanism is secret.
  void sent(std::string_view bytes, bool in_auth);
  void body(std::size_t size);  // the message went out: shown once, as its size
  void note(std::string_view line);

 private:
  std::string masked(std::string line) const;

  std::ostream& out_;
  std::vector<std::string> secrets_;  // longest first
  std::string partial_;               // server bytes of a line not yet complete
  bool body_shown_ = false;
};

}  // namespace tern::relay
