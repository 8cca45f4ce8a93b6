"""tern's metrics, probes and logs, as an operator sees them.

A real Prometheus server (Debian's `prometheus`) scrapes a running tern that
relays to an aiosmtpd Sink: up == 1, every INTERFACE.md metric present from
start-up with each labelled counter at 0, counters and queue gauges moving
after deliveries, deferrals and a hold, `promtool check metrics` happy, and
labels bounded (never an address or a domain). /healthz and /readyz answer
without a log line per probe, and /readyz follows the spool's writability.
One grep for a queue id shows the message's life in the key=value log.
"""

import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

from ternlib import (LOG_FIELD, Prometheus, Sink, SmtpConn, Tern, check, http_get, parse_log_line,  # noqa: E402
                     run_tests, swaks, wait_until)

# INTERFACE.md's metrics: name -> (type, every label set it must expose from start-up).
REASONS = ("size", "recipients", "relay", "auth", "syntax", "bare_newline", "line_length", "storage", "timeout",
           "sequence", "connections", "other")
EXPECTED = {
    "tern_messages_received_total": ("counter", [{"listener": v} for v in ("submission", "submissions")]),
    "tern_messages_rejected_total": ("counter", [{"reason": v} for v in REASONS]),
    "tern_deliveries_total": ("counter", [{"result": v} for v in ("delivered", "deferred", "bounced")]),
    "tern_queue_messages": ("gauge", [{"state": v} for v in ("ready", "deferred", "held")]),
    "tern_queue_oldest_age_seconds": ("gauge", [{}]),
    "tern_delivery_duration_seconds": ("histogram", [{}]),
    "tern_smtp_sessions_active": ("gauge", [{"direction": v} for v in ("inbound", "outbound")]),
    "tern_auth_failures_total": ("counter", [{}]),
    "tern_dns_queries_total": ("counter", [{"result": v} for v in ("ok", "nxdomain", "servfail", "timeout")]),
    "tern_tls_handshakes_total": ("counter", [{"direction": d, "result": r}
                                              for d in ("inbound", "outbound") for r in ("ok", "failed")]),
}

SERIES_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text):
    """{name: type} and [(name, labels dict, value)] from the text format."""
    types, samples = {}, []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
        elif line and not line.startswith("#"):
            m = SERIES_RE.match(line)
            check(m is not None, f"unparsable exposition line {line!r}")
            samples.append((m.group(1), dict(LABEL_RE.findall(m.group(2) or "")), float(m.group(3))))
    return types, samples


def check_exposition(text, fresh):
    """Every INTERFACE.md series and nothing else; all at 0 when fresh."""
    types, samples = parse_exposition(text)
    check(set(types) == set(EXPECTED), f"metric names {sorted(types)}, want {sorted(EXPECTED)}")
    for name, (kind, label_sets) in EXPECTED.items():
        check(types[name] == kind, f"{name} is a {types[name]}, want {kind}")
        if kind == "histogram":
            got = {(n, tuple(sorted(l.items()))) for n, l, _ in samples if n.startswith(name)}
            check((name + "_count", ()) in got and (name + "_sum", ()) in got, f"{name}: no _count/_sum")
            buckets = [l for n, l, _ in samples if n == name + "_bucket"]
            check(buckets and all(set(l) == {"le"} for l in buckets) and buckets[-1]["le"] == "+Inf",
                  f"{name}: buckets {buckets}")
            continue
        got = sorted(tuple(sorted(l.items())) for n, l, _ in samples if n == name)
        want = sorted(tuple(sorted(l.items())) for l in label_sets)
        check(got == want, f"{name}: label sets {got}, want exactly {want}")
    for name, labels, value in samples:
        for key, value_text in labels.items():
            # bounded labels: never an address, a domain or a host
            check("@" not in value_text and ".test" not in value_text and "127.0.0" not in value_text,
                  f"{name}{labels}: label {key} carries an address or a domain")
        if fresh:
            check(value == 0, f"{name}{labels} is {value} at start-up, want 0")
    return {(n, tuple(sorted(l.items()))): v for n, l, v in samples}


def promtool_check(workdir, text, what):
    path = os.path.join(workdir, f"metrics-{what}.txt")
    with open(path, "w") as f:
        f.write(text)
    with open(path, "rb") as f:
        res = subprocess.run(["promtool", "check", "metrics"], stdin=f, capture_output=True, timeout=30)
    check(res.returncode == 0, f"promtool check metrics ({what}): rc {res.returncode}\n{res.stdout!r}\n{res.stderr!r}")


def relaying_tern(workdir, sink, **kwargs):
    return Tern(workdir, {
        "delivery": {"mode": "relayhost", "relayhost": f"127.0.0.1:{sink.port}", "relayhost_tls": "none"},
        "submission": {"trusted_networks": ["127.0.0.0/8"]},
    }, **kwargs)


