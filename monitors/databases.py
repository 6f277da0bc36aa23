"""Database kinds: MySQL/MariaDB, PostgreSQL, MongoDB, Redis and Elasticsearch.

Every check opens a fresh connection (no pooling that would hide a dead server), runs one cheap command and
closes it again. TLS contexts are built once per distinct (verify, CA file) setting and shared.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import time
from collections.abc import Mapping
from typing import Any

import aiomysql
import asyncpg
import httpx
import pymysql
import pymysql.constants
import redis.asyncio as aioredis
from pymongo import AsyncMongoClient, monitoring
from pymongo import errors as mongo_errors
from redis import exceptions as redis_errors
from redis.asyncio.connection import Connection as RedisConnection
from redis.asyncio.retry import Retry as RedisRetry
from redis.backoff import NoBackoff

from monitors.base import CheckResult, Field, Kind, degraded, down, up
from monitors.registry import register
from monitors.tls import TLSSetupError, client_context

# ---------------------------------------------------------------------------------------------------------------
# shared pieces


def _ssl_context(verify: bool, ca_file: str = "") -> ssl.SSLContext:
    """The shared client context (monitors/tls.py); ``TLSSetupError`` says what is wrong with the CA file."""
    return client_context(verify, ca_file or None)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _network_error(exc: BaseException, host: str, port: int, timeout: float) -> str:
    """A connection failure in words: refused, unresolvable, timed out, TLS, or the OS's own text."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:  # look through the library's wrapping
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return f"Connection refused by {host}:{port}"
        if isinstance(current, socket.gaierror):
            return f"Cannot resolve host {host!r}: {current.strerror or current}"
        if isinstance(current, ssl.SSLCertVerificationError):
            return f"TLS certificate of {host}:{port} not trusted: {current.verify_message or current}"
        if isinstance(current, ssl.SSLError):
            return f"TLS handshake with {host}:{port} failed: {current.reason or current}"
        if isinstance(current, TimeoutError | asyncio.TimeoutError):
            return f"Timed out after {timeout:g} s connecting to {host}:{port}"
        current = current.__cause__ or current.__context__
    if isinstance(exc, OSError) and exc.strerror:
        return f"Cannot connect to {host}:{port}: {exc.strerror}"
    return f"Cannot connect to {host}:{port}: {str(exc).strip() or type(exc).__name__}"


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def _tls_fields(default_port_note: str = "") -> tuple[Field, ...]:
    return (
        Field("tls", "Use TLS", "bool", default=False,
              help="Encrypt the connection." + (f" {default_port_note}" if default_port_note else "")),
        Field("verify_tls", "Verify TLS certificate", "bool", default=True,
              help="Check the server's certificate and host name. Turn off only for self-signed test servers."),
        Field("ca_file", "CA file", placeholder="/etc/ssl/private-ca.pem",
              help="PEM file with the CA that signed the server's certificate, when it is not a public CA."),
    )


def _tls_rules(config: Mapping[str, Any]) -> dict[str, str]:
    if config.get("ca_file") and not config.get("tls"):
        return {"ca_file": "is only used with TLS: turn on “Use TLS” or leave it empty"}
    return {}


# ---------------------------------------------------------------------------------------------------------------
# MySQL / MariaDB (aiomysql)

_MYSQL_CONNECT_ERRORS = {2003, 2005, 2006, 2013}  # can't connect, unknown host, gone away, lost connection


