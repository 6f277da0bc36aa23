"""The infra family: a Docker container, a Kubernetes workload or node, an S3 bucket or object.

All three speak HTTP with httpx. Each check opens a fresh connection (no keep-alive pool that could hide a dead
endpoint); the expensive part, the SSL context, is built once per distinct TLS configuration.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import ssl
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from monitors.base import CheckResult, Field, Kind, degraded, down, up
from monitors.registry import register
from monitors.tls import client_context

_NO_POOL = httpx.Limits(max_connections=1, max_keepalive_connections=0)


def _ssl_context(verify: bool, ca_file: str | None, cert_file: str | None = None,
                 key_file: str | None = None) -> ssl.SSLContext:
    return client_context(verify, ca_file, cert_file, key_file, purpose="http")


def _client(timeout: float, *, verify: bool = True, ca_file: str | None = None, cert_file: str | None = None,
            key_file: str | None = None, uds: str | None = None, https: bool = True) -> httpx.AsyncClient:
    ssl_ctx: ssl.SSLContext | bool = (_ssl_context(verify, ca_file or None, cert_file or None, key_file or None)
                                      if https else False)
    transport = httpx.AsyncHTTPTransport(verify=ssl_ctx, uds=uds, retries=0, limits=_NO_POOL)
    return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(timeout), follow_redirects=False,
                             headers={"User-Agent": "Beacon-monitor"})


def _http_error(exc: Exception, where: str, timeout: float) -> CheckResult:
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return down(f"Timed out after {timeout:g} s waiting for {where}")
    text = str(exc)
    cause: BaseException | None = exc
    while not text and cause is not None:  # httpx often wraps the real error (an SSL alert) without words
        cause = cause.__cause__ or cause.__context__
        text = str(cause or "")
    text = text or type(exc).__name__
    if "CERTIFICATE_REQUIRED" in text or "BAD_CERTIFICATE" in text:
        return down(f"{where} refused our client certificate (or needs one): {text}")
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return down(f"TLS certificate of {where} not trusted: {text}")
    if isinstance(exc, httpx.ConnectError):
        return down(f"Cannot connect to {where}: {text}")
    return down(f"Request to {where} failed: {text}")


def _api_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200]
    if isinstance(body, dict):
        return str(body.get("message") or body.get("reason") or "")[:200]
    return ""


def _url_errors(value: str, field: str) -> dict[str, str]:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return {field: "must be an http:// or https:// URL, e.g. https://10.0.0.1:6443"}
    return {}


def _file_errors(clean: Mapping[str, Any], *names: str) -> dict[str, str]:
    return {n: "must be an absolute file path" for n in names if clean.get(n) and not os.path.isabs(clean[n])}


# ---------------------------------------------------------------------------------------------------- docker

def _docker_target(endpoint: str) -> tuple[str | None, str]:
    """(unix socket path or None, base URL) for the configured endpoint."""
    if endpoint.startswith("unix://"):
        return endpoint[len("unix://"):], "http://docker"
    if endpoint.startswith("/"):
        return endpoint, "http://docker"
    if endpoint.startswith("tcp://"):
        endpoint = "http://" + endpoint[len("tcp://"):]
    return None, endpoint.rstrip("/")


async def _docker(config: Mapping[str, Any], timeout: float) -> CheckResult:
    uds, base = _docker_target(config["endpoint"])
    where = f"Docker at {uds or base}"
    container = config["container"]
    client = _client(timeout, verify=config["verify_tls"], ca_file=config.get("ca_file"),
                     cert_file=config.get("client_cert"), key_file=config.get("client_key"), uds=uds,
                     https=base.startswith("https://"))
    started = time.perf_counter()
    try:
        async with client:
            response = await client.get(f"{base}/containers/{quote(container, safe='')}/json")
    except (httpx.HTTPError, OSError) as exc:  # OSError: httpx lets some SSL errors through
        return _http_error(exc, where, timeout)
    latency = (time.perf_counter() - started) * 1000
    if response.status_code == 404:
        return down(f"No such container: {container}", latency)
    if response.status_code != 200:
        return down(f"Docker API answered {response.status_code}: {_api_message(response)}".rstrip(": "), latency)
    try:
        state = response.json()["State"]
        status = str(state.get("Status") or ("running" if state.get("Running") else "not running"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return down("Docker API answered with something that is not container JSON", latency)
    details: dict[str, Any] = {"status": status}
    health = (state.get("Health") or {}).get("Status")
    if health:
        details["health"] = health
    if status != "running" or not state.get("Running", True):
        exit_code = state.get("ExitCode")
        extra = f", exit code {exit_code}" if status in ("exited", "dead", "restarting") and exit_code is not None \
            else ""
        error = f": {state['Error']}" if state.get("Error") else ""
        return down(f"Container {container} is {status}{extra}{error}", latency, **details)
    if health in (None, "", "none", "healthy"):
        return up(f"Running{' (healthy)' if health == 'healthy' else ''}", latency, **details)
    if health == "starting":
        return degraded("Running, health check starting", latency, **details)
    log = (state.get("Health") or {}).get("Log") or []
    last = str(log[-1].get("Output", "")).strip().splitlines()[-1:] if log and isinstance(log[-1], dict) else []
    return down(f"Running but {health}{': ' + last[0][:200] if last else ''}", latency, **details)


def _docker_validate(clean: dict[str, Any]) -> dict[str, str]:
    endpoint = clean["endpoint"]
    errors = _file_errors(clean, "ca_file", "client_cert", "client_key")
    if not (endpoint.startswith(("unix:///", "/", "tcp://", "http://", "https://"))):
        errors["endpoint"] = "must be a unix socket path (/var/run/docker.sock) or a URL (https://host:2376)"
    elif endpoint.startswith(("tcp://", "http://", "https://")):
        errors.update(_url_errors(_docker_target(endpoint)[1], "endpoint"))
    if clean.get("client_key") and not clean.get("client_cert"):
        errors["client_cert"] = "is required when a client key is given"
    return errors


register(Kind(
    name="docker", label="Docker container", family="infra", library="httpx (Docker Engine API)",
    summary="UP when the container is running and, if it has a health check, healthy; DEGRADED while its "
            "health check is still starting; DOWN when it is stopped, exited, restarting, paused, unhealthy or "
            "does not exist.",
    fields=(
        Field("container", "Container", required=True, placeholder="web-1",
              help="The container's name or ID."),
        Field("endpoint", "Docker endpoint", default="/var/run/docker.sock",
              placeholder="/var/run/docker.sock or https://docker-host:2376",
              help="The Docker daemon's unix socket, or its TCP address (http:// or https://; tcp:// means "
                   "http://)."),
        Field("verify_tls", "Verify TLS certificate", "bool", default=True),
        Field("ca_file", "CA certificate file", placeholder="/etc/beacon/docker/ca.pem",
              help="For https: the CA that signed the daemon's certificate (Docker's ca.pem)."),
        Field("client_cert", "Client certificate file", placeholder="/etc/beacon/docker/cert.pem",
              help="For a daemon started with --tlsverify: the client certificate (cert.pem)."),
        Field("client_key", "Client key file", placeholder="/etc/beacon/docker/key.pem"),
    ),
    check=_docker, validate=_docker_validate,
    notes="""\
