"""Relayhost mode (delivery.mode = "relayhost") against a real upstream on
loopback: an aiosmtpd server with STARTTLS or implicit TLS and AUTH, whose
certificate tern verifies against SSL_CERT_FILE. Every recipient domain
goes to the relayhost; a refused password defers, never bounces.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

from ternlib import (DeliveryLab, check, log_events, make_cert, run_tests,  # noqa: E402
                     wait_log, wait_queue_empty)

RELAY = "127.0.0.8"
USERS = {"relayuser": "s3cret pass"}


def relay_lab(workdir):
    lab = DeliveryLab(workdir, hosts=[("smarthost.test", RELAY)])
    cert, key = make_cert(workdir, "smarthost.test", ())
    return lab, cert, key


def start_relay_tern(lab, workdir, cert, tls, password):
    secret = os.path.join(workdir, "relay.pass")
    with open(secret, "w") as f:
        f.write(password + "\n")
    return lab.start_tern(
        delivery={"mode": "relayhost", "relayhost": f"smarthost.test:{lab.port}", "relayhost_tls": tls,
                  "relayhost_user": "relayuser", "relayhost_password_file": secret},
        env={"SSL_CERT_FILE": cert})


def test_relayhost_starttls_auth(workdir):
    """STARTTLS, certificate verified, AUTH: mail for any domain goes through the relayhost."""
    lab, cert, key = relay_lab(workdir)
    relay = lab.sink(RELAY, tls=(cert, key), auth=USERS)
    tern = start_relay_tern(lab, workdir, cert, "starttls", USERS["relayuser"])
    lab.submit("a@src.test", ["one@example.test", "two@elsewhere.test"], subject="via relay")
    msgs = relay.wait_for(1)
    got = sorted(r for m in msgs for r in m["rcpt_tos"])
    check(got == ["one@example.test", "two@elsewhere.test"], f"relayhost got {got}")
    for m in msgs:
        check(m["tls"], "relayhost session without TLS")
        check(m["auth"], "relayhost session without AUTH")
        check(m["mail_from"] == "a@src.test", f"MAIL FROM {m['mail_from']!r}")
    wait_queue_empty(tern)
    ev = log_events(tern, "delivery", result="delivered")
    check(len(ev) == 2 and all(e["tls"] == "yes" for e in ev), f"delivery log {ev}")


def test_relayhost_implicit_tls(workdir):
    """relayhost_tls = "tls": TLS from the first byte (port 465 style), then AUTH."""
    lab, cert, key = relay_lab(workdir)
    relay = lab.sink(RELAY, tls=(cert, key), implicit_tls=True, auth=USERS)
    tern = start_relay_tern(lab, workdir, cert, "tls", USERS["relayuser"])
    lab.submit("a@src.test", ["three@example.test"], subject="implicit tls")
    m = relay.wait_for(1)[0]
    check(m["rcpt_tos"] == ["three@example.test"], f"relayhost got {m['rcpt_tos']}")
    check(m["tls"], "relayhost session without TLS")
    check(m["auth"], "relayhost session without AUTH")
    wait_queue_empty(tern)


def test_relayhost_wrong_password_defers(workdir):
    """The relayhost refuses the password (535): deferred with the reason, no bounce."""
    lab, cert, key = relay_lab(workdir)
    relay = lab.sink(RELAY, tls=(cert, key), auth=USERS)
    src = lab.src_sink()
    tern = start_relay_tern(lab, workdir, cert, "starttls", "not the password")
    qid = lab.submit("a@src.test", ["four@example.test"], subject="bad password")
    ev = wait_log(tern, "delivery", msg=qid, count=2, timeout=30)
    check(all(e["result"] == "deferred" for e in ev), f"attempts {ev}")
    check("535" in ev[0]["reply"] and "authentication failed" in ev[0]["reply"], f"reason {ev[0]['reply']!r}")
    rows = [r for r in tern.queue_list() if r["id"] == qid]
    check(rows and rows[0]["recipients"][0]["state"] == "deferred", f"queue: {rows}")
    check(relay.count() == 0 and src.count() == 0 and not log_events(tern, "bounce"),
          "a refused relayhost password delivered or bounced mail")


def test_relayhost_untrusted_certificate_defers(workdir):
    """The relayhost's certificate does not verify (not in SSL_CERT_FILE): deferred, nothing sent."""
    lab, cert, key = relay_lab(workdir)
    other_cert, _ = make_cert(workdir, "other.test", ())
    relay = lab.sink(RELAY, tls=(cert, key), auth=USERS)
    secret = os.path.join(workdir, "relay.pass")
    with open(secret, "w") as f:
        f.write(USERS["relayuser"])
    tern = lab.start_tern(
        delivery={"mode": "relayhost", "relayhost": f"smarthost.test:{lab.port}", "relayhost_user": "relayuser",
                  "relayhost_password_file": secret},
        env={"SSL_CERT_FILE": other_cert})
    qid = lab.submit("a@src.test", ["five@example.test"], subject="untrusted")
    ev = wait_log(tern, "delivery", msg=qid)[0]
    check(ev["result"] == "deferred" and "not verified" in ev["reply"], f"{ev}")
    check(relay.count() == 0, "mail went to a relayhost whose certificate failed verification")


if __name__ == "__main__":
    run_tests([
        test_relayhost_starttls_auth,
        test_relayhost_implicit_tls,
        test_relayhost_wrong_password_defers,
        test_relayhost_untrusted_certificate_defers,
    ])
