"""The submission service from outside: real clients against `tern serve` on loopback.

swaks and python's smtplib submit over STARTTLS (and implicit TLS) with
accounts made by `tern user add`; the mail goes through the SQLite queue to
an aiosmtpd Sink acting as relayhost. Also: open-relay refusal, trusted
networks, wrong passwords (535, counted, throttled per client address) and a
SIGHUP reload while a session stays open. Abuse cases are in
submission_abuse.py, crash/stop/disk-full cases in submission_durability.py.
"""

import base64
import os
import signal
import smtplib
import ssl
import sys
import warnings
from email.message import EmailMessage

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

from ternlib import (Sink, SmtpConn, Tern, check, free_port, make_cert, queued_id, run_tests,  # noqa: E402
                     swaks, wait_until, write_toml)

PASSWORD = "correct horse battery"


def relay_config(workdir, relay_port, submission=None):
    """Config for a tern with a real certificate that relays everything to 127.0.0.1:relay_port."""
    cert, key = make_cert(workdir, "relay.test")
    sub = {"tls_cert": cert, "tls_key": key}
    sub.update(submission or {})
    return cert, {
        "submission": sub,
        "delivery": {"mode": "relayhost", "relayhost": f"127.0.0.1:{relay_port}", "relayhost_tls": "none"},
    }


def tls_client(cafile):
    return ssl.create_default_context(cafile=cafile)


class RecordingSMTP(smtplib.SMTP):
    """smtplib.SMTP that keeps the reply to the end of DATA (send_message drops it)."""

    last_data_reply = None

    def data(self, msg):
        self.last_data_reply = super().data(msg)
        return self.last_data_reply


def plain_auth(user, password):
    return base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()


def test_swaks_auth_plain_login_and_implicit_tls(workdir):
    sink = Sink().start()
    tls_port = free_port()
    cert, config = relay_config(workdir, sink.port, {"listen_tls": [f"127.0.0.1:{tls_port}"]})
    tern = Tern(workdir, config)
    tern.start()
    tern.add_user("alice", PASSWORD)  # while the daemon runs, on its spool
    runs = [
        ("PLAIN", ["--server", f"127.0.0.1:{tern.submission_port}", "--tls"]),
        ("LOGIN", ["--server", f"127.0.0.1:{tern.submission_port}", "--tls"]),
        ("PLAIN", ["--server", f"127.0.0.1:{tls_port}", "--tlsc"]),
    ]
    ids = []
    for i, (mech, server) in enumerate(runs):
        res = swaks(*server, "--tls-verify", "--tls-ca-path", cert, "--from", "app@src.test",
                    "--to", f"bob{i}@example.test", "--auth", mech, "--auth-user", "alice",
                    "--auth-password", PASSWORD, "--header", f"Subject: swaks {i}", "--body", f"body {i}")
        check(res.returncode == 0, f"swaks {mech} {server}: rc {res.returncode}\n{res.stdout}\n{res.stderr}")
        check(f"AUTH {mech}" in res.stdout, f"swaks did not use AUTH {mech}:\n{res.stdout}")
        qid = None
        for line in res.stdout.splitlines():
            if line.lstrip().startswith("<~") and " 250 " in line and "queued as" in line:
                qid = queued_id(line)
        check(qid, f"no queue id in the 250 reply:\n{res.stdout}")
        ids.append(qid)
    check(len(set(ids)) == 3, f"queue ids not distinct: {ids}")
    msgs = sink.wait_for(3)
    by_rcpt = {m["rcpt_tos"][0]: m for m in msgs}
    for i, qid in enumerate(ids):
        m = by_rcpt.get(f"bob{i}@example.test")
        check(m is not None, f"bob{i} never reached the sink: {[x['rcpt_tos'] for x in msgs]}")
        check(m["mail_from"] == "app@src.test", f"sender {m['mail_from']!r}")
        data = m["data"]
        check(f"body {i}".encode() in data, f"body lost: {data!r}")
        header = data.split(b"\r\n\r\n")[0].split(b"\r\n")
        ids_in_header = [ln for ln in header if ln.lower().startswith(b"message-id:")]
        check(len(ids_in_header) == 1, f"swaks' own Message-Id must be kept, and alone: {ids_in_header}")
        received = data.split(b"\r\n\r\n")[0]
        check(b"with ESMTPSA" in received and f"id {qid}".encode() in received,
              f"Received: header must say ESMTPSA and id {qid}: {received!r}")
    log = wait_until(lambda: (lambda t: t if all(f"msg={q}" in t for q in ids) else None)(tern.read_log()),
                     what="the queue ids in the log")
    for qid in ids:
        lines = [ln for ln in log.splitlines() if f"msg={qid}" in ln]
        check(any("event=received" in ln and "user=alice" in ln for ln in lines),
              f"no received line with user=alice for {qid}: {lines}")
    listener = tern.metric("tern_messages_received_total", {"listener": "submissions"})
    check(listener == 1, f"tern_messages_received_total{{listener=submissions}} = {listener}, want 1")


