"""Retries, partial failures, bounces, expiry, connection reuse and crash
recovery of tern's delivery, against real peers on loopback (dnsmasq for
the MX records, aiosmtpd sinks on 127.0.0.2, ... on one port).

retry_schedule is ["1s"], so a retry comes about a second after a failure.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

from ternlib import (DeliveryLab, check, log_events, parse_dsn, queue_show,  # noqa: E402
                     run_tests, wait_log, wait_queue_empty, wait_until)

EXAMPLE = dict(mx=[("example.test", "mx1.example.test", 10)], hosts=[("mx1.example.test", "127.0.0.2")])


def dsn_recipients(m):
    _, _, per_rcpt, _ = parse_dsn(m["data"])
    return {b["Final-Recipient"].split(";", 1)[1].strip(): b for b in per_rcpt}


def test_451_then_delivered_on_retry(workdir):
    """The MX answers 451 to the first DATA, then takes the message on the
    retry; `tern queue show` lists both attempts. (A second recipient that
    the MX keeps deferring holds the message in the queue for the show.)"""
    lab = DeliveryLab(workdir, **EXAMPLE)
    mx = lab.sink("127.0.0.2", defer_first=1, rcpt_rules=[("stay", 451, "4.2.1 mailbox busy")])
    tern = lab.start_tern()
    qid = lab.submit("a@src.test", ["r@example.test", "stay@example.test"], subject="retry me")
    m = mx.wait_for(1, timeout=30)[0]
    check(m["rcpt_tos"] == ["r@example.test"], f"delivered to {m['rcpt_tos']}")
    ev = wait_log(tern, "delivery", msg=qid, rcpt="r@example.test", count=2)
    check([e["result"] for e in ev[:2]] == ["deferred", "delivered"], f"attempts {ev}")
    check([e["attempt"] for e in ev[:2]] == ["1", "2"], f"attempt numbers {ev}")
    check("451" in ev[0]["reply"], f"first attempt reply {ev[0]['reply']!r}")
    show = queue_show(tern, qid)
    block = show.split("r@example.test", 1)[1].split("stay@example.test", 1)[0]
    lines = [ln.split() for ln in block.splitlines() if ln.startswith("      ")]
    outcomes = [ln[1] for ln in lines]
    check(outcomes[:2] == ["deferred", "delivered"], f"history of r@example.test: {outcomes}\n{show}")
    check("451" in block, f"the 451 is not in the history:\n{show}")


def test_550_for_one_of_two_recipients(workdir):
    """One recipient refused with 550, the other taken: one delivery, one
    DSN that lists only the refused one, and the message leaves the queue."""
    lab = DeliveryLab(workdir, **EXAMPLE)
    mx = lab.sink("127.0.0.2", rcpt_rules=[("reject", 550, "5.1.1 no such user here")])
    src = lab.src_sink()
    tern = lab.start_tern()
    lab.submit("a@src.test", ["ok@example.test", "reject@example.test"], subject="half")
    m = mx.wait_for(1)[0]
    check(m["rcpt_tos"] == ["ok@example.test"], f"delivered to {m['rcpt_tos']}")
    dsn = src.wait_for(1)[0]
    check(dsn["mail_from"] in ("", "<>") and dsn["rcpt_tos"] == ["a@src.test"],
          f"DSN envelope {dsn['mail_from']!r} {dsn['rcpt_tos']}")
    rcpts = dsn_recipients(dsn)
    check(list(rcpts) == ["reject@example.test"], f"DSN lists {list(rcpts)}")
    block = rcpts["reject@example.test"]
    check(block["Status"] == "5.1.1", f"Status {block['Status']!r}")
    check("550" in block["Diagnostic-Code"] and "no such user" in block["Diagnostic-Code"],
          f"Diagnostic-Code {block['Diagnostic-Code']!r}")
    check(block["Remote-MTA"] == "dns; mx1.example.test", f"Remote-MTA {block['Remote-MTA']!r}")
    wait_queue_empty(tern)
    check(tern.metric("tern_deliveries_total", {"result": "bounced"}) == 1.0, "bounced counter")


def test_one_dsn_for_bounces_in_several_domains(workdir):
    """A message to four domains: one takes it, one refuses with 550, one has
    a null MX, one does not exist. The three failures, decided by different
    jobs (one per domain, possibly on different workers), come back in ONE
    DSN, and the message leaves the queue."""
    lab = DeliveryLab(workdir, mx=[("example.test", "mx1.example.test", 10),
                                   ("refuse.test", "mx.refuse.test", 10)],
                      hosts=[("mx1.example.test", "127.0.0.2"), ("mx.refuse.test", "127.0.0.3")],
                      null_mx=["nullmx.test"])
    ok = lab.sink("127.0.0.2")
    lab.sink("127.0.0.3", rcpt_rules=[("", 550, "5.1.1 no such user here")])
    src = lab.src_sink()
    tern = lab.start_tern()
    qid = lab.submit("a@src.test", ["ok@example.test", "r@refuse.test", "n@nullmx.test", "x@nx.test"],
                     subject="four domains")
    check(ok.wait_for(1)[0]["rcpt_tos"] == ["ok@example.test"], "the good recipient was not delivered")
    dsn = src.wait_for(1, timeout=30)[0]
    check(sorted(dsn_recipients(dsn)) == ["n@nullmx.test", "r@refuse.test", "x@nx.test"],
          f"the DSN lists {sorted(dsn_recipients(dsn))}")
    wait_queue_empty(tern)
    time.sleep(1.5)  # a second DSN would have been sent by now (it is attempted at once)
    check(src.count() == 1, f"{src.count()} DSNs for one message, want 1")
    bounces = log_events(tern, "bounce", msg=qid)
    check(len(bounces) == 1 and bounces[0].get("rcpts") == "3", f"bounce log lines: {bounces}")


def test_no_bounce_for_null_sender(workdir):
    """MAIL FROM:<> to a 550 recipient: bounced, and no DSN at all. A second,
    ordinary message bounced after it shows the DSN path works (its DSN is
    the only one that arrives)."""
    lab = DeliveryLab(workdir, **EXAMPLE)
    lab.sink("127.0.0.2", rcpt_rules=[("reject", 550, "5.1.1 no such user here")])
    src = lab.src_sink()
    tern = lab.start_tern()
    null_id = lab.submit("", ["reject1@example.test"], subject="null sender")
    ev = wait_log(tern, "delivery", msg=null_id)[0]
    check(ev["result"] == "bounced", f"null-sender message: {ev}")
    plain_id = lab.submit("a@src.test", ["reject2@example.test"], subject="ordinary")
    dsn = src.wait_for(1)[0]
    check(list(dsn_recipients(dsn)) == ["reject2@example.test"], f"DSN for {list(dsn_recipients(dsn))}")
    wait_queue_empty(tern)
    bounces = log_events(tern, "bounce")
    check([b["msg"] for b in bounces] == [plain_id], f"bounce events {bounces}")
    check(src.count() == 1, f"{src.count()} DSNs arrived")


def test_queue_lifetime_exceeded_bounces(workdir):
    """A recipient that is only ever deferred (451 at every DATA) is bounced
    once max_queue_lifetime has passed, with a DSN saying so (4.4.7)."""
    lab = DeliveryLab(workdir, **EXAMPLE)
    lab.sink("127.0.0.2", data_reply=(451, "4.3.0 not today"))
    src = lab.src_sink()
    tern = lab.start_tern(delivery={"max_queue_lifetime": "3s"})
    qid = lab.submit("a@src.test", ["late@example.test"], subject="expires")
    dsn = src.wait_for(1, timeout=40)[0]
    block = dsn_recipients(dsn)["late@example.test"]
    check(block["Status"] == "4.4.7", f"Status {block['Status']!r}")
    ev = log_events(tern, "delivery", msg=qid)
    check(len(ev) >= 2 and all(e["result"] == "deferred" for e in ev[:-1]) and ev[-1]["result"] == "bounced",
          f"attempts {[(e['attempt'], e['result']) for e in ev]}")
    wait_queue_empty(tern)


def test_connection_reuse_and_limit(workdir):
    """Eight messages for one domain while max_connections_per_domain = 2 and
    the MX holds the first DATA ends: at most 2 connections at a time, and
    the waiting messages go over the open sessions (fewer sessions than
    messages)."""
    lab = DeliveryLab(workdir, **EXAMPLE)
    mx = lab.sink("127.0.0.2", stall_data=2)
    tern = lab.start_tern(delivery={"max_connections_per_domain": 2})
    n = 8
    for i in range(n):
        lab.submit("a@src.test", [f"c{i}@example.test"], subject=f"reuse {i}")
    mx.wait_stalled(2)
    wait_until(lambda: (tern.metric("tern_smtp_sessions_active", {"direction": "outbound"}) or 0) >= 2,
               what="two outbound sessions")
    mx.release()
    msgs = mx.wait_for(n, timeout=30)
    check(sorted(r for m in msgs for r in m["rcpt_tos"]) == sorted(f"c{i}@example.test" for i in range(n)),
          f"delivered {[m['rcpt_tos'] for m in msgs]}")
    print(f"  {n} messages over {mx.connections} connection(s), peak {mx.peak_active} at once", flush=True)
    check(mx.peak_active <= 2, f"{mx.peak_active} connections at once, limit 2")
    check(mx.connections < n, f"{mx.connections} connections for {n} messages: no reuse")
    wait_queue_empty(tern)


def test_kill9_during_delivery_then_restart(workdir):
    """tern is killed (-9) while three messages wait at the MX for the reply
    to their final dot; after a restart every one is delivered (at least
    once) and none is lost."""
    lab = DeliveryLab(workdir, **EXAMPLE)
    mx = lab.sink("127.0.0.2", stall_data=3)
    tern = lab.start_tern()
    ids = [lab.submit("a@src.test", [f"k{i}@example.test"], subject=f"crash {i}") for i in range(3)]
    mx.wait_stalled(3)
    tern.kill9()
    wait_until(lambda: mx.stalled == 0, what="the MX to notice tern is gone")
    check(mx.count() == 0, "a message was accepted before the crash")
    tern.start()  # same spool, same config
    msgs = mx.wait_for(3, timeout=30)
    got = sorted(r for m in msgs for r in m["rcpt_tos"])
    check(got == ["k0@example.test", "k1@example.test", "k2@example.test"], f"after restart: {got}")
    wait_queue_empty(tern)
    for qid in ids:
        check(wait_log(tern, "delivery", msg=qid, result="delivered"), f"{qid} not delivered")


def test_sigterm_during_delivery_then_restart(workdir):
    """SIGTERM while the MX sits on the final dot: tern stops after its
    delivery grace (10 s) instead of waiting for the reply, exit 0, and the
    unrecorded delivery is made after a restart."""
    lab = DeliveryLab(workdir, **EXAMPLE)
    mx = lab.sink("127.0.0.2", stall_data=1)
    tern = lab.start_tern()
    qid = lab.submit("a@src.test", ["t@example.test"], subject="sigterm")
    mx.wait_stalled(1)
    started = time.monotonic()
    rc = tern.stop(timeout=40)
    took = time.monotonic() - started
    print(f"  stopped in {took:.1f}s", flush=True)
    check(rc == 0, f"tern exited with {rc}")
    check(mx.count() == 0, "the stalled message was accepted")
    tern.start()
    m = mx.wait_for(1, timeout=30)[0]
    check(m["rcpt_tos"] == ["t@example.test"], f"after restart: {m['rcpt_tos']}")
    wait_queue_empty(tern)
    check(wait_log(tern, "delivery", msg=qid, result="delivered"), "not delivered")


def test_queue_cli_while_serving_loses_nothing(workdir):
    """`tern queue list` run against the live spool must not disturb the
    daemon: mail acknowledged after it shows in the next listing and survives
    kill -9 (a CLI once deleted the daemon's live WAL when it closed)."""
    lab = DeliveryLab(workdir, **EXAMPLE)
    lab.sink("127.0.0.2", data_reply=(451, "4.3.0 not now"))  # everything stays queued
    tern = lab.start_tern()
    first = lab.submit("a@src.test", ["q1@example.test"], subject="before the listing")
    check([r["id"] for r in tern.queue_list()] == [first], "first message not listed")
    second = lab.submit("a@src.test", ["q2@example.test"], subject="after the listing")
    wait_log(tern, "delivery", msg=second)  # the daemon has written more since the listing
    listed = sorted(r["id"] for r in tern.queue_list())
    check(listed == sorted([first, second]), f"listed {listed} after the second message, want both")
    tern.kill9()
    tern.start()
    listed = sorted(r["id"] for r in tern.queue_list())
    check(listed == sorted([first, second]), f"after kill -9 and restart the queue holds {listed}")


if __name__ == "__main__":
    run_tests([
        test_451_then_delivered_on_retry,
        test_550_for_one_of_two_recipients,
        test_one_dsn_for_bounces_in_several_domains,
        test_no_bounce_for_null_sender,
        test_queue_lifetime_exceeded_bounces,
        test_connection_reuse_and_limit,
        test_kill9_during_delivery_then_restart,
        test_sigterm_during_delivery_then_restart,
        test_queue_cli_while_serving_loses_nothing,
    ])