def submit(tern, rcpt, sender="app@src.test"):
    """Submits one message with swaks; returns its queue id."""
    res = swaks("--server", f"127.0.0.1:{tern.submission_port}", "--from", sender, "--to", rcpt)
    m = re.search(r"queued as (\S+)", res.stdout)
    check(res.returncode == 0 and m is not None, f"swaks to {rcpt}: rc {res.returncode}\n{res.stdout[-1500:]}")
    return m.group(1)


def test_prometheus_scrapes_tern(workdir):
    sink = Sink(rcpt_rules=[("defer", 451, "4.2.0 try later")]).start()
    tern = relaying_tern(workdir, sink).start()

    fresh = tern.metrics()
    check_exposition(fresh, fresh=True)
    promtool_check(workdir, fresh, "fresh")

    prom = Prometheus(workdir, {"tern": f"127.0.0.1:{tern.metrics_port}"}).start()
    prom.wait_up("tern")
    # Prometheus sees every metric, with every label set, in its first scrape.
    per_name = {m["__name__"]: v for m, v in prom.query('count by (__name__) ({job="tern",__name__=~"tern_.*"})')}
    for name, (kind, label_sets) in EXPECTED.items():
        if kind == "histogram":
            check(per_name.get(name + "_count") == 1, f"prometheus has no {name}_count: {per_name}")
        else:
            check(per_name.get(name) == len(label_sets), f"prometheus has {per_name.get(name)} series of {name}")

    # One delivery through the sink moves the counters, as Prometheus sees them.
    submit(tern, "ok@dest.test")
    sink.wait_for(1)
    prom.wait_value('tern_deliveries_total{job="tern",result="delivered"}', 1.0)
    prom.wait_value('tern_messages_received_total{job="tern",listener="submission"}', 1.0)
    check(prom.value('tern_messages_received_total{job="tern",listener="submissions"}') == 0.0,
          "a submission on 587 counted as listener=submissions")
    prom.wait_value('tern_delivery_duration_seconds_count{job="tern"}', 1.0)
    check(prom.value('tern_deliveries_total{job="tern",result=~"deferred|bounced"} > 0') is None,
          "a deferral or bounce counted for a delivered message")

    # Queue gauges come from the queue: two deferred messages, then one of them held.
    submit(tern, "defer1@dest.test")
    held = submit(tern, "defer2@dest.test")
    prom.wait_value('tern_deliveries_total{job="tern",result="deferred"}', 2.0)
    prom.wait_value('tern_queue_messages{job="tern",state="deferred"}', 2.0)
    tern.cli("queue", "hold", held, check_rc=0)
    prom.wait_value('tern_queue_messages{job="tern",state="held"}', 1.0)
    prom.wait_value('tern_queue_messages{job="tern",state="deferred"}', 1.0)
    check(prom.value('tern_queue_messages{job="tern",state="ready"}') == 0.0, "ready should be 0")
    check((prom.value('tern_queue_oldest_age_seconds{job="tern"}') or 0) > 0, "oldest age should be > 0")
    prom.wait_value('tern_smtp_sessions_active{job="tern",direction="inbound"}', 0.0)
    prom.wait_value('tern_smtp_sessions_active{job="tern",direction="outbound"}', 0.0)

    # Still exactly INTERFACE.md's series (nothing labelled by domain appeared),
    # and the populated exposition still passes promtool.
    busy = tern.metrics()
    values = check_exposition(busy, fresh=False)
    check(values[("tern_deliveries_total", (("result", "delivered"),))] == 1, "delivered != 1 in /metrics")
    promtool_check(workdir, busy, "busy")
    check(tern.stop() == 0, "tern did not exit 0 on SIGTERM")


def log_lines(tern):
    return tern.read_log().splitlines()


def sessions_closed(tern):
    """True when every session_start in the log has its session_end (Tern.start's probe made one)."""
    text = tern.read_log()
    return 0 < text.count("event=session_start") == text.count("event=session_end")


class Unwritable:
    """Makes a directory unwritable for tern, even as root: access(W_OK) fails
    on an immutable inode (chattr +i); where the filesystem (or a container
    without CAP_LINUX_IMMUTABLE) refuses that, the directory is moved aside,
    so the configured path is not there to write to (the daemon's open files
    keep working, as on a spool that went read-only). Undone on exit."""

    def __init__(self, path):
        self.path = path
        self.undo = None

    def __enter__(self):
        if os.geteuid() != 0:
            os.chmod(self.path, 0o500)
            self.undo = lambda: os.chmod(self.path, 0o700)
        elif subprocess.run(["chattr", "+i", self.path], capture_output=True).returncode == 0:
            self.undo = lambda: subprocess.run(["chattr", "-i", self.path], check=True, capture_output=True)
        else:
            aside = self.path + ".aside"
            os.rename(self.path, aside)
            self.undo = lambda: os.rename(aside, self.path)
        check(not os.access(self.path, os.W_OK), f"{self.path} is still writable")
        return self

    def __exit__(self, *exc):
        self.undo()


