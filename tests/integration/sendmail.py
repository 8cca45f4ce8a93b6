"""tern sendmail against a real SMTP server (aiosmtpd Sink) on loopback.

No tern daemon: `tern sendmail --server` submits straight to the sink, and
each test checks the exit code, stderr, and what the sink recorded
(envelope and message bytes).
"""

import base64
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

import subprocess  # noqa: E402

from ternlib import (TERN_BIN, Sink, check, clean_env, free_port, make_cert, run_tests,  # noqa: E402
                     write_toml)

HOSTNAME = "host.test"


def sendmail(workdir, args, message, env=None, timeout=60):
    """Runs tern sendmail with a config naming our host; returns CompletedProcess (bytes)."""
    config = os.path.join(workdir, "tern.toml")
    if not os.path.exists(config):
        write_toml(config, {"hostname": HOSTNAME})
    base_env = {"LOGNAME": "tester", "USER": "tester"}
    base_env.update(env or {})
    if isinstance(message, str):
        message = message.encode()
    return subprocess.run([TERN_BIN, "sendmail", "--config", config, "--timeout", "20s", *args],
                          input=message, capture_output=True, env=clean_env(base_env), timeout=timeout)


def expect_rc(res, rc, what):
    check(res.returncode == rc,
          f"{what}: rc {res.returncode}, want {rc}\nstdout: {res.stdout!r}\nstderr: {res.stderr!r}")


def server(sink):
    return ["--server", f"127.0.0.1:{sink.port}"]


MESSAGE = ("From: App <app@src.test>\n"
           "To: Bob <bob@example.test>, \"Doe, Carol\" <carol@example.test>\n"
           "Cc: dave@example.test (Dave, the builder)\n"
           "Bcc: eve@example.test,\n"
           "  frank@example.test\n"
           "Subject: hello\n"
           "\n"
           "line one\n"
           ".leading dot\n"
           "last line\n")


def test_plain_t_strips_bcc(workdir):
    sink = Sink().start()
    res = sendmail(workdir, ["-t", "-i", "-f", "app@src.test", *server(sink)], MESSAGE)
    expect_rc(res, 0, "sendmail -t")
    check(res.stderr == b"" and res.stdout == b"", f"success must be silent: {res.stderr!r} {res.stdout!r}")
    msgs = sink.wait_for(1)
    m = msgs[0]
    check(m["mail_from"] == "app@src.test", f"mail_from {m['mail_from']!r}")
    want = ["bob@example.test", "carol@example.test", "dave@example.test", "eve@example.test",
            "frank@example.test"]
    check(sorted(m["rcpt_tos"]) == sorted(want), f"rcpt_tos {m['rcpt_tos']!r}")
    data = m["data"]
    check(b"Bcc" not in data and b"eve@" not in data and b"frank@" not in data, f"Bcc leaked: {data!r}")
    check(b"\nSubject: hello\r\n" in data and b"\r\n\r\nline one\r\n.leading dot\r\nlast line\r\n" in data,
          f"body not as sent: {data!r}")
    check(b"\n" not in data.replace(b"\r\n", b""), f"bare LF on the wire: {data!r}")
    check(data.count(b"From:") == 1, f"From: added although present: {data!r}")
    check(not m["tls"], "plain session expected")


def test_dot_ends_input_without_i(workdir):
    sink = Sink().start()
    res = sendmail(workdir, ["-f", "a@src.test", *server(sink), "bob@example.test"],
                   "Subject: dot\n\nbefore\n.\nafter\n")
    expect_rc(res, 0, "sendmail without -i")
    data = sink.wait_for(1)[0]["data"]
    check(b"before\r\n" in data and b"after" not in data, f"'.' line must end the input: {data!r}")
    res = sendmail(workdir, ["-oi", "-f", "a@src.test", *server(sink), "bob@example.test"],
                   "Subject: dot\n\nbefore\n.\nafter\n")
    expect_rc(res, 0, "sendmail -oi")
    data = sink.wait_for(2)[1]["data"]
    check(b"before\r\n.\r\nafter\r\n" in data, f"-oi keeps the '.' line: {data!r}")


def test_f_and_command_line_recipients(workdir):
    sink = Sink().start()
    res = sendmail(workdir, ["-fsender@src.test", *server(sink), "--", "x@example.test", "Y <y@example.test>"],
                   "Subject: f\r\n\r\nbody\r\n")
    expect_rc(res, 0, "sendmail -f")
    m = sink.wait_for(1)[0]
    check(m["mail_from"] == "sender@src.test", f"mail_from {m['mail_from']!r}")
    check(sorted(m["rcpt_tos"]) == ["x@example.test", "y@example.test"], f"rcpt_tos {m['rcpt_tos']!r}")
    check(b"From: <sender@src.test>\r\n" in m["data"], f"From: not added: {m['data']!r}")


