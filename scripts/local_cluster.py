#!/usr/bin/env python3
"""A real Kubernetes control plane on 127.0.0.1, for the end-to-end tests of scripts/apply.py.

    python3 scripts/local_cluster.py build                 # build, or reuse, the pinned binaries
    python3 scripts/local_cluster.py start [--dir DIR] [--no-nodes]
    python3 scripts/local_cluster.py env   [--dir DIR]     # shell lines that point kubectl at it
    python3 scripts/local_cluster.py crds  [--dir DIR] [--placeholders]
    python3 scripts/local_cluster.py stop  [--dir DIR] [--keep]

What runs (all built from the Go modules pinned in tools/cluster/*/go.mod, never downloaded
prebuilt): etcd, kube-apiserver (client certificates and a static token file for
authentication, RBAC and Node authorization), kube-controller-manager and kube-scheduler, and
kwok, which plays the kubelet of one simulated node so that Deployments really roll out.
Certificates and the service-account key pair are made with Debian's `openssl` command.
Every server listens on 127.0.0.1 only, on ports picked free at start.

Binaries are cached in .cache/cluster-bin/<kubernetes version>/ with a stamp of the go.mod and
go.sum files, the Go version and the build recipe; a warm run builds nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import hashlib
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODULES = REPO / "tools" / "cluster"
BIN_CACHE = REPO / ".cache" / "cluster-bin"
DEFAULT_DIR = REPO / ".cache" / "local-cluster"
STATE_FILE = "state.json"

# Bump when the way binaries are built changes (flags, names), so cached ones are rebuilt.
RECIPE_REVISION = "1"
SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"  # the first address of SERVICE_CIDR: the `kubernetes` Service
NODE_NAME = "kwok-node-0"
NODE_ANNOTATION = "kwok.x-k8s.io/node"
# Users of the static token file (besides the admin, who authenticates with a client certificate).
TOKEN_USERS = {"lab-user": (), "lab-admin": ("system:masters",)}


class ClusterError(RuntimeError):
    """Something the local cluster needs is missing or did not start; the message says what to do."""


# --------------------------------------------------------------------------- binaries


@dataclass(frozen=True)
class Binary:
    name: str  # the file name in the cache folder
    module: str  # the folder under tools/cluster that pins it
    package: str  # the Go package of the command
    optional: bool = False  # the cluster starts without it (no simulated node)


BINARIES = (
    Binary("etcd", "etcd", "go.etcd.io/etcd/server/v3"),
    Binary("kube-apiserver", "kubernetes", "k8s.io/kubernetes/cmd/kube-apiserver"),
    Binary("kubectl", "kubernetes", "k8s.io/kubernetes/cmd/kubectl"),
    Binary("kube-controller-manager", "kubernetes", "k8s.io/kubernetes/cmd/kube-controller-manager", optional=True),
    Binary("kube-scheduler", "kubernetes", "k8s.io/kubernetes/cmd/kube-scheduler", optional=True),
    Binary("kwok", "kwok", "sigs.k8s.io/kwok/cmd/kwok", optional=True),
)


def required_version(module_dir: Path, module: str) -> str:
    """The version that ``module_dir/go.mod`` requires of ``module``."""
    go_mod = module_dir / "go.mod"
    for line in go_mod.read_text(encoding="utf-8").splitlines():
        words = line.replace("require", " ").split()
        if len(words) >= 2 and words[0] == module:
            return words[1]
    raise ClusterError(f"{go_mod.relative_to(REPO)}: no `require {module} <version>` line")


def kubernetes_version() -> str:
    return required_version(MODULES / "kubernetes", "k8s.io/kubernetes")


def _ldflags(binary: Binary) -> str:
    flags = ["-s", "-w"]
    if binary.module == "kubernetes":
        # What `kubectl version` and /version report; Kubernetes' own build sets the same variables.
        version = kubernetes_version()
        major, minor = version.removeprefix("v").split(".")[:2]
        for package in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version"):
            flags += [f"-X={package}.gitVersion={version}", f"-X={package}.gitMajor={major}",
                      f"-X={package}.gitMinor={minor}", f"-X={package}.gitTreeState=clean"]
    return " ".join(flags)


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise ClusterError("the `go` command is not on PATH; it builds the local cluster's binaries once")
    return go


def _go_version(go: str) -> str:
    result = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=False)  # noqa: S603
    return result.stdout.strip() or "unknown"


def bin_dir() -> Path:
    return BIN_CACHE / kubernetes_version()


def stamp_key(go_version: str) -> str:
    digest = hashlib.sha256(f"{RECIPE_REVISION}\n{go_version}\n".encode())
    for binary in BINARIES:
        digest.update(f"{binary.name} {binary.module} {binary.package} {_ldflags(binary)}\n".encode())
    for folder in sorted({b.module for b in BINARIES}):
        for name in ("go.mod", "go.sum"):
            digest.update((MODULES / folder / name).read_bytes())
    return digest.hexdigest()


@dataclass
class BuildReport:
    directory: Path
    built: dict[str, float] = field(default_factory=dict)  # name -> seconds
    failed: dict[str, str] = field(default_factory=dict)  # name -> the command and its error
    reused: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        if self.reused:
            return f"cluster binaries already built: {self.directory} (nothing to do, {self.seconds:.1f}s)"
        lines = [f"built {self.directory} in {self.seconds:.0f}s:"]
        lines += [f"  {name:<24} {secs:6.0f}s" for name, secs in self.built.items()]
        lines += [f"  {name:<24} FAILED: {why}" for name, why in self.failed.items()]
        return "\n".join(lines)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (two test runs at once build the cache only once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build(*, force: bool = False, log=sys.stderr) -> BuildReport:  # noqa: ANN001 - a text stream
    """Build every binary into the cache folder unless its stamp says they are current."""
    started = time.monotonic()
    go = _go()
    target = bin_dir()
    key = stamp_key(_go_version(go))
    stamp = target / "stamp.json"
    with _locked(BIN_CACHE / ".lock"):
        recorded = json.loads(stamp.read_text(encoding="utf-8")) if stamp.is_file() else {}
        if not force and recorded.get("key") == key and all((target / b.name).is_file() for b in BINARIES):
            return BuildReport(target, reused=True, seconds=time.monotonic() - started)
        report = BuildReport(target)
        target.mkdir(parents=True, exist_ok=True)
        # -mod=readonly: go.sum must already hold every hash (nothing is resolved anew at build time).
        env = dict(os.environ, CGO_ENABLED="0", GOFLAGS=f"{os.environ.get('GOFLAGS', '')} -mod=readonly".strip())
        for binary in BINARIES:
            output = target / f".{binary.name}.partial"
            argv = [go, "build", "-trimpath", f"-ldflags={_ldflags(binary)}", "-o", str(output), binary.package]
            print(f"local_cluster: building {binary.name} ({binary.package}) ...", file=log, flush=True)
            began = time.monotonic()
            result = subprocess.run(  # noqa: S603 - argv list
                argv, cwd=MODULES / binary.module, env=env, capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                why = f"`cd tools/cluster/{binary.module} && {shlex.join(argv[1:])}` exited {result.returncode}: " \
                      + (result.stderr.strip()[-2000:] or "no output")
                if not binary.optional:
                    raise ClusterError(f"could not build {binary.name}: {why}")
                report.failed[binary.name] = why
                (target / binary.name).unlink(missing_ok=True)  # never start a binary of an older recipe
                continue
            os.replace(output, target / binary.name)
            report.built[binary.name] = time.monotonic() - began
        # No stamp while an optional binary failed: the next run tries again (the Go build cache keeps it cheap).
        if not report.failed:
            stamp.write_text(json.dumps({"key": key}, indent=1), encoding="utf-8")
        elif stamp.exists():
            stamp.unlink()
    report.seconds = time.monotonic() - started
    return report


# --------------------------------------------------------------------------- certificates (openssl)


def _openssl(*args: str, cwd: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise ClusterError("the `openssl` command is missing: apt-get install openssl")
    result = subprocess.run([openssl, *args], cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise ClusterError(f"openssl {' '.join(args)} failed: {result.stderr.strip()}")


def _extension_file(pki: Path, name: str, lines: list[str]) -> Path:
    path = pki / f"{name}.ext"
    path.write_text("[v3]\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def _issue(pki: Path, name: str, subject: str, extensions: list[str]) -> None:
    """An EC P-256 key ``name.key`` and a certificate ``name.crt`` signed by ``ca``, valid for two days."""
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=pki)
    ext = _extension_file(pki, name, ["basicConstraints = critical, CA:FALSE",
                                      "keyUsage = critical, digitalSignature", *extensions])
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-set_serial", str(secrets.randbits(63)), "-days", "2", "-sha256",
             "-extfile", ext.name, "-extensions", "v3", "-out", f"{name}.crt", cwd=pki)
    (pki / f"{name}.csr").unlink()
    ext.unlink()


CLIENTS = {
    # file name: (user name, groups) as the API server reads them from CN and O.
    "admin": ("lab-cluster-admin", ("system:masters",)),
    "controller-manager": ("system:kube-controller-manager", ()),
    "scheduler": ("system:kube-scheduler", ()),
    "kwok": ("kwok-controller", ("system:masters",)),
}


def make_pki(pki: Path) -> None:
    pki.mkdir(parents=True, exist_ok=True)
    ca_ext = _extension_file(pki, "ca", ["basicConstraints = critical, CA:TRUE",
                                         "keyUsage = critical, keyCertSign, cRLSign, digitalSignature",
                                         "subjectKeyIdentifier = hash"])
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-sha256", "-subj", "/CN=local-cluster-ca",
             "-config", ca_ext.name, "-extensions", "v3", cwd=pki)
    ca_ext.unlink()
    names = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
             "kubernetes.default.svc.cluster.local"]
    alt = ", ".join([*(f"DNS:{n}" for n in names), "IP:127.0.0.1", f"IP:{SERVICE_IP}"])
    _issue(pki, "apiserver", "/CN=kube-apiserver", ["extendedKeyUsage = serverAuth", f"subjectAltName = {alt}"])
    for name, (user, groups) in CLIENTS.items():
        subject = "".join(f"/O={g}" for g in groups) + f"/CN={user}"
        _issue(pki, name, subject, ["extendedKeyUsage = clientAuth"])
    # The key pair that signs and verifies service-account tokens.
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key", cwd=pki)
    _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)
    for key in pki.glob("*.key"):
        key.chmod(0o600)


# --------------------------------------------------------------------------- the cluster


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports that are free on 127.0.0.1 right now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: get SIGKILL when the process that started us dies (Linux prctl).

    SIGKILL, not SIGTERM: all components get it at once, and a kube-apiserver that is asked to
    shut down gracefully after etcd is gone waits for etcd forever. stop() is the orderly way.
    """
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Process:
    name: str
    pid: int
    log: str
    executable: str
    popen: subprocess.Popen | None = None

    def as_state(self) -> dict:
        return {"name": self.name, "pid": self.pid, "log": self.log, "executable": self.executable}