def test_probes_are_quiet_and_readyz_follows_the_spool(workdir):
    sink = Sink().start()
    tern = relaying_tern(workdir, sink).start()
    base = f"http://127.0.0.1:{tern.metrics_port}"
    wait_until(lambda: sessions_closed(tern), timeout=10, what="the start-up probe's session_end")
    before = log_lines(tern)

    for _ in range(10):
        for path in ("/healthz", "/readyz"):
            status, body = http_get(base + path)
            check(status == 200, f"GET {path}: {status} {body!r}")
            status, _ = http_get(base + path, method="HEAD")
            check(status == 200, f"HEAD {path}: {status}")
    check(http_get(base + "/nope")[0] == 404, "unknown path should be 404")

    spool = tern.config["spool"]
    with Unwritable(spool):
        for _ in range(5):
            status, body = http_get(base + "/readyz")
            check(status == 503 and "spool" in body and "writable" in body,
                  f"/readyz with an unwritable spool: {status} {body!r}")
            check(http_get(base + "/healthz")[0] == 200, "/healthz must not depend on the spool")
    status, body = http_get(base + "/readyz")
    check(status == 200, f"/readyz after the spool is writable again: {status} {body!r}")

    after = log_lines(tern)
    check(after == before, "probes logged lines:\n" + "\n".join(after[len(before):]))

    # SIGTERM with a message half sent: the listeners close and /readyz says
    # so (no new traffic routed here) while the session finishes; then exit 0.
    c = SmtpConn(tern.submission_port)
    c.begin_data("app@src.test", "bob@example.test")
    c.send("Subject: draining\r\n\r\nfirst half\r\n")
    tern.proc.send_signal(signal.SIGTERM)
    status, body = wait_until(lambda: (lambda r: r if r[0] == 503 else None)(http_get(base + "/readyz")),
                              timeout=10, what="/readyz to turn 503 on SIGTERM")
    check("stopping" in body, f"/readyz while draining: {status} {body!r}")
    check(http_get(base + "/healthz")[0] == 200, "/healthz while draining: the process is alive")
    code, text = c.cmd("second half\r\n.")
    check(code == 250, f"the message in flight during the drain: {text!r}")
    c.close()
    check(tern.stop() == 0, "tern did not exit 0 on SIGTERM")


def parse_strict(line):
    """parse_log_line, and the line must be nothing but key=value fields with ts, level and event."""
    fields = parse_log_line(line)
    rest = LOG_FIELD.sub("", line).strip()
    check(rest == "", f"log line is not all key=value: {line!r} (left over {rest!r})")
    for key in ("ts", "level", "event"):
        check(key in fields, f"log line without {key}=: {line!r}")
    return fields


def test_one_grep_shows_a_message_life(workdir):
    # The sink answers the first DATA with 451: one deferral, then a retry delivers.
    sink = Sink(defer_first=1).start()
    tern = relaying_tern(workdir, sink).start()
    msg = submit(tern, "bob@dest.test")
    wait_until(lambda: f"msg={msg} " in tern.read_log() and "result=deferred" in tern.read_log(),
               timeout=20, what="the first (deferred) attempt")
    tern.cli("queue", "retry", msg, check_rc=0)
    sink.wait_for(1)
    wait_until(lambda: "result=delivered" in tern.read_log(), timeout=20, what="the delivered line")
    wait_until(lambda: sessions_closed(tern), timeout=10, what="session_end")

    lines = [parse_strict(l) for l in log_lines(tern)]
    life = [f for f in lines if msg in " ".join(f.values())]
    events = [(f["event"], f.get("result"), f.get("attempt")) for f in life]
    check(events == [("received", None, None), ("delivery", "deferred", "1"), ("delivery", "delivered", "2")],
          f"grep {msg} shows {events}, want received, deferred attempt 1, delivered attempt 2")
    received, deferred, delivered = life
    check(all(f["msg"] == msg for f in life), "every line names the message with msg=")
    check(received["from"] == "<app@src.test>" and received["rcpts"] == "1", f"received line: {received}")
    check(deferred["rcpt"] == "bob@dest.test" and "451" in deferred["reply"] and deferred["next"] != "-",
          f"deferred line: {deferred}")
    check(delivered["rcpt"] == "bob@dest.test" and delivered["next"] == "-" and "250" in delivered["reply"],
          f"delivered line: {delivered}")
    # The received line names its session, whose start and end lines are one line each.
    session = received.get("session")
    check(session, f"received line has no session=: {received}")
    own = [f for f in lines if f.get("session") == session and f["event"].startswith("session_")]
    check([f["event"] for f in own] == ["session_start", "session_end"], f"session {session} lines: {own}")
    check(own[1].get("messages") == "1", f"session_end should count 1 message: {own[1]}")
    check(all(f["level"] == "info" for f in life + own), "a message's life is logged at info")
    check(tern.stop() == 0, "tern did not exit 0 on SIGTERM")


if __name__ == "__main__":
    run_tests([test_prometheus_scrapes_tern, test_probes_are_quiet_and_readyz_follows_the_spool,
               test_one_grep_shows_a_message_life])
