#pragma once
// Queue ids: 16 characters of Crockford base32 (0-9, A-Z without I L O U)
// encoding 48 bits of Unix time in milliseconds, a 16-bit sequence and 16 bits
// chosen at random once per process. Ids sort by time as plain strings; within
// a process they strictly increase (a clock stepping back borrows from the last
// id instead of repeating it); across processes the random part keeps them
// apart. Thread-safe and lock-free; one clock read per id, no other syscall.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace tern::queue {

inline constexpr std::size_t kQueueIdLength = 16;

std::string make_queue_id();

// The pure part, for tests: the id of (milliseconds since the epoch, sequence, salt).
std::string format_queue_id(std::uint64_t millis, std::uint16_t sequence, std::uint16_t salt);

// True for 16 characters of the Crockford alphabet (what `queue show ID` accepts).
bool is_queue_id(std::string_view text);

}  // namespace tern::queue
