"""Hostile and careless clients against `tern serve`, over real sockets on loopback.

SMTP smuggling (every end-of-data look-alike, bare CR/LF in data and in
commands), oversize messages and too many recipients, a 1 MiB line and random
binary input, connection limits and the idle timeout. After each attack a
fresh, normal session must still get its 250, and nothing the attacker
smuggled may be in the queue. The relayhost is down, so whatever tern
accepted stays visible in `tern queue list`.
"""

import os
import random
import ssl
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

from ternlib import (SmtpConn, Tern, TestFailure, check, free_port, queued_id, run_tests,  # noqa: E402
                     wait_until)


def open_tern(workdir, submission=None, name="tern"):
    """A tern that trusts loopback (no AUTH needed) and relays to a port where nobody listens."""
    sub = {"trusted_networks": ["127.0.0.0/8"]}
    sub.update(submission or {})
    return Tern(workdir, {"submission": sub,
                          "delivery": {"mode": "relayhost", "relayhost": f"127.0.0.1:{free_port()}",
                                       "relayhost_tls": "none"}}, name=name).start()


def submit(port, subject, rcpt="bob@example.test", body="hello\r\n", source=None):
    """One normal session; returns the queue id from the 250."""
    c = SmtpConn(port, source=source)
    check(c.greeting[0] == 220, f"greeting {c.greeting}")
    c.expect("EHLO app.test", 250)
    c.expect("MAIL FROM:<app@src.test>", 250)
    c.expect(f"RCPT TO:<{rcpt}>", 250)
    c.expect("DATA", 354)
    code, text = c.cmd(f"Subject: {subject}\r\n\r\n{body}.")
    check(code == 250 and queued_id(text), f"normal session after the attack: {text!r}")
    c.expect("QUIT", 221)
    c.close()
    return queued_id(text)


def replies_until_close(c, timeout=15):
    """Every reply line the server sends until it hangs up."""
    check(c.closed(timeout), f"the server kept the connection open; got {c.buf!r}")
    return [ln for ln in c.buf.decode("utf-8", "replace").split("\r\n") if ln]


SMUGGLED = (b"MAIL FROM:<smuggler@evil.test>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\n"
            b"Subject: smuggled\r\n\r\nsmuggled body\r\n")

# name -> what stands where a real "<CR><LF>.<CR><LF>" would end the data.
DATA_VARIANTS = {
    "<LF>.<LF>": b"\n.\n",
    "<CR>.<CR>": b"\r.\r",
    "<LF>.<CR><LF>": b"\n.\r\n",
    "<CR><LF>.<LF>": b"\r\n.\n",
    "<CR><LF>.<CR>": b"\r\n.\r",
    "<CR>.<LF>": b"\r.\n",
    "bare <LF> in a line": b"\nX-Bare: lf\r\n",
    "bare <CR> in a line": b"\rX-Bare: cr\r\n",
}

# Bare line ends in the command phase: what follows the bare one must never run.
COMMAND_VARIANTS = {
    "bare <LF> after EHLO": b"EHLO app.test\nMAIL FROM:<smuggler@evil.test>\r\n",
    "bare <CR> after EHLO": b"EHLO app.test\rMAIL FROM:<smuggler@evil.test>\r\n",
    "bare <LF> in RCPT": b"EHLO app.test\r\nMAIL FROM:<a@src.test>\r\nRCPT TO:<victim@example.test>\nDATA\r\n",
}