def _alive(pid: int, executable: str) -> bool:
    """True while ``pid`` is a running (not zombie) process of ``executable``; guards against pid reuse."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        exe = os.readlink(f"/proc/{pid}/exe")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X") and exe.removesuffix(" (deleted)") == executable


def log_tail(path: str | Path, lines: int = 25) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class LocalCluster:
    """One control plane under ``directory``: pki/, data/, logs/, kubeconfig, state.json."""

    directory: Path
    bin: Path
    ports: dict[str, int] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    nodes: bool = False
    missing: dict[str, str] = field(default_factory=dict)  # optional binary -> why it is not there

    # ------------------------------------------------------------------ paths and helpers

    @property
    def pki(self) -> Path:
        return self.directory / "pki"

    @property
    def kubeconfig(self) -> Path:
        return self.directory / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    @property
    def kubectl_path(self) -> Path:
        return self.bin / "kubectl"

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment whose kubectl is the pinned one, talking to this cluster."""
        env = dict(os.environ if base is None else base)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        return env

    def kubectl(self, *args: str, stdin: str | None = None, context: str | None = None,
                timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        argv = [str(self.kubectl_path), f"--kubeconfig={self.kubeconfig}"]
        if context:
            argv.append(f"--context={context}")
        result = subprocess.run(  # noqa: S603 - argv list
            [*argv, *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
        return result

    def save(self) -> None:
        state = {
            "directory": str(self.directory), "bin": str(self.bin), "server": self.server,
            "kubeconfig": str(self.kubeconfig), "ports": self.ports, "tokens": self.tokens,
            "nodes": self.nodes, "missing": self.missing,
            "processes": [p.as_state() for p in self.processes],
        }
        path = self.directory / STATE_FILE
        path.write_text(json.dumps(state, indent=1), encoding="utf-8")
        path.chmod(0o600)

    @classmethod
    def load(cls, directory: Path) -> LocalCluster:
        path = directory / STATE_FILE
        if not path.is_file():
            raise ClusterError(f"{path}: no local cluster was started there (run `local_cluster.py start`)")
        state = json.loads(path.read_text(encoding="utf-8"))
        return cls(directory=directory, bin=Path(state["bin"]), ports=state["ports"], tokens=state["tokens"],
                   nodes=state["nodes"], missing=state.get("missing", {}),
                   processes=[Process(**p) for p in state["processes"]])

    # ------------------------------------------------------------------ configuration files

    def _write_kubeconfig(self, path: Path, users: dict[str, dict], current: str) -> None:
        # JSON is YAML too; it keeps this script free of third-party packages.
        config = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": "local", "cluster": {"server": self.server,
                                                        "certificate-authority": str(self.pki / "ca.crt")}}],
            "users": [{"name": name, "user": user} for name, user in users.items()],
            "contexts": [{"name": name, "context": {"cluster": "local", "user": name}} for name in users],
            "current-context": current,
        }
        path.write_text(json.dumps(config, indent=1), encoding="utf-8")
        path.chmod(0o600)

    def _cert_user(self, name: str) -> dict:
        return {"client-certificate": str(self.pki / f"{name}.crt"), "client-key": str(self.pki / f"{name}.key")}

    def _write_configs(self) -> None:
        self.tokens = {user: secrets.token_hex(16) for user in TOKEN_USERS}
        rows = []
        for index, (user, groups) in enumerate(TOKEN_USERS.items(), start=1):
            group_field = f'"{",".join(groups)}"' if groups else ""
            rows.append(f"{self.tokens[user]},{user},uid-{index},{group_field}".rstrip(","))
        tokens = self.directory / "tokens.csv"
        tokens.write_text("\n".join(rows) + "\n", encoding="utf-8")
        tokens.chmod(0o600)
        self._write_kubeconfig(self.kubeconfig, {
            "admin": self._cert_user("admin"),
            "lab-admin": {"token": self.tokens["lab-admin"]},
            "lab-user": {"token": self.tokens["lab-user"]},
            # A token the server never issued: for tests of what a wrong login looks like.
            "bad-token": {"token": "not-" + secrets.token_hex(8)},
        }, current="admin")
        for name in ("controller-manager", "scheduler", "kwok"):
            self._write_kubeconfig(self.directory / f"{name}.kubeconfig", {name: self._cert_user(name)}, name)

    # ------------------------------------------------------------------ processes

    def _spawn(self, name: str, argv: list[str], tie_to_parent: bool) -> Process:
        log = self.directory / "logs" / f"{name}.log"
        with log.open("ab") as handle:
            popen = subprocess.Popen(  # noqa: S603 - argv list
                argv, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, cwd=self.directory,
                start_new_session=True,  # its own process group: stop() signals the group
                preexec_fn=_die_with_parent if tie_to_parent else None,  # noqa: PLW1509 - only prctl
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.directory)},
            )
        process = Process(name, popen.pid, str(log), str(Path(argv[0]).resolve()), popen)
        self.processes.append(process)
        self.save()
        return process

    def _wait_until(self, what: str, process: Process, probe, timeout: float) -> None:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if not _alive(process.pid, process.executable):
                raise ClusterError(f"{process.name} exited while waiting for {what}; its log "
                                   f"({process.log}) ends with:\n{log_tail(process.log)}")
            try:
                if probe():
                    return
            except (OSError, ClusterError, subprocess.TimeoutExpired) as exc:
                last = str(exc)
            time.sleep(0.25)
        raise ClusterError(f"{what}: not ready after {timeout:.0f}s ({last or 'no answer'}); "
                           f"{process.name}'s log ({process.log}) ends with:\n{log_tail(process.log)}")

    def _https_ok(self, port: int, path: str, client: str | None) -> bool:
        context = ssl.create_default_context(cafile=str(self.pki / "ca.crt")) if client else \
            ssl._create_unverified_context()  # noqa: S323 - the controllers' self-signed serving certs
        if client:
            context.load_cert_chain(self.pki / f"{client}.crt", self.pki / f"{client}.key")
        try:
            with urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", context=context, timeout=5) as answer:  # noqa: S310
                return answer.status == 200
        except urllib.error.HTTPError:
            return False

    def _etcd_healthy(self) -> bool:
        url = f"http://127.0.0.1:{self.ports['etcd']}/health"
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback
            return json.loads(answer.read()).get("health") == "true"

    def start(self, *, nodes: bool = True, tie_to_parent: bool = False, log=sys.stderr) -> None:  # noqa: ANN001
        """Start every component and wait until each one answers; stops what started on failure."""
        if (self.directory / STATE_FILE).exists():
            raise ClusterError(f"{self.directory}: a cluster already runs there; stop it first "
                               f"(python3 scripts/local_cluster.py stop --dir {self.directory})")
        for binary in BINARIES:
            if not (self.bin / binary.name).is_file():
                if not binary.optional:
                    raise ClusterError(f"{self.bin / binary.name} is missing: run `local_cluster.py build`")
                self.missing.setdefault(binary.name, "not built (see `local_cluster.py build`)")
        self.nodes = nodes and not self.missing
        if nodes and self.missing:
            print(f"local_cluster: no simulated node: {', '.join(self.missing)} missing", file=log)
        (self.directory / "logs").mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.directory / "data", ignore_errors=True)  # a stopped cluster's etcd data (--keep)
        (self.directory / "data").mkdir(mode=0o700)
        names = ["etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler"]
        self.ports = dict(zip(names, free_ports(len(names)), strict=True))
        make_pki(self.pki)
        self._write_configs()
        self.save()
        try:
            self._start_processes(tie_to_parent, log)
        except BaseException:
            self.stop(remove=False)
            raise

    def _start_processes(self, tie_to_parent: bool, log) -> None:  # noqa: ANN001
        began = time.monotonic()
        etcd_url = f"http://127.0.0.1:{self.ports['etcd']}"
        peer_url = f"http://127.0.0.1:{self.ports['etcd-peer']}"
        etcd = self._spawn("etcd", [
            str(self.bin / "etcd"), "--name=local", f"--data-dir={self.directory / 'data' / 'etcd'}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=local={peer_url}", "--unsafe-no-fsync=true", "--log-level=warn",
        ], tie_to_parent)
        self._wait_until("etcd /health", etcd, self._etcd_healthy, 30)

        pki = self.pki
        apiserver = self._spawn("kube-apiserver", [
            str(self.bin / "kube-apiserver"),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={self.ports['apiserver']}",
            f"--cert-dir={self.directory / 'apiserver-certs'}",
            f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--token-auth-file={self.directory / 'tokens.csv'}",
            "--authorization-mode=Node,RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            # 127.0.0.1 may not be an Endpoints address, so the `kubernetes` Service gets none;
            # nothing inside this cluster calls the API through it.
            "--endpoint-reconciler-type=none",
            # Who may assert a user in request headers (the aggregation layer): nobody here, since no
            # certificate with that name is issued; set so that the controllers stop asking for it.
            f"--requestheader-client-ca-file={pki / 'ca.crt'}", "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            "--allow-privileged=true", "--profiling=false", "--v=0",
        ], tie_to_parent)
        self._wait_until("kube-apiserver /readyz", apiserver,
                         lambda: self._https_ok(self.ports["apiserver"], "/readyz", "admin"), 120)
        print(f"local_cluster: kube-apiserver ready at {self.server} after {time.monotonic() - began:.1f}s",
              file=log)
        if not self.nodes:
            return

        for name, port_name, extra in (
            ("kube-controller-manager", "controller-manager", [
                f"--root-ca-file={pki / 'ca.crt'}",  # published to every namespace as kube-root-ca.crt
                "--use-service-account-credentials=true", f"--cluster-signing-cert-file={pki / 'ca.crt'}",
                f"--cluster-signing-key-file={pki / 'ca.key'}"]),
            ("kube-scheduler", "scheduler", []),
        ):
            config = str(self.directory / f"{port_name}.kubeconfig")
            process = self._spawn(name, [
                str(self.bin / name), f"--kubeconfig={config}", f"--authentication-kubeconfig={config}",
                f"--authorization-kubeconfig={config}", "--bind-address=127.0.0.1",
                f"--secure-port={self.ports[port_name]}", f"--cert-dir={self.directory / (port_name + '-certs')}",
                "--leader-elect=false", "--v=0", *extra,
            ], tie_to_parent)
            port = self.ports[port_name]
            self._wait_until(f"{name} /healthz", process, lambda port=port: self._https_ok(port, "/healthz", None), 60)

        kwok = self._spawn("kwok", [
            str(self.bin / "kwok"), f"--kubeconfig={self.directory / 'kwok.kubeconfig'}",
            "--manage-all-nodes=false", f"--manage-nodes-with-annotation-selector={NODE_ANNOTATION}=fake",
            "--node-ip=127.0.0.1", "--node-lease-duration-seconds=40",
        ], tie_to_parent)
        self.kubectl("apply", "-f", "-", stdin=json.dumps(_node_manifest()))
        self._wait_until(f"node {NODE_NAME} Ready (kwok)", kwok, lambda: self.kubectl(
            "get", "node", NODE_NAME, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
            check=False).stdout.strip() == "True", 60)
        # The service-account controller has run once it made `default` in the default namespace;
        # pods are refused until their namespace has that account.
        self._wait_until("the default service account", apiserver, lambda: self.kubectl(
            "get", "serviceaccount", "default", "-n", "default", check=False).returncode == 0, 60)
        print(f"local_cluster: controllers, scheduler and node {NODE_NAME} ready after "
              f"{time.monotonic() - began:.1f}s", file=log)

    def stop(self, *, remove: bool = True, grace: float = 15.0) -> list[str]:
        """SIGTERM each process group (clients first, etcd last), SIGKILL what lingers; returns what was killed.

        Removes the directory unless ``remove`` is false (the logs stay for a failed run).
        """
        killed: list[str] = []
        for process in reversed(self.processes):
            if not _alive(process.pid, process.executable):
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)  # start_new_session: its pid is its group id
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                if process.popen is not None and process.popen.poll() is not None:
                    break
                if process.popen is None and not _alive(process.pid, process.executable):
                    break
                time.sleep(0.1)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                if process.popen is not None:
                    process.popen.wait(timeout=10)
                killed.append(process.name)
        still = [p.name for p in self.processes if _alive(p.pid, p.executable)]
        if still:
            raise ClusterError(f"could not stop: {', '.join(still)}")
        state = self.directory / STATE_FILE
        if remove:
            shutil.rmtree(self.directory, ignore_errors=True)
        elif state.exists():
            state.rename(state.with_suffix(".stopped.json"))
        return killed

    def running(self) -> list[str]:
        return [p.name for p in self.processes if _alive(p.pid, p.executable)]


