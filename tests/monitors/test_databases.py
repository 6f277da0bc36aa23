"""Database kinds against real servers on 127.0.0.1.

MySQL/MariaDB, PostgreSQL and Redis are the machine's local services (MariaDB root/no password/db test,
PostgreSQL postgres/trust/db test, Redis without a password). MongoDB and Elasticsearch cannot run here: their
tests use the protocol fakes in ``tests/monitors/wire_servers.py``, which speak the documented MongoDB wire
protocol (OP_MSG/OP_QUERY with BSON) and the documented Elasticsearch ``_cluster/health`` HTTP API.
"""

from __future__ import annotations

import ssl
import time
import uuid
from collections.abc import AsyncIterator

import aiomysql
import asyncpg
import pytest
import redis.asyncio as aioredis
import trustme

from monitors import registry, schema
from tests.monitors.conftest import assert_times_out, check
from tests.monitors.wire_servers import FakeElasticsearch, FakeMongo, cluster_health

MARIADB = {"host": "127.0.0.1", "port": 3306, "username": "root", "password": "", "database": "test"}
POSTGRES = {"host": "127.0.0.1", "port": 5432, "username": "postgres", "database": "test"}
REDIS = {"host": "127.0.0.1", "port": 6379}


def config_errors(kind: str, raw: dict) -> dict[str, str]:
    with pytest.raises(schema.ConfigError) as caught:
        schema.validate(registry.get(kind), raw)
    return caught.value.errors


# ------------------------------------------------------------------------------------------- MySQL / MariaDB


@pytest.mark.parametrize("kind", ["mysql", "mariadb"])
async def test_mysql_up(kind: str) -> None:
    result = await check(kind, MARIADB)
    assert result.outcome == "up", result
    assert result.message.startswith("Query returned 1 row (server "), result.message
    assert result.details["rows"] == 1


async def test_mysql_custom_query_counts_rows() -> None:
    result = await check("mariadb", {**MARIADB, "query": "SELECT 1 UNION SELECT 2 UNION SELECT 3"})
    assert result.outcome == "up" and result.message.startswith("Query returned 3 rows"), result


async def test_mysql_wrong_password_is_down() -> None:
    result = await check("mysql", {**MARIADB, "password": "wrong-password"})
    assert result.outcome == "down"
    assert result.message.startswith("Error 1045: Access denied for user 'root'"), result.message


async def test_mysql_unknown_database_is_down() -> None:
    result = await check("mariadb", {**MARIADB, "database": f"missing_{uuid.uuid4().hex[:8]}"})
    assert result.outcome == "down"
    assert result.message.startswith("Error 1049: Unknown database 'missing_"), result.message


async def test_mysql_failing_query_is_down() -> None:
    result = await check("mariadb", {**MARIADB, "query": "SELECT * FROM no_such_table_beacon"})
    assert result.outcome == "down"
    assert "1146" in result.message and "no_such_table_beacon" in result.message, result.message


async def test_mysql_tls_required_but_not_offered_is_down() -> None:
    """The local MariaDB has no TLS: asking for TLS must not quietly fall back to plain text."""
    conn = await aiomysql.connect(host="127.0.0.1", port=3306, user="root", password="", connect_timeout=2)
    async with conn.cursor() as cursor:
        await cursor.execute("SHOW VARIABLES LIKE 'have_ssl'")
        row = await cursor.fetchone()
    conn.close()
    if row and row[1] == "YES":
        pytest.skip("this MariaDB offers TLS")
    result = await check("mysql", {**MARIADB, "tls": True})
    assert result.outcome == "down"
    assert result.message == "TLS was required but 127.0.0.1:3306 does not offer it"


async def test_mysql_closed_port_is_down(closed_port: int) -> None:
    result = await check("mysql", {**MARIADB, "port": closed_port})
    assert result.outcome == "down"
    assert result.message == f"Connection refused by 127.0.0.1:{closed_port}"


async def test_mysql_hung_server_times_out(hung_port: int) -> None:
    await assert_times_out("mariadb", {**MARIADB, "port": hung_port})