def test_null_sender_and_argv0(workdir):
    sink = Sink().start()
    # Invoked as "sendmail" (the image links /usr/sbin/sendmail to tern), -f "<>".
    link = os.path.join(workdir, "sendmail")
    os.symlink(TERN_BIN, link)
    config = os.path.join(workdir, "tern.toml")
    write_toml(config, {"hostname": HOSTNAME})
    res = subprocess.run([link, "--config", config, "-f", "<>", *server(sink), "b@example.test"],
                         input=b"Subject: bounce\n\nx\n", capture_output=True,
                         env=clean_env({"LOGNAME": "daemon"}), timeout=60)
    expect_rc(res, 0, "argv[0] sendmail with -f <>")
    m = sink.wait_for(1)[0]
    check(m["mail_from"] in ("", "<>"), f"null sender expected: {m['mail_from']!r}")
    check(f"From: <daemon@{HOSTNAME}>\r\n".encode() in m["data"], f"From: must name the user: {m['data']!r}")


def test_utf8_address_and_8bit_body(workdir):
    sink = Sink().start()
    res = sendmail(workdir, ["-f", "a@src.test", *server(sink), "j\u00f6rg@example.test"],
                   "Subject: caf\u00e9\n\nd\u00e9j\u00e0 vu\n".encode())
    expect_rc(res, 0, "UTF-8 recipient")
    m = sink.wait_for(1)[0]
    check(m["rcpt_tos"] == ["j\u00f6rg@example.test"], f"rcpt_tos {m['rcpt_tos']!r}")
    check("d\u00e9j\u00e0 vu\r\n".encode() in m["data"], f"8-bit body changed: {m['data']!r}")


def test_default_sender_from_logname(workdir):
    sink = Sink().start()
    res = sendmail(workdir, ["-F", "Cron Daemon", *server(sink), "root"], "Subject: cron\n\nout\n",
                   env={"LOGNAME": "alice", "USER": "notme"})
    expect_rc(res, 0, "default sender")
    m = sink.wait_for(1)[0]
    check(m["mail_from"] == f"alice@{HOSTNAME}", f"mail_from {m['mail_from']!r}")
    check(m["rcpt_tos"] == [f"root@{HOSTNAME}"], f"unqualified recipient: {m['rcpt_tos']!r}")
    check(f"From: Cron Daemon <alice@{HOSTNAME}>\r\n".encode() in m["data"], f"From: {m['data']!r}")


def test_starttls_verified_with_cafile(workdir):
    cert, key = make_cert(workdir, "sink.test")
    sink = Sink(tls=(cert, key)).start()
    res = sendmail(workdir, ["--starttls", "--cafile", cert, "-f", "a@src.test", *server(sink), "b@example.test"],
                   "Subject: tls\n\nx\n")
    expect_rc(res, 0, "STARTTLS with --cafile")
    check(sink.wait_for(1)[0]["tls"], "message must have come over TLS")


def test_starttls_unverified_is_refused(workdir):
    cert, key = make_cert(workdir, "sink.test")
    sink = Sink(tls=(cert, key)).start()
    res = sendmail(workdir, ["--starttls", "-f", "a@src.test", *server(sink), "b@example.test"], "Subject: x\n\nx\n")
    expect_rc(res, 77, "STARTTLS without the CA")
    err = res.stderr.decode()
    check("not verified" in err and "self-signed" in err, f"stderr should say why: {err!r}")
    check(sink.count() == 0, "nothing may be sent over an unverified connection")
    # The host name (here the IP address) is checked too, not just the chain.
    other, other_key = make_cert(workdir, "other.test", sans=("127.0.0.9",))
    sink2 = Sink(tls=(other, other_key)).start()
    res = sendmail(workdir, ["--starttls", "--cafile", other, "-f", "a@src.test", *server(sink2), "b@example.test"],
                   "Subject: x\n\nx\n")
    expect_rc(res, 77, "certificate for another address")
    check("mismatch" in res.stderr.decode(), f"stderr: {res.stderr!r}")