def _node_manifest() -> dict:
    labels = {"kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
              "type": "kwok"}
    resources = {"cpu": "32", "memory": "256Gi", "pods": "110"}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": NODE_NAME, "labels": labels, "annotations": {NODE_ANNOTATION: "fake"}},
        "status": {"allocatable": resources, "capacity": resources},
    }


# --------------------------------------------------------------------------- CRDs


def pinned_crd_files() -> list[tuple[str, Path]]:
    """(origin, file) for every CRD file that handbook/schemas.py validates against, from the Go module cache.

    The same modules, versions and globs as the schema build (tools/versions.env GO_MODULE_* lines and
    handbook.schema_build.CRD_FILES); `go mod download` fetches a module only if the cache lacks it.
    """
    sys.path.insert(0, str(REPO))
    from handbook import schema_build, schemas  # needs PyYAML: run with the project's .venv

    files: list[tuple[str, Path]] = []
    for key, (module, version) in schemas.go_modules(schemas.read_versions()).items():
        root = schema_build.go_mod_download(module, version)
        for pattern in schema_build.CRD_FILES[key]:
            matched = sorted(root.glob(pattern))
            if not matched:
                raise ClusterError(f"{module}@{version}: no file matches {pattern}")
            files += [(f"{module}@{version}", path) for path in matched]
    return files