def test_mysql_config_errors() -> None:
    errors = config_errors("mysql", {"host": "db", "port": 70000, "username": ""})
    assert errors == {"port": "must be at most 65535", "username": "is required"}
    errors = config_errors("mariadb", {"host": "db", "username": "root", "ca_file": "/tmp/ca.pem"})
    assert errors["ca_file"].startswith("is only used with TLS")


# ------------------------------------------------------------------------------------------------ PostgreSQL


async def test_postgresql_up() -> None:
    result = await check("postgresql", POSTGRES)
    assert result.outcome == "up", result
    assert result.message.startswith("Query returned 1 row (PostgreSQL "), result.message


async def test_postgresql_sslmode_disable_and_custom_query() -> None:
    result = await check("postgresql", {**POSTGRES, "sslmode": "disable",
                                        "query": "SELECT * FROM generate_series(1, 4)"})
    assert result.outcome == "up" and result.message.startswith("Query returned 4 rows"), result


async def test_postgresql_unknown_database_is_down() -> None:
    name = f"missing_{uuid.uuid4().hex[:8]}"
    result = await check("postgresql", {**POSTGRES, "database": name})
    assert result.outcome == "down"
    assert result.message == f'database "{name}" does not exist (3D000)'


async def test_postgresql_unknown_role_is_down() -> None:
    result = await check("postgresql", {**POSTGRES, "username": "nobody_beacon"})
    assert result.outcome == "down"
    assert result.message == 'role "nobody_beacon" does not exist (28000)'


async def test_postgresql_failing_query_is_down() -> None:
    result = await check("postgresql", {**POSTGRES, "query": "SELECT 1/0"})
    assert result.outcome == "down" and result.message == "Query failed: division by zero", result


async def test_postgresql_closed_port_is_down(closed_port: int) -> None:
    result = await check("postgresql", {**POSTGRES, "port": closed_port})
    assert result.outcome == "down"
    assert result.message == f"Connection refused by 127.0.0.1:{closed_port}"


async def test_postgresql_hung_server_times_out(hung_port: int) -> None:
    await assert_times_out("postgresql", {**POSTGRES, "port": hung_port, "sslmode": "disable"})


async def test_postgresql_sslmode_require_without_server_tls_is_down() -> None:
    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database="test", timeout=2)
    server_ssl = await conn.fetchval("SHOW ssl")
    await conn.close()
    if server_ssl == "on":
        pytest.skip("this PostgreSQL offers TLS")
    result = await check("postgresql", {**POSTGRES, "sslmode": "require"})
    assert result.outcome == "down"
    assert "rejected SSL upgrade" in result.message, result.message


def test_postgresql_config_errors() -> None:
    errors = config_errors("postgresql", {"host": "db", "sslmode": "allow"})
    assert errors == {"sslmode": "must be one of disable, prefer, require, verify-full"}
    errors = config_errors("postgresql", {"host": "db", "sslmode": "require", "ca_file": "/tmp/ca.pem"})
    assert errors == {"ca_file": "is only used with sslmode verify-full"}


# --------------------------------------------------------------------------------------------------- MongoDB


@pytest.fixture
async def mongo() -> AsyncIterator[FakeMongo]:
    """A fake MongoDB speaking the documented wire protocol (OP_MSG / legacy OP_QUERY handshake, BSON)."""
    server = await FakeMongo().start()
    yield server
    await server.stop()


async def test_mongodb_up(mongo: FakeMongo) -> None:
    """UP against the wire-protocol fake: handshake, ``ping`` and ``buildInfo`` answered with ok: 1."""
    result = await check("mongodb", {"host": "127.0.0.1", "port": mongo.port}, timeout=2)
    assert result.outcome == "up", result
    assert result.message == "MongoDB 7.0.14 (standalone) answered ping"
    assert "ping" in mongo.commands and "buildInfo" in mongo.commands


async def test_mongodb_command_error_is_down() -> None:
    """The fake answers ``ping`` with the server's error document {ok: 0, errmsg, code, codeName}."""
    server = await FakeMongo(failures={"ping": {"errmsg": "command ping requires authentication", "code": 13,
                                                "codeName": "Unauthorized"}}).start()
    try:
        result = await check("mongodb", {"host": "127.0.0.1", "port": server.port}, timeout=2)
    finally:
        await server.stop()
    assert result.outcome == "down"
    assert result.message == "command ping requires authentication (Unauthorized)"


