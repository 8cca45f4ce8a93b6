// ServerSession's AUTH (RFC 4954): PLAIN (RFC 4616) and LOGIN, offered only
// under TLS. The session decodes the client's responses and hands the
// credentials to the relay (Authenticate); it never judges a password itself.

#include <string>
#include <utility>

#include "smtp/encoding.h"
#include "smtp/server_session.h"

namespace tern::smtp {

namespace {

// RFC 4954 §4: "=" is an empty initial response.
std::optional<std::string> decode_initial(std::string_view text) {
  if (text == "=") return std::string();
  return base64_decode(text);
}

}  // namespace

void ServerSession::on_auth(Command& c) {
  if (!have_helo_) return protocol_error("503 5.5.1 Error: send HELO/EHLO first", "sequence");
  if (!tls_active_) {
    say("538 5.7.11 Encryption required for requested authentication mechanism");
    return reject("auth");
  }
  if (authenticated()) return protocol_error("503 5.5.1 Error: already authenticated", "sequence");
  if (have_mail_) return protocol_error("503 5.5.1 Error: MAIL transaction in progress", "sequence");
  const bool plain = c.argument == "PLAIN";
  if (!plain && c.argument != "LOGIN") {
    return protocol_error("504 5.5.4 Unrecognized authentication type", "syntax");
  }
  if (!c.initial_response) {
    return plain ? challenge("334 ", AuthStep::PlainResponse) : challenge("334 VXNlcm5hbWU6", AuthStep::LoginUser);
  }
  std::optional<std::string> decoded = decode_initial(*c.initial_response);
  if (!decoded) return protocol_error("501 5.5.2 Cannot decode response", "syntax");
  if (plain) return auth_plain(std::move(*decoded));
  auth_login_user(std::move(*decoded));
}

void ServerSession::challenge(std::string_view reply_line, AuthStep step) {
  say(reply_line);
  auth_step_ = step;
  state_ = ServerState::AuthChallenge;
  lines_.set_auth_continuation(true);
}

void ServerSession::end_auth() {
  auth_step_ = AuthStep::None;
  lines_.set_auth_continuation(false);
  login_user_.clear();
  state_ = have_helo_ ? ServerState::Ready : ServerState::Greeting;
}

void ServerSession::on_auth_response(std::string_view line) {
  const AuthStep step = auth_step_;
  std::string user = std::move(login_user_);
  end_auth();
  if (line == "*") {
    say("501 5.7.0 Authentication aborted");
    return count_error("auth");
  }
  std::optional<std::string> decoded = base64_decode(line);
  if (!decoded) return protocol_error("501 5.5.2 Cannot decode response", "syntax");
  switch (step) {
    case AuthStep::PlainResponse: return auth_plain(std::move(*decoded));
    case AuthStep::LoginUser: return auth_login_user(std::move(*decoded));
    case AuthStep::LoginPassword:
      emit(server::Authenticate{"LOGIN", {}, user, std::move(*decoded)});
      pending_auth_user_ = std::move(user);
      state_ = ServerState::AwaitingAuth;
      return;
    case AuthStep::None: return;  // not reached: AuthChallenge always has a step
  }
}

void ServerSession::auth_plain(std::string decoded) {
  // authzid NUL authcid NUL passwd, exactly (RFC 4616 §2).
  const std::size_t first = decoded.find('\0');
  const std::size_t second = first == std::string::npos ? first : decoded.find('\0', first + 1);
  if (second == std::string::npos || decoded.find('\0', second + 1) != std::string::npos ||
      second == first + 1) {
    return protocol_error("501 5.5.2 Error: malformed PLAIN response", "syntax");
  }
  server::Authenticate a{"PLAIN", decoded.substr(0, first), decoded.substr(first + 1, second - first - 1),
                         decoded.substr(second + 1)};
  if (!a.authzid.empty() && a.authzid != a.user) {
    // RFC 4616 §2: the client asks to act as someone else; nobody may here. Refused
    // before any password check, so it neither confirms nor tests the password.
    return auth_failed("535 5.7.8 Error: authorization identity must be empty or the user name");
  }
  pending_auth_user_ = a.user;
  emit(std::move(a));
  state_ = ServerState::AwaitingAuth;
}

void ServerSession::auth_login_user(std::string decoded) {
  challenge("334 UGFzc3dvcmQ6", AuthStep::LoginPassword);
  login_user_ = std::move(decoded);
}

void ServerSession::auth_result(Status result) {
  if (state_ != ServerState::AwaitingAuth) return;
  state_ = have_helo_ ? ServerState::Ready : ServerState::Greeting;
  if (result) {
    auth_user_ = std::move(pending_auth_user_);
    say("235 2.7.0 Authentication successful");
  } else if (result.error().is_transient()) {
    say("454 4.7.0 Temporary authentication failure");
  } else {
    auth_failed("535 5.7.8 Error: authentication failed");
  }
  pending_auth_user_.clear();
  resume();
  finish_call();
}

void ServerSession::auth_failed(std::string_view reply_line) {
  say(reply_line);
  reject("auth");
  if (++auth_failures_ >= policy_.max_auth_failures) {
    say("421 4.7.0 " + policy_.hostname + " Error: too many authentication failures");
    close();
  }
}

}  // namespace tern::smtp