Asks the Docker Engine API for the container (`GET /containers/{name}/json`) and reads its state.

- On the same host, mount the socket into Beacon (`-v /var/run/docker.sock:/var/run/docker.sock:ro`).
  Access to the Docker socket is root-equivalent; prefer a read-only socket proxy (e.g.
  `tecnativa/docker-socket-proxy` with `CONTAINERS=1`) and point `endpoint` at it (`http://socket-proxy:2375`).
- For a remote daemon protected with TLS (`dockerd --tlsverify`), give the `https://` address and the
  `ca.pem`, `cert.pem` and `key.pem` paths, as for the docker CLI.
- A container with a `HEALTHCHECK` is UP only while Docker reports it `healthy`; without one, running is enough.

```json
{"container": "postgres", "endpoint": "/var/run/docker.sock"}
```
""",
))


# ------------------------------------------------------------------------------------------------ kubernetes

_SA_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
_SA_CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
_WORKLOADS = {"deployment": "deployments", "statefulset": "statefulsets", "daemonset": "daemonsets"}


def _k8s_path(config: Mapping[str, Any]) -> tuple[str, str]:
    target, name = config["target"], quote(config["name"], safe="")
    if target == "node":
        return f"/api/v1/nodes/{name}", f"Node {config['name']}"
    namespace = quote(config["namespace"], safe="")
    return (f"/apis/apps/v1/namespaces/{namespace}/{_WORKLOADS[target]}/{name}",
            f"{target.capitalize()} {config['namespace']}/{config['name']}")


def _k8s_judge(target: str, label: str, obj: Mapping[str, Any], latency: float) -> CheckResult:
    status = obj.get("status") or {}
    if target == "node":
        conditions = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
        ready = conditions.get("Ready")
        if ready is None:
            return down(f"{label} reports no Ready condition", latency)
        if ready.get("status") == "True":
            if (obj.get("spec") or {}).get("unschedulable"):
                return degraded(f"{label} is Ready but cordoned (unschedulable)", latency, ready=True)
            return up("Ready", latency, ready=True)
        why = ready.get("message") or ready.get("reason") or f"Ready={ready.get('status')}"
        return down(f"{label} is not Ready: {why}", latency, ready=False)
    if target == "daemonset":
        wanted, ready_n = int(status.get("desiredNumberScheduled") or 0), int(status.get("numberReady") or 0)
    else:
        spec_replicas = (obj.get("spec") or {}).get("replicas")
        wanted = int(spec_replicas if spec_replicas is not None else 1)
        ready_n = int(status.get("readyReplicas") or 0)
    details = {"ready": ready_n, "desired": wanted}
    text = f"{ready_n}/{wanted} ready"
    if ready_n >= wanted:
        return up(text if wanted else "Scaled to 0 replicas", latency, **details)
    if ready_n > 0:
        return degraded(f"{label}: only {text}", latency, **details)
    return down(f"{label}: {text}", latency, **details)


def _service_account(ca_file: str | None) -> tuple[str | None, str | None]:
    """Inside the cluster: the pod's service account token (read each time: kubelet rotates it) and CA."""
    try:
        with open(_SA_TOKEN) as fh:
            token = fh.read().strip()
    except OSError:
        return None, ca_file
    return token, ca_file or (_SA_CA if os.path.exists(_SA_CA) else None)


