"""What a 250 promises, proven from outside: `tern serve` killed, stopped, out of disk.

- kill -9 while concurrent clients submit: after a restart on the same spool
  every message that got its 250 is in the queue (and then delivered), and
  the database passes SQLite's integrity check.
- SIGTERM: a transaction in flight finishes with 250, idle sessions get
  421 4.3.2, tern exits 0, and the message is in the queue after a restart.
- A 20 MiB message arrives intact at the relayhost.
- A full spool: 452 4.3.1, nothing half-stored, the daemon keeps serving and
  takes mail again once there is room.
"""

import os
import signal
import sqlite3
import sys
import threading
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

from ternlib import (Sink, SmtpConn, Tern, TestFailure, Tmpfs, check, free_port, port_open,  # noqa: E402
                     queued_id, run_tests, wait_until)


def relay_config(relay_port, submission=None):
    """Trusts loopback (no AUTH) and relays to relay_port: while nobody listens there, accepted mail stays queued."""
    sub = {"trusted_networks": ["127.0.0.0/8"]}
    sub.update(submission or {})
    return {"submission": sub,
            "delivery": {"mode": "relayhost", "relayhost": f"127.0.0.1:{relay_port}", "relayhost_tls": "none",
                         "retry_schedule": ["1s"]}}


def integrity(tern):
    path = os.path.join(tern.config["spool"], "queue.db")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def test_kill9_under_load(workdir):
    relay_port = free_port()
    tern = Tern(workdir, relay_config(relay_port)).start()
    acked = {}  # Message-ID -> queue id, for every 250 a client saw
    lock = threading.Lock()
    stop = threading.Event()
    errors = []
    clients, per_client = 8, 150  # bounded: at most 1200 messages

    def client(n):
        try:
            c = SmtpConn(tern.submission_port, timeout=30)
            c.expect("EHLO load.test", 250)
            for i in range(per_client):
                if stop.is_set():
                    return
                mid = f"<load-{n}-{i}@src.test>"
                # Pipelined envelope, then the message: the 250 is the only thing that counts.
                c.send(f"MAIL FROM:<app@src.test>\r\nRCPT TO:<rcpt{n}@example.test>\r\nDATA\r\n")
                for want in (250, 250, 354):
                    code, text = c.reply()
                    if code != want:
                        raise TestFailure(f"client {n}: {text!r}")
                body = ("x" * 76 + "\r\n") * 26
                code, text = c.cmd(f"Message-ID: {mid}\r\nSubject: load {n} {i}\r\n\r\n{body}.")
                if code != 250:
                    raise TestFailure(f"client {n}: end of data {text!r}")
                with lock:
                    acked[mid] = queued_id(text)
        except (TestFailure, OSError) as e:
            if not stop.is_set():
                errors.append(f"client {n}: {e}")

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    # The operator looks at the queue while mail streams in (a CLI connection opening and
    # closing the spool must not disturb the daemon's), then the kill comes in the middle
    # of the stream: after a good number of 250s, with every client still going.
    wait_until(lambda: len(acked) >= 50 or errors, timeout=90, what="50 acknowledged messages")
    check(len(tern.queue_list()) >= 50, "queue list during the load")
    tern.cli("queue", "summary", check_rc=0)
    wait_until(lambda: len(acked) >= 150 or errors or not any(t.is_alive() for t in threads), timeout=90,
               what="150 acknowledged messages")
    check(not errors, f"clients failed before the kill: {errors}")
    check(any(t.is_alive() for t in threads), "the load ended before the kill: nothing was in flight")
    stop.set()
    tern.kill9()
    for t in threads:
        t.join(timeout=30)
    with lock:
        acked_now = dict(acked)
    check(len(acked_now) >= 150 and len(acked_now) < clients * per_client, f"{len(acked_now)} acknowledged")

    tern.start()  # same spool, same ports
    check(integrity(tern) == "ok", "queue.db is corrupt after kill -9")
    queued = {m["id"]: m for m in tern.queue_list()}
    missing = [mid for mid, qid in acked_now.items() if qid not in queued]
    check(not missing, f"{len(missing)} of {len(acked_now)} acknowledged messages lost by kill -9, e.g. {missing[:5]}")
    log = tern.read_log()
    check(log.count("event=started") == 2, "tern did not restart")

    # Every acknowledged Message-ID reaches the relayhost once it is up.
    sink = Sink(port=relay_port).start()
    msgs = sink.wait_for(len(queued), timeout=90)
    delivered = set()
    for m in msgs:
        for line in m["data"].split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                delivered.add(line.split(b":", 1)[1].strip().decode())
    lost = sorted(set(acked_now) - delivered)
    check(not lost, f"{len(lost)} acknowledged Message-IDs never delivered after restart, e.g. {lost[:5]}")
    wait_until(lambda: tern.queue_list() == [], timeout=30, what="the queue to empty")
    print(f"  {len(acked_now)} acknowledged before kill -9, {len(queued)} queued after restart, "
          f"{len(msgs)} delivered", flush=True)


