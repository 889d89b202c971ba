"""What each circuit-breaker setting of a DestinationRule means, with the value the manifests give it.

Reads the DestinationRules in force after the page's stage (the last document applied wins) and
lists every field under ``connectionPool`` and ``outlierDetection`` of their traffic policies: the
rule's own, each subset's and each port's. The meanings are written for this handbook from the
field documentation of istio.io/api ``networking/v1alpha3/destination_rule.proto`` (v1.30).

Raises ValueError, naming the document and the field path, for a field whose meaning this table does
not know (a misspelling, most likely), for the deprecated ``consecutiveErrors``, for a host that is
no Service of the manifests, and when no DestinationRule sets a circuit breaker at all.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..diagrams.objects import Obj, latest_objects, service_of_host
from ..diagrams.traffic_split import NETWORKING

# field path under trafficPolicy -> meaning (Japanese, written for this handbook)
MEANINGS: dict[str, str] = {
    "connectionPool.tcp.maxConnections":
        "呼び出し元のプロキシ 1 つが、この宛先へ同時に持てる HTTP/1.1 と TCP の接続の数の上限。"
        "既定は 2^32-1 で、実質的に上限なし。",
    "connectionPool.tcp.connectTimeout":
        "TCP 接続が確立するまで待つ時間。過ぎると接続の失敗として扱う。既定は 10s。",
    "connectionPool.tcp.tcpKeepalive.probes":
        "応答のない接続を切れたとみなすまでに送るキープアライブの回数。既定は OS の設定 (Linux では 9)。",
    "connectionPool.tcp.tcpKeepalive.time":
        "接続が何もしない状態がこの時間続いたら、キープアライブを送り始める。既定は OS の設定 (Linux では 2 時間)。",
    "connectionPool.tcp.tcpKeepalive.interval":
        "キープアライブを送る間隔。既定は OS の設定 (Linux では 75 秒)。",
    "connectionPool.tcp.maxConnectionDuration":
        "接続を張ってからの寿命。この時間を過ぎた接続は閉じる。既定は無制限。",
    "connectionPool.tcp.idleTimeout":
        "送受信のない TCP 接続を閉じるまでの時間。既定は 1 時間、0s で無効。",
    "connectionPool.http.http1MaxPendingRequests":
        "接続が空くのを待つ列に並べるリクエストの数の上限。あふれた分は待たずに 503 で失敗する"
        " (HTTP/1.1 と HTTP/2 の両方に効く)。既定は 2^32-1。",
    "connectionPool.http.http2MaxRequests":
        "宛先へ同時に送っている途中のリクエストの数の上限。名前に反して HTTP/1.1 にも効く。既定は 2^32-1。",
    "connectionPool.http.maxRequestsPerConnection":
        "1 本の接続で送るリクエストの数の上限。達した接続は閉じて張り直すので、新しい Pod にも負荷が回る。"
        "1 にするとキープアライブを使わない。既定は 0 (上限なし)。",
    "connectionPool.http.maxRetries":
        "宛先全体で同時に進行中にできるリトライの数の上限。障害の最中にリトライが宛先をさらに追い詰めるのを防ぐ。"
        "既定は 2^32-1。",
    "connectionPool.http.idleTimeout":
        "処理中のリクエストがない接続を閉じるまでの時間。既定は 1 時間。",
    "connectionPool.http.h2UpgradePolicy":
        "HTTP/1.1 の接続を HTTP/2 に切り替えるかどうか (DEFAULT、DO_NOT_UPGRADE、UPGRADE)。",
    "connectionPool.http.useClientProtocol":
        "true なら、呼び出し元が使ったプロトコルのまま宛先へ送る (HTTP/2 への切り替えはしない)。",
    "connectionPool.http.maxConcurrentStreams":
        "HTTP/2 の 1 本の接続で同時に流せるストリームの数の上限。既定は 2^31-1。",
    "outlierDetection.consecutive5xxErrors":
        "あるホスト (Pod) が続けてこの回数だけ失敗すると、そのホストを負荷分散の対象から外す (排除)。"
        "失敗には 5xx の応答のほか、タイムアウトや接続の失敗でプロキシが代わりに 5xx を返したものも数える。"
        "既定は 5、0 で無効。",
    "outlierDetection.consecutiveGatewayErrors":
        "502、503、504 に限って数える連続エラーの回数。達したホストを排除する。既定は 0 (無効)。",
    "outlierDetection.splitExternalLocalOriginErrors":
        "true にすると、接続の失敗やタイムアウトのようにプロキシ側で起きた失敗を、宛先が返した 5xx と分けて数える。"
        "既定は false。",
    "outlierDetection.consecutiveLocalOriginFailures":
        "プロキシ側で起きた失敗が続けてこの回数に達したホストを排除する。splitExternalLocalOriginErrors が true の"
        "ときだけ効く。既定は 5。",
    "outlierDetection.interval":
        "排除したホストを戻すかどうかなどを見直す分析の間隔。連続エラーによる排除そのものは、エラーが起きたその場で行う。"
        "既定は 10s。",
    "outlierDetection.baseEjectionTime":
        "排除する時間の基準。実際の排除時間はこの値にそのホストが排除された回数を掛けたもので、"
        "繰り返し失敗するホストほど長く外れる。既定は 30s。",
    "outlierDetection.maxEjectionPercent":
        "負荷分散の対象のうち、同時に排除してよいホストの割合 (%) の上限。既定は 10。",
    "outlierDetection.minHealthPercent":
        "健全なホストの割合がこの値 (%) を下回ると外れ値の検出をやめ、全ホストに振り分ける。"
        "既定は 0 (この仕組みを使わない)。",
}

CIRCUIT_BREAKER_KEYS = ("connectionPool", "outlierDetection")
DEPRECATED = {"outlierDetection.consecutiveErrors": "outlierDetection.consecutive5xxErrors"}


def _leaves(value: object, path: str) -> Iterator[tuple[str, object]]:
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            yield from _leaves(inner, f"{path}.{key}")
    else:
        yield path, value


def _policies(rule: Obj) -> Iterator[tuple[str, dict]]:
    """(where, trafficPolicy) for the rule itself, its port-level settings and each subset."""

    def with_ports(where: str, policy: object) -> Iterator[tuple[str, dict]]:
        if not isinstance(policy, dict):
            return
        yield where, policy
        for i, port in enumerate(policy.get("portLevelSettings") or []):
            number = ((port or {}).get("port") or {}).get("number", "?")
            yield f"{where}.portLevelSettings[{i}] (ポート {number})", port or {}

    yield from with_ports("spec.trafficPolicy", rule.spec.get("trafficPolicy"))
    for i, subset in enumerate(rule.spec.get("subsets") or []):
        name = (subset or {}).get("name", "?")
        yield from with_ports(f"spec.subsets[{i}].trafficPolicy (subset {name})", (subset or {}).get("trafficPolicy"))


def _cell(value: object) -> str:
    shown = "true" if value is True else "false" if value is False else str(value)
    return "`" + shown.replace("|", "\\|") + "`"


def render(docs: list[dict]) -> str:
    services = latest_objects(docs, "Service", "v1")
    sections: list[str] = []
    for rule in latest_objects(docs, "DestinationRule", NETWORKING):
        rows: list[str] = []
        for where, policy in _policies(rule):
            for key in CIRCUIT_BREAKER_KEYS:
                if key not in policy:
                    continue
                for path, value in _leaves(policy[key], key):
                    if path in DEPRECATED:
                        raise ValueError(f"{rule.where}: {where}.{path} is deprecated; write "
                                         f"{DEPRECATED[path]} instead")
                    if path not in MEANINGS:
                        raise ValueError(f"{rule.where}: {where}.{path} is not a field this table knows; check its "
                                         "spelling against destination_rule.proto, or add its meaning to "
                                         "handbook/tables/circuit_breaker.py")
                    setting = _cell(path) if where == "spec.trafficPolicy" else f"{_cell(path)} ({where})"
                    rows.append(f"| {setting} | {_cell(value)} | {MEANINGS[path]} |")
        if not rows:
            continue
        host = rule.spec.get("host")
        if not isinstance(host, str) or not host:
            raise ValueError(f"{rule.where}: spec.host is required")
        name, namespace = service_of_host(host, rule.namespace, rule.where, "spec.host")
        if not any(s.name == name and (s.namespace is None or namespace is None or s.namespace == namespace)
                   for s in services):
            raise ValueError(f"{rule.where}: spec.host is {host}, but no document of the manifests creates Service "
                             f"{name}; fix the host or add the Service")
        header = f"DestinationRule `{rule.name}` (宛先 `{host}`)"
        sections.append("\n".join([f"**{header}**", "", "| 設定 | 値 | 意味 |", "| --- | --- | --- |", *rows]))
    if not sections:
        raise ValueError("circuit_breaker: no DestinationRule up to this stage sets connectionPool or "
                         "outlierDetection; use the table on a page whose stage applies a circuit breaker")
    return "\n\n".join(sections)