async def _kubernetes(config: Mapping[str, Any], timeout: float) -> CheckResult:
    token, ca_file = config.get("token"), config.get("ca_file")
    if not token:
        token, ca_file = _service_account(ca_file)
    base = config["api_url"].rstrip("/")
    path, label = _k8s_path(config)
    client = _client(timeout, verify=config["verify_tls"], ca_file=ca_file, https=base.startswith("https://"))
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    started = time.perf_counter()
    try:
        async with client:
            response = await client.get(base + path, headers=headers)
    except (httpx.HTTPError, OSError) as exc:  # OSError: httpx lets some SSL errors through
        return _http_error(exc, f"the Kubernetes API at {base}", timeout)
    latency = (time.perf_counter() - started) * 1000
    code = response.status_code
    if code == 401:
        return down("Unauthorized (401): the API server rejected the token", latency)
    if code == 403:
        return down(f"Forbidden (403): the token may not read {label.split(' ')[0].lower()}s here: "
                    f"{_api_message(response)}", latency)
    if code == 404:
        return down(f"{label} not found", latency)
    if code != 200:
        return down(f"Kubernetes API answered {code}: {_api_message(response)}".rstrip(": "), latency)
    try:
        obj = response.json()
        if not isinstance(obj, dict):
            raise ValueError
        return _k8s_judge(config["target"], label, obj, latency)
    except (ValueError, TypeError, AttributeError):
        return down("Kubernetes API answered with something that is not the expected object", latency)


def _k8s_validate(clean: dict[str, Any]) -> dict[str, str]:
    errors = _url_errors(clean["api_url"], "api_url") | _file_errors(clean, "ca_file")
    if clean["target"] != "node" and not clean.get("namespace"):
        errors["namespace"] = "is required for a " + clean["target"]
    return errors


