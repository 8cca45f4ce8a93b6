#include "queue/queue_id.h"

#include <atomic>
#include <random>
#include <string_view>

namespace tern::queue {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// (millis << 16 | sequence) of the last id handed out by this process.
std::atomic<std::uint64_t> g_last{0};

std::uint16_t process_salt() {
  // Drawn once (one getrandom) on first use; function-local statics are thread-safe.
  static const std::uint16_t salt = [] {
    std::random_device device;
    return static_cast<std::uint16_t>(device() & 0xffff);
  }();
  return salt;
}

}  // namespace

std::string format_queue_id(std::uint64_t millis, std::uint16_t sequence, std::uint16_t salt) {
  // 80 bits: 48 of time, 16 of sequence, 16 of salt, written 5 bits per character.
  std::uint64_t high = (millis & 0xffffffffffffULL) << 16 | sequence;  // top 64 bits
  std::uint64_t low = salt;                                            // bottom 16 bits
  std::string out(kQueueIdLength, '0');
  for (std::size_t i = 0; i < kQueueIdLength; ++i) {
    // Character i holds bits [79 - 5i, 75 - 5i] of the 80-bit number.
    int shift = 75 - static_cast<int>(5 * i);
    unsigned value;
    if (shift >= 16) {
      value = static_cast<unsigned>((high >> (shift - 16)) & 31);
    } else if (shift + 5 <= 16) {
      value = static_cast<unsigned>((low >> shift) & 31);
    } else {  // straddles the 64/16 boundary
      unsigned from_high = static_cast<unsigned>(high & ((1u << (shift + 5 - 16)) - 1));
      value = (from_high << (16 - shift)) | static_cast<unsigned>(low >> shift);
      value &= 31;
    }
    out[i] = kAlphabet[value];
  }
  return out;
}

std::string make_queue_id() {
  auto now = std::chrono::system_clock::now();
  auto ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
  std::uint64_t candidate = (ms & 0xffffffffffffULL) << 16;
  std::uint64_t last = g_last.load(std::memory_order_relaxed);
  std::uint64_t next;
  do {
    next = candidate > last ? candidate : last + 1;
  } while (!g_last.compare_exchange_weak(last, next, std::memory_order_relaxed));
  return format_queue_id(next >> 16, static_cast<std::uint16_t>(next & 0xffff), process_salt());
}

bool is_queue_id(std::string_view text) {
  if (text.size() != kQueueIdLength) return false;
  for (char c : text) {
    if (std::string_view(kAlphabet).find(c) == std::string_view::npos) return false;
  }
  return true;
}

}  // namespace tern::queue
