"""Large messages are streamed to the spool, never held whole in memory.

A body over 1 MiB goes to spool/bodies/<queue id> while it arrives; queue.db
keeps tern's trace header fields and the file's size, and delivery sends
the file mapped. These tests drive that with real peers on loopback
(smtplib/raw SMTP clients, dnsmasq, aiosmtpd sinks): the file is there
while the message is queued and gone once it is delivered; a refused,
reset or abandoned message leaves no file; kill -9 after the 250 loses
nothing; a file no message owns is removed at start; a full disk answers
452 4.3.1 and leaves nothing behind.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

from ternlib import (DeliveryLab, SmtpConn, Tern, Tmpfs, check, expect_queued_id, free_port,  # noqa: E402
                     queue_show, run_tests, wait_log, wait_queue_empty, wait_until)

EXAMPLE = dict(mx=[("example.test", "mx1.example.test", 10)], hosts=[("mx1.example.test", "127.0.0.2")])
LINE = b"0123456789" * 7 + b"\r\n"


def big_message(subject, mib):
    head = f"From: <a@src.test>\r\nTo: <big@example.test>\r\nSubject: {subject}\r\n" \
           f"Message-ID: <{subject}.{time.time_ns()}@src.test>\r\n\r\n".encode()
    return head + b".leading dot, stuffed on the wire\r\n" + LINE * (mib * 1024 * 1024 // len(LINE))


def send(port, message, rcpt="big@example.test", timeout=60):
    """One message over raw SMTP (dot-stuffed here); returns (code, text)."""
    c = SmtpConn(port, timeout=timeout)
    c.expect("EHLO app.test", 250)
    code, text = transaction(c, rcpt, message)
    c.expect("QUIT", 221)
    c.close()
    return code, text


def transaction(c, rcpt, message):
    """MAIL, RCPT, DATA and the message (dot-stuffed here) on an open SmtpConn: (code, text) of the end of data."""
    c.begin_data("a@src.test", rcpt, ehlo=None)
    wire = message.replace(b"\r\n.", b"\r\n..")
    if wire.startswith(b"."):
        wire = b"." + wire
    return c.cmd(wire + b".\r\n", raw=True)


def body_files(tern):
    d = os.path.join(tern.config["spool"], "bodies")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def test_large_body_is_a_spool_file_until_delivered(workdir):
    """12 MiB: while the MX defers it, the body is spool/bodies/<id> (and not
    in queue.db); `queue show` still shows its headers; once delivered on the
    retry it arrives byte for byte after tern's Received:, and the file goes."""
    lab = DeliveryLab(workdir, **EXAMPLE)
    mx = lab.sink("127.0.0.2", defer_first=1)
    tern = lab.start_tern(config={"submission": {"max_message_size": 20 * 1024 * 1024}})
    message = big_message("spooled", 12)
    code, text = send(tern.submission_port, message)
    check(code == 250, f"12 MiB message: {text!r}")
    qid = expect_queued_id(text)
    wait_log(tern, "delivery", msg=qid, result="deferred", timeout=30)
    check(body_files(tern) == [qid], f"spool/bodies holds {body_files(tern)}, want [{qid}]")
    size = os.path.getsize(os.path.join(tern.config["spool"], "bodies", qid))
    check(size == len(message), f"body file has {size} octets, the message {len(message)}")
    db = os.path.getsize(os.path.join(tern.config["spool"], "queue.db"))
    wal = os.path.join(tern.config["spool"], "queue.db-wal")
    db += os.path.getsize(wal) if os.path.exists(wal) else 0
    check(db < 4 * 1024 * 1024, f"queue.db and its WAL hold {db} octets: the body went into the database")
    show = queue_show(tern, qid)
    check("Subject: spooled" in show and "Received: from" in show, f"queue show lacks the headers:\n{show}")
    m = mx.wait_for(1, timeout=60)[0]
    check(m["data"].startswith(b"Received: from "), f"delivered without tern's Received: {m['data'][:80]!r}")
    check(m["data"].endswith(message), f"delivered {len(m['data'])} octets, not the message ({len(message)})")
    wait_queue_empty(tern)
    wait_until(lambda: body_files(tern) == [], timeout=10, what="the body file to be removed after delivery")
    received = wait_log(tern, "received", msg=qid)[0]
    check(int(received["size"]) > len(message), f"received size={received['size']}, message {len(message)}")


