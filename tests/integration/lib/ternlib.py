"""Shared harness for tern's integration tests: real peers on loopback.

Starts `tern serve` with a config in a scratch directory, aiosmtpd sinks
that record or refuse mail on demand, dnsmasq serving MX records, and runs
swaks. Everything binds free ports on 127.0.0.0/8; every wait has a deadline.
Run with /usr/bin/python3 (Debian's python3-aiosmtpd lives there).
"""

import contextlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

TERN_BIN = os.environ.get("TERNTEST_BIN", "")
SOURCE_DIR = os.environ.get("TERNTEST_SOURCE_DIR", "")


class TestFailure(Exception):
    pass


# Everything a test started, stopped by run_tests() after the test whatever happens.
_started = []


def _register(thing):
    _started.append(thing)
    return thing


def _cleanup():
    while _started:
        thing = _started.pop()
        with contextlib.suppress(Exception):
            if isinstance(thing, Tern):
                thing.kill9()
            else:
                thing.stop()


def check(condition, message):
    if not condition:
        raise TestFailure(message)


def wait_until(predicate, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TestFailure(f"timed out after {timeout}s waiting for {what}")


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_open(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def write_toml(path, config):
    lines = []
    for key, value in config.items():
        if not isinstance(value, dict):
            lines.append(f"{key} = {toml_value(value)}")
    for section, table in config.items():
        if isinstance(table, dict):
            lines.append(f"\n[{section}]")
            for key, value in table.items():
                lines.append(f"{key} = {toml_value(value)}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def clean_env(extra=None):
    """The environment without TERN_* variables (they are tern config), plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERN_")}
    env.update(extra or {})
    return env


def make_cert(directory, cn, sans=("127.0.0.1",)):
    """A self-signed certificate + key; returns (cert_path, key_path)."""
    cert = os.path.join(directory, f"{cn}.crt")
    key = os.path.join(directory, f"{cn}.key")
    san = ",".join(("IP:" + s) if s[0].isdigit() else ("DNS:" + s) for s in (cn,) + tuple(sans))
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-days", "2", "-subj", f"/CN={cn}", "-addext", f"subjectAltName={san}",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True)
    return cert, key


class Tern:
    """A `tern serve` process with its own spool and config in a scratch dir."""

    def __init__(self, workdir, config=None, env=None, name="tern"):
        self.workdir = workdir
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.test_config = config or {}
        self.config_path = os.path.join(self.dir, "tern.toml")
        self._pick_ports()
        self.env = clean_env(env)
        self.log_path = os.path.join(self.dir, "tern.log")
        self.proc = None
        self.started_once = False

    def _pick_ports(self):
        self.submission_port = free_port()
        self.metrics_port = free_port()
        base = {
            "hostname": "relay.test",
            "spool": os.path.join(self.dir, "spool"),
            "submission": {
                "listen": [f"127.0.0.1:{self.submission_port}"],
                "io_threads": 2,
            },
            "delivery": {"workers": 2},
            "metrics": {"listen": f"127.0.0.1:{self.metrics_port}"},
        }
        for section, value in self.test_config.items():
            if isinstance(value, dict):
                base.setdefault(section, {}).update(value)
            else:
                base[section] = value
        self.config = base
        write_toml(self.config_path, self.config)

    def start(self, wait=True):
        """Starts tern; with wait, until its own log says it listens. free_port()
        can hand a port to someone else before tern binds it: on the first
        start, a bind refusal is retried with fresh ports (never after, when
        a test may hold the ports), and a listener that is not ours never
        passes for tern (the readiness check needs tern's own `started`)."""
        for attempt in range(3):
            self.log = open(self.log_path, "ab")
            offset = self.log.tell()
            self.proc = subprocess.Popen([TERN_BIN, "serve", "--config", self.config_path],
                                         stdout=self.log, stderr=self.log, env=self.env)
            _register(self)
            if not wait:
                break

            def up():
                return self.proc.poll() is not None or (port_open("127.0.0.1", self.submission_port)
                                                        and "event=started" in self.read_log()[offset:])
            wait_until(up, timeout=15, what="tern to listen")
            if self.proc.poll() is None:
                break
            log = self.read_log()[offset:]
            if (self.started_once or attempt == 2 or "cannot listen" not in log
                    or "listen" in self.test_config.get("submission", {})):
                raise TestFailure(f"tern exited with {self.proc.returncode}:\n{self.read_log()}")
            self._pick_ports()  # lost a port to someone else: try fresh ones
        self.started_once = True
        return self

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise TestFailure("tern did not stop within %ss of SIGTERM" % timeout)
        return self.proc.returncode if self.proc else None

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def cli(self, *args, input=None, check_rc=None):
        res = subprocess.run([TERN_BIN, *args, "--config", self.config_path], input=input,
                             capture_output=True, env=self.env, timeout=60)
        if check_rc is not None and res.returncode != check_rc:
            raise TestFailure(f"tern {' '.join(args)}: rc {res.returncode}, want {check_rc}\n"
                              f"stdout: {res.stdout!r}\nstderr: {res.stderr!r}")
        return res

    def add_user(self, name, password):
        """`tern user add NAME` with the password on stdin."""
        self.cli("user", "add", name, input=(password + "\n").encode(), check_rc=0)

    def queue_list(self):
        """`tern queue list --json`, parsed."""
        import json
        return json.loads(self.cli("queue", "list", "--json", check_rc=0).stdout)

    def wait_log(self, text, timeout=15, after=0):
        """Waits until the log (from byte offset `after`) contains text."""
        return wait_until(lambda: text in self.read_log()[after:], timeout=timeout, what=f"{text!r} in tern's log")

    def metrics(self):
        import urllib.request
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
            return r.read().decode()

    def metric(self, name, labels=None):
        """The value of one series, or None."""
        want = name
        if labels:
            want += "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
        for line in self.metrics().splitlines():
            if line.startswith("#"):
                continue
            series, _, value = line.rpartition(" ")
            if normalize_series(series) == want:
                return float(value)
        return None


def normalize_series(series):
    if "{" not in series:
        return series
    name, _, rest = series.partition("{")
    pairs = [p for p in rest.rstrip("}").split(",") if p]
    return name + "{" + ",".join(sorted(pairs)) + "}"


class Sink:
    """An aiosmtpd server on loopback that records messages.

    rcpt_rules: list of (prefix, code, text): a RCPT whose local part starts
    with prefix gets that reply (e.g. ("reject", 550, "5.1.1 no such user")).
    data_reply: optional (code, text) for the end of DATA; defer_first: the
    first N DATA ends get 451. tls: (cert, key) to offer STARTTLS. auth: a
    dict user -> password to require AUTH (PLAIN/LOGIN, after STARTTLS).
    tls_ciphers: TLS 1.2 only, with this OpenSSL cipher list.
    stall_data: the first N DATA ends wait (no reply) until release() or
    until the client goes away; `stalled` counts how many are waiting.
    Counters: `connections` (TCP connections accepted, STARTTLS not counted
    twice), `active` and `peak_active` (concurrent connections), `sessions`
    (EHLOs). Each recorded message has its arrival time.monotonic() in "at".
    """

    def __init__(self, host="127.0.0.1", port=None, rcpt_rules=(), data_reply=None, defer_first=0,
                 tls=None, auth=None, implicit_tls=False, stall_data=0, tls_ciphers=None):
        import asyncio
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
        self.host = host
        self.port = port or free_port(host)
        self.messages = []
        self.lock = threading.Lock()
        self.rcpt_rules = list(rcpt_rules)
        self.data_reply = data_reply
        self.defer_left = defer_first
        self.stall_left = stall_data
        self.stalled = 0
        self.released = threading.Event()
        self.sessions = 0
        self.connections = 0
        self.active = 0
        self.peak_active = 0
        sink = self

        class Handler:
            async def handle_EHLO(self, server, session, envelope, hostname, responses):
                session.host_name = hostname
                with sink.lock:
                    sink.sessions += 1
                return responses

            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                local = address.split("@")[0]
                for prefix, code, text in sink.rcpt_rules:
                    if local.startswith(prefix):
                        return f"{code} {text}"
                envelope.rcpt_tos.append(address)
                return "250 2.1.5 OK"

            async def handle_DATA(self, server, session, envelope):
                with sink.lock:
                    stall = sink.stall_left > 0
                    if stall:
                        sink.stall_left -= 1
                        sink.stalled += 1
                if stall:
                    try:
                        while not sink.released.is_set():  # cancelled when the client goes away
                            await asyncio.sleep(0.02)
                    finally:
                        with sink.lock:
                            sink.stalled -= 1
                with sink.lock:
                    if sink.defer_left > 0:
                        sink.defer_left -= 1
                        return "451 4.3.0 try again later"
                    if sink.data_reply:
                        return f"{sink.data_reply[0]} {sink.data_reply[1]}"
                    sink.messages.append({
                        "mail_from": envelope.mail_from,
                        "rcpt_tos": list(envelope.rcpt_tos),
                        "data": envelope.original_content,
                        # STARTTLS sets session.ssl; implicit TLS shows only on the transport
                        "tls": session.ssl is not None
                        or server.transport.get_extra_info("ssl_object") is not None,
                        "auth": getattr(session, "authenticated", False),
                        "helo": session.host_name,
                        "at": time.monotonic(),
                    })
                return "250 2.0.0 OK queued"

        def authenticator(server, session, envelope, mechanism, auth_data):
            if sink.auth is None:
                return AuthResult(success=False, handled=False)
            if isinstance(auth_data, LoginPassword):
                user = auth_data.login.decode()
                password = auth_data.password.decode()
                if sink.auth.get(user) == password:
                    return AuthResult(success=True)
            return AuthResult(success=False, handled=False)

        self.auth = auth
        kwargs = {}
        if tls or implicit_tls:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(*tls)
            if tls_ciphers:  # e.g. a suite the client refuses: the handshake fails
                ctx.maximum_version = ssl.TLSVersion.TLSv1_2
                ctx.set_ciphers(tls_ciphers)
            if implicit_tls:
                kwargs["ssl_context"] = ctx
            else:
                kwargs["tls_context"] = ctx
                kwargs["require_starttls"] = False
        if auth is not None:
            kwargs["authenticator"] = authenticator
            kwargs["auth_required"] = True
            kwargs["auth_require_tls"] = not implicit_tls and tls is not None

        class CountingSMTP(SMTP):
            def connection_made(self, transport):
                first = self.transport is None  # STARTTLS calls this again on the same connection
                super().connection_made(transport)
                if first:
                    with sink.lock:
                        sink.connections += 1
                        sink.active += 1
                        sink.peak_active = max(sink.peak_active, sink.active)

            def connection_lost(self, error):
                with sink.lock:
                    sink.active -= 1
                super().connection_lost(error)

        class CountingController(Controller):
            def factory(self):
                return CountingSMTP(self.handler, **self.SMTP_kwargs)

        self.controller = CountingController(Handler(), hostname=host, port=self.port, decode_data=False,
                                             enable_SMTPUTF8=True, server_hostname="sink.test",
                                             ready_timeout=10, **kwargs)

    def start(self):
        self.controller.start()
        _register(self)
        # Controller.start() connects once itself to check the server is up:
        # that connection is not the test's.
        wait_until(lambda: self.active == 0, timeout=10, what="the sink's own probe connection to close")
        with self.lock:
            self.connections = 0
            self.peak_active = 0
            self.sessions = 0
        return self

    def stop(self):
        self.released.set()
        with contextlib.suppress(Exception):
            self.controller.stop()

    def count(self):
        with self.lock:
            return len(self.messages)

    def wait_for(self, n, timeout=20):
        wait_until(lambda: self.count() >= n, timeout=timeout,
                   what=f"{n} message(s) at sink {self.host}:{self.port}")
        with self.lock:
            return list(self.messages)

    def wait_stalled(self, n, timeout=20):
        def enough():
            with self.lock:
                return self.stalled >= n
        wait_until(enough, timeout=timeout, what=f"{n} DATA end(s) stalled at sink {self.host}:{self.port}")

    def release(self):
        self.released.set()


class _Serving:
    """A socket served by a daemon thread running self._run() until stop()."""

    def _init_thread(self):
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return _register(self)

    def _stop_thread(self):
        self.stopping.set()
        self.thread.join(timeout=5)


class ServFailDns(_Serving):
    """A UDP DNS responder on 127.0.0.1 that answers every query SERVFAIL
    (dnsmasq cannot make that answer itself; it forwards it from here)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.answered = 0
        self._init_thread()

    def _run(self):
        while not self.stopping.is_set():
            try:
                query, peer = self.sock.recvfrom(4096)
            except OSError:
                continue
            if len(query) < 12:
                continue
            # same id and question; QR=1, RD copied, RA=1, RCODE=2; no records
            flags = bytes([0x80 | (query[2] & 0x01), 0x80 | 2])
            with contextlib.suppress(OSError):
                self.sock.sendto(query[:2] + flags + query[4:6] + b"\0\0\0\0\0\0" + query[12:], peer)
                self.answered += 1

    def stop(self):
        self._stop_thread()
        self.sock.close()


class Dnsmasq:
    """dnsmasq on 127.0.0.1:<free port> answering for the given records.

    mx: list of (domain, host, preference); hosts: list of (name, address);
    null_mx: domains with "MX 0 ."; timeout_domains: forwarded to a dead port;
    servfail_domains: forwarded to a ServFailDns.
    Everything else under .test is NXDOMAIN.
    """

    def __init__(self, mx=(), hosts=(), null_mx=(), timeout_domains=(), servfail_domains=()):
        records = ["--local=/test/"]
        for domain, host, pref in mx:
            records.append(f"--mx-host={domain},{host},{pref}")
        for domain in null_mx:
            records.append(f"--mx-host={domain},.,0")
        for name, address in hosts:
            records.append(f"--host-record={name},{address}")
        dead = free_port()
        for domain in timeout_domains:
            records.append(f"--server=/{domain}/127.0.0.1#{dead}")
        if servfail_domains:
            self.servfail = ServFailDns().start()
            for domain in servfail_domains:
                records.append(f"--server=/{domain}/127.0.0.1#{self.servfail.port}")
        self.records = records
        self.port = None
        self.proc = None
        self.log = None

    def start(self):
        # free_port() can hand the same port to two tests at once; the loser's
        # dnsmasq fails to bind and exits, but not before the winner's answer
        # could pass for its own. So "up" means: our process logged our probe.
        _register(self)
        for _ in range(5):
            if self.log:
                self.log.close()
            self.log = tempfile.NamedTemporaryFile(prefix="tern-dnsmasq-", suffix=".log")
            self.port = free_port()
            args = ["/usr/sbin/dnsmasq", "--keep-in-foreground", "--log-facility=-", "--log-queries",
                    f"--port={self.port}", "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv",
                    "--no-hosts", "--no-poll", "--conf-file=/dev/null", "--pid-file="]
            if os.geteuid() == 0:
                args += ["--user=nobody", "--group=nogroup"]
            self.args = args + self.records
            self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=self.log)
            state = wait_until(lambda: "exited" if self.proc.poll() is not None else self._answers() and "up",
                               timeout=10, what="dnsmasq to answer")
            if state == "up":
                return self
        raise TestFailure(f"dnsmasq did not come up: {' '.join(self.args)}")

    def _answers(self):
        # a minimal DNS query for "x.test" type A, answered by our dnsmasq
        query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01x\x04test\x00\x00\x01\x00\x01"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            try:
                s.sendto(query, ("127.0.0.1", self.port))
                s.recvfrom(512)
            except OSError:
                return False
        with open(self.log.name, "rb") as f:
            return b"query[A] x.test" in f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=5)
        if self.log:
            self.log.close()


class Prometheus:
    """Debian's prometheus server on a free loopback port, scraping targets every second.

    targets: {job: "host:port"}. Prometheus's first scrape comes about 5 s
    after start (a fixed discovery throttle), so wait with wait_up(), never sleep.
    """

    def __init__(self, workdir, targets):
        self.dir = os.path.join(workdir, "prometheus")
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        self.port = free_port()
        self.config_path = os.path.join(self.dir, "prometheus.yml")
        lines = ["global:", "  scrape_interval: 1s", "  evaluation_interval: 1s", "scrape_configs:"]
        for job, target in targets.items():
            lines += [f"  - job_name: {job}", "    static_configs:", f"      - targets: ['{target}']"]
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log_path = os.path.join(self.dir, "prometheus.log")
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={self.config_path}", f"--storage.tsdb.path={self.dir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=self.log)
        _register(self)
        wait_until(lambda: self.proc.poll() is not None or self._ready(), timeout=30, what="prometheus to be ready")
        if self.proc.poll() is not None:
            raise TestFailure(f"prometheus exited with {self.proc.returncode}")
        return self

    def _ready(self):
        import urllib.request
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def query(self, expr):
        """An instant query: a list of (labels dict, float value)."""
        import json
        import urllib.parse
        import urllib.request
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
        if body.get("status") != "success":
            raise TestFailure(f"prometheus query {expr!r}: {body}")
        return [(s["metric"], float(s["value"][1])) for s in body["data"]["result"]]

    def value(self, expr):
        """The single value of expr, or None when it has no series."""
        result = self.query(expr)
        if len(result) > 1:
            raise TestFailure(f"{expr!r} gave {len(result)} series, want one: {result}")
        return result[0][1] if result else None

    def wait_value(self, expr, want, timeout=30):
        """Waits until expr's single value equals want (each scrape is 1 s apart)."""
        seen = []

        def ok():
            seen[:] = [self.value(expr)]
            return seen[0] == want
        try:
            wait_until(ok, timeout=timeout, interval=0.2, what=f"{expr} == {want}")
        except TestFailure:
            raise TestFailure(f"{expr} is {seen[0] if seen else None}, want {want} (after {timeout}s)")

    def wait_up(self, job, timeout=40):
        self.wait_value(f'up{{job="{job}"}}', 1.0, timeout=timeout)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def http_get(url, method="GET", timeout=5):
    """(status, body) of one HTTP request; 4xx/5xx are returned, not raised."""
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


class Tmpfs:
    """A small tmpfs mounted at path (root only), unmounted by run_tests() after the test.

    start() returns None when mounting is impossible here (not root, no CAP_SYS_ADMIN)."""

    def __init__(self, path, size):
        self.path = path
        self.size = size
        self.mounted = False

    def start(self):
        os.makedirs(self.path, exist_ok=True)
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size},mode=0700", "tmpfs", self.path],
                             capture_output=True, text=True)
        if res.returncode != 0:
            self.error = res.stderr.strip()
            return None
        self.mounted = True
        return _register(self)

    def stop(self):
        if self.mounted:
            subprocess.run(["umount", "-l", self.path], capture_output=True)
            self.mounted = False

    @staticmethod
    def for_spool(tern, size, test_name):
        """A tmpfs of `size` as tern's spool, or None after printing why the test is skipped."""
        fs = Tmpfs(tern.config["spool"], size)
        if fs.start() is None:
            print(f"SKIP {test_name}: cannot mount a tmpfs for the spool ({fs.error}); needs root (CAP_SYS_ADMIN)",
                  flush=True)
        return fs if fs.mounted else None


class SmtpConn:
    """A raw SMTP client over a real socket, for saying what smtplib won't.

    reply() reads one whole (multi-line) reply within the deadline and returns
    (code, text); cmd() sends one line (CRLF added unless raw) and reads the
    reply. closed() tells whether the server hung up. source: a local address
    (e.g. "127.0.0.2") to come from; tls: an SSLContext for implicit TLS.
    """

    def __init__(self, port, host="127.0.0.1", source=None, tls=None, timeout=20.0, greeting=True):
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname=host)
        self.greeting = self.reply() if greeting else None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _line(self, deadline):
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure(f"no reply within {self.timeout}s (got {self.buf[:200]!r})")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise TestFailure(f"server closed the connection (pending {self.buf[:200]!r})")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        deadline = time.monotonic() + self.timeout
        lines = []
        while True:
            line = self._line(deadline)
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                break
        code = int(lines[-1][:3]) if lines[-1][:3].isdigit() else -1
        return code, "\n".join(lines)

    def cmd(self, line, raw=False):
        self.send(line if raw else line + "\r\n")
        return self.reply()

    def expect(self, line, code, what=None):
        got, text = self.cmd(line)
        check(got == code, f"{what or line!r}: got {text!r}, want {code}")
        return text

    def begin_data(self, sender, rcpt, ehlo="app.test"):
        """EHLO (unless ehlo is None), MAIL, RCPT and DATA, each accepted: the message text comes next."""
        if ehlo is not None:
            self.expect(f"EHLO {ehlo}", 250)
        self.expect(f"MAIL FROM:<{sender}>", 250)
        self.expect(f"RCPT TO:<{rcpt}>", 250)
        self.expect("DATA", 354)

    def starttls(self, context, server_hostname="127.0.0.1"):
        code, text = self.cmd("STARTTLS")
        check(code == 220, f"STARTTLS: {text!r}")
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)
        return self.sock

    def closed(self, timeout=10.0):
        """True once the server closes (EOF or reset) within timeout; bytes read meanwhile go to buf."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
                return True
            if not chunk:
                return True
            self.buf += chunk
        return False

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()


def queued_id(reply_text):
    """The queue id from "250 2.0.0 Ok: queued as ID", or None."""
    marker = "queued as "
    if marker not in reply_text:
        return None
    return reply_text.split(marker, 1)[1].split()[0]


def expect_queued_id(reply_text):
    """The queue id from a 250 reply; fails the test when there is none."""
    qid = queued_id(reply_text)
    check(qid is not None, f"no queue id in {reply_text!r}")
    return qid


class RawListener(_Serving):
    """A TCP listener that is not an SMTP server: it accepts and then either
    says nothing at all (banner=None: a silent server) or sends `banner`
    (e.g. b"421 4.3.2 busy\\r\\n") and, with close=True, hangs up. `accepted`
    counts connections. With unreachable=True it never accepts and its accept
    queue is kept full, so the kernel drops further SYNs: a connect() to it
    hangs, as to a host behind a firewall that drops packets."""

    def __init__(self, host, port, banner=None, close=False, unreachable=False):
        self.host = host
        self.port = port
        self.banner = banner
        self.close = close
        self.unreachable = unreachable
        self.accepted = 0
        self.lock = threading.Lock()
        self.conns = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(0 if unreachable else 64)
        self.sock.settimeout(0.1)
        if unreachable:
            for _ in range(3):  # fill the accept queue (backlog 0 admits one, plus slack)
                filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                filler.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    filler.connect((host, port))
                self.conns.append(filler)
        self._init_thread()

    def _run(self):
        while not self.stopping.is_set():
            if self.unreachable:
                self.stopping.wait(0.1)
                continue
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with self.lock:
                self.accepted += 1
            with contextlib.suppress(OSError):
                if self.banner is not None:
                    conn.sendall(self.banner)
            if self.close:
                conn.close()
            else:
                self.conns.append(conn)  # held open, never read: the peer waits in vain

    def count(self):
        with self.lock:
            return self.accepted

    def stop(self):
        self._stop_thread()
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.close()
        self.sock.close()


def common_free_port(hosts, attempts=50):
    """A TCP port that is free on every one of `hosts` right now."""
    for _ in range(attempts):
        port = free_port(hosts[0])
        ok = True
        for host in hosts[1:]:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind((host, port))
                except OSError:
                    ok = False
                    break
        if ok:
            return port
    raise TestFailure(f"no port free on all of {hosts}")


def submit(port, sender, recipients, subject="test", body="hello\r\n", headers=(), host="127.0.0.1",
           timeout=30):
    """Submits one message over plain SMTP with smtplib (no AUTH: the client
    must be trusted) and returns tern's queue id from the 250 reply. An
    empty sender is MAIL FROM:<>."""
    import smtplib
    lines = [f"From: <{sender or 'nobody@nowhere.test'}>", "To: " + ", ".join(f"<{r}>" for r in recipients),
             f"Subject: {subject}", f"Message-ID: <{subject.replace(' ', '.')}.{time.time_ns()}@src.test>",
             *headers]
    data = ("\r\n".join(lines) + "\r\n\r\n" + body).encode()
    with smtplib.SMTP(host, port, timeout=timeout) as s:
        s.ehlo("client.test")
        code, msg = s.mail(sender)
        check(code == 250, f"MAIL FROM:<{sender}>: {code} {msg!r}")
        for r in recipients:
            code, msg = s.rcpt(r)
            check(code == 250, f"RCPT TO:<{r}>: {code} {msg!r}")
        code, msg = s.data(data)
        check(code == 250, f"DATA: {code} {msg!r}")
    return expect_queued_id(msg.decode())


# One field of a key=value log line: key=value or key="quoted \"value\"".
LOG_FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_log_line(line):
    """A key=value log line as a dict ({} if it is not one)."""
    out = {}
    for key, value in LOG_FIELD.findall(line):
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        out[key] = value
    return out


class DeliveryLab:
    """tern in MX mode against real peers: dnsmasq on 127.0.0.1 answering
    for the test domains, and receiving servers on 127.0.0.2, 127.0.0.3, ...
    all on one port (delivery.smtp_port). Retries are one second apart.

    mx: (domain, host, pref); hosts: (name, address). src.test (the senders'
    domain, where DSNs go) is always there: MX mx.src.test -> 127.0.0.9.
    """

    ADDRESSES = [f"127.0.0.{i}" for i in range(2, 13)]
    SRC_ADDRESS = "127.0.0.9"

    def __init__(self, workdir, mx=(), hosts=(), null_mx=(), timeout_domains=(), servfail_domains=()):
        self.workdir = workdir
        self.port = common_free_port(self.ADDRESSES)
        mx = list(mx) + [("src.test", "mx.src.test", 10)]
        hosts = list(hosts) + [("mx.src.test", self.SRC_ADDRESS)]
        self.dns = Dnsmasq(mx=mx, hosts=hosts, null_mx=null_mx, timeout_domains=timeout_domains,
                           servfail_domains=servfail_domains).start()
        self.tern = None

    def sink(self, address, **kwargs):
        return Sink(host=address, port=self.port, **kwargs).start()

    def src_sink(self, **kwargs):
        """The sink for src.test: where bounces to a@src.test arrive."""
        return self.sink(self.SRC_ADDRESS, **kwargs)

    def raw(self, address, **kwargs):
        return RawListener(address, self.port, **kwargs).start()

    def start_tern(self, delivery=None, config=None, env=None, name="tern"):
        cfg = {
            "submission": {"trusted_networks": ["127.0.0.0/8"]},
            "delivery": {"smtp_port": self.port, "retry_schedule": ["1s"], "connect_timeout": "5s",
                         "command_timeout": "20s"},
            "dns": {"servers": [f"127.0.0.1:{self.dns.port}"], "timeout": "1s"},
        }
        cfg["delivery"].update(delivery or {})
        for section, value in (config or {}).items():
            if isinstance(value, dict):
                cfg.setdefault(section, {}).update(value)
            else:
                cfg[section] = value
        self.tern = Tern(self.workdir, cfg, env=env, name=name).start()
        return self.tern

    def submit(self, sender, recipients, **kwargs):
        return submit(self.tern.submission_port, sender, recipients, **kwargs)


def log_events(tern, event=None, **match):
    """tern's log lines (parsed) with that event and those field values."""
    out = []
    for line in tern.read_log().splitlines():
        fields = parse_log_line(line)
        if event is not None and fields.get("event") != event:
            continue
        if all(fields.get(k) == v for k, v in match.items()):
            out.append(fields)
    return out


