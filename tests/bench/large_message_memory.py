#!/usr/bin/python3
"""tern's memory while it relays large messages.

Starts tern (relayhost mode, fsync on as always) in front of an aiosmtpd
sink, submits N messages of M MiB at once over N connections, waits until
the sink has them all, and samples /proc/<pid>/status every 5 ms meanwhile:
peak RssAnon (heap: what tern allocated) and peak RssFile (file pages
mapped: bodies over 1 MiB are delivered from spool/bodies/ mapped, which is
page cache the kernel can drop). Tern alone, not against Postfix: Postfix
streams its queue files the same way, so its heap is small too.

With --tls, tern delivers in MX mode (dnsmasq serving the MX record) to a
sink that offers STARTTLS, so every body goes out encrypted: the path where
a body handed to the connection whole would be copied whole as ciphertext.

Usage: TERNTEST_BIN=build-bench/tern tests/bench/large_message_memory.py [--tls] [N] [MiB]
(defaults 8 and 20). A bounded run: N messages, then it stops.
"""

import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration", "lib"))

from ternlib import DeliveryLab, Sink, SmtpConn, Tern, _cleanup, check, make_cert  # noqa: E402


def main():
    args = sys.argv[1:]
    tls = "--tls" in args
    args = [a for a in args if a != "--tls"]
    n = int(args[0]) if args else 8
    mib = int(args[1]) if len(args) > 1 else 20
    workdir = tempfile.mkdtemp(prefix="tern-bench-")
    submission = {"trusted_networks": ["127.0.0.0/8"], "max_message_size": (mib + 1) << 20}
    if tls:
        lab = DeliveryLab(workdir, mx=[("example.test", "mx1.example.test", 10)],
                          hosts=[("mx1.example.test", "127.0.0.2")])
        sink = lab.sink("127.0.0.2", tls=make_cert(workdir, "mx1.example.test", ()))
        tern = lab.start_tern(config={"submission": submission})
    else:
        sink = Sink().start()
        tern = Tern(workdir, {"submission": submission,
                              "delivery": {"mode": "relayhost", "relayhost": f"127.0.0.1:{sink.port}",
                                           "relayhost_tls": "none"}}).start()
    line = b"0123456789" * 7 + b"\r\n"
    body = b"Subject: large\r\n\r\n" + line * ((mib << 20) // len(line))

    def submit():
        c = SmtpConn(tern.submission_port, timeout=300)
        c.expect("EHLO bench.test", 250)
        c.expect("MAIL FROM:<app@src.test>", 250)
        c.expect("RCPT TO:<bob@example.test>", 250)
        c.expect("DATA", 354)
        code, text = c.cmd(body + b".\r\n", raw=True)
        check(code == 250, f"DATA: {text!r}")
        c.close()

    peak = {"RssAnon": 0, "RssFile": 0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            try:
                with open(f"/proc/{tern.proc.pid}/status") as f:
                    for ln in f:
                        key = ln.split(":")[0]
                        if key in peak:
                            peak[key] = max(peak[key], int(ln.split()[1]))
            except OSError:
                pass
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.monotonic()
    clients = [threading.Thread(target=submit) for _ in range(n)]
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    sink.wait_for(n, timeout=300)
    elapsed = time.monotonic() - started
    done.set()
    sampler.join()
    _cleanup()
    check(not tls or all(m["tls"] for m in sink.messages), "a message went out without TLS")
    print(f"{n} x {mib} MiB at once{' (delivered over STARTTLS)' if tls else ''}, "
          f"submitted and delivered in {elapsed:.2f} s")
    print(f"tern peak RssAnon (heap) {peak['RssAnon'] / 1024:.1f} MB, "
          f"peak RssFile (mapped bodies, page cache) {peak['RssFile'] / 1024:.1f} MB")


if __name__ == "__main__":
    main()