def test_tls_versions_and_ciphers(workdir):
    """TLS 1.2+ with modern ciphers only, on both STARTTLS and the implicit TLS listener."""
    tls_port = free_port()
    cert, config = relay_config(workdir, free_port(), {"listen_tls": [f"127.0.0.1:{tls_port}"]})
    tern = Tern(workdir, config).start()

    def client(version, ciphers="ALL:@SECLEVEL=0"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cert)
        ctx.set_ciphers(ciphers)  # the client offers what we ask, even the weak; tern must refuse
        with warnings.catch_warnings():  # TLSv1 and TLSv1_1 are deprecated: that is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ctx.maximum_version = version
        return ctx

    for how in ("implicit", "starttls"):
        def handshake(ctx):
            if how == "implicit":
                return SmtpConn(tls_port, tls=ctx).sock
            c = SmtpConn(tern.submission_port)
            c.expect("EHLO app.test", 250)
            return c.starttls(ctx)
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            sock = handshake(client(version))
            check(sock.version() == version.name.replace("_", "."), f"{how}: negotiated {sock.version()}")
            sock.close()
        weak = ((ssl.TLSVersion.TLSv1, "ALL:@SECLEVEL=0"), (ssl.TLSVersion.TLSv1_1, "ALL:@SECLEVEL=0"),
                (ssl.TLSVersion.TLSv1_2, "AES128-SHA:DES-CBC3-SHA:@SECLEVEL=0"))
        for version, ciphers in weak:
            try:
                sock = handshake(client(version, ciphers))
                raise AssertionError(f"{how}: {version.name} with {ciphers} was accepted: {sock.cipher()}")
            except ssl.SSLError as e:
                # An alert from tern, not a client that could not even offer it.
                check("ALERT" in e.reason, f"{how}: {version.name} {ciphers}: {e.reason} (want an alert from tern)")
    ok = tern.metric("tern_tls_handshakes_total", {"direction": "inbound", "result": "ok"})
    failed = tern.metric("tern_tls_handshakes_total", {"direction": "inbound", "result": "failed"})
    check(ok == 4 and failed == 6, f"tern_tls_handshakes_total inbound ok={ok} failed={failed}, want 4 and 6")