def test_insecure_delivers_with_warning(workdir):
    cert, key = make_cert(workdir, "sink.test")
    sink = Sink(tls=(cert, key)).start()
    res = sendmail(workdir, ["--starttls", "--insecure", "-f", "a@src.test", *server(sink), "b@example.test"],
                   "Subject: x\n\nx\n")
    expect_rc(res, 0, "--insecure")
    check(b"warning" in res.stderr and b"--insecure" in res.stderr, f"warning missing: {res.stderr!r}")
    check(sink.wait_for(1)[0]["tls"], "TLS expected")


def test_implicit_tls(workdir):
    cert, key = make_cert(workdir, "sink.test")
    sink = Sink(tls=(cert, key), implicit_tls=True).start()
    res = sendmail(workdir, ["--tls", "--cafile", cert, "-f", "a@src.test", *server(sink), "b@example.test"],
                   "Subject: x\n\nx\n")
    expect_rc(res, 0, "--tls")
    sink.wait_for(1)  # (aiosmtpd records session.ssl for STARTTLS only; the checks below show TLS is real)
    res = sendmail(workdir, ["--tls", "-f", "a@src.test", *server(sink), "b@example.test"], "Subject: x\n\nx\n")
    expect_rc(res, 77, "--tls without the CA")
    check(b"not verified" in res.stderr, f"stderr: {res.stderr!r}")
    res = sendmail(workdir, ["--timeout", "2s", "-f", "a@src.test", *server(sink), "b@example.test"],
                   "Subject: x\n\nx\n")
    expect_rc(res, 75, "plaintext to an implicit-TLS port")
    check(sink.count() == 1, "only the TLS submission may arrive")


def test_auth_plain(workdir):
    cert, key = make_cert(workdir, "sink.test")
    sink = Sink(tls=(cert, key), auth={"app": "s3cret pass"}).start()
    pw = os.path.join(workdir, "pw")
    with open(pw, "w") as f:
        f.write("s3cret pass\n")  # loses exactly this newline
    res = sendmail(workdir, ["-v", "--starttls", "--cafile", cert, "--user", "app", "--password-file", pw,
                             "-f", "a@src.test", *server(sink), "b@example.test"], "Subject: x\n\nx\n")
    expect_rc(res, 0, "AUTH PLAIN")
    m = sink.wait_for(1)[0]
    check(m["auth"] and m["tls"], f"expected an authenticated TLS session: {m!r}")
    err = res.stderr.decode()
    secret = base64.b64encode(b"\0app\0s3cret pass").decode()
    check("AUTH PLAIN *****" in err, f"-v must show the masked AUTH: {err!r}")
    check(secret not in err and "s3cret" not in err, f"-v leaked the password: {err!r}")
    check("<<< 220" in err and ">>> MAIL FROM:<a@src.test>" in err, f"-v transcript: {err!r}")


def test_auth_wrong_password(workdir):
    cert, key = make_cert(workdir, "sink.test")
    sink = Sink(tls=(cert, key), auth={"app": "right"}).start()
    pw = os.path.join(workdir, "pw")
    with open(pw, "w") as f:
        f.write("wrong\n")
    res = sendmail(workdir, ["--starttls", "--cafile", cert, "--user", "app", "--password-file", pw,
                             "-f", "a@src.test", *server(sink), "b@example.test"], "Subject: x\n\nx\n")
    expect_rc(res, 77, "wrong password")
    err = res.stderr.decode()
    check("authentication refused" in err and "server said: 535" in err, f"stderr: {err!r}")
    check(sink.count() == 0, "nothing may be sent")


def test_rcpt_550(workdir):
    sink = Sink(rcpt_rules=[("reject", 550, "5.1.1 no such user")]).start()
    res = sendmail(workdir, ["-f", "a@src.test", *server(sink), "reject1@example.test"], "Subject: x\n\nx\n")
    expect_rc(res, 69, "every recipient 550")
    err = res.stderr.decode()
    check("recipient <reject1@example.test> refused, server said: 550 5.1.1 no such user" in err, f"stderr: {err!r}")
    # Some refused, some accepted: the accepted get the message, the exit says 69.
    res = sendmail(workdir, ["-f", "a@src.test", *server(sink), "ok@example.test", "reject2@example.test"],
                   "Subject: x\n\nx\n")
    expect_rc(res, 69, "one of two recipients 550")
    m = sink.wait_for(1)[0]
    check(m["rcpt_tos"] == ["ok@example.test"], f"rcpt_tos {m['rcpt_tos']!r}")
    check("reject2@example.test" in res.stderr.decode() and "ok@example.test" not in res.stderr.decode(),
          f"stderr must list only the refused: {res.stderr!r}")


