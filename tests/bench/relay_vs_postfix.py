"""The driver of relay_vs_postfix.sh (run that, not this): tern and Postfix
relaying to one counting sink, driven in turn by Postfix's smtp-source.

Per row (message size x connections) and relay, a run submits N messages
with `smtp-source -l SIZE -m N -s CONNS` (one connection per message, as
apps mostly do) and measures:
  ingest  N / (time until smtp-source has its last 250)
  e2e     N / (time until the sink has counted every message)
  cpu     the relay's CPU time (user+system, all its processes) per message,
          from the start of the run until its queue is empty again
  rss     tern's peak resident set during the run (VmHWM, reset per run)
Each row runs REPS times, alternating which relay goes first; the tables
show medians. The scale phase then measures tern alone with a standing
queue of deferred messages (relayhost down, retry in an hour).
"""

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
SMTP_SOURCE = "/usr/sbin/smtp-source"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what, interval=0.005):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def proc_stat(pid):
    """(utime+stime, cutime+cstime) in seconds, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # fields[0] is the state (field 3); utime is field 14
    own = (int(fields[11]) + int(fields[12])) / CLK_TCK
    children = (int(fields[13]) + int(fields[14])) / CLK_TCK
    return own, children


def children_of(ppid):
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == ppid:
            kids.append(int(entry))
    return kids


class CountSink:
    def __init__(self, binary, workdir):
        self.port = free_port()
        self.file = os.path.join(workdir, "sink.count")
        self.proc = subprocess.Popen([binary, f"127.0.0.1:{self.port}", self.file])
        wait_until(lambda: port_open(self.port), 10, "the sink to listen")

    def count(self):
        try:
            with open(self.file) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class Postfix:
    name = "postfix"

    def __init__(self, workdir, sink_port):
        self.dir = os.path.join(workdir, "postfix")
        self.etc = os.path.join(self.dir, "etc")
        self.spool = os.path.join(self.dir, "spool")
        data = os.path.join(self.dir, "data")
        for d in (self.etc, self.spool, data):
            os.makedirs(d)
        shutil.chown(data, "postfix")
        self.port = free_port()
        # A plain relay, as shipped but for what a relay-only instance needs:
        # every message goes to the sink, nothing is delivered locally, the
        # loopback clients may relay, logging goes to a file (no syslogd).
        main_cf = f"""
compatibility_level = 3.6
queue_directory = {self.spool}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.bench.test
mydestination =
local_recipient_maps =
local_transport = error:local delivery disabled
relayhost = [127.0.0.1]:{sink_port}
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
smtpd_relay_restrictions = permit_mynetworks, reject
default_process_limit = 200
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_tls_security_level = none
smtp_tls_security_level = none
biff = no
maillog_file_prefixes = {self.dir}
maillog_file = {self.dir}/maillog
"""
        # chroot off (no chroot jail to populate); otherwise Debian's defaults.
        master_cf = f"""
127.0.0.1:{self.port} inet n - n - - smtpd
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(main_cf)
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(master_cf)

    def start(self):
        res = subprocess.run(["postfix", "-c", self.etc, "start"], capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"postfix start failed: {res.stdout}{res.stderr}")
        wait_until(lambda: port_open(self.port), 20, "postfix to listen")

    def stop(self):
        subprocess.run(["postfix", "-c", self.etc, "stop"], capture_output=True)

    def master_pid(self):
        with open(os.path.join(self.spool, "pid", "master.pid")) as f:
            return int(f.read().strip())

    def cpu(self):
        master = self.master_pid()
        own, reaped = proc_stat(master)
        total = own + reaped
        for kid in children_of(master):
            st = proc_stat(kid)
            if st:
                total += st[0]
        return total

    def queue_empty(self):
        res = subprocess.run(["postqueue", "-c", self.etc, "-p"], capture_output=True, text=True)
        return "Mail queue is empty" in res.stdout

    def reset_peak_rss(self):
        pass

    def peak_rss_mb(self):
        return None