def test_smtplib_received_message_id_and_auth_user(workdir):
    relay_port = free_port()  # the relayhost is down until the checks on the queued copy are done
    cert, config = relay_config(workdir, relay_port)
    config["delivery"]["retry_schedule"] = ["1s"]
    tern = Tern(workdir, config)
    tern.start()
    tern.add_user("alice", PASSWORD)  # while the daemon runs, on its spool

    with RecordingSMTP("127.0.0.1", tern.submission_port, local_hostname="app.test", timeout=30) as s:
        s.ehlo()
        check(not s.has_extn("auth"), f"AUTH offered before STARTTLS: {s.esmtp_features}")
        check(s.has_extn("starttls"), "STARTTLS not offered")
        s.starttls(context=tls_client(cert))  # verifies the configured certificate (IP SAN 127.0.0.1)
        s.ehlo()
        auth = s.esmtp_features.get("auth", "").split()
        check("PLAIN" in auth and "LOGIN" in auth, f"AUTH after STARTTLS: {auth}")
        s.login("alice", PASSWORD)

        msg = EmailMessage()
        msg["From"] = "App <app@src.test>"
        msg["To"] = "bob@example.test"
        msg["Subject"] = "no message id"
        msg.set_content("hello from smtplib\nMessage-ID: <in-the-body@src.test> is no header\n")
        check(msg["Message-ID"] is None and msg["Date"] is None, "test message must lack Message-ID and Date")
        refused = s.send_message(msg)
        check(refused == {}, f"refused: {refused}")
        code, text = s.last_data_reply
        check(code == 250, f"end of DATA: {code} {text!r}")
        qid1 = queued_id("250 " + text.decode())
        check(qid1, f"no queue id in {text!r}")

        msg2 = EmailMessage()
        msg2["From"] = "app@src.test"
        msg2["To"] = "carol@example.test"
        msg2["Subject"] = "own message id"
        msg2["Message-ID"] = "<own-id-1@src.test>"
        msg2.set_content("second\n")
        s.send_message(msg2)
        qid2 = queued_id("250 " + s.last_data_reply[1].decode())
        check(qid2 and qid2 != qid1, f"second queue id {qid2!r}")

    # The queued copy: who sent it and what tern added, before anything is delivered.
    show = tern.cli("queue", "show", qid1, check_rc=0).stdout.decode()
    check("authenticated as alice" in show, f"queue show lacks the auth user:\n{show}")
    check("ESMTPSA" in show and f"<{qid1}@relay.test>" in show, f"queue show headers:\n{show}")

    # Bring the relayhost up: the next retry delivers.
    wait_until(lambda: all(r["state"] == "deferred" for m in tern.queue_list() for r in m["recipients"])
               and len(tern.queue_list()) == 2, timeout=30, what="both messages deferred (relayhost down)")
    sink = Sink(port=relay_port).start()
    msgs = sink.wait_for(2, timeout=30)
    by_rcpt = {m["rcpt_tos"][0]: m["data"] for m in msgs}
    first = by_rcpt["bob@example.test"]
    headers = first.split(b"\r\n\r\n")[0].decode()
    check(headers.startswith("Received: from app.test (") and "by relay.test" in headers
          and "with ESMTPSA" in headers and f"id {qid1}" in headers and "for <bob@example.test>" in headers,
          f"Received: header:\n{headers}")
    check(f"\r\nMessage-ID: <{qid1}@relay.test>\r\n" in headers, f"Message-ID not added:\n{headers}")
    check("\r\nDate: " in headers, f"Date not added:\n{headers}")
    check(b"hello from smtplib" in first, "body lost")
    second = by_rcpt["carol@example.test"].split(b"\r\n\r\n")[0]
    check(second.count(b"Message-ID:") == 1 and b"Message-ID: <own-id-1@src.test>" in second,
          f"an existing Message-ID must be kept alone: {second!r}")
    wait_until(lambda: tern.queue_list() == [], timeout=20, what="the queue to empty after delivery")