def test_refused_reset_and_abandoned_bodies_leave_no_file(workdir):
    """Over the size limit (552 after the dot), a BDAT chunk followed by RSET,
    and a client gone mid-DATA: each wrote a body file, none is left."""
    lab = DeliveryLab(workdir, **EXAMPLE)
    lab.sink("127.0.0.2")
    tern = lab.start_tern(config={"submission": {"max_message_size": 3 * 1024 * 1024}})
    code, text = send(tern.submission_port, big_message("too-big", 5))
    check(code == 552, f"5 MiB over a 3 MiB limit: {text!r}")
    check(body_files(tern) == [], f"after 552: {body_files(tern)}")

    c = SmtpConn(tern.submission_port)
    c.expect("EHLO app.test", 250)
    c.expect("MAIL FROM:<a@src.test>", 250)
    c.expect("RCPT TO:<big@example.test>", 250)
    chunk = LINE * (2 * 1024 * 1024 // len(LINE))
    code, text = c.cmd(f"BDAT {len(chunk)}\r\n".encode() + chunk, raw=True)
    check(code == 250, f"BDAT chunk: {text!r}")
    c.expect("RSET", 250)
    check(body_files(tern) == [], f"after RSET: {body_files(tern)}")
    c.expect("MAIL FROM:<a@src.test>", 250)
    c.expect("RCPT TO:<big@example.test>", 250)
    c.expect("DATA", 354)
    c.send(b"Subject: gone\r\n\r\n" + LINE * (3 * 1024 * 1024 // len(LINE)))
    wait_until(lambda: body_files(tern) != [], timeout=10, what="a body file for the DATA in progress")
    c.close()
    wait_until(lambda: body_files(tern) == [], timeout=10, what="the abandoned body file to be removed")
    code, text = send(tern.submission_port, big_message("after", 2))
    check(code == 250, f"a message after all that: {text!r}")
    wait_queue_empty(tern, timeout=30)
    check(body_files(tern) == [], f"after delivery: {body_files(tern)}")


def test_kill9_keeps_acknowledged_large_body_and_sweeps_orphans(workdir):
    """kill -9 after the 250 (the MX down): after restart the message is
    delivered intact; a body file that no message owns is removed at start."""
    lab = DeliveryLab(workdir, **EXAMPLE)
    tern = lab.start_tern()
    message = big_message("crash", 6)
    code, text = send(tern.submission_port, message)
    check(code == 250, f"6 MiB message: {text!r}")
    qid = expect_queued_id(text)
    tern.kill9()
    orphan = os.path.join(tern.config["spool"], "bodies", "ORPHAN0000000001")
    with open(orphan, "wb") as f:
        f.write(b"left by a crash before its row committed\r\n")
    mx = lab.sink("127.0.0.2")
    tern.start()
    wait_log(tern, "body_files_swept", count=1)
    check(not os.path.exists(orphan), "the orphan body file is still there")
    m = mx.wait_for(1, timeout=60)[0]
    check(m["data"].endswith(message), f"after kill -9: delivered {len(m['data'])} octets, not the message")
    wait_queue_empty(tern)
    check(body_files(tern) == [], f"after delivery: {body_files(tern)}")
    check(qid not in body_files(tern), "body file of the delivered message left behind")


def test_disk_full_while_spooling_gets_452(workdir):
    """A 6 MiB body into a 4 MiB spool: 452 4.3.1, no file left, and the
    session and the daemon go on serving."""
    tern = Tern(workdir, {"submission": {"trusted_networks": ["127.0.0.0/8"]},
                          "delivery": {"mode": "relayhost", "relayhost": f"127.0.0.1:{free_port()}"}})
    fs = Tmpfs.for_spool(tern, "4m", "test_disk_full_while_spooling_gets_452")
    if fs is None:
        return
    tern.start()
    c = SmtpConn(tern.submission_port, timeout=60)
    c.expect("EHLO app.test", 250)
    code, text = transaction(c, "big@example.test", big_message("full", 6))
    check(code == 452 and "4.3.1" in text, f"6 MiB into a 4 MiB spool: {text!r}")
    check(body_files(tern) == [], f"after 452: {body_files(tern)}")
    code, text = transaction(c, "small@example.test", b"Subject: small\r\n\r\nstill works\r\n")
    check(code == 250, f"a small message after the 452: {text!r}")
    c.close()
    tern.stop()
    fs.stop()


if __name__ == "__main__":
    run_tests([
        test_large_body_is_a_spool_file_until_delivered,
        test_refused_reset_and_abandoned_bodies_leave_no_file,
        test_kill9_keeps_acknowledged_large_body_and_sweeps_orphans,
        test_disk_full_while_spooling_gets_452,
    ])