# Kinds that handbook/schemas.py leaves unvalidated (UNVALIDATED: the module proxy refuses the
# modules that hold their CRDs) get a placeholder CRD here, so that the lab's steps can store such
# objects. The placeholder checks nothing inside spec or status, exactly like the validation.
# Scope is what the real CRDs declare (sail-operator chart/crds/sailoperator.io_<plural>.yaml:
# `scope: Cluster` for istios, istiocnis, istiorevisiontags and ztunnels); a kind whose scope
# was not checked gets no placeholder, and a stage that needs it stops at preflight (exit 7).
PLACEHOLDER_SCOPES = {
    ("sailoperator.io/v1", "Istio"): "Cluster",
    ("sailoperator.io/v1", "IstioCNI"): "Cluster",
    ("sailoperator.io/v1", "IstioRevisionTag"): "Cluster",
    ("sailoperator.io/v1", "ZTunnel"): "Cluster",
}


def placeholder_crds() -> list[dict]:
    """Open CRDs for the unvalidated kinds whose scope is known (see PLACEHOLDER_SCOPES)."""
    sys.path.insert(0, str(REPO))
    from handbook import schemas

    open_object = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    crds = []
    for (api_version, kind), why in schemas.UNVALIDATED.items():
        scope = PLACEHOLDER_SCOPES.get((api_version, kind))
        if scope is None:
            continue
        group, version = api_version.split("/")
        plural = kind.lower() + "s"
        crds.append({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}",
                         "annotations": {"local-cluster/placeholder": f"not the real CRD: {why}"[:250]}},
            "spec": {
                "group": group, "scope": scope,
                "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
                "versions": [{
                    "name": version, "served": True, "storage": True, "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object",
                                                   "properties": {"spec": open_object, "status": open_object}}},
                }],
            },
        })
    return crds