def test_open_relay_refused_and_trusted_networks(workdir):
    sink = Sink().start()
    cert, config = relay_config(workdir, sink.port)
    tern = Tern(workdir, config)
    tern.start()

    c = SmtpConn(tern.submission_port)
    ehlo = c.expect("EHLO app.test", 250)
    check("STARTTLS" in ehlo and "AUTH" not in ehlo, f"EHLO before TLS: {ehlo!r}")
    code, text = c.cmd("AUTH PLAIN " + plain_auth("alice", "x"))
    check(code == 538 and "5.7.11" in text, f"AUTH in plaintext: {text!r}")
    code, text = c.cmd("MAIL FROM:<app@src.test>")
    check(code == 530 and "5.7.0" in text, f"MAIL without AUTH: {text!r}")
    code, text = c.cmd("RCPT TO:<bob@example.test>")
    check(500 <= code < 600, f"RCPT without AUTH must be refused: {text!r}")
    code, text = c.cmd("DATA")
    check(500 <= code < 600, f"DATA without AUTH must be refused: {text!r}")
    # Under TLS but still unauthenticated: the same refusal.
    c.starttls(tls_client(cert))
    ehlo = c.expect("EHLO app.test", 250)
    check("AUTH PLAIN LOGIN" in ehlo and "STARTTLS" not in ehlo, f"EHLO under TLS: {ehlo!r}")
    code, text = c.cmd("MAIL FROM:<app@src.test>")
    check(code == 530 and "5.7.0" in text, f"MAIL under TLS without AUTH: {text!r}")
    c.expect("QUIT", 221)
    c.close()
    check(tern.queue_list() == [] and sink.count() == 0, "an unauthenticated message got through")
    check(tern.metric("tern_messages_rejected_total", {"reason": "relay"}) >= 2, "relay refusals not counted")
    tern.stop()

    # trusted_networks: 127.0.0.1/32 and ::1 relay without AUTH, 127.0.0.2 (outside them) does not.
    cert2, config2 = relay_config(workdir, sink.port, {"trusted_networks": ["127.0.0.1/32", "::1/128"]})
    trusted = Tern(workdir, config2, name="trusted")
    v6_port = free_port("::1")
    trusted.config["submission"]["listen"].append(f"[::1]:{v6_port}")
    write_toml(trusted.config_path, trusted.config)
    trusted.start()
    c = SmtpConn(trusted.submission_port, source="127.0.0.2")
    c.expect("EHLO app.test", 250)
    code, text = c.cmd("MAIL FROM:<app@src.test>")
    check(code == 530 and "5.7.0" in text, f"127.0.0.2 is outside 127.0.0.1/32: {text!r}")
    c.close()
    c = SmtpConn(trusted.submission_port, source="127.0.0.1")
    c.expect("EHLO app.test", 250)
    c.expect("MAIL FROM:<app@src.test>", 250)
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.expect("DATA", 354)
    code, text = c.cmd("Subject: trusted\r\n\r\nfrom a trusted network\r\n.")
    check(code == 250 and queued_id(text), f"trusted submission: {text!r}")
    c.close()
    m = sink.wait_for(1)[0]
    check(b"from a trusted network" in m["data"] and b"with ESMTP " in m["data"],
          f"trusted message (plain, no AUTH: 'with ESMTP'): {m['data']!r}")
    # The same over IPv6, on the [::1] listener.
    c = SmtpConn(v6_port, host="::1")
    c.expect("EHLO app.test", 250)
    c.expect("MAIL FROM:<app@src.test>", 250)
    c.expect("RCPT TO:<carol@example.test>", 250)
    c.expect("DATA", 354)
    code, text = c.cmd("Subject: v6\r\n\r\nover IPv6\r\n.")
    check(code == 250, f"IPv6 submission: {text!r}")
    c.close()
    m = sink.wait_for(2)[1]
    check(b"over IPv6" in m["data"] and b"[IPv6:::1]" in m["data"].split(b"\r\n\r\n")[0],
          f"Received: must name the IPv6 client: {m['data'][:300]!r}")