register(Kind(
    name="kubernetes", label="Kubernetes", family="infra", library="httpx (Kubernetes REST API)",
    summary="For a deployment or statefulset: UP when all desired replicas are ready, DEGRADED when some are, "
            "DOWN when none are (daemonset: pods ready on every node that should run one). For a node: UP when "
            "its Ready condition is True, DEGRADED when Ready but cordoned, DOWN otherwise.",
    fields=(
        Field("api_url", "API server URL", required=True, placeholder="https://10.0.0.1:6443",
              help="The cluster's API server, as in your kubeconfig's `server:`."),
        Field("token", "Bearer token", "secret",
              help="A service account token allowed to get the object. Empty inside the cluster: the pod's own "
                   "service account token is used."),
        Field("verify_tls", "Verify TLS certificate", "bool", default=True),
        Field("ca_file", "CA certificate file", placeholder="/etc/beacon/k8s-ca.crt",
              help="The cluster's CA (certificate-authority in kubeconfig), when it is not publicly trusted."),
        Field("target", "What to check", "choice", default="deployment",
              choices=("deployment", "statefulset", "daemonset", "node")),
        Field("namespace", "Namespace", default="default", help="Ignored for nodes."),
        Field("name", "Name", required=True, placeholder="web", help="The deployment's (or node's) name."),
    ),
    check=_kubernetes, validate=_k8s_validate,
    notes="""\
Reads one object from the Kubernetes API (`/apis/apps/v1/namespaces/{ns}/deployments/{name}`, or
`/api/v1/nodes/{name}`) with a bearer token and compares ready replicas with desired ones.

The token needs only read access, e.g. a ServiceAccount bound to a Role with `get` on `deployments`
(ClusterRole with `get` on `nodes` for node checks). Create a long-lived token with
`kubectl create token beacon --duration=8760h` or a `kubernetes.io/service-account-token` Secret.
When Beacon runs in the cluster, leave the token and CA empty: the pod's mounted service account is used.

A rollout in progress shows as DEGRADED while some replicas are ready; a deployment scaled to 0 is UP.

```json
{"api_url": "https://10.0.0.1:6443", "token": "eyJhbGciOi…", "ca_file": "/etc/beacon/k8s-ca.crt",
 "target": "deployment", "namespace": "shop", "name": "checkout"}
```
""",
))


# -------------------------------------------------------------------------------------------------------- s3

_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sigv4_headers(method: str, url: str, region: str, access_key: str, secret_key: str,
                  now: datetime.datetime | None = None, payload_hash: str = _EMPTY_SHA256,
                  service: str = "s3") -> dict[str, str]:
    """The headers that sign a request with AWS Signature Version 4 (``url``'s path already percent-encoded)."""
    parts = urlsplit(url)
    now = now or datetime.datetime.now(datetime.UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    default_port = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port and parts.port != default_port:
        host = f"{host}:{parts.port}"
    headers = {"host": host, "x-amz-content-sha256": payload_hash, "x-amz-date": amz_date}
    signed = ";".join(sorted(headers))
    query = "&".join(sorted(parts.query.split("&"))) if parts.query else ""
    canonical = "\n".join([method, parts.path or "/", query,
                           "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)), signed, payload_hash])
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret_key).encode(), day), region), service), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed}, "
                                f"Signature={signature}")
    return headers


def s3_url(endpoint: str, bucket: str, key: str | None = None) -> str:
    """Path-style URL of a bucket or object, each part percent-encoded as SigV4 expects ("/" kept in keys)."""
    url = f"{endpoint.rstrip('/')}/{quote(bucket, safe='-_.~')}"
    if key:
        url += "/" + quote(key.lstrip("/"), safe="-_.~/")
    return url