async def _mysql(config: Mapping[str, Any], timeout: float) -> CheckResult:
    host, port = config["host"], config["port"]
    try:
        ssl_context = _ssl_context(config["verify_tls"], config.get("ca_file", "")) if config["tls"] else None
    except TLSSetupError as exc:
        return down(f"TLS setup failed: {exc}")
    started = time.perf_counter()
    # aiomysql.connect() would leave the socket open if cancelled mid-handshake (a hung server); building the
    # Connection ourselves lets the finally below close it in every case.
    conn = aiomysql.Connection(host=host, port=port, user=config["username"], password=config.get("password", ""),
                               db=config.get("database") or None, connect_timeout=timeout, ssl=ssl_context,
                               autocommit=True, program_name="beacon")
    try:
        await conn._connect()
        if ssl_context is not None and not conn.server_capabilities & pymysql.constants.CLIENT.SSL:
            # aiomysql silently continues in plain text when the server offers no TLS: that is not what was asked
            return down(f"TLS was required but {host}:{port} does not offer it")
        async with conn.cursor() as cursor:
            await cursor.execute(config["query"])
            rows = await cursor.fetchall()
    except pymysql.err.MySQLError as exc:
        code, text = (exc.args[0], exc.args[1]) if len(exc.args) >= 2 else (None, str(exc))
        if code in _MYSQL_CONNECT_ERRORS:
            return down(_network_error(exc, host, port, timeout) if exc.__cause__ else str(text))
        return down(f"Error {code}: {text}" if code else str(text), error_code=code)
    except (OSError, TimeoutError) as exc:
        return down(_network_error(exc, host, port, timeout))
    finally:
        conn.close()
    latency = _ms(started)
    version = conn.get_server_info() or ""
    version = version.removeprefix("5.5.5-")  # MariaDB's replication-compatibility prefix
    return up(f"Query returned {_rows(len(rows))} (server {version})" if version else
              f"Query returned {_rows(len(rows))}", latency, rows=len(rows), server_version=version)


def _mysql_kind(name: str, label: str) -> Kind:
    return Kind(
        name=name, label=label, family="databases", library="aiomysql",
        summary=f"UP when {label} accepts the login and answers the query; DOWN with the server's error text on "
                "a refused connection, failed login, unknown database or failing query.",
        fields=(
            Field("host", "Host", required=True, placeholder="db.internal"),
            Field("port", "Port", "int", default=3306, min=1, max=65535),
            Field("username", "Username", required=True, placeholder="monitor"),
            Field("password", "Password", "secret"),
            Field("database", "Database", placeholder="app",
                  help="Database to select after login. Empty: none (the query must then name its tables fully)."),
            Field("query", "Query", "text", default="SELECT 1",
                  help="Run after login; UP when it returns without error. Keep it cheap and read-only."),
            *_tls_fields(),
        ),
        check=_mysql,
        validate=_tls_rules,
        notes="""\
Logs in as **username**, selects **database** (if set), runs **query** and reads its rows, then disconnects.
Failed logins (`Error 1045: Access denied ...`), unknown databases (`Error 1049: Unknown database 'app'`) and SQL
errors are reported with the server's own text. Give the monitor its own account with no privileges beyond what
the query needs, for example `CREATE USER 'monitor'@'%' IDENTIFIED BY '...';` (`SELECT 1` needs no grants).

A query such as `SELECT 1 FROM orders LIMIT 1` also proves that a table is readable. `tls` turns on TLS;
`verify_tls` checks the certificate against the system CAs or **ca_file**.

```json
{"host": "db.internal", "port": 3306, "username": "monitor", "password": "s3cret", "database": "app",
 "query": "SELECT 1", "tls": true, "verify_tls": true}
```""",
    )


register(_mysql_kind("mysql", "MySQL"))
register(_mysql_kind("mariadb", "MariaDB"))


# ---------------------------------------------------------------------------------------------------------------
# PostgreSQL (asyncpg)

_SSLMODES = ("disable", "prefer", "require", "verify-full")