def test_wrong_password_counted_and_throttled(workdir):
    sink = Sink().start()
    cert, config = relay_config(workdir, sink.port)
    tern = Tern(workdir, config)
    tern.start()
    tern.add_user("alice", PASSWORD)  # while the daemon runs, on its spool
    check(tern.metric("tern_auth_failures_total") == 0, "auth failures must start at 0")

    with smtplib.SMTP("127.0.0.1", tern.submission_port, timeout=30) as s:
        s.starttls(context=tls_client(cert))
        s.ehlo()
        # One mechanism per try (login() would try PLAIN, then LOGIN: two failures).
        for user, password, mech in (("alice", "wrong password", "PLAIN"), ("mallory", PASSWORD, "LOGIN")):
            s.user, s.password = user, password
            try:
                s.auth(mech, s.auth_plain if mech == "PLAIN" else s.auth_login)
                raise AssertionError(f"AUTH {mech} as {user} with a bad password succeeded")
            except smtplib.SMTPAuthenticationError as e:
                check(e.smtp_code == 535 and b"5.7.8" in e.smtp_error, f"{user}: {e.smtp_code} {e.smtp_error!r}")
        s.login("alice", PASSWORD)  # the right one still works in the same session
    check(tern.metric("tern_auth_failures_total") == 2, f"failures: {tern.metric('tern_auth_failures_total')}")

    # Per session: the third failure ends the session with 421.
    def tls_session(source):
        c = SmtpConn(tern.submission_port, source=source)
        c.expect("EHLO app.test", 250)
        c.starttls(tls_client(cert))
        c.expect("EHLO app.test", 250)
        return c

    c = tls_session("127.0.0.5")
    for _ in range(2):
        code, text = c.cmd("AUTH PLAIN " + plain_auth("alice", "nope"))
        check(code == 535, f"wrong password: {text!r}")
    code, text = c.cmd("AUTH PLAIN " + plain_auth("alice", "nope"))
    check(code == 535, f"third failure: {text!r}")
    check(c.closed(), "the session must end after 3 failed AUTH attempts")
    check("421 4.7.0" in c.buf.decode(), f"want a 421 after the third failure, got {c.buf!r}")
    c.close()

    # Per client address: more failures from 127.0.0.5 (10 in all) and it is throttled,
    # even with the right password; another address is not.
    failures = 3
    while failures < 10:
        c = tls_session("127.0.0.5")
        for _ in range(min(2, 10 - failures)):
            code, text = c.cmd("AUTH LOGIN " + base64.b64encode(b"alice").decode())
            check(code == 334, f"AUTH LOGIN: {text!r}")
            code, text = c.cmd(base64.b64encode(b"nope").decode())
            check(code == 535, f"wrong password {failures + 1}: {text!r}")
            failures += 1
        c.close()
    c = tls_session("127.0.0.5")
    code, text = c.cmd("AUTH PLAIN " + plain_auth("alice", PASSWORD))
    check(code == 454 and "4.7.0" in text, f"right password from a throttled address: {text!r}, want 454 4.7.0")
    code, text = c.cmd("MAIL FROM:<app@src.test>")
    check(code == 530, f"throttled session must not relay: {text!r}")
    c.close()
    c = tls_session("127.0.0.6")
    code, text = c.cmd("AUTH PLAIN " + plain_auth("alice", PASSWORD))
    check(code == 235, f"another address is not throttled: {text!r}")
    c.close()
    # A success does not wipe an address's failures (one valid account must
    # not buy unlimited guesses): 9 failures, a success, one more failure,
    # and 127.0.0.8 is throttled.
    for n in range(3):
        c = tls_session("127.0.0.8")
        for _ in range(3):
            code, text = c.cmd("AUTH PLAIN " + plain_auth("alice", "nope"))
            check(code == 535, f"wrong password from 127.0.0.8: {text!r}")
        c.closed()
        c.close()
    c = tls_session("127.0.0.8")
    code, text = c.cmd("AUTH PLAIN " + plain_auth("alice", PASSWORD))
    check(code == 235, f"the right password after 9 failures: {text!r}")
    c.close()
    c = tls_session("127.0.0.8")
    code, text = c.cmd("AUTH PLAIN " + plain_auth("alice", "nope"))
    check(code == 535, f"the 10th failure: {text!r}")
    code, text = c.cmd("AUTH PLAIN " + plain_auth("alice", PASSWORD))
    check(code == 454, f"after 10 failures around a success, 127.0.0.8 must be throttled: {text!r}")
    c.close()
    # RFC 4616: asking to act as someone else (authzid bob) fails even with alice's right password.
    c = tls_session("127.0.0.7")
    code, text = c.cmd("AUTH PLAIN " + base64.b64encode(b"bob\0alice\0" + PASSWORD.encode()).decode())
    check(code == 535 and "5.7.8" in text, f"authzid of another user: {text!r}")
    code, text = c.cmd("AUTH PLAIN " + base64.b64encode(b"alice\0alice\0" + PASSWORD.encode()).decode())
    check(code == 235, f"authzid equal to the user: {text!r}")
    c.close()
    # `tern user delete` on the running daemon's spool: the next AUTH fails.
    tern.cli("user", "delete", "alice", check_rc=0)
    c = tls_session("127.0.0.6")
    code, text = c.cmd("AUTH PLAIN " + plain_auth("alice", PASSWORD))
    check(code == 535, f"AUTH of a deleted user: {text!r}")
    c.close()
    total = tern.metric("tern_auth_failures_total")
    check(total == 23, f"tern_auth_failures_total = {total}, want 23 (2 + 10 + 10 + the deleted user; "
          "the throttled try is no failure)")
    log = tern.read_log()
    check("result=throttled" in log and "client=127.0.0.5" in log, "the throttled attempt is not logged")
    check(PASSWORD not in log and "nope" not in log, "a password reached the log")


