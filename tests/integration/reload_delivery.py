"""SIGHUP reaches delivery: a new relayhost takes effect in the running daemon.

tern starts with its relayhost down, so every message is deferred; SIGHUP
with a config naming a live sink (and `tern queue retry --all`) must send
the waiting mail and new mail there, without a restart, while the process
and its open listener stay the same.
"""

import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

from ternlib import Sink, Tern, check, free_port, run_tests, swaks, wait_until, write_toml  # noqa: E402


def submit(tern, marker):
    res = swaks("--server", f"127.0.0.1:{tern.submission_port}", "--from", "app@src.test",
                "--to", "user@dst.test", "--header", f"X-Marker: {marker}")
    check(res.returncode == 0 and "queued as" in res.stdout, f"swaks rc {res.returncode}:\n{res.stdout[-800:]}")


def test_sighup_switches_the_relayhost(workdir):
    dead = free_port()
    tern = Tern(workdir, {
        "submission": {"trusted_networks": ["127.0.0.0/8"]},
        "delivery": {"mode": "relayhost", "relayhost": f"127.0.0.1:{dead}", "relayhost_tls": "none",
                     "retry_schedule": ["1h"]},
    }).start()
    pid = tern.proc.pid
    for i in range(5):
        submit(tern, f"before-{i}")
    wait_until(lambda: tern.read_log().count("result=deferred") >= 5, timeout=20,
               what="5 deferrals against the dead relayhost")

    sink = Sink().start()
    tern.config["delivery"]["relayhost"] = f"127.0.0.1:{sink.port}"
    write_toml(tern.config_path, tern.config)
    reloads = tern.read_log().count("event=reloaded")
    tern.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: tern.read_log().count("event=reloaded") > reloads, timeout=10, what="the reload")

    submit(tern, "after")  # new mail goes to the new relayhost at once
    messages = sink.wait_for(1, timeout=20)
    check(b"X-Marker: after" in messages[0]["data"], "the first message at the new relayhost is not the new one")

    tern.cli("queue", "retry", "--all", check_rc=0)  # the deferred ones follow when retried
    messages = sink.wait_for(6, timeout=30)
    markers = sorted(line for m in messages for line in m["data"].decode().splitlines() if line.startswith("X-Marker"))
    check(markers == sorted([f"X-Marker: before-{i}" for i in range(5)] + ["X-Marker: after"]),
          f"unexpected messages at the sink: {markers}")
    wait_until(lambda: b"queue is empty" in tern.cli("queue", "list").stdout, timeout=20, what="an empty queue")
    check(tern.proc.pid == pid and tern.proc.poll() is None, "tern restarted instead of reloading")
    check(tern.stop() == 0, "tern did not exit 0 on SIGTERM")


if __name__ == "__main__":
    run_tests([test_sighup_switches_the_relayhost])