async def _postgresql(config: Mapping[str, Any], timeout: float) -> CheckResult:
    host, port = config["host"], config["port"]
    mode = config["sslmode"]
    ssl_arg: Any
    if mode == "verify-full":
        try:
            ssl_arg = _ssl_context(True, config.get("ca_file", ""))
        except TLSSetupError as exc:
            return down(f"TLS setup failed: {exc}")
    else:
        ssl_arg = False if mode == "disable" else mode  # asyncpg's "prefer"/"require": encrypt, don't verify
    started = time.perf_counter()
    try:
        conn = await asyncpg.connect(host=host, port=port, user=config["username"],
                                     password=config.get("password") or None,
                                     database=config.get("database") or None, ssl=ssl_arg, timeout=timeout,
                                     command_timeout=timeout, server_settings={"application_name": "beacon"})
    except asyncpg.PostgresError as exc:
        return down(f"{exc} ({exc.sqlstate})" if getattr(exc, "sqlstate", None) else str(exc),
                    error_code=getattr(exc, "sqlstate", None))
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        return down(_network_error(exc, host, port, timeout))
    except asyncpg.InterfaceError as exc:  # e.g. the server does not support SSL with sslmode=require
        return down(f"Cannot connect to {host}:{port}: {exc}")
    try:
        rows = await conn.fetch(config["query"], timeout=timeout)
    except asyncpg.PostgresError as exc:
        return down(f"Query failed: {exc}", error_code=getattr(exc, "sqlstate", None))
    except (OSError, TimeoutError) as exc:
        return down(_network_error(exc, host, port, timeout))
    finally:
        conn.terminate()  # no goodbye round trip to wait for: the check is over
    latency = _ms(started)
    version = conn.get_server_version()
    version_text = f"{version.major}.{version.minor}" if version.major >= 10 else (
        f"{version.major}.{version.minor}.{version.micro}")
    return up(f"Query returned {_rows(len(rows))} (PostgreSQL {version_text})", latency, rows=len(rows),
              server_version=version_text)