def test_rcpt_451(workdir):
    sink = Sink(rcpt_rules=[("defer", 451, "4.3.0 try later")]).start()
    res = sendmail(workdir, ["-f", "a@src.test", *server(sink), "defer@example.test"], "Subject: x\n\nx\n")
    expect_rc(res, 75, "RCPT 451")
    check(b"deferred, server said: 451 4.3.0 try later" in res.stderr, f"stderr: {res.stderr!r}")


def test_data_554(workdir):
    sink = Sink(data_reply=(554, "5.7.1 spam")).start()
    res = sendmail(workdir, ["-f", "a@src.test", *server(sink), "b@example.test"], "Subject: x\n\nx\n")
    expect_rc(res, 69, "final reply 554")
    check(b"message refused at end of DATA, server said: 554 5.7.1 spam" in res.stderr, f"stderr: {res.stderr!r}")


def test_connection_refused(workdir):
    port = free_port()  # nothing listens here
    res = sendmail(workdir, ["-f", "a@src.test", "--server", f"127.0.0.1:{port}", "b@example.test"],
                   "Subject: x\n\nx\n")
    expect_rc(res, 75, "connection refused")
    check(b"cannot connect to 127.0.0.1:%d: connection refused" % port in res.stderr, f"stderr: {res.stderr!r}")


def test_starttls_not_offered(workdir):
    sink = Sink().start()  # no TLS
    res = sendmail(workdir, ["--starttls", "-f", "a@src.test", *server(sink), "b@example.test"], "Subject: x\n\nx\n")
    expect_rc(res, 69, "--starttls without STARTTLS")
    check(b"does not offer STARTTLS" in res.stderr, f"stderr: {res.stderr!r}")
    check(sink.count() == 0, "nothing may be sent in clear")


def test_bad_input(workdir):
    sink = Sink().start()
    res = sendmail(workdir, ["-t", "-f", "a@src.test", *server(sink)], "Subject: nobody\n\nx\n")
    expect_rc(res, 65, "no recipients")
    check(res.stderr == b"tern sendmail: no recipients\n", f"stderr: {res.stderr!r}")
    res = sendmail(workdir, ["-t", "-f", "a@src.test", *server(sink)], "To: John Doe\n\nx\n")
    expect_rc(res, 65, "bad header address")
    check(b'"John Doe" in To: header' in res.stderr, f"stderr: {res.stderr!r}")
    res = sendmail(workdir, ["-f", "a@src.test", *server(sink), "bad address@x.test"], "x\n")
    expect_rc(res, 65, "bad command-line address")
    big = os.path.join(workdir, "small.toml")
    write_toml(big, {"hostname": HOSTNAME, "submission": {"max_message_size": 2048}})
    res = sendmail(workdir, ["--config", big, "-f", "a@src.test", *server(sink), "b@x.test"], "y" * 5000 + "\n")
    expect_rc(res, 65, "message too big")
    check(b"too big" in res.stderr, f"stderr: {res.stderr!r}")
    check(sink.count() == 0, "nothing may be sent")


def test_usage_errors(workdir):
    expect_rc(sendmail(workdir, ["-bs"], ""), 64, "-bs")
    expect_rc(sendmail(workdir, ["-q"], ""), 64, "-q")
    pw = os.path.join(workdir, "pw")
    with open(pw, "w") as f:
        f.write("x\n")
    res = sendmail(workdir, ["--user", "u", "--password-file", pw, "b@x.test"], "x\n")
    expect_rc(res, 64, "--user without TLS")
    check(b"in clear" in res.stderr, f"stderr: {res.stderr!r}")
    expect_rc(sendmail(workdir, ["--user", "u", "--starttls", "b@x.test"], "x\n"), 64, "--user without a file")


if __name__ == "__main__":
    run_tests([
        test_plain_t_strips_bcc,
        test_dot_ends_input_without_i,
        test_f_and_command_line_recipients,
        test_null_sender_and_argv0,
        test_utf8_address_and_8bit_body,
        test_default_sender_from_logname,
        test_starttls_verified_with_cafile,
        test_starttls_unverified_is_refused,
        test_insecure_delivers_with_warning,
        test_implicit_tls,
        test_auth_plain,
        test_auth_wrong_password,
        test_rcpt_550,
        test_rcpt_451,
        test_data_554,
        test_connection_refused,
        test_starttls_not_offered,
        test_bad_input,
        test_usage_errors,
    ])
