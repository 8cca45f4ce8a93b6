// Line-end normalisation and the "." rule for `tern sendmail`. See sendmail_input.h.
#include "relay/sendmail_input.h"

namespace tern::relay {

Status MessageReader::put(std::string_view bytes) {
  if (out_.size() + bytes.size() > max_bytes_) {
    failed_ = true;
    return Error::permanent("message too big: more than " + std::to_string(max_bytes_) + " bytes");
  }
  out_.append(bytes);
  return {};
}

// The line in out_[line_start_..] is complete: a lone "." ends the input
// (and is not part of the message), anything else gets its CRLF.
Status MessageReader::end_line() {
  if (dot_ends_input_ && out_.size() - line_start_ == 1 && out_[line_start_] == '.') {
    out_.resize(line_start_);
    complete_ = true;
    return {};
  }
  if (Status st = put("\r\n"); !st) return st;
  line_start_ = out_.size();
  return {};
}

Status MessageReader::feed(std::string_view bytes) {
  if (failed_) return Error::permanent("message too big: more than " + std::to_string(max_bytes_) + " bytes");
  std::size_t i = 0;
  while (i < bytes.size() && !complete_) {
    if (pending_cr_) {
      pending_cr_ = false;
      if (bytes[i] == '\n') ++i;  // CRLF: the line end was already written for the CR
      continue;
    }
    // Copy the run of ordinary bytes in one go.
    std::size_t run = bytes.find_first_of("\r\n", i);
    if (run == std::string_view::npos) run = bytes.size();
    if (run > i) {
      if (Status st = put(bytes.substr(i, run - i)); !st) return st;
      i = run;
      continue;
    }
    // CR, LF or CR LF: one line end. A CR at the end of this chunk may be
    // followed by LF at the start of the next.
    if (bytes[i] == '\r') pending_cr_ = true;
    ++i;
    if (Status st = end_line(); !st) return st;
  }
  return {};
}

Status MessageReader::finish() {
  if (failed_) return Error::permanent("message too big: more than " + std::to_string(max_bytes_) + " bytes");
  if (complete_ || out_.size() == line_start_) return {};
  return end_line();
}

}  // namespace tern::relay