def test_sigterm_finishes_transaction(workdir):
    relay_port = free_port()
    tern = Tern(workdir, relay_config(relay_port)).start()
    busy = SmtpConn(tern.submission_port)
    busy.begin_data("app@src.test", "bob@example.test")
    busy.send("Message-ID: <sigterm-1@src.test>\r\nSubject: in flight\r\n\r\nfirst half\r\n")
    idle = SmtpConn(tern.submission_port)
    idle.expect("EHLO app.test", 250)

    mark = len(tern.read_log())
    tern.proc.send_signal(signal.SIGTERM)
    tern.wait_log("event=signal", after=mark)
    code, text = idle.reply()
    check(code == 421 and "4.3.2" in text, f"an idle session on SIGTERM: {text!r}")
    check(idle.closed(), "the idle session must be closed")
    wait_until(lambda: not port_open("127.0.0.1", tern.submission_port), timeout=10,
               what="the listener to close on SIGTERM")
    check(tern.proc.poll() is None, "tern exited with a transaction in flight")

    code, text = busy.cmd("second half\r\n.")
    check(code == 250 and queued_id(text), f"the in-flight transaction after SIGTERM: {text!r}")
    qid = queued_id(text)
    code, text = busy.cmd("MAIL FROM:<app@src.test>")
    check(code == 421 and "4.3.2" in text, f"the next transaction after SIGTERM: {text!r}")
    busy.close()
    rc = tern.proc.wait(timeout=30)
    check(rc == 0, f"tern exited {rc} after SIGTERM, want 0")
    check("event=stopped" in tern.read_log(), "no 'stopped' line")

    tern.start()
    queued = tern.queue_list()
    check([m["id"] for m in queued] == [qid], f"after restart the queue holds {queued}, want [{qid}]")
    body = tern.cli("queue", "show", qid, check_rc=0).stdout.decode()
    check("<sigterm-1@src.test>" in body, f"queue show {qid}:\n{body}")


def test_large_message_roundtrip(workdir):
    """A 20 MiB message (limit 21 MiB) is stored and delivered byte for byte."""
    sink = Sink().start()
    config = relay_config(sink.port, {"max_message_size": 21 * 1024 * 1024})
    tern = Tern(workdir, config).start()
    line = b"0123456789" * 7 + b"\r\n"
    body = b"Subject: large\r\nMessage-ID: <large-1@src.test>\r\n\r\n" + line * (20 * 1024 * 1024 // len(line))
    c = SmtpConn(tern.submission_port, timeout=120)
    c.expect("EHLO app.test", 250)
    c.expect(f"MAIL FROM:<app@src.test> SIZE={len(body)}", 250)
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.expect("DATA", 354)
    code, text = c.cmd(body + b".\r\n", raw=True)
    check(code == 250, f"20 MiB message: {text!r}")
    c.close()
    data = sink.wait_for(1, timeout=120)[0]["data"]
    check(data.endswith(body), f"the delivered message differs: {len(data)} bytes, sent {len(body)}")


def test_disk_full_gets_452(workdir):
    tern = Tern(workdir, relay_config(free_port()))
    fs = Tmpfs.for_spool(tern, "4m", "test_disk_full_gets_452")
    if fs is None:
        return
    tern.start()

    def transaction(c, subject, size):
        c.expect("MAIL FROM:<app@src.test>", 250)
        c.expect("RCPT TO:<bob@example.test>", 250)
        c.expect("DATA", 354)
        return c.cmd(f"Subject: {subject}\r\n\r\n" + ("d" * 98 + "\r\n") * (size // 100) + ".")

    c = SmtpConn(tern.submission_port)
    c.expect("EHLO app.test", 250)
    code, text = transaction(c, "before", 1000)
    check(code == 250, f"with room: {text!r}")
    first = queued_id(text)

    # Fill the spool's file system to the last byte.
    filler = os.path.join(tern.config["spool"], "filler")
    with open(filler, "wb", buffering=0) as f:
        for chunk in (1 << 16, 4096, 1):
            try:
                while True:
                    f.write(b"\0" * chunk)
            except OSError:
                pass
    check(os.statvfs(tern.config["spool"]).f_bavail == 0, "the tmpfs is not full")

    code, text = transaction(c, "full", 256 * 1024)
    check(code == 452 and "4.3.1" in text, f"disk full: {text!r}, want 452 4.3.1")
    # The daemon keeps serving: the same session and a new one.
    c.expect("NOOP", 250)
    code, text = transaction(c, "still full", 256 * 1024)
    check(code == 452 and "4.3.1" in text, f"still full: {text!r}")
    other = SmtpConn(tern.submission_port)
    other.expect("EHLO app.test", 250)
    other.close()
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{tern.metrics_port}/readyz", timeout=5)
        raise AssertionError("/readyz must not be 200 with a full spool")
    except urllib.error.HTTPError as e:
        check(e.code == 503, f"/readyz: {e.code}")
    check(tern.metric("tern_messages_rejected_total", {"reason": "storage"}) == 2, "storage refusals not counted")

    os.unlink(filler)
    code, text = transaction(c, "after", 256 * 1024)
    check(code == 250, f"room again: {text!r}")
    last = queued_id(text)
    c.expect("QUIT", 221)
    c.close()
    ids = sorted(m["id"] for m in tern.queue_list())
    check(ids == sorted([first, last]), f"queue holds {ids}, want only {[first, last]} (nothing half-stored)")
    check(integrity(tern) == "ok", "queue.db is corrupt after disk full")
    check("event=enqueue_failed" in tern.read_log(), "no log line for the failed commit")


if __name__ == "__main__":
    run_tests([
        test_kill9_under_load,
        test_sigterm_finishes_transaction,
        test_large_message_roundtrip,
        test_disk_full_gets_452,
    ])