class Tern:
    name = "tern"

    def __init__(self, binary, workdir, relayhost_port, retry="5m", name="tern"):
        self.binary = binary
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        self.port = free_port()
        self.config_path = os.path.join(self.dir, "tern.toml")
        self.log_path = os.path.join(self.dir, "tern.log")
        self.retry = retry
        self.write_config(relayhost_port)
        self.proc = None

    def write_config(self, relayhost_port):
        with open(self.config_path, "w") as f:
            f.write(f"""hostname = "tern.bench.test"
spool = "{self.dir}/spool"
[submission]
listen = ["127.0.0.1:{self.port}"]
trusted_networks = ["127.0.0.0/8"]
max_connections_per_client = 1000
[delivery]
mode = "relayhost"
relayhost = "127.0.0.1:{relayhost_port}"
relayhost_tls = "none"
retry_schedule = ["{self.retry}"]
[metrics]
listen = ""
""")

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("TERN_")}
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, "serve", "--config", self.config_path],
                                     stdout=self.log, stderr=self.log, env=env)
        wait_until(lambda: self.proc.poll() is not None or port_open(self.port), 20, "tern to listen")
        if self.proc.poll() is not None:
            raise RuntimeError(f"tern exited: see {self.log_path}")

    def reload(self, relayhost_port):
        """Points delivery elsewhere with SIGHUP (no restart) and waits for it to take."""
        before = self.log_text().count("event=reloaded")
        self.write_config(relayhost_port)
        self.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: self.log_text().count("event=reloaded") > before, 10, "tern to reload")

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)

    def cpu(self):
        own, _ = proc_stat(self.proc.pid)
        return own

    def cli(self, *args):
        res = subprocess.run([self.binary, *args, "--config", self.config_path], capture_output=True,
                             text=True, timeout=600)
        if res.returncode != 0:
            raise RuntimeError(f"tern {' '.join(args)}: {res.returncode} {res.stderr}")
        return res.stdout

    def queued(self):
        return json.loads(self.cli("queue", "summary", "--json"))["messages"]["total"]

    def queue_empty(self):
        return self.queued() == 0

    def reset_peak_rss(self):
        with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS

    def status_kb(self, key):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def peak_rss_mb(self):
        return self.status_kb("VmHWM") / 1024


def submit(port, size, n, conns):
    """smtp-source run; returns its wall time. Every message must get its 250."""
    t0 = time.monotonic()
    res = subprocess.run([SMTP_SOURCE, "-l", str(size), "-m", str(n), "-s", str(conns),
                          "-f", "app@src.bench.test", "-t", "user@dst.bench.test", f"127.0.0.1:{port}"],
                         capture_output=True, text=True)
    elapsed = time.monotonic() - t0
    if res.returncode != 0:
        raise RuntimeError(f"smtp-source failed ({res.returncode}): {res.stderr.strip()}")
    return elapsed


def one_run(relay, sink, size, n, conns):
    wait_until(relay.queue_empty, 120, f"{relay.name}'s queue to empty before the run", interval=0.2)
    base = sink.count()
    relay.reset_peak_rss()
    cpu0 = relay.cpu()
    t0 = time.monotonic()
    ingest = submit(relay.port, size, n, conns)
    t_e2e = wait_until(lambda: sink.count() >= base + n, max(120, n / 20),
                       f"the sink to count {n} messages from {relay.name}") - t0
    wait_until(relay.queue_empty, 120, f"{relay.name}'s queue to empty after the run", interval=0.05)
    cpu = relay.cpu() - cpu0
    return {"ingest": n / ingest, "e2e": n / t_e2e, "cpu_ms": cpu * 1000 / n, "rss": relay.peak_rss_mb()}


def fmt(x, digits=0):
    return "-" if x is None else f"{x:,.{digits}f}"