def test_sighup_reload_keeps_open_session(workdir):
    sink = Sink().start()
    cert_a, config = relay_config(workdir, sink.port,
                                  {"trusted_networks": ["127.0.0.0/8"], "max_recipients": 3})
    tern = Tern(workdir, config)
    tern.start()
    tern.add_user("alice", PASSWORD)  # while the daemon runs, on its spool

    # A session opened before the reload, mid-transaction.
    old = SmtpConn(tern.submission_port)
    old.expect("EHLO app.test", 250)
    old.expect("MAIL FROM:<app@src.test>", 250)
    for i in range(2):
        old.expect(f"RCPT TO:<r{i}@example.test>", 250)

    # New config: fewer recipients, no trusted network, a new certificate, and a new
    # listen address (restart-only: warned about, not applied).
    cert_b, key_b = make_cert(workdir, "relay-b.test")
    new_config = dict(tern.config)
    new_config["submission"] = dict(tern.config["submission"], max_recipients=1, trusted_networks=[],
                                    tls_cert=cert_b, tls_key=key_b, listen=[f"127.0.0.1:{free_port()}"])
    write_toml(tern.config_path, new_config)
    mark = len(tern.read_log())
    tern.proc.send_signal(signal.SIGHUP)
    tern.wait_log("event=reloaded", after=mark)
    log = tern.read_log()[mark:]
    check("event=reload_needs_restart" in log and "submission.listen" in log,
          f"changing listen must warn that it needs a restart:\n{log}")

    # The open session keeps its rules: trusted, 3 recipients.
    old.expect("RCPT TO:<r2@example.test>", 250, "third RCPT in the session opened before SIGHUP")
    old.expect("DATA", 354)
    code, text = old.cmd("Subject: before reload\r\n\r\nx\r\n.")
    check(code == 250, f"open session after SIGHUP: {text!r}")
    old.close()
    check(sink.wait_for(1)[0]["rcpt_tos"] == ["r0@example.test", "r1@example.test", "r2@example.test"],
          "the open session's message")

    # New sessions: no longer trusted, one recipient, certificate B (A no longer verifies).
    c = SmtpConn(tern.submission_port)
    c.expect("EHLO app.test", 250)
    code, text = c.cmd("MAIL FROM:<app@src.test>")
    check(code == 530, f"trusted_networks=[] after SIGHUP: {text!r}")
    code, _ = c.cmd("STARTTLS")
    check(code == 220, "STARTTLS")
    try:
        tls_client(cert_a).wrap_socket(c.sock, server_hostname="127.0.0.1")
        raise AssertionError("the old certificate still served after SIGHUP")
    except ssl.SSLCertVerificationError:
        pass
    c.close()
    with smtplib.SMTP("127.0.0.1", tern.submission_port, timeout=30) as s:
        s.starttls(context=tls_client(cert_b))
        s.login("alice", PASSWORD)
        s.mail("app@src.test")
        check(s.rcpt("x0@example.test")[0] == 250, "first RCPT")
        code, text = s.rcpt("x1@example.test")
        check(code == 452 and b"4.5.3" in text, f"max_recipients=1 after SIGHUP: {code} {text!r}")
        code, text = s.data(b"Subject: after reload\r\n\r\ny\r\n")
        check(code == 250, f"DATA after reload: {code} {text!r}")
    check(sink.wait_for(2)[1]["rcpt_tos"] == ["x0@example.test"], "the new session's message")
    # listen is restart-only: the old port still serves.
    SmtpConn(tern.submission_port).close()

    # A broken config on SIGHUP: refused with a message naming the key, the running config stays.
    broken = dict(new_config)
    broken["submission"] = dict(new_config["submission"], max_recipients="many")
    write_toml(tern.config_path, broken)
    mark = len(tern.read_log())
    tern.proc.send_signal(signal.SIGHUP)
    tern.wait_log("event=reload_failed", after=mark)
    check("submission.max_recipients" in tern.read_log()[mark:], "reload_failed must name the bad key")
    with smtplib.SMTP("127.0.0.1", tern.submission_port, timeout=30) as s:
        s.starttls(context=tls_client(cert_b))
        s.login("alice", PASSWORD)
        s.mail("app@src.test")
        s.rcpt("y0@example.test")
        code, _ = s.rcpt("y1@example.test")
        check(code == 452, "after a failed reload the previous config (max_recipients=1) must stay")
    check(tern.proc.poll() is None, "tern died on SIGHUP")


if __name__ == "__main__":
    run_tests([
        test_swaks_auth_plain_login_and_implicit_tls,
        test_tls_versions_and_ciphers,
        test_smtplib_received_message_id_and_auth_user,
        test_open_relay_refused_and_trusted_networks,
        test_wrong_password_counted_and_throttled,
        test_sighup_reload_keeps_open_session,
    ])