def _postgresql_rules(config: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if config.get("ca_file") and config.get("sslmode") != "verify-full":
        errors["ca_file"] = "is only used with sslmode verify-full"
    return errors


register(Kind(
    name="postgresql", label="PostgreSQL", family="databases", library="asyncpg",
    summary="UP when PostgreSQL accepts the login and answers the query; DOWN with the server's error text on a "
            "refused connection, failed login, unknown database or failing query.",
    fields=(
        Field("host", "Host", required=True, placeholder="db.internal"),
        Field("port", "Port", "int", default=5432, min=1, max=65535),
        Field("username", "Username", default="postgres", placeholder="monitor"),
        Field("password", "Password", "secret"),
        Field("database", "Database", placeholder="app", help="Empty: a database named like the user."),
        Field("query", "Query", "text", default="SELECT 1",
              help="Run after login; UP when it returns without error. Keep it cheap and read-only."),
        Field("sslmode", "TLS mode", "choice", default="prefer", choices=_SSLMODES,
              help="disable: plain text. prefer: TLS when the server offers it. require: TLS, certificate not "
                   "checked. verify-full: TLS with the certificate and host name checked."),
        Field("ca_file", "CA file", placeholder="/etc/ssl/private-ca.pem",
              help="PEM file with the CA of the server's certificate (verify-full only). Empty: system CAs."),
    ),
    check=_postgresql,
    validate=_postgresql_rules,
    notes="""\
Connects like `psql` would with the same settings, runs **query**, reads its rows and disconnects. The message
gives the row count and server version; failures carry PostgreSQL's text and SQLSTATE, e.g.
`database "app" does not exist (3D000)` or `password authentication failed for user "monitor" (28P01)`.

**sslmode** follows libpq's meaning: `prefer` (the default) tries TLS and falls back to plain text, `require`
insists on TLS without checking the certificate, `verify-full` checks the certificate against the system CAs or
**ca_file** and the host name. A monitoring role needs only `LOGIN` and `CONNECT` on the database:
`CREATE ROLE monitor LOGIN PASSWORD '...';`.

```json
{"host": "db.internal", "port": 5432, "username": "monitor", "password": "s3cret", "database": "app",
 "query": "SELECT 1", "sslmode": "verify-full", "ca_file": "/etc/ssl/db-ca.pem"}
```""",
))


# ---------------------------------------------------------------------------------------------------------------
# MongoDB (pymongo's asyncio client)


class _HeartbeatWatch(monitoring.ServerHeartbeatListener):
    """Ends the wait at the first failed handshake (refused, TLS, timeout) instead of letting server selection
    retry until the timeout."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.failure: asyncio.Future[Exception] = self.loop.create_future()

    def _fail(self, error: Exception) -> None:
        if not self.failure.done():
            self.failure.set_result(error)

    def started(self, event: monitoring.ServerHeartbeatStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.ServerHeartbeatSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.ServerHeartbeatFailedEvent) -> None:
        self.loop.call_soon_threadsafe(self._fail, event.reply)


def _mongo_error(exc: BaseException, host: str, port: int, timeout: float) -> str:
    if isinstance(exc, mongo_errors.OperationFailure):
        details = exc.details or {}
        text = details.get("errmsg") or str(exc).split(", full error:")[0]
        name = details.get("codeName")
        return f"{text} ({name})" if name else text
    text = str(exc)
    cause = exc.__cause__ or exc.__context__
    if cause is not None and not isinstance(cause, mongo_errors.PyMongoError):
        return _network_error(cause, host, port, timeout)
    if "Connect call failed" in text or "Connection refused" in text:
        return f"Connection refused by {host}:{port}"
    if "timed out" in text or isinstance(exc, mongo_errors.ServerSelectionTimeoutError):
        return f"Timed out after {timeout:g} s waiting for MongoDB at {host}:{port}"
    text = text.split(" (configured timeouts")[0]
    return f"Cannot connect to {host}:{port}: {text}"


async def _mongodb(config: Mapping[str, Any], timeout: float) -> CheckResult:
    host, port = config["host"], config["port"]
    options: dict[str, Any] = {}
    if config.get("username"):
        options.update(username=config["username"], password=config.get("password", ""),
                       authSource=config["auth_source"])
    if config["tls"]:
        options.update(tls=True, tlsAllowInvalidCertificates=not config["verify_tls"],
                       tlsAllowInvalidHostnames=not config["verify_tls"])
        if config.get("ca_file"):
            if not os.access(config["ca_file"], os.R_OK):
                return down(f"Cannot read CA file {config['ca_file']}")
            options["tlsCAFile"] = config["ca_file"]
    ms = max(int(timeout * 1000), 1)
    watch = _HeartbeatWatch()
    started = time.perf_counter()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        host, port, directConnection=True, connect=False, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms,
        socketTimeoutMS=ms, maxPoolSize=1, retryReads=False, retryWrites=False, appname="beacon",
        event_listeners=[watch], **options)

    async def commands() -> dict[str, Any]:
        await client.admin.command("ping")
        return await client.admin.command("buildInfo")

    task = asyncio.ensure_future(commands())
    task.add_done_callback(lambda t: t.cancelled() or t.exception())  # never "exception was never retrieved"
    try:
        done, _ = await asyncio.wait({task, watch.failure}, return_when=asyncio.FIRST_COMPLETED)
        if task not in done:
            return down(_mongo_error(watch.failure.result(), host, port, timeout))
        try:
            info = task.result()
        except mongo_errors.PyMongoError as exc:
            return down(_mongo_error(exc, host, port, timeout),
                        error_code=getattr(exc, "code", None))
        latency = _ms(started)
        server = next(iter(client.topology_description.server_descriptions().values()), None)
        role = server.server_type_name if server is not None else "Unknown"
    finally:
        task.cancel()  # no-op when it finished; stops it when the runner cancelled us or the handshake failed
        if not watch.failure.done():
            watch.failure.cancel()
        await client.close()
    version = str(info.get("version", "?"))
    roles = {"RSPrimary": "primary", "RSSecondary": "secondary", "RSArbiter": "arbiter", "Mongos": "mongos",
             "Standalone": "standalone", "RSOther": "replica set member", "RSGhost": "replica set member"}
    role_text = roles.get(role, role)
    if config["require_primary"] and role not in ("RSPrimary", "Standalone", "Mongos"):
        return down(f"MongoDB {version} answers but is a {role_text}, not the writable primary", latency,
                    server_version=version, role=role_text)
    return up(f"MongoDB {version} ({role_text}) answered ping", latency, server_version=version, role=role_text)


register(Kind(
    name="mongodb", label="MongoDB", family="databases", library="pymongo (AsyncMongoClient)",
    summary="UP when the MongoDB server completes the handshake (and login) and answers `ping`; DOWN when it "
            "refuses, times out, rejects the credentials or answers with an error.",
    fields=(
        Field("host", "Host", required=True, placeholder="mongo-1.internal"),
        Field("port", "Port", "int", default=27017, min=1, max=65535),
        Field("username", "Username", placeholder="monitor", help="Empty: connect without logging in."),
        Field("password", "Password", "secret"),
        Field("auth_source", "Authentication database", default="admin",
              help="Database the user is defined in (authSource)."),
        Field("require_primary", "Require writable primary", "bool", default=False,
              help="DOWN when this member is a replica-set secondary or arbiter rather than the primary."),
        *_tls_fields(),
    ),
    check=_mongodb,
    validate=lambda c: {**_tls_rules(c), **({"password": "needs a username"}
                                            if c.get("password") and not c.get("username") else {})},
    notes="""\
Checks **one** server (`directConnection=true`), not a whole replica set: add one monitor per member to see
each one. The check completes the driver handshake, logs in when **username** is set (SCRAM, against
**auth_source**), runs `ping` and `buildInfo`, and reports the server version and the member's role
(standalone, primary, secondary, mongos). Turn on **require_primary** for the member your application writes
to when a step-down should count as an outage. The login is exercised on every check, so a wrong password
shows as `Authentication failed. (AuthenticationFailed)`.

There is no `mongodb+srv://` URI setting on purpose: an SRV record names a whole cluster, and the password
stays in the secret field instead of inside a URI. TLS: `tls`, `verify_tls`, `ca_file`, as for the other
database kinds.

```json
{"host": "mongo-1.internal", "port": 27017, "username": "monitor", "password": "s3cret",
 "auth_source": "admin", "tls": true, "require_primary": false}
```""",
))


# ---------------------------------------------------------------------------------------------------------------
# Redis (redis.asyncio)


class _TLSConnection(RedisConnection):
    """A redis-py connection that uses our shared SSLContext instead of building a new one per client."""

    def __init__(self, *, beacon_ssl_context: ssl.SSLContext, **kwargs: Any) -> None:
        self._beacon_ssl_context = beacon_ssl_context
        super().__init__(**kwargs)

    def _connection_arguments(self) -> Mapping[str, Any]:
        return {**super()._connection_arguments(), "ssl": self._beacon_ssl_context}


async def _redis(config: Mapping[str, Any], timeout: float) -> CheckResult:
    host, port = config["host"], config["port"]
    kwargs: dict[str, Any] = dict(
        host=host, port=port, db=config["db"], username=config.get("username") or None,
        password=config.get("password") or None, socket_timeout=timeout, socket_connect_timeout=timeout,
        retry=RedisRetry(NoBackoff(), 0), max_connections=1)  # no client_name: CLIENT SETNAME needs a grant
    if config["tls"]:
        try:
            kwargs.update(connection_class=_TLSConnection,
                          beacon_ssl_context=_ssl_context(config["verify_tls"], config.get("ca_file", "")))
        except TLSSetupError as exc:
            return down(f"TLS setup failed: {exc}")
    pool = aioredis.ConnectionPool(**kwargs)
    client = aioredis.Redis.from_pool(pool)
    started = time.perf_counter()
    try:
        pong = await client.ping()
        exists = await client.exists(config["key"]) if config.get("key") else None
    except redis_errors.AuthenticationError as exc:
        return down(f"Authentication failed: {exc}")
    except redis_errors.ResponseError as exc:
        return down(f"Redis error: {exc}")
    except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as exc:
        if isinstance(exc, redis_errors.TimeoutError) or "Timeout" in str(exc):
            return down(f"Timed out after {timeout:g} s waiting for Redis at {host}:{port}")
        message = str(exc)
        if "refused" in message.lower() or "Connect call failed" in message:
            return down(f"Connection refused by {host}:{port}")
        return down(_network_error(exc, host, port, timeout) if exc.__cause__ or isinstance(exc, OSError)
                    else f"Cannot connect to {host}:{port}: {message}")
    finally:
        await client.aclose()
    latency = _ms(started)
    if pong is not True:
        return down(f"Unexpected answer to PING: {pong!r}", latency)
    if exists is not None:
        if not exists:
            return down(f"PONG, but key {config['key']!r} does not exist in db {config['db']}", latency)
        return up(f"PONG; key {config['key']!r} exists", latency)
    return up("PONG", latency)


register(Kind(
    name="redis", label="Redis", family="databases", library="redis-py (redis.asyncio)",
    summary="UP when Redis answers PING with PONG (and the optional key exists); DOWN when it refuses, times "
            "out, rejects the login, or the key is missing.",
    fields=(
        Field("host", "Host", required=True, placeholder="cache.internal"),
        Field("port", "Port", "int", default=6379, min=1, max=65535),
        Field("username", "Username", help="ACL user (Redis 6+). Empty: the default user."),
        Field("password", "Password", "secret", help="Empty: no AUTH."),
        Field("db", "Database number", "int", default=0, min=0, max=100_000),
        Field("key", "Key that must exist", placeholder="worker:heartbeat",
              help="Optional: DOWN when this key does not exist, e.g. a heartbeat key a worker refreshes with "
                   "an expiry."),
        *_tls_fields("Managed Redis services often listen for TLS on port 6380."),
    ),
    check=_redis,
    validate=lambda c: {**_tls_rules(c), **({"username": "needs a password"}
                                            if c.get("username") and not c.get("password") else {})},
    notes="""\
Opens a connection, authenticates when **password** is set (`AUTH username password` with an ACL user, else
`AUTH password`), selects **db**, sends `PING` and expects `PONG`. Wrong credentials show Redis' answer, e.g.
`Authentication failed: invalid username-password pair or user is disabled.`

With **key** set the check also runs `EXISTS key`. That turns Redis into a dead man's switch for background
jobs: have a worker run `SET worker:heartbeat 1 EX 120` every minute and the monitor goes DOWN two minutes
after the worker stops.

```json
{"host": "cache.internal", "port": 6380, "password": "s3cret", "db": 0, "tls": true,
 "key": "worker:heartbeat"}
```""",
))


# ---------------------------------------------------------------------------------------------------------------
# Elasticsearch / OpenSearch (httpx)

def _elasticsearch_rules(config: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    url = httpx.URL(config["url"]) if config["url"].startswith(("http://", "https://")) else None
    if url is None or not url.host:
        errors["url"] = "must be an http:// or https:// address, e.g. https://es.internal:9200"
    elif url.userinfo:
        errors["url"] = "must not contain a user or password: use the Username and Password settings"
    if config.get("api_key") and (config.get("username") or config.get("password")):
        errors["api_key"] = "use either an API key or a username and password, not both"
    elif config.get("password") and not config.get("username"):
        errors["username"] = "is required with a password"
    elif config.get("username") and not config.get("password"):
        errors["password"] = "is required with a username"
    if config.get("ca_file") and url is not None and url.scheme != "https":
        errors["ca_file"] = "is only used with an https:// address"
    return errors


def _es_error(response: httpx.Response) -> str:
    try:
        body = response.json()
        error = body.get("error")
        if isinstance(error, dict):
            reason = error.get("reason") or error.get("type")
            return str(reason) if reason else ""
        return str(error or "")
    except ValueError:
        return response.text.strip()[:200]


async def _elasticsearch(config: Mapping[str, Any], timeout: float) -> CheckResult:
    url = httpx.URL(config["url"])
    host, port = url.host, url.port or (443 if url.scheme == "https" else 80)
    try:
        verify = _ssl_context(config["verify_tls"], config.get("ca_file", ""))
    except TLSSetupError as exc:
        return down(f"TLS setup failed: {exc}")
    headers = {"Accept": "application/json", "Connection": "close"}
    auth = None
    if config.get("api_key"):
        headers["Authorization"] = f"ApiKey {config['api_key']}"
    elif config.get("username"):
        auth = httpx.BasicAuth(config["username"], config.get("password", ""))
    health_url = str(url).rstrip("/") + "/_cluster/health"
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(verify=verify, timeout=timeout, trust_env=False,
                                     limits=httpx.Limits(max_keepalive_connections=0)) as client:
            response = await client.get(health_url, headers=headers, auth=auth)
    except httpx.TimeoutException:
        return down(f"Timed out after {timeout:g} s waiting for {host}:{port}")
    except httpx.HTTPError as exc:
        return down(_network_error(exc, host, port, timeout))
    latency = _ms(started)
    if response.status_code == 401:
        reason = _es_error(response)
        return down("HTTP 401 Unauthorized: check the username and password or API key"
                    + (f" ({reason})" if reason else ""), latency)
    if response.status_code != 200:
        reason = _es_error(response)
        return down(f"HTTP {response.status_code} {response.reason_phrase}" + (f": {reason}" if reason else ""),
                    latency)
    try:
        health = response.json()
        status = str(health["status"]).lower()
    except (ValueError, KeyError, TypeError):
        return down("The answer is not Elasticsearch cluster health JSON (no \"status\")", latency)
    nodes = health.get("number_of_nodes")
    unassigned = health.get("unassigned_shards", 0)
    name = health.get("cluster_name", "")
    message = (f"Cluster {name!r} is {status}: " if name else f"Cluster is {status}: ") + (
        f"{nodes} node{'s' if nodes != 1 else ''}, {unassigned} unassigned shard{'s' if unassigned != 1 else ''}")
    details = {"status": status, "nodes": nodes, "unassigned_shards": unassigned,
               "active_shards_percent": health.get("active_shards_percent_as_number")}
    if status == "green":
        return up(message, latency, **details)
    if status == "yellow":
        return degraded(message, latency, **details)
    return down(message, latency, **details)


register(Kind(
    name="elasticsearch", label="Elasticsearch", family="databases", library="httpx",
    summary="Reads `GET /_cluster/health`: green is UP, yellow DEGRADED, red DOWN; also DOWN when the cluster "
            "cannot be reached or rejects the credentials.",
    fields=(
        Field("url", "URL", required=True, placeholder="https://es.internal:9200",
              help="Base address of the cluster (any node or the load balancer in front of it)."),
        Field("username", "Username", placeholder="monitor"),
        Field("password", "Password", "secret"),
        Field("api_key", "API key", "secret", help="Base64 API key (sent as “Authorization: ApiKey …”); instead "
                                                    "of username and password."),
        Field("verify_tls", "Verify TLS certificate", "bool", default=True,
              help="Check the server's certificate for https:// addresses."),
        Field("ca_file", "CA file", placeholder="/etc/elasticsearch/certs/http_ca.crt",
              help="PEM file with the CA of the cluster's certificate (Elasticsearch 8 creates http_ca.crt)."),
    ),
    check=_elasticsearch,
    validate=_elasticsearch_rules,
    notes="""\
One request to `<url>/_cluster/health`. The message names the cluster, its status, the number of nodes and of
unassigned shards, e.g. `Cluster 'logs' is yellow: 3 nodes, 5 unassigned shards`. Yellow means every primary
shard is allocated but some replicas are not (the data is there, redundancy is not); red means a primary shard
is missing and some data cannot be searched or written.

The account needs the `monitor` cluster privilege (the built-in `remote_monitoring_collector` role has it);
an API key works the same way. OpenSearch answers the same API and works too. A self-managed Elasticsearch 8
uses a private CA: point **ca_file** at its `http_ca.crt`.

```json
{"url": "https://es.internal:9200", "username": "monitor", "password": "s3cret",
 "ca_file": "/etc/beacon/es_http_ca.crt"}
```""",
))