def compare(args, workdir, sink):
    postfix = Postfix(workdir, sink.port)
    tern = Tern(args.tern, workdir, sink.port)
    postfix.start()
    tern.start()
    scale = 5 if args.quick else 1
    rows = [(4096, 1, 1000), (4096, 8, 4000), (4096, 32, 8000),
            (102400, 1, 400), (102400, 8, 1500), (102400, 32, 3000)]
    results = {}
    try:
        for rep in range(args.reps):
            for size, conns, n in rows:
                n = max(50, n // scale)
                order = (postfix, tern) if rep % 2 == 0 else (tern, postfix)
                for relay in order:
                    r = one_run(relay, sink, size, n, conns)
                    results.setdefault((size, conns, relay.name), []).append(r)
                    log(f"rep {rep + 1} {size // 1024:>3} KiB x{conns:<2} {relay.name:<7} n={n:<5} "
                        f"ingest {r['ingest']:8.0f}/s  e2e {r['e2e']:8.0f}/s  cpu {r['cpu_ms']:.3f} ms/msg")
    finally:
        tern.stop()
        postfix.stop()

    def med(size, conns, name, key):
        values = [r[key] for r in results[(size, conns, name)] if r[key] is not None]
        return statistics.median(values) if values else None

    lines = ["| size | conns | Postfix ingest/s | tern ingest/s | ratio | Postfix e2e/s | tern e2e/s | ratio "
             "| Postfix CPU ms/msg | tern CPU ms/msg | tern peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for size, conns, _ in rows:
        p_in, t_in = med(size, conns, "postfix", "ingest"), med(size, conns, "tern", "ingest")
        p_e2e, t_e2e = med(size, conns, "postfix", "e2e"), med(size, conns, "tern", "e2e")
        lines.append(f"| {size // 1024} KiB | {conns} | {fmt(p_in)} | {fmt(t_in)} | {t_in / p_in:.2f}x "
                     f"| {fmt(p_e2e)} | {fmt(t_e2e)} | {t_e2e / p_e2e:.2f}x "
                     f"| {fmt(med(size, conns, 'postfix', 'cpu_ms'), 3)} | {fmt(med(size, conns, 'tern', 'cpu_ms'), 3)} "
                     f"| {fmt(med(size, conns, 'tern', 'rss'), 1)} |")
    return lines


def fill(tern, target, size=4096):
    """Submits until tern holds `target` messages (all deferred: its relayhost is down)."""
    have = tern.queued()
    while have < target:
        batch = min(20000, target - have)
        submit(tern.port, size, batch, 32)
        have = wait_until_count(tern, have + batch)
    return have


def wait_until_count(tern, want):
    wait_until(lambda: tern.queued() >= want, 120, f"{want} queued", interval=0.2)
    return tern.queued()


def measure_at(tern, sink, dead_port, batch):
    """Ingest and end-to-end rate for `batch` 4 KiB messages over 32 connections."""
    queued = tern.queued()
    ingest = batch / submit(tern.port, 4096, batch, 32)  # relayhost down: these stay queued
    wait_until_count(tern, queued + batch)
    tern.reload(sink.port)  # the standing queue is deferred for an hour: only new mail moves
    base = sink.count()
    t0 = time.monotonic()
    submit(tern.port, 4096, batch, 32)
    e2e = batch / (wait_until(lambda: sink.count() >= base + batch, 300, f"{batch} at the sink") - t0)
    tern.reload(dead_port)
    return queued, ingest, e2e


def scale(args, workdir, sink):
    dead_port = free_port()  # nothing listens there: every attempt is deferred
    tern = Tern(args.tern, workdir, dead_port, retry="1h", name="tern-scale")
    tern.start()
    small, large = (1000, 20000) if args.quick else (1000, 100000)
    batch = 1000 if args.quick else 10000
    try:
        fill(tern, small)
        q1, ingest1, e2e1 = measure_at(tern, sink, dead_port, batch)
        log(f"scale: {q1} queued: ingest {ingest1:.0f}/s, e2e {e2e1:.0f}/s")
        tern.reset_peak_rss()
        fill(tern, large)
        q2, ingest2, e2e2 = measure_at(tern, sink, dead_port, batch)
        log(f"scale: {q2} queued: ingest {ingest2:.0f}/s, e2e {e2e2:.0f}/s")
        rss_now = tern.status_kb("VmRSS") / 1024
        rss_peak = tern.peak_rss_mb()
        t0 = time.monotonic()
        tern.cli("queue", "summary")
        summary_s = time.monotonic() - t0
        queued = tern.queued()
    finally:
        tern.stop()
    return [
        "| already queued | ingest msgs/s | e2e msgs/s |",
        "|---|---|---|",
        f"| {q1:,} | {ingest1:,.0f} | {e2e1:,.0f} |",
        f"| {q2:,} | {ingest2:,.0f} ({ingest2 / ingest1:.2f}x) | {e2e2:,.0f} ({e2e2 / e2e1:.2f}x) |",
        "",
        f"tern with {queued:,} messages queued: RSS {rss_now:.1f} MB now, peak {rss_peak:.1f} MB while "
        f"filling and measuring; `tern queue summary` took {summary_s:.2f} s.",
    ]


def machine():
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_gb = int(f.readline().split()[1]) / 1024 / 1024
    return f"{os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GiB RAM, {platform.system()} {platform.release()}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tern", required=True)
    ap.add_argument("--sink", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-scale", action="store_true")
    ap.add_argument("--no-compare", action="store_true", help="only the scale phase")
    ap.add_argument("--markdown")
    args = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix="tern-bench.", dir="/var/tmp")
    os.chmod(workdir, 0o755)  # Postfix's daemons (user postfix) must reach their directories
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    sink = CountSink(args.sink, workdir)
    try:
        table = [] if args.no_compare else compare(args, workdir, sink)
        scale_lines = [] if args.no_scale else scale(args, workdir, sink)
    except Exception:
        log(f"failed: logs and spools are kept in {workdir}")
        raise
    finally:
        sink.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    cmd = "tests/bench/relay_vs_postfix.sh " + " ".join(
        a for a in sys.argv[1:] if not a.startswith(("--tern", "--sink", args.tern, args.sink)))
    out = [f"## {started}", "", f"Machine: {machine()}.", f"Command: `{cmd.strip()}`"
           f"{' (quick: fewer messages per run, a smoke test)' if args.quick else ''}.", ""]
    if table:
        out += [f"Medians of {args.reps} runs per row, alternating which relay goes first. ingest: until "
                "smtp-source has its last 250; e2e: until the sink has every message; CPU: user+system "
                "time of all the relay's processes per message, until its queue is empty again.", "", *table]
    if scale_lines:
        out += ["", "tern with a standing queue (4 KiB, 32 connections):", "", *scale_lines]
    text = "\n".join(out) + "\n"
    print(text)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