def install_crds(cluster: LocalCluster, *, placeholders: bool = False, log=sys.stderr) -> list[str]:  # noqa: ANN001
    """Apply the pinned CRDs (server-side: some are larger than client-side apply's annotation limit)
    and wait until the API server serves them. Returns the CRD names."""
    names: list[str] = []
    for origin, path in pinned_crd_files():
        result = cluster.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=local-cluster",
                                 "-f", str(path), "-o", "name", check=False)
        if result.returncode != 0:
            raise ClusterError(f"{origin} {path.name}: kubectl apply failed: {result.stderr.strip()}")
        names += result.stdout.split()
    if placeholders:
        manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": placeholder_crds()})
        result = cluster.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=local-cluster",
                                 "-f", "-", "-o", "name", stdin=manifest, check=False)
        if result.returncode != 0:
            raise ClusterError(f"placeholder CRDs: {result.stderr.strip()}")
        names += result.stdout.split()
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)
    print(f"local_cluster: {len(names)} CRDs established", file=log)
    return names


# --------------------------------------------------------------------------- command line


def shell_env(cluster: LocalCluster) -> str:
    return (f"export KUBECONFIG={shlex.quote(str(cluster.kubeconfig))}\n"
            f"export PATH={shlex.quote(str(cluster.bin))}:\"$PATH\"\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("command", choices=("build", "start", "env", "crds", "stop", "status"))
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"state folder (default: {DEFAULT_DIR})")
    parser.add_argument("--no-nodes", action="store_true", help="only etcd and kube-apiserver")
    parser.add_argument("--placeholders", action="store_true",
                        help="crds: also open placeholder CRDs for the kinds the validation cannot check (Sail)")
    parser.add_argument("--keep", action="store_true", help="stop: keep the folder (logs, certificates)")
    parser.add_argument("--force", action="store_true", help="build: rebuild even when the stamp matches")
    args = parser.parse_args(argv)
    directory = args.dir.resolve()
    try:
        if args.command == "build":
            print(build(force=args.force).summary())
        elif args.command == "start":
            report = build()
            if not report.reused:
                print(report.summary(), file=sys.stderr)
            cluster = LocalCluster(directory=directory, bin=report.directory, missing=dict(report.failed))
            cluster.start(nodes=not args.no_nodes)
            print(f"# local cluster at {cluster.server}; stop it with: "
                  f"python3 scripts/local_cluster.py stop --dir {shlex.quote(str(directory))}", file=sys.stderr)
            sys.stdout.write(shell_env(cluster))
        elif args.command == "env":
            sys.stdout.write(shell_env(LocalCluster.load(directory)))
        elif args.command == "status":
            cluster = LocalCluster.load(directory)
            print(f"{cluster.server}: running {', '.join(cluster.running()) or 'nothing'}")
        elif args.command == "crds":
            install_crds(LocalCluster.load(directory), placeholders=args.placeholders)
        elif args.command == "stop":
            killed = LocalCluster.load(directory).stop(remove=not args.keep)
            print("stopped" + (f" (killed after the grace period: {', '.join(killed)})" if killed else ""))
    except ClusterError as exc:
        print(f"local_cluster: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
