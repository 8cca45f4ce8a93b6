#pragma once
// sysexits.h codes used by the CLI, named once so every subcommand agrees.

namespace tern::relay {
inline constexpr int kExOk = 0;
inline constexpr int kExUsage = 64;        // EX_USAGE: bad command line
inline constexpr int kExDataErr = 65;      // EX_DATAERR: bad input data
inline constexpr int kExNoInput = 66;      // EX_NOINPUT: input file missing
inline constexpr int kExNoUser = 67;       // EX_NOUSER: addressee / account unknown
inline constexpr int kExUnavailable = 69;  // EX_UNAVAILABLE: service unavailable / not built
inline constexpr int kExSoftware = 70;     // EX_SOFTWARE: internal error
inline constexpr int kExOsErr = 71;        // EX_OSERR
inline constexpr int kExCantCreat = 73;    // EX_CANTCREAT
inline constexpr int kExIoErr = 74;        // EX_IOERR
inline constexpr int kExTempFail = 75;     // EX_TEMPFAIL: try again later
inline constexpr int kExNoPerm = 77;       // EX_NOPERM: permission / auth refused
inline constexpr int kExConfig = 78;       // EX_CONFIG: configuration error
}  // namespace tern::relay
