"""One control plane under a folder: its configuration files, its processes, and how to talk to it.

What runs (all built by ``binaries``): etcd; kube-apiserver with client certificates and a static
token file for authentication, and Node plus RBAC authorization; kube-controller-manager and
kube-scheduler; and kwok, which plays the kubelet of one simulated node so that Deployments
really roll out. Every server listens on 127.0.0.1 only, on ports picked free at start.

The folder holds pki/, data/, logs/, the kubeconfig (contexts ``admin``, ``lab-admin``,
``lab-user`` and ``bad-token``) and state.json, from which ``LocalCluster.load`` finds a running
cluster again (the ``env``, ``crds`` and ``stop`` commands).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from .binaries import BINARIES
from .common import NODE_ANNOTATION, NODE_NAME, SERVICE_CIDR, STATE_FILE, TOKEN_USERS, ClusterError
from .pki import make_pki
from .processes import Process, alive, free_ports, spawn, terminate, wait_until

# The controller manager's and the scheduler's own client limits (20 and 50 requests a second by
# default) protect a shared API server; here they only make many learners' rollouts wait in line.
# kwokctl turns them off the same way (its DisableQPSLimits option: 5000 a second, bursts of 10000).
CLIENT_LIMITS_OFF = ("--kube-api-qps=5000", "--kube-api-burst=10000")


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

    # ------------------------------------------------------------------ paths and clients

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

    def env(self, base: dict[str, str] | None = None, *, kubeconfig: Path | None = None) -> dict[str, str]:
        """An environment whose kubectl is the pinned one, talking to this cluster."""
        env = dict(os.environ if base is None else base)
        env["KUBECONFIG"] = str(kubeconfig or self.kubeconfig)
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

    def kubeconfig_for(self, user: str) -> Path:
        """A kubeconfig that knows only the token user ``user`` (as a learner's `oc login` leaves it)."""
        if user not in self.tokens:
            raise ClusterError(f"no token user {user!r}; the local cluster has {', '.join(self.tokens)}")
        path = self.directory / f"{user}.kubeconfig"
        self._write_kubeconfig(path, {user: {"token": self.tokens[user]}}, current=user)
        return path

    def https_ok(self, port: int, path: str, client: str | None) -> bool:
        """GET ``path`` on 127.0.0.1:``port``: with ``client``'s certificate against the cluster CA,
        else unverified (the controllers' self-signed serving certificates); True on HTTP 200."""
        if client:
            context = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
            context.load_cert_chain(self.pki / f"{client}.crt", self.pki / f"{client}.key")
        else:
            context = ssl._create_unverified_context()  # noqa: S323
        try:
            with urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", context=context, timeout=5) as answer:  # noqa: S310
                return answer.status == 200
        except urllib.error.HTTPError:
            return False

    def apiserver_ready(self) -> bool:
        return self.https_ok(self.ports["apiserver"], "/readyz", "admin")

    # ------------------------------------------------------------------ state

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
        # JSON is YAML too.
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
        users: dict[str, dict] = {"admin": self._cert_user("admin")}
        users.update({user: {"token": token} for user, token in self.tokens.items()})
        # A token the server never issued: for tests of what a wrong login looks like.
        users["bad-token"] = {"token": "not-" + secrets.token_hex(8)}
        self._write_kubeconfig(self.kubeconfig, users, current="admin")
        for name in ("controller-manager", "scheduler", "kwok"):
            self._write_kubeconfig(self.directory / f"{name}.kubeconfig", {name: self._cert_user(name)}, name)

    # ------------------------------------------------------------------ processes

    def spawn(self, name: str, argv: list[str], tie_to_parent: bool) -> Process:
        process = spawn(name, argv, cwd=self.directory, log=self.directory / "logs" / f"{name}.log",
                        tie_to_parent=tie_to_parent)
        self.processes.append(process)
        self.save()
        return process

    def process(self, name: str) -> Process:
        """The one running process called ``name``."""
        running = [p for p in self.processes if p.name == name and p.alive()]
        if len(running) != 1:
            raise ClusterError(f"expected one running {name}, found {len(running)}")
        return running[0]

    def cpu_seconds(self) -> float:
        """CPU time used so far by every running component (user + system)."""
        return sum(p.cpu_seconds() for p in self.processes if p.alive())

    def _etcd_healthy(self) -> bool:
        url = f"http://127.0.0.1:{self.ports['etcd']}/health"
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback
            return json.loads(answer.read()).get("health") == "true"

    def start(self, *, nodes: bool = True, tie_to_parent: bool = False, log: TextIO = sys.stderr) -> None:
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

    def apiserver_argv(self) -> list[str]:
        pki = self.pki
        return [
            str(self.bin / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{self.ports['etcd']}",
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
        ]

    def _start_processes(self, tie_to_parent: bool, log: TextIO) -> None:
        began = time.monotonic()
        etcd_url = f"http://127.0.0.1:{self.ports['etcd']}"
        peer_url = f"http://127.0.0.1:{self.ports['etcd-peer']}"
        etcd = self.spawn("etcd", [
            str(self.bin / "etcd"), "--name=local", f"--data-dir={self.directory / 'data' / 'etcd'}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=local={peer_url}", "--unsafe-no-fsync=true", "--log-level=warn",
        ], tie_to_parent)
        wait_until("etcd /health", etcd, self._etcd_healthy, 30)
        apiserver = self.spawn("kube-apiserver", self.apiserver_argv(), tie_to_parent)
        wait_until("kube-apiserver /readyz", apiserver, self.apiserver_ready, 120)
        print(f"local_cluster: kube-apiserver ready at {self.server} after {time.monotonic() - began:.1f}s",
              file=log)
        if not self.nodes:
            return

        pki = self.pki
        for name, port_name, extra in (
            ("kube-controller-manager", "controller-manager", [
                f"--root-ca-file={pki / 'ca.crt'}",  # published to every namespace as kube-root-ca.crt
                "--use-service-account-credentials=true", f"--cluster-signing-cert-file={pki / 'ca.crt'}",
                f"--cluster-signing-key-file={pki / 'ca.key'}"]),
            ("kube-scheduler", "scheduler", []),
        ):
            config = str(self.directory / f"{port_name}.kubeconfig")
            process = self.spawn(name, [
                str(self.bin / name), f"--kubeconfig={config}", f"--authentication-kubeconfig={config}",
                f"--authorization-kubeconfig={config}", "--bind-address=127.0.0.1",
                f"--secure-port={self.ports[port_name]}", f"--cert-dir={self.directory / (port_name + '-certs')}",
                "--leader-elect=false", "--v=0", *CLIENT_LIMITS_OFF, *extra,
            ], tie_to_parent)
            port = self.ports[port_name]
            wait_until(f"{name} /healthz", process, lambda port=port: self.https_ok(port, "/healthz", None), 60)

        kwok = self.spawn("kwok", [
            str(self.bin / "kwok"), f"--kubeconfig={self.directory / 'kwok.kubeconfig'}",
            "--manage-all-nodes=false", f"--manage-nodes-with-annotation-selector={NODE_ANNOTATION}=fake",
            "--node-ip=127.0.0.1", "--node-lease-duration-seconds=40",
        ], tie_to_parent)
        self.kubectl("apply", "-f", "-", stdin=json.dumps(_node_manifest()))
        wait_until(f"node {NODE_NAME} Ready (kwok)", kwok, lambda: self.kubectl(
            "get", "node", NODE_NAME, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
            check=False).stdout.strip() == "True", 60)
        # The service-account controller has run once it made `default` in the default namespace;
        # pods are refused until their namespace has that account.
        wait_until("the default service account", apiserver, lambda: self.kubectl(
            "get", "serviceaccount", "default", "-n", "default", check=False).returncode == 0, 60)
        print(f"local_cluster: controllers, scheduler and node {NODE_NAME} ready after "
              f"{time.monotonic() - began:.1f}s", file=log)

    def stop(self, *, remove: bool = True, grace: float = 15.0) -> list[str]:
        """SIGTERM each process group (clients first, etcd last), SIGKILL what lingers; returns what was killed.

        Removes the directory unless ``remove`` is false (the logs stay for a failed run).
        """
        killed = [p.name for p in reversed(self.processes) if terminate(p, grace)]
        still = self.running()
        if still:
            raise ClusterError(f"could not stop: {', '.join(still)}")
        state = self.directory / STATE_FILE
        if remove:
            shutil.rmtree(self.directory, ignore_errors=True)
        elif state.exists():
            state.rename(state.with_suffix(".stopped.json"))
        return killed

    def running(self) -> list[str]:
        return [p.name for p in self.processes if alive(p.pid, p.executable)]


def _node_manifest() -> dict:
    labels = {"kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
              "type": "kwok"}
    resources = {"cpu": "32", "memory": "256Gi", "pods": "110"}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": NODE_NAME, "labels": labels, "annotations": {NODE_ANNOTATION: "fake"}},
        "status": {"allocatable": resources, "capacity": resources},
    }