def wait_log(tern, event, timeout=20, count=1, **match):
    """Waits until tern has logged `count` lines of `event` with those fields."""
    return wait_until(lambda: (lambda found: found if len(found) >= count else None)(
        log_events(tern, event, **match)), timeout=timeout,
        what=f"{count} log line(s) event={event} {match}")


def wait_queue_empty(tern, timeout=20):
    wait_until(lambda: tern.queue_list() == [], timeout=timeout, interval=0.2, what="the queue to be empty")


def queue_show(tern, message_id):
    return tern.cli("queue", "show", message_id, check_rc=0).stdout.decode()


def parse_dsn(raw):
    """Checks that `raw` (bytes) is an RFC 3464 report and takes it apart:
    returns (message, per_message_fields, [per_recipient_fields...],
    returned_headers_text)."""
    import email
    import email.policy
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    check(msg.get_content_type() == "multipart/report", f"DSN is {msg.get_content_type()}, not multipart/report")
    check(msg.get_param("report-type") == "delivery-status",
          f"DSN report-type is {msg.get_param('report-type')!r}")
    parts = msg.get_payload()
    check(isinstance(parts, list) and len(parts) >= 3, f"DSN has {len(parts) if isinstance(parts, list) else 0} parts")
    check(parts[0].get_content_type() == "text/plain", f"DSN part 1 is {parts[0].get_content_type()}")
    check(parts[1].get_content_type() == "message/delivery-status", f"DSN part 2 is {parts[1].get_content_type()}")
    blocks = parts[1].get_payload()
    check(isinstance(blocks, list) and len(blocks) >= 2, "message/delivery-status without recipient blocks")
    returned = parts[2]
    check(returned.get_content_type() in ("text/rfc822-headers", "message/rfc822"),
          f"DSN part 3 is {returned.get_content_type()}")
    payload = returned.get_payload()
    text = payload if isinstance(payload, str) else "".join(str(p) for p in payload)
    return msg, blocks[0], blocks[1:], text


def swaks(*args, timeout=30):
    return subprocess.run(["swaks", "--timeout", "10", *args], capture_output=True, text=True,
                          timeout=timeout)


def run_tests(tests):
    """Runs each test function with a fresh scratch dir; prints N passed, N failed."""
    passed = failed = 0
    for test in tests:
        workdir = tempfile.mkdtemp(prefix="tern-it-")
        started = time.monotonic()
        try:
            try:
                test(workdir)
            finally:
                _cleanup()
            passed += 1
            print(f"PASS {test.__name__} ({time.monotonic() - started:.1f}s)", flush=True)
            shutil.rmtree(workdir, ignore_errors=True)
        except Exception as e:  # report every failure with its logs, then go on
            failed += 1
            print(f"FAIL {test.__name__}: {e}", flush=True)
            for root, _, files in os.walk(workdir):
                for name in files:
                    if name.endswith(".log"):
                        path = os.path.join(root, name)
                        with open(path, "rb") as f:
                            tail = f.read()[-4000:].decode("utf-8", "replace")
                        print(f"--- {path} (tail)\n{tail}", flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)