async def test_mongodb_secondary_with_require_primary_is_down() -> None:
    """The fake reports itself as a replica-set secondary in its ``hello`` reply."""
    server = await FakeMongo(writable=False).start()
    try:
        plain = await check("mongodb", {"host": "127.0.0.1", "port": server.port}, timeout=2)
        strict = await check("mongodb", {"host": "127.0.0.1", "port": server.port, "require_primary": True},
                             timeout=2)
    finally:
        await server.stop()
    assert plain.outcome == "up" and plain.message == "MongoDB 7.0.14 (secondary) answered ping", plain
    assert strict.outcome == "down"
    assert strict.message == "MongoDB 7.0.14 answers but is a secondary, not the writable primary"


async def test_mongodb_closed_port_is_down_at_once(closed_port: int) -> None:
    started = time.monotonic()
    result = await check("mongodb", {"host": "127.0.0.1", "port": closed_port}, timeout=2)
    assert result.outcome == "down"
    assert result.message == f"Connection refused by 127.0.0.1:{closed_port}"
    assert time.monotonic() - started < 1.0  # the first failed handshake ends the check


async def test_mongodb_hung_server_times_out(hung_port: int) -> None:
    await assert_times_out("mongodb", {"host": "127.0.0.1", "port": hung_port})


def test_mongodb_config_errors() -> None:
    errors = config_errors("mongodb", {"host": "", "port": 0})
    assert errors == {"host": "is required", "port": "must be at least 1"}
    errors = config_errors("mongodb", {"host": "mongo", "password": "x"})
    assert errors == {"password": "needs a username"}


# ----------------------------------------------------------------------------------------------------- Redis


async def test_redis_up() -> None:
    result = await check("redis", REDIS)
    assert result.outcome == "up" and result.message == "PONG", result


async def test_redis_key_present_and_missing() -> None:
    key = f"beacon-test:{uuid.uuid4().hex}"
    client = aioredis.Redis(host="127.0.0.1", port=6379, socket_timeout=2)
    try:
        missing = await check("redis", {**REDIS, "key": key})
        await client.set(key, "1", ex=30)
        present = await check("redis", {**REDIS, "key": key})
    finally:
        await client.delete(key)
        await client.aclose()
    assert missing.outcome == "down"
    assert missing.message == f"PONG, but key {key!r} does not exist in db 0"
    assert present.outcome == "up" and present.message == f"PONG; key {key!r} exists"


async def test_redis_acl_user_login() -> None:
    """A throwaway ACL user on the local Redis: its password works, a wrong one is DOWN with Redis' answer.
    (With no password configured Redis accepts any password, so a wrong one needs a real user.)"""
    user = f"beacon-test-{uuid.uuid4().hex[:12]}"
    admin = aioredis.Redis(host="127.0.0.1", port=6379, socket_timeout=2)
    try:
        await admin.acl_setuser(user, enabled=True, passwords=["+right-password"], commands=["+ping", "+exists"],
                                keys=["*"])
        good = await check("redis", {**REDIS, "username": user, "password": "right-password"})
        bad = await check("redis", {**REDIS, "username": user, "password": "wrong-password"})
    finally:
        await admin.acl_deluser(user)
        await admin.aclose()
    assert good.outcome == "up" and good.message == "PONG", good
    assert bad.outcome == "down"
    assert bad.message == "Authentication failed: invalid username-password pair or user is disabled.", bad


async def test_redis_closed_port_is_down(closed_port: int) -> None:
    result = await check("redis", {**REDIS, "port": closed_port})
    assert result.outcome == "down"
    assert result.message == f"Connection refused by 127.0.0.1:{closed_port}"


async def test_redis_hung_server_times_out(hung_port: int) -> None:
    await assert_times_out("redis", {**REDIS, "port": hung_port})


def test_redis_config_errors() -> None:
    errors = config_errors("redis", {"host": "cache", "db": -1})
    assert errors == {"db": "must be at least 0"}
    errors = config_errors("redis", {"host": "cache", "username": "monitor"})
    assert errors == {"username": "needs a password"}