def test_smuggling_variants(workdir):
    tern = open_tern(workdir)
    legit = []
    for name, fake_end in DATA_VARIANTS.items():
        for split in (False, True):
            c = SmtpConn(tern.submission_port)
            c.expect("EHLO app.test", 250)
            c.expect("MAIL FROM:<app@src.test>", 250)
            c.expect("RCPT TO:<bob@example.test>", 250)
            c.expect("DATA", 354)
            payload = b"Subject: carrier\r\n\r\nline one" + fake_end + SMUGGLED + b".\r\nQUIT\r\n"
            try:
                if split:  # the look-alike at a segment boundary, then the rest a byte at a time
                    cut = payload.index(fake_end) + 1
                    c.send(payload[:cut])
                    for i in range(cut, len(payload)):
                        c.send(payload[i:i + 1])
                else:
                    c.send(payload)
            except OSError:
                pass  # tern may hang up before it has read everything
            lines = replies_until_close(c)
            check(lines and lines[0].startswith("5"), f"{name} (split={split}): want a 5xx first, got {lines}")
            check(not any(ln.startswith(("250", "354")) for ln in lines),
                  f"{name} (split={split}): something was accepted: {lines}")
            c.close()
            legit.append(submit(tern.submission_port, f"after {name} {split}"))
    for name, payload in COMMAND_VARIANTS.items():
        c = SmtpConn(tern.submission_port)
        try:
            c.send(payload)
        except OSError:
            pass
        lines = replies_until_close(c)
        check(any(ln.startswith("5") for ln in lines), f"{name}: want a 5xx, got {lines}")
        check(not any(ln.startswith(("250 2.1.5", "354")) for ln in lines), f"{name}: a command after the bare "
              f"line end ran: {lines}")
        c.close()
        legit.append(submit(tern.submission_port, f"after {name}"))

    queued = tern.queue_list()
    check(sorted(m["id"] for m in queued) == sorted(legit),
          f"queue holds {[m['id'] for m in queued]}, want only the normal sessions' {legit}")
    for m in queued:
        check(m["sender"] == "app@src.test" and [r["address"] for r in m["recipients"]] == ["bob@example.test"],
              f"smuggled envelope in the queue: {m}")
    refused = tern.metric("tern_messages_rejected_total", {"reason": "bare_newline"})
    want = 2 * len(DATA_VARIANTS) + len(COMMAND_VARIANTS)
    check(refused == want, f"tern_messages_rejected_total{{reason=bare_newline}} = {refused}, want {want}")


def test_starttls_command_injection(workdir):
    """Commands pipelined after STARTTLS in plaintext are dropped, never run under TLS (CVE-2011-0411)."""
    tern = open_tern(workdir, {"trusted_networks": []})
    c = SmtpConn(tern.submission_port)
    c.expect("EHLO app.test", 250)
    c.send("STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\nRCPT TO:<victim@example.test>\r\n")
    code, text = c.reply()
    check(code == 220, f"STARTTLS: {text!r}")
    check(c.buf == b"", f"replies to the injected plaintext commands: {c.buf!r}")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c.sock = ctx.wrap_socket(c.sock, server_hostname="127.0.0.1")
    # The first reply under TLS answers our EHLO: nothing injected was executed or is pending.
    ehlo = c.expect("EHLO app.test", 250)
    check("AUTH PLAIN LOGIN" in ehlo, f"EHLO under TLS: {ehlo!r}")
    code, text = c.cmd("RCPT TO:<victim@example.test>")
    check(code == 503, f"RCPT must find no MAIL transaction: {text!r}")
    c.expect("QUIT", 221)
    c.close()
    check(tern.queue_list() == [], "something was queued")