async def _s3(config: Mapping[str, Any], timeout: float) -> CheckResult:
    bucket, key = config["bucket"], config.get("object_key")
    url = s3_url(config["endpoint"], bucket, key)
    headers: dict[str, str] = {}
    if config.get("access_key"):
        headers = sigv4_headers("HEAD", url, config["region"], config["access_key"], config["secret_key"])
    client = _client(timeout, verify=config["verify_tls"], ca_file=config.get("ca_file"),
                     https=url.startswith("https://"))
    what = f"object {key!r} in bucket {bucket!r}" if key else f"bucket {bucket!r}"
    started = time.perf_counter()
    try:
        async with client:
            response = await client.head(url, headers=headers)
    except (httpx.HTTPError, OSError) as exc:  # OSError: httpx lets some SSL errors through
        return _http_error(exc, config["endpoint"], timeout)
    latency = (time.perf_counter() - started) * 1000
    code = response.status_code
    if code == 200:
        if key:
            size = response.headers.get("content-length")
            return up(f"Object exists ({size} bytes)" if size else "Object exists", latency,
                      **({"size_bytes": int(size)} if size and size.isdigit() else {}))
        return up("Bucket reachable", latency)
    if code == 404:
        return down(f"Not found (404): {what}" + (" (or the bucket itself)" if key else " does not exist"), latency)
    if code == 403:
        return down(f"Access denied (403) to {what}: check the access key, secret key and the bucket policy",
                    latency)
    region = response.headers.get("x-amz-bucket-region")
    if code in (301, 307, 400) and region and region != config["region"]:
        return down(f"The bucket is in region {region}, not {config['region']} ({code})", latency)
    return down(f"S3 answered {code} {response.reason_phrase} for {what}".rstrip(), latency)


def _s3_validate(clean: dict[str, Any]) -> dict[str, str]:
    errors = _url_errors(clean["endpoint"], "endpoint") | _file_errors(clean, "ca_file")
    if "/" in clean["bucket"]:
        errors["bucket"] = "must be a bucket name only, without '/' (put the path in the object key)"
    if bool(clean.get("access_key")) != bool(clean.get("secret_key")):
        missing = "secret_key" if clean.get("access_key") else "access_key"
        errors[missing] = "is required when the other key is given (or leave both empty for a public bucket)"
    return errors


register(Kind(
    name="s3", label="S3 bucket or object", family="infra", library="httpx + AWS Signature V4 (hashlib/hmac)",
    summary="UP when a signed HEAD request finds the bucket (or the object); DOWN on 403 access denied, 404 not "
            "found, any other answer, or when the endpoint cannot be reached.",
    fields=(
        Field("endpoint", "Endpoint URL", required=True, placeholder="https://s3.eu-west-1.amazonaws.com",
              help="The S3 API address: AWS's regional endpoint, or MinIO / Ceph / Garage etc. "
                   "(http://minio:9000). Buckets are addressed path-style (endpoint/bucket/key)."),
        Field("region", "Region", default="us-east-1", help="Used in the signature; MinIO's default is us-east-1."),
        Field("access_key", "Access key ID", placeholder="AKIA…", help="Empty for a public bucket (unsigned)."),
        Field("secret_key", "Secret access key", "secret"),
        Field("bucket", "Bucket", required=True, placeholder="backups"),
        Field("object_key", "Object key", placeholder="nightly/latest.tar.gz",
              help="When set, the object must exist (HEAD object) instead of only the bucket."),
        Field("verify_tls", "Verify TLS certificate", "bool", default=True),
        Field("ca_file", "CA certificate file", help="For an endpoint with a private CA."),
    ),
    check=_s3, validate=_s3_validate,
    notes="""\
Sends `HEAD /{bucket}` (or `HEAD /{bucket}/{key}`) signed with AWS Signature Version 4. No SDK is needed
and nothing is downloaded. Give the monitor a key with read-only rights: `s3:ListBucket` on the bucket
(HEAD bucket) and `s3:GetObject` for an object check.

Checking an object is a cheap way to watch that backups keep arriving when the backup job overwrites a
fixed key (`latest.tar.gz`). A HEAD response has no body, so a 403 does not say whether the key, the secret
or the policy is wrong. The signature carries the Beacon host's time: keep its clock in sync (S3 rejects
requests more than 15 minutes off).

```json
{"endpoint": "http://minio:9000", "region": "us-east-1", "access_key": "beacon",
 "secret_key": "…", "bucket": "backups", "object_key": "db/latest.sql.gz"}
```
""",
))
