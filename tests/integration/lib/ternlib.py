"""Shared harness for tern's integration tests: real peers on loopback.

Starts `tern serve` with a config in a scratch directory, aiosmtpd sinks
that record or refuse mail on demand, dnsmasq serving MX records, and runs
swaks. Everything binds free ports on 127.0.0.0/8; every wait has a deadline.
Run with /usr/bin/python3 (Debian's python3-aiosmtpd lives there).
"""

import contextlib
import os
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
        for section, value in (config or {}).items():
            if isinstance(value, dict):
                base.setdefault(section, {}).update(value)
            else:
                base[section] = value
        self.config = base
        self.config_path = os.path.join(self.dir, "tern.toml")
        write_toml(self.config_path, self.config)
        self.env = clean_env(env)
        self.log_path = os.path.join(self.dir, "tern.log")
        self.proc = None

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([TERN_BIN, "serve", "--config", self.config_path],
                                     stdout=self.log, stderr=self.log, env=self.env)
        _register(self)
        if wait:
            wait_until(lambda: self.proc.poll() is not None or port_open("127.0.0.1", self.submission_port),
                       timeout=15, what="tern to listen")
            if self.proc.poll() is not None:
                raise TestFailure(f"tern exited with {self.proc.returncode}:\n{self.read_log()}")
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
    """

    def __init__(self, host="127.0.0.1", port=None, rcpt_rules=(), data_reply=None, defer_first=0,
                 tls=None, auth=None, implicit_tls=False):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword
        self.host = host
        self.port = port or free_port(host)
        self.messages = []
        self.lock = threading.Lock()
        self.rcpt_rules = list(rcpt_rules)
        self.data_reply = data_reply
        self.defer_left = defer_first
        self.sessions = 0
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
                    if sink.defer_left > 0:
                        sink.defer_left -= 1
                        return "451 4.3.0 try again later"
                    if sink.data_reply:
                        return f"{sink.data_reply[0]} {sink.data_reply[1]}"
                    sink.messages.append({
                        "mail_from": envelope.mail_from,
                        "rcpt_tos": list(envelope.rcpt_tos),
                        "data": envelope.original_content,
                        "tls": session.ssl is not None,
                        "auth": getattr(session, "authenticated", False),
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
            if implicit_tls:
                kwargs["ssl_context"] = ctx
            else:
                kwargs["tls_context"] = ctx
                kwargs["require_starttls"] = False
        if auth is not None:
            kwargs["authenticator"] = authenticator
            kwargs["auth_required"] = True
            kwargs["auth_require_tls"] = not implicit_tls and tls is not None
        self.controller = Controller(Handler(), hostname=host, port=self.port, decode_data=False,
                                     enable_SMTPUTF8=True, server_hostname="sink.test",
                                     ready_timeout=10, **kwargs)

    def start(self):
        self.controller.start()
        return _register(self)

    def stop(self):
        with contextlib.suppress(Exception):
            self.controller.stop()

    def count(self):
        with self.lock:
            return len(self.messages)

    def wait_for(self, n, timeout=20):
        wait_until(lambda: self.count() >= n, timeout=timeout, what=f"{n} message(s) at sink :{self.port}")
        with self.lock:
            return list(self.messages)


class Dnsmasq:
    """dnsmasq on 127.0.0.1:<free port> answering for the given records.

    mx: list of (domain, host, preference); hosts: list of (name, address);
    null_mx: domains with "MX 0 ."; timeout_domains: forwarded to a dead port.
    Everything else under .test is NXDOMAIN.
    """

    def __init__(self, mx=(), hosts=(), null_mx=(), timeout_domains=()):
        self.port = free_port()
        args = ["/usr/sbin/dnsmasq", "--keep-in-foreground", "--log-facility=-", f"--port={self.port}",
                "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts", "--no-poll",
                "--conf-file=/dev/null", "--pid-file=", "--local=/test/"]
        if os.geteuid() == 0:
            args += ["--user=nobody", "--group=nogroup"]
        for domain, host, pref in mx:
            args.append(f"--mx-host={domain},{host},{pref}")
        for domain in null_mx:
            args.append(f"--mx-host={domain},.,0")
        for name, address in hosts:
            args.append(f"--host-record={name},{address}")
        dead = free_port()
        for domain in timeout_domains:
            args.append(f"--server=/{domain}/127.0.0.1#{dead}")
        self.args = args
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _register(self)
        wait_until(lambda: self._answers(), timeout=10, what="dnsmasq to answer")
        return self

    def _answers(self):
        # a minimal DNS query for "x.test" type A: any reply means the server is up
        query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01x\x04test\x00\x00\x01\x00\x01"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            try:
                s.sendto(query, ("127.0.0.1", self.port))
                s.recvfrom(512)
                return True
            except OSError:
                return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=5)


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