# --------------------------------------------------------------------------------------------- Elasticsearch


async def _es(health: dict | None = None, **kwargs: object) -> FakeElasticsearch:
    return await FakeElasticsearch(health, **kwargs).start()  # type: ignore[arg-type]


@pytest.mark.parametrize(("status", "outcome"), [("green", "up"), ("yellow", "degraded"), ("red", "down")])
async def test_elasticsearch_health_status(status: str, outcome: str) -> None:
    """The fake returns the documented ``_cluster/health`` JSON with the given status."""
    unassigned = {"green": 0, "yellow": 5, "red": 1}[status]
    server = await _es(cluster_health(status, nodes=3, unassigned=unassigned, name="logs"))
    try:
        result = await check("elasticsearch", {"url": f"http://127.0.0.1:{server.port}"}, timeout=2)
    finally:
        await server.stop()
    assert result.outcome == outcome, result
    shards = "shard" if unassigned == 1 else "shards"
    assert result.message == f"Cluster 'logs' is {status}: 3 nodes, {unassigned} unassigned {shards}"
    assert server.requests[0][0] == "/_cluster/health"


async def test_elasticsearch_basic_auth_and_api_key() -> None:
    """The fake answers 401 (Elasticsearch's security_exception body) unless the expected credentials come."""
    server = await _es(expect_auth=FakeElasticsearch.basic("monitor", "right"))
    keyed = await _es(expect_auth="ApiKey a2V5OnNlY3JldA==")
    try:
        base = f"http://127.0.0.1:{server.port}/"
        good = await check("elasticsearch", {"url": base, "username": "monitor", "password": "right"}, timeout=2)
        bad = await check("elasticsearch", {"url": base, "username": "monitor", "password": "wrong"}, timeout=2)
        key = await check("elasticsearch", {"url": f"http://127.0.0.1:{keyed.port}",
                                            "api_key": "a2V5OnNlY3JldA=="}, timeout=2)
    finally:
        await server.stop()
        await keyed.stop()
    assert good.outcome == "up", good
    assert bad.outcome == "down"
    assert bad.message.startswith("HTTP 401 Unauthorized: check the username and password or API key"), bad
    assert "unable to authenticate user" in bad.message
    assert key.outcome == "up", key


async def test_elasticsearch_https_with_ca_file(tmp_path) -> None:
    """HTTPS fake with a trustme CA: trusted through ca_file, rejected without it, accepted unverified."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = await FakeElasticsearch().start(server_context)
    url = f"https://127.0.0.1:{server.port}"
    try:
        trusted = await check("elasticsearch", {"url": url, "ca_file": str(ca_file)}, timeout=2)
        untrusted = await check("elasticsearch", {"url": url}, timeout=2)
        unverified = await check("elasticsearch", {"url": url, "verify_tls": False}, timeout=2)
    finally:
        await server.stop()
    assert trusted.outcome == "up", trusted
    assert untrusted.outcome == "down"
    assert untrusted.message.startswith(f"TLS certificate of 127.0.0.1:{server.port} not trusted"), untrusted
    assert unverified.outcome == "up", unverified


async def test_elasticsearch_closed_port_is_down(closed_port: int) -> None:
    result = await check("elasticsearch", {"url": f"http://127.0.0.1:{closed_port}"}, timeout=2)
    assert result.outcome == "down"
    assert result.message == f"Connection refused by 127.0.0.1:{closed_port}"


async def test_elasticsearch_hung_server_times_out(hung_port: int) -> None:
    await assert_times_out("elasticsearch", {"url": f"http://127.0.0.1:{hung_port}"})


def test_elasticsearch_config_errors() -> None:
    errors = config_errors("elasticsearch", {"url": "es.internal:9200"})
    assert errors == {"url": "must be an http:// or https:// address, e.g. https://es.internal:9200"}
    errors = config_errors("elasticsearch", {"url": "https://elastic:pw@es.internal:9200"})
    assert errors == {"url": "must not contain a user or password: use the Username and Password settings"}
    errors = config_errors("elasticsearch", {"url": "https://es", "username": "a", "password": "b",
                                             "api_key": "k"})
    assert errors == {"api_key": "use either an API key or a username and password, not both"}
