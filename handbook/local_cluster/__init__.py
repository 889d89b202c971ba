"""A real Kubernetes control plane on 127.0.0.1, for the end-to-end tests of scripts/apply.py.

Modules, one job each:

* ``binaries``  build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok
                from the Go modules pinned in tools/cluster/*/go.mod, cached by a stamp.
* ``pki``       the CA, serving and client certificates and the service-account key pair
                (the ``cryptography`` library; no openssl subprocesses).
* ``processes`` start a component in its own process group, wait for it, stop it, read its CPU time.
* ``cluster``   ``LocalCluster``: the configuration files, the start order, kubectl against it, stop.
* ``crds``      the CRDs it serves: pinned modules, the HANDBOOK_CRDS folder (real Sail and Kiali
                CRDs, with their CEL rules), and placeholders only where asked and nothing else exists.
* ``cli``       the command line behind scripts/local_cluster.py (build, start, env, crds, status, stop).

Why our own supervisor and not ``kwokctl create cluster --runtime binary``: kwokctl does run the
same components as local processes, and takes our binaries through ``--kube-apiserver-binary``,
``--etcd-binary`` and friends. We checked its documentation and kept ours, because

1. offline use is not its default: the binary runtime downloads Kubernetes and etcd releases
   (dl.k8s.io, GitHub) unless every binary is named (``--etcd-binary`` and the ``--kube-*-binary``
   flags), and this project may reach only package registries; one missed flag is a download at
   test time. kwokctl itself would be a seventh binary to build (from the kwok module pinned already);
2. the tests need a non-admin token user (the learner) beside the admin. Here that is a static
   token file and a kubeconfig context; with kwokctl it is extra kube-apiserver arguments through
   its configuration patches, plus its own PKI layout to find;
3. the drills kill kube-apiserver alone mid-stage and restart it with the same flags, and every
   component must die with the test run (PR_SET_PDEATHSIG). Both need the pids and argv that our
   supervisor keeps in state.json, and that kwokctl hides behind its own state;
4. ours is about 800 lines of plain Python with no runtime dependency beyond ``cryptography``.
kwokctl would win if we needed many nodes, audit logs, or a Docker runtime; none is needed here.
"""

from .binaries import BINARIES, BuildReport, bin_dir, build, kubernetes_version
from .cluster import LocalCluster
from .common import DEFAULT_DIR, LEARNER, ClusterError
from .crds import crd_folder_paths, install_crds, placeholder_crds

__all__ = [
    "BINARIES", "DEFAULT_DIR", "LEARNER", "BuildReport", "ClusterError", "LocalCluster", "bin_dir", "build",
    "crd_folder_paths", "install_crds", "kubernetes_version", "placeholder_crds",
]