def test_oversize_and_too_many_recipients(workdir):
    tern = open_tern(workdir, {"max_message_size": 20000, "max_recipients": 3})
    c = SmtpConn(tern.submission_port)
    ehlo = c.expect("EHLO app.test", 250)
    check("SIZE 20000" in ehlo, f"EHLO must advertise the limit: {ehlo!r}")
    code, text = c.cmd("MAIL FROM:<app@src.test> SIZE=20001")
    check(code == 552 and "5.3.4" in text, f"SIZE= over the limit: {text!r}")

    # No SIZE=, and a body over the limit: refused after the dot, nothing stored.
    c.expect("MAIL FROM:<app@src.test>", 250)
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.expect("DATA", 354)
    big = "Subject: big\r\n\r\n" + ("x" * 70 + "\r\n") * 400  # 28.8 kB
    code, text = c.cmd(big + ".")
    check(code == 552 and "5.3.4" in text, f"body over the limit: {text!r}")

    # A lying SIZE= gets the same after the dot.
    c.expect("MAIL FROM:<app@src.test> SIZE=1000", 250)
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.expect("DATA", 354)
    code, text = c.cmd(big + ".")
    check(code == 552 and "5.3.4" in text, f"body over the limit after SIZE=1000: {text!r}")

    # A line over 1000 octets in the data.
    c.expect("MAIL FROM:<app@src.test>", 250)
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.expect("DATA", 354)
    code, text = c.cmd("Subject: long line\r\n\r\n" + "y" * 1200 + "\r\n.")
    check(code == 550 and "5.6.0" in text, f"1200-octet line: {text!r}")

    # The session goes on: the fourth recipient gets 452 4.5.3, the other three are taken.
    c.expect("MAIL FROM:<app@src.test> SIZE=19000", 250)
    for i in range(3):
        c.expect(f"RCPT TO:<r{i}@example.test>", 250)
    code, text = c.cmd("RCPT TO:<r3@example.test>")
    check(code == 452 and "4.5.3" in text, f"fourth recipient: {text!r}")
    c.expect("DATA", 354)
    code, text = c.cmd("Subject: near the limit\r\n\r\n" + ("z" * 70 + "\r\n") * 250 + ".")  # 18 kB
    check(code == 250, f"a message under the limit: {text!r}")
    qid = queued_id(text)
    c.expect("QUIT", 221)
    c.close()

    queued = tern.queue_list()
    check([m["id"] for m in queued] == [qid], f"queue: {queued}")
    check(sorted(r["address"] for r in queued[0]["recipients"]) == [f"r{i}@example.test" for i in range(3)],
          f"recipients: {queued[0]['recipients']}")
    check(tern.metric("tern_messages_rejected_total", {"reason": "size"}) == 3, "size refusals not counted")
    check(tern.metric("tern_messages_rejected_total", {"reason": "recipients"}) == 1, "452 4.5.3 not counted")


def test_long_line_and_garbage(workdir):
    tls_port = free_port()
    tern = open_tern(workdir, {"listen_tls": [f"127.0.0.1:{tls_port}"]})
    rng = random.Random(20240603)
    alive = []

    def attack(name, port, before=(), payload=b"", tls=False):
        c = SmtpConn(port, greeting=not tls)
        for line in before:
            c.expect(line[0], line[1])
        try:
            c.send(payload)
            c.send(b"\r\nQUIT\r\n")  # whatever state the garbage left: end the line, ask to leave
        except OSError:
            pass  # tern hung up first: fine
        # It answers and ends the session within the deadline: no hang, no crash.
        check(c.closed(timeout=20), f"{name}: the session did not end; got {c.buf[:300]!r}")
        c.close()
        check(tern.proc.poll() is None, f"tern died after {name}")
        alive.append(submit(tern.submission_port, f"after {name}"))
        return c.buf.decode("utf-8", "replace")

    out = attack("a 1 MiB command line", tern.submission_port, payload=b"A" * (1 << 20))
    check(out.startswith("500 5.5.2") and "221 2.0.0" in out,
          f"a 1 MiB line: want 500 5.5.2 (line too long), then the session goes on to QUIT: {out[:300]!r}")
    out = attack("a 1 MiB data line", tern.submission_port,
                 before=[("EHLO app.test", 250), ("MAIL FROM:<app@src.test>", 250),
                         ("RCPT TO:<bob@example.test>", 250), ("DATA", 354)],
                 payload=b"Subject: x\r\n\r\n" + b"B" * (1 << 20) + b"\r\n.\r\n")
    check(out.startswith("550 5.6.0"), f"a 1 MiB data line must be refused with 550 5.6.0: {out[:300]!r}")
    for i in range(3):
        attack(f"random bytes #{i}", tern.submission_port, payload=rng.randbytes(256 * 1024))
    attack("random bytes in DATA", tern.submission_port,
           before=[("EHLO app.test", 250), ("MAIL FROM:<app@src.test>", 250),
                   ("RCPT TO:<bob@example.test>", 250), ("DATA", 354)],
           payload=rng.randbytes(256 * 1024))
    attack("random bytes on the TLS port", tls_port, payload=rng.randbytes(64 * 1024), tls=True)
    attack("random bytes after STARTTLS", tern.submission_port,
           before=[("EHLO app.test", 250), ("STARTTLS", 220)], payload=rng.randbytes(64 * 1024))

    queued = sorted(m["id"] for m in tern.queue_list())
    check(queued == sorted(alive), f"queue holds {queued}, want only the normal sessions' {sorted(alive)}")
    with urllib.request.urlopen(f"http://127.0.0.1:{tern.metrics_port}/healthz", timeout=5) as r:
        check(r.status == 200, f"/healthz {r.status}")
    # The implicit TLS port still serves a real client.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = SmtpConn(tls_port, tls=ctx)
    check(c.greeting[0] == 220, f"TLS greeting {c.greeting}")
    c.expect("EHLO app.test", 250)
    c.close()


def test_connection_limits(workdir):
    tern = open_tern(workdir, {"max_connections": 3, "max_connections_per_client": 2})

    def refused(source):
        c = SmtpConn(tern.submission_port, source=source, greeting=False)
        code, text = c.reply()
        check(code == 421 and "4.7.0" in text, f"connection from {source} over the limit: {text!r}")
        check(c.closed(), "a refused connection must be closed")
        c.close()

    # Tern.start()'s readiness probe was a connection too: wait until it no longer holds a slot.
    wait_until(lambda: tern.metric("tern_smtp_sessions_active", {"direction": "inbound"}) == 0,
               what="the start-up probe's session to end")
    a1 = SmtpConn(tern.submission_port, source="127.0.0.1")
    a2 = SmtpConn(tern.submission_port, source="127.0.0.1")
    check(a1.greeting[0] == 220 and a2.greeting[0] == 220,
          f"the first two from one client: {a1.greeting}, {a2.greeting}")
    refused("127.0.0.1")  # per client
    b1 = SmtpConn(tern.submission_port, source="127.0.0.2")
    check(b1.greeting[0] == 220, f"another client under both limits: {b1.greeting}")
    refused("127.0.0.3")  # overall
    # The admitted sessions are unaffected.
    for c in (a1, a2, b1):
        c.expect("EHLO app.test", 250)
    check(tern.metric("tern_smtp_sessions_active", {"direction": "inbound"}) == 3, "three sessions active")
    a1.expect("QUIT", 221)
    a1.close()

    def admitted():
        c = SmtpConn(tern.submission_port, source="127.0.0.3", greeting=False)
        code, _ = c.reply()
        if code == 220:
            return c
        c.close()
        return None
    c3 = wait_until(admitted, timeout=10, what="a slot to free after QUIT")
    c3.expect("EHLO app.test", 250)
    for c in (a2, b1, c3):
        c.close()
    check(tern.metric("tern_messages_rejected_total", {"reason": "connections"}) >= 2, "421s not counted")
    submit(tern.submission_port, "after the limits")


def test_idle_timeout(workdir):
    tern = open_tern(workdir, {"idle_timeout": "2s"})
    # Silent after the greeting.
    started = time.monotonic()
    c = SmtpConn(tern.submission_port)
    code, text = c.reply()
    took = time.monotonic() - started
    check(code == 421 and "4.4.2" in text, f"silent session: {text!r}")
    check(1.5 <= took <= 10, f"closed after {took:.1f}s, want about 2s")
    check(c.closed(), "the idle session must be closed")
    c.close()

    # A trickle of bytes that never completes a line does not keep it alive.
    c = SmtpConn(tern.submission_port)
    c.expect("EHLO app.test", 250)
    started = time.monotonic()
    try:
        for ch in b"NOOP" * 8:  # 32 bytes over at most 8 s, paced, never a CRLF
            c.send(bytes([ch]))
            if c.closed(timeout=0.25):
                break
    except OSError:
        pass
    took = time.monotonic() - started
    check("421 4.4.2" in c.buf.decode() and took <= 7, f"trickling session after {took:.1f}s: {c.buf!r}")
    c.close()

    # Whole commands, each within the timeout, keep a session alive longer than the timeout.
    c = SmtpConn(tern.submission_port)
    started = time.monotonic()
    while time.monotonic() - started < 4:
        c.expect("NOOP", 250)
        if c.closed(timeout=0.5):
            raise TestFailure(f"an active session was closed: {c.buf!r}")
    c.expect("QUIT", 221)
    c.close()
    check(tern.metric("tern_messages_rejected_total", {"reason": "timeout"}) == 2, "timeouts not counted")


if __name__ == "__main__":
    run_tests([
        test_smuggling_variants,
        test_starttls_command_injection,
        test_oversize_and_too_many_recipients,
        test_long_line_and_garbage,
        test_connection_limits,
        test_idle_timeout,
    ])
