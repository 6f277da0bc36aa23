"""Full backup and restore: one versioned JSON document with every Beacon table and the uploaded page images.

``python main.py export FILE`` writes it, ``python main.py import FILE`` loads it into an empty database of either
kind: the documented way to move from SQLite to PostgreSQL (docs/operations.md).

The document::

    {"format": "beacon-export", "version": 1, "schema_version": 9, "exported_at": "2025-...+00:00",
     "source": "sqlite", "secrets": false, "omitted_secrets": ["channels id=3: config.secret", ...],
     "counts": {table: rows}, "tables": {table: [{column: value}, ...]}, "files": {name: base64}}

Tables are every ORM model's (``schema_version`` excepted: the target stamps its own), the team membership table
and the raw time-series tables of storage/timeseries.py, in dependency order; rows are ordered by primary key,
columns use the database's names (``page_id``), times are ISO 8601 with their offset, JSON columns hold their
JSON. Rows keep their primary keys, and the audit trail is copied entry by entry with its hashes, so it still
verifies after an import. Without ``with_secrets`` the credentials Beacon holds for other systems (a channel's
signing secret or password, a monitor's password, the SMTP password) are left out and listed in
``omitted_secrets``; password hashes, API key hashes and two-factor seeds are always included (they are what
lets people sign in after a move), so the file is sensitive either way.

An import first checks the whole document (format, versions, tables, columns, types, foreign keys, the audit
chain, file names), refuses a database that holds any Beacon row, then inserts everything in one transaction
and afterwards moves the images into the data folder's uploads/. A bad or partial file changes nothing: a
``BackupError`` names the table, row and column at fault.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import gzip
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

FORMAT = "beacon-export"
VERSION = 1
SKIPPED_TABLES = frozenset({"schema_version"})  # the target records its own migrations
CHUNK = 500  # rows per INSERT batch
_PG_SEQUENCE_TYPES = ("IntField", "BigIntField", "SmallIntField")
_UPLOAD_NAME = re.compile(r"^[0-9a-f]{32}\.(png|jpg|gif|webp|ico)$")


class BackupError(Exception):
    """The export file cannot be read or imported; the message says what is wrong and where."""


# --- what the tables look like ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: str  # int, float, bool, str, datetime, date, json
    null: bool
    required: bool  # must be present in every row of the file
    default: Any = None  # a value or a callable, for an optional column missing from an older file
    auto_now: bool = False
    max_length: int | None = None
    choices: frozenset | None = None  # enum values
    references: str | None = None  # the table whose primary key this column holds
    encoder: Any = None  # JSON columns: the ORM's encoder


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: dict[str, Column]
    key: tuple[str, ...]  # primary key columns: the order of the rows
    sequence: str | None = None  # PostgreSQL: the serial primary key whose sequence follows the imported rows

    @property
    def pk(self) -> str | None:
        return self.key[0] if len(self.key) == 1 else None


def _kind(field_obj: Any) -> str:
    from tortoise import fields as f

    if isinstance(field_obj, f.BooleanField):
        return "bool"
    if isinstance(field_obj, f.DatetimeField):
        return "datetime"
    if isinstance(field_obj, f.DateField):
        return "date"
    if isinstance(field_obj, f.JSONField):
        return "json"
    if isinstance(field_obj, f.FloatField):
        return "float"
    if isinstance(field_obj, f.IntField | f.BigIntField | f.SmallIntField):
        return "int"
    enum_type = getattr(field_obj, "enum_type", None)
    if enum_type is not None:
        return "int" if all(isinstance(e.value, int) for e in enum_type) else "str"
    if isinstance(field_obj, f.CharField | f.TextField):
        return "str"
    raise BackupError(f"unsupported column type {type(field_obj).__name__} ({field_obj.model_field_name})")


def _model_table(model: Any) -> Table:
    meta = model._meta
    references: dict[str, str] = {}
    for name in (*meta.fk_fields, *meta.o2o_fields):
        relation = meta.fields_map[name]
        references[relation.source_field] = relation.related_model._meta.db_table
    columns: dict[str, Column] = {}
    for field_name, db_column in meta.fields_db_projection.items():
        fo = meta.fields_map[field_name]
        auto_now = bool(getattr(fo, "auto_now", False) or getattr(fo, "auto_now_add", False))
        enum_type = getattr(fo, "enum_type", None)
        columns[db_column] = Column(
            name=db_column, kind=_kind(fo), null=bool(fo.null),
            required=not fo.null and fo.default is None and not auto_now,
            default=fo.default, auto_now=auto_now, max_length=getattr(fo, "max_length", None),
            choices=frozenset(e.value for e in enum_type) if enum_type is not None else None,
            references=references.get(db_column), encoder=getattr(fo, "encoder", None))
    pk_field = meta.fields_map[meta.pk_attr]
    pk_column = meta.fields_db_projection[meta.pk_attr]
    sequence = pk_column if meta.pk_attr in meta.generated_db_fields and \
        type(pk_field).__name__ in _PG_SEQUENCE_TYPES else None
    return Table(meta.db_table, columns, (pk_column,), sequence)


def _plain(name: str, specs: Iterable[tuple[str, str, bool, bool, Any]], key: tuple[str, ...],
           references: dict[str, str] | None = None) -> Table:
    """A table without a model: (column, kind, null, required, default) each."""
    refs = references or {}
    columns = {c: Column(c, kind, null, required, default, references=refs.get(c)) for c, kind, null, required, default
               in specs}
    return Table(name, columns, key)


def _timeseries_tables() -> list[Table]:
    from storage.timeseries import RESOLUTIONS

    heartbeats = _plain("heartbeats", [
        ("monitor_id", "int", False, True, None), ("at_ms", "int", False, True, None),
        ("status", "int", False, True, None), ("latency_ms", "int", True, False, None),
        ("maintenance", "int", False, False, 0), ("message", "str", True, False, None)], ("monitor_id", "at_ms"))
    rollups = [_plain(f"monitor_rollups_{resolution}", [
        ("monitor_id", "int", False, True, None), ("bucket", "int", False, True, None),
        ("up", "int", False, False, 0), ("down", "int", False, False, 0), ("degraded", "int", False, False, 0),
        ("maintenance", "int", False, False, 0), ("latency_sum", "float", False, False, 0.0),
        ("latency_count", "int", False, False, 0), ("latency_min", "int", True, False, None),
        ("latency_max", "int", True, False, None)], ("monitor_id", "bucket")) for resolution in RESOLUTIONS]
    return [heartbeats, *rollups]


def tables() -> list[Table]:
    """Every table the document holds, parents before the tables that refer to them."""
    from tortoise import Tortoise

    found: list[Table] = []
    for model in Tortoise.apps["models"].values():
        if model._meta.db_table in SKIPPED_TABLES:
            continue
        found.append(_model_table(model))
        for name in model._meta.m2m_fields:
            relation = model._meta.fields_map[name]
            if relation._generated:  # the other side of a relation already listed from its declaring model
                continue
            related = relation.related_model._meta.db_table
            found.append(_plain(relation.through, [(relation.backward_key, "int", False, True, None),
                                                   (relation.forward_key, "int", False, True, None)],
                                (relation.backward_key, relation.forward_key),
                                {relation.backward_key: model._meta.db_table, relation.forward_key: related}))
    found += _timeseries_tables()
    return _dependency_order(found)


def _dependency_order(found: list[Table]) -> list[Table]:
    by_name = {t.name: t for t in found}
    ordered: list[Table] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(table: Table) -> None:
        if table.name in done:
            return
        if table.name in visiting:
            raise BackupError(f"the tables refer to each other in a circle at {table.name}")
        visiting.add(table.name)
        for column in table.columns.values():
            if column.references and column.references != table.name and column.references in by_name:
                visit(by_name[column.references])
        visiting.discard(table.name)
        done.add(table.name)
        ordered.append(table)

    for table in sorted(found, key=lambda t: t.name):
        visit(table)
    return ordered


def latest_schema_version() -> int:
    from storage.migrations import MIGRATIONS

    return max(m.version for m in MIGRATIONS)


# --- export -----------------------------------------------------------------------------------------------------


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _to_document(column: Column, raw: Any) -> Any:
    if raw is None:
        return None
    kind = column.kind
    if kind == "datetime":
        if isinstance(raw, str):
            raw = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if raw.tzinfo is None:  # tortoise writes UTC
            raw = raw.replace(tzinfo=UTC)
        return raw.astimezone(UTC).isoformat()
    if kind == "date":
        return raw[:10] if isinstance(raw, str) else raw.isoformat()
    if kind == "json":
        return json.loads(raw) if isinstance(raw, str | bytes) else raw
    if kind == "bool":
        return bool(raw)
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    return raw


async def _read_table(conn: Any, table: Table) -> list[dict[str, Any]]:
    names = list(table.columns)
    sql = (f"SELECT {', '.join(_q(c) for c in names)} FROM {_q(table.name)} "
           f"ORDER BY {', '.join(_q(c) for c in table.key)}")
    _, rows = await conn.execute_query(sql)
    out = []
    for row in rows:
        out.append({c: _to_document(table.columns[c], row[c]) for c in names})
    return out


def _strip_secrets(data: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Remove the credentials for other systems from ``data`` in place; what was removed, for the header."""
    from app.services import channels, monitoring, subscribers

    omitted: list[str] = []

    def strip(table: str, row: dict[str, Any], column: str, names: Iterable[str]) -> None:
        value = row.get(column)
        if not isinstance(value, dict):
            return
        for name in sorted(set(names)):
            if value.get(name):  # an empty secret is "not set", not a secret
                del value[name]
                key = row.get("id", row.get("key"))
                omitted.append(f"{table} {'id' if 'id' in row else 'key'}={key}: {column}.{name}")

    for row in data.get("channels", []):
        strip("channels", row, "config", channels.SECRET_KEYS)
    for row in data.get("monitors", []):
        strip("monitors", row, "config", monitoring._secret_fields(str(row.get("kind"))))
    for row in data.get("install_settings", []):
        if row.get("key") == subscribers.MAIL_SETTING:
            strip("install_settings", row, "value", subscribers.MAIL_SECRETS)
    return omitted


def _read_files(names: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    from app.services import pages

    files: dict[str, str] = {}
    missing: list[str] = []
    for name in sorted(set(names)):
        path = pages.upload_path(name)
        if path is None or not path.is_file():
            missing.append(name)
            continue
        files[name] = base64.b64encode(path.read_bytes()).decode("ascii")
    return files, missing


async def export_document(*, with_secrets: bool) -> dict[str, Any]:
    """Everything in the database (and the page images it names) as one JSON-ready document, read in one
    consistent snapshot. ``with_secrets=False`` leaves out the credentials Beacon holds for other systems."""
    from tortoise.transactions import in_transaction

    data: dict[str, list[dict[str, Any]]] = {}
    async with in_transaction() as conn:
        dialect = "postgres" if conn.capabilities.dialect == "postgres" else "sqlite"
        if dialect == "postgres":  # every table read from the same snapshot
            await conn.execute_script("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        for table in tables():
            data[table.name] = await _read_table(conn, table)
    omitted = [] if with_secrets else _strip_secrets(data)
    names = [row[c] for row in data.get("status_pages", []) for c in ("logo_file", "favicon_file") if row.get(c)]
    files, missing = await asyncio.to_thread(_read_files, names)
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "schema_version": latest_schema_version(),
        "exported_at": datetime.now(UTC).isoformat(),
        "source": dialect,
        "secrets": with_secrets,
        "secrets_note": ("includes the credentials for other systems (channel secrets, monitor passwords, the SMTP "
                         "password)" if with_secrets else
                         "credentials for other systems were left out (listed in omitted_secrets): enter them "
                         "again after importing, or export with --with-secrets"),
        "omitted_secrets": omitted,
        "missing_files": missing,
        "counts": {name: len(rows) for name, rows in data.items()},
        "tables": data,
        "files": files,
    }
    return document


async def export_for(actor: Any, *, with_secrets: bool = False) -> dict[str, Any]:
    """The admin page's "Download backup": OWNER only (``backup.export``), recorded in the audit trail."""
    from app.services.transaction import authorize, change

    authorize(actor, "backup.export")  # before reading anything
    document = await export_document(with_secrets=with_secrets)
    async with change(actor, "backup.export") as ch:
        await ch.audit("backup.export", "backup", None, {
            "credentials_included": with_secrets, "rows": sum(document["counts"].values()),
            "files": len(document["files"]), "exported_at": document["exported_at"]},
            severity="warning" if with_secrets else "info")
    return document


def export_filename(document: dict[str, Any], *, gz: bool = False) -> str:
    """A name for the download: ``beacon-export-20250601-120000.json`` (``.json.gz``)."""
    moment = datetime.fromisoformat(document["exported_at"]).astimezone(UTC)
    return f"beacon-export-{moment:%Y%m%d-%H%M%S}.json" + (".gz" if gz else "")


# --- the command line (app/cli.py calls these inside _with_database) ---------------------------------------------


async def cli_export(path: str, *, with_secrets: bool) -> int:
    import sys

    started = time.perf_counter()
    try:
        document = await export_document(with_secrets=with_secrets)
        size = await asyncio.to_thread(write_file, path, document)
    except (BackupError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = sum(document["counts"].values())
    print(f"exported {rows} rows and {len(document['files'])} files to {path} ({size} bytes) in "
          f"{time.perf_counter() - started:.1f}s")
    if with_secrets:
        print("the file includes the credentials for other systems: keep it safe")
    elif document["omitted_secrets"]:
        print(f"left out {len(document['omitted_secrets'])} credential(s) for other systems (listed in the file's "
              "omitted_secrets); use --with-secrets to include them")
    for name in document["missing_files"]:
        print(f"warning: the image {name} a page shows is missing from uploads/ and is not in the file",
              file=sys.stderr)
    return 0


async def cli_import(path: str) -> int:
    import sys

    try:
        document = await asyncio.to_thread(read_file, path)
        report = await import_document(document)
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print("nothing was imported", file=sys.stderr)
        return 2
    print(report.summary())
    print("check the audit trail with: python main.py audit verify")
    return 0


# --- files --------------------------------------------------------------------------------------------------------


def dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def write_file(path: str | Path, document: dict[str, Any]) -> int:
    """Write ``document`` to ``path`` (gzip-compressed when the name ends with .gz), readable only by its owner
    (it holds password hashes), replacing the file at once; returns the bytes written."""
    target = Path(path)
    data = dumps(document)
    if target.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return len(data)


def read_file(path: str | Path) -> dict[str, Any]:
    """The document in ``path`` (.gz: gzip-compressed); BackupError when it cannot be read as one."""
    source = Path(path)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise BackupError(f"cannot read {source}: {exc.strerror or exc}") from exc
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise BackupError(f"{source} is not a complete gzip file ({exc}); it may be truncated") from exc
    return loads(data, str(source))


def loads(data: bytes | str, label: str = "the file") -> dict[str, Any]:
    try:
        document = json.loads(data)
    except UnicodeDecodeError as exc:
        raise BackupError(f"{label} is not UTF-8 JSON text: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise BackupError(f"{label} is not a complete JSON document ({exc.msg} at line {exc.lineno} column "
                          f"{exc.colno}); it may be truncated") from exc
    if not isinstance(document, dict):
        raise BackupError(f"{label} is not a Beacon export (a JSON object was expected)")
    return document


# --- import -------------------------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0
    secrets: bool = False
    schema_version: int = 0
    exported_at: str = ""
    source: str = ""
    omitted_secrets: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def summary(self) -> str:
        tables = sum(1 for n in self.rows.values() if n)
        lines = [f"imported {self.total_rows} rows in {tables} tables and {self.files} files "
                 f"(export of {self.exported_at or 'unknown time'} from {self.source or 'unknown'}) "
                 f"in {self.seconds:.1f}s"]
        if self.omitted_secrets:
            lines.append(f"the export left out {len(self.omitted_secrets)} credential(s) for other systems; enter "
                         "them again in the dashboard:")
            lines += [f"  {item}" for item in self.omitted_secrets]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


@dataclass
class _Plan:
    tables: list[tuple[Table, list[str], list[tuple[Any, ...]]]]
    files: dict[str, bytes]
    report: ImportReport


def _where(table: str, index: int, row: dict[str, Any], key: tuple[str, ...]) -> str:
    ident = ", ".join(f"{k}={row.get(k)!r}" for k in key if k in row)
    return f"table {table}, row {index + 1}" + (f" ({ident})" if ident else "")


def _to_db(column: Column, value: Any, where: str) -> Any:
    """The value to bind for ``column``; BackupError when ``value`` does not fit it."""
    def bad(expected: str) -> BackupError:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        return BackupError(f"{where}: column {column.name!r} must be {expected}, not {shown}")

    if value is None:
        if column.null:
            return None
        raise BackupError(f"{where}: column {column.name!r} cannot be null")
    kind = column.kind
    if kind == "json":
        encoded = (column.encoder or json.dumps)(value)
        encoded = encoded.decode() if isinstance(encoded, bytes) else encoded
        if "\\u0000" in encoded:
            raise bad("JSON without NUL characters")
        return encoded
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("a whole number")
        if abs(value) > 2**63 - 1:
            raise bad("a whole number of at most 64 bits")
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("a number")
        value = float(value)
    elif kind == "bool":
        if value not in (True, False) or not isinstance(value, bool | int):
            raise bad("true or false")
        value = bool(value)
    elif kind == "str":
        if not isinstance(value, str):
            raise bad("text")
        if "\x00" in value:
            raise bad("text without NUL characters")
        if column.max_length and len(value) > column.max_length:
            raise BackupError(f"{where}: column {column.name!r} is longer than {column.max_length} characters")
    elif kind == "datetime":
        if not isinstance(value, str):
            raise bad("an ISO 8601 time")
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise bad("an ISO 8601 time") from None
        if moment.tzinfo is None:
            raise bad("an ISO 8601 time with its offset")
        return moment.astimezone(UTC)
    elif kind == "date":
        if not isinstance(value, str):
            raise bad("an ISO 8601 date")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise bad("an ISO 8601 date") from None
    if column.choices is not None and value not in column.choices:
        raise bad(f"one of {sorted(column.choices)}")
    return value


def _missing_value(column: Column) -> Any:
    if column.auto_now:
        return datetime.now(UTC)
    default = column.default() if callable(column.default) else column.default
    if column.kind == "json" and default is not None:
        encoded = (column.encoder or json.dumps)(default)
        return encoded.decode() if isinstance(encoded, bytes) else encoded
    return default.value if hasattr(default, "value") and column.choices is not None else default


def _parents_first(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of a table that refers to itself (nested groups), each after the row it refers to."""
    own = [c for c in table.columns.values() if c.references == table.name]
    if not own or table.pk is None:
        return rows
    pk = table.pk
    placed: set[Any] = set()
    pending = list(rows)
    ordered: list[dict[str, Any]] = []
    ids = {row.get(pk) for row in rows}
    while pending:
        ready = [r for r in pending if all(r.get(c.name) is None or r.get(c.name) in placed
                                           or r.get(c.name) not in ids for c in own)]
        if not ready:
            row = pending[0]
            raise BackupError(f"table {table.name}: rows refer to each other in a circle (at {pk}={row.get(pk)!r})")
        for r in ready:
            placed.add(r.get(pk))
        ordered += ready
        pending = [r for r in pending if r.get(pk) not in placed]
    return ordered


def _check_audit_chain(data: dict[str, list[dict[str, Any]]]) -> None:
    from app import audit

    entries = sorted(data.get("audit_entries", []), key=lambda r: r["id"])
    heads = [r for r in data.get("audit_head", []) if r.get("id") == 1]
    if entries and not heads:
        raise BackupError("table audit_head: the audit chain head is missing, so the audit trail would not verify")
    try:
        stored = [audit.StoredEntry(audit.AuditEntry(**{n: r.get(n) for n in audit.AuditEntry.__dataclass_fields__}),
                                    r["prev_hash"], r["hash"]) for r in entries]
    except TypeError as exc:
        raise BackupError(f"table audit_entries: {exc}") from exc
    # a trail pruned by retention starts at its anchor (app/services/retention.py)
    anchors = [r.get("value") for r in data.get("install_settings", []) if r.get("key") == audit.ANCHOR_KEY]
    anchor = audit.anchor_pair(anchors[0]) if anchors and anchors[0] else None
    broken = audit.verify(stored, (heads[0]["seq"], heads[0]["hash"]) if heads else None, anchor)
    if broken is not None:
        raise BackupError(f"the audit trail in the file does not verify ({broken}); the file was changed or "
                          "damaged after the export")


def _validate(document: Any) -> _Plan:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise BackupError(f"not a Beacon export: 'format' must be {FORMAT!r}")
    if document.get("version") != VERSION:
        raise BackupError(f"export format version {document.get('version')!r} is not supported (this Beacon reads "
                          f"version {VERSION})")
    schema_version = document.get("schema_version")
    latest = latest_schema_version()
    from storage.migrations import MIGRATIONS

    if not isinstance(schema_version, int) or isinstance(schema_version, bool) or \
            schema_version not in {m.version for m in MIGRATIONS}:
        if isinstance(schema_version, int) and not isinstance(schema_version, bool) and schema_version > latest:
            raise BackupError(f"the export was made by a newer Beacon (schema version {schema_version}; this one "
                              f"has {latest}): upgrade Beacon before importing it")
        raise BackupError(f"unknown schema_version {schema_version!r} (this Beacon knows 1 to {latest})")
    raw_tables = document.get("tables")
    if not isinstance(raw_tables, dict):
        raise BackupError("the export has no 'tables' object")
    known = {t.name: t for t in tables()}
    unknown = sorted(set(raw_tables) - set(known))
    if unknown:
        raise BackupError(f"unknown table(s) in the export: {', '.join(unknown)}")
    counts = document.get("counts")
    if counts is not None and not isinstance(counts, dict):
        raise BackupError("'counts' must be an object of table: rows")
    report = ImportReport(secrets=bool(document.get("secrets")), schema_version=schema_version,
                          exported_at=str(document.get("exported_at") or ""), source=str(document.get("source") or ""))
    for name in sorted(set(counts or {}) - set(raw_tables)):
        if counts[name]:
            raise BackupError(f"table {name}: the header counts {counts[name]} rows but the file has none; the file "
                              "is incomplete")

    # types, required columns and keys, table by table
    clean: dict[str, list[dict[str, Any]]] = {}
    keys: dict[str, set[Any]] = {}
    for table in known.values():
        rows = raw_tables.get(table.name, [])
        if not isinstance(rows, list):
            raise BackupError(f"table {table.name}: a list of rows was expected")
        if counts is not None and table.name in counts and counts[table.name] != len(rows):
            raise BackupError(f"table {table.name}: the header counts {counts[table.name]} rows but the file has "
                              f"{len(rows)}; the file is incomplete or was edited")
        seen: set[Any] = set()
        out: list[dict[str, Any]] = []
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                raise BackupError(f"table {table.name}, row {index + 1}: an object was expected")
            where = _where(table.name, index, row, table.key)
            extra = sorted(set(row) - set(table.columns))
            if extra:
                raise BackupError(f"{where}: unknown column(s) {', '.join(map(repr, extra))}")
            values: dict[str, Any] = {}
            for column in table.columns.values():
                if column.name not in row:
                    if column.required:
                        raise BackupError(f"{where}: the required column {column.name!r} is missing")
                    values[column.name] = _missing_value(column)
                else:
                    values[column.name] = _to_db(column, row[column.name], where)
            key = tuple(values[k] for k in table.key)
            if key in seen:
                raise BackupError(f"{where}: the key {', '.join(table.key)} appears twice in the table")
            seen.add(key)
            out.append(values)
        clean[table.name] = out
        if table.pk:
            keys[table.name] = {k[0] for k in seen}

    # foreign keys: every reference names a row of the file
    for table in known.values():
        refs = [c for c in table.columns.values() if c.references]
        for index, row in enumerate(clean[table.name]):
            for column in refs:
                value = row[column.name]
                if value is not None and value not in keys.get(column.references or "", set()):
                    raise BackupError(f"{_where(table.name, index, row, table.key)}: column {column.name!r} refers "
                                      f"to {column.references} {value!r}, which is not in the file")

    _check_audit_chain(raw_tables)

    files = _decode_files(document.get("files", {}))
    named = {row[c] for row in clean.get("status_pages", []) for c in ("logo_file", "favicon_file") if row.get(c)}
    for name in sorted(named - set(files)):
        report.warnings.append(f"the image {name} a page shows is not in the file (it was missing when exported); "
                               "upload it again in the page's settings")

    plan = []
    for table in known.values():
        rows = _parents_first(table, clean[table.name])
        names = list(table.columns)
        plan.append((table, names, [tuple(r[c] for c in names) for r in rows]))
        report.rows[table.name] = len(rows)
    omitted = document.get("omitted_secrets") or []
    if isinstance(omitted, list):
        report.omitted_secrets = [str(item) for item in omitted]
    return _Plan(plan, files, report)


def _decode_files(raw: Any) -> dict[str, bytes]:
    if not isinstance(raw, dict):
        raise BackupError("'files' must be an object of name: base64")
    files: dict[str, bytes] = {}
    for name, text in raw.items():
        if not isinstance(name, str) or not _UPLOAD_NAME.match(name):
            raise BackupError(f"file {name!r}: not a name Beacon gives an upload (refused: it could point outside "
                              "the uploads folder)")
        if not isinstance(text, str):
            raise BackupError(f"file {name}: base64 text was expected")
        try:
            files[name] = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BackupError(f"file {name}: not valid base64 ({exc})") from exc
    return files


async def _filled_tables(conn: Any, names: Iterable[str]) -> list[str]:
    filled = []
    for name in names:
        _, rows = await conn.execute_query(f"SELECT 1 AS one FROM {_q(name)} LIMIT 1")
        if rows:
            filled.append(name)
    return filled


def _not_empty(filled: list[str]) -> BackupError:
    return BackupError(f"the database is not empty ({', '.join(filled[:5])}{', ...' if len(filled) > 5 else ''} "
                       "hold rows): import only into a new, empty database; nothing was changed")


async def _insert(conn: Any, table: Table, names: list[str], rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    postgres = conn.capabilities.dialect == "postgres"
    marks = [f"${i}" for i in range(1, len(names) + 1)] if postgres else ["?"] * len(names)
    sql = f"INSERT INTO {_q(table.name)} ({', '.join(_q(c) for c in names)}) VALUES ({', '.join(marks)})"
    for start in range(0, len(rows), CHUNK):
        batch = rows[start:start + CHUNK]
        try:
            await conn.execute_many(sql, batch)
        except Exception as exc:  # the driver's own error types; the message names the table
            raise BackupError(f"table {table.name}: the database refused rows {start + 1} to "
                              f"{start + len(batch)}: {exc}") from exc


async def _follow_sequences(conn: Any, plan: _Plan) -> None:
    """PostgreSQL hands out serial ids from a sequence that explicit ids do not move: set each to the highest id,
    so the next row created gets a fresh one."""
    if conn.capabilities.dialect != "postgres":
        return  # SQLite takes max(rowid) + 1
    for table, _names, _rows in plan.tables:
        if table.sequence:
            await conn.execute_query(
                f"SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(MAX({_q(table.sequence)}), 1), "
                f"MAX({_q(table.sequence)}) IS NOT NULL) FROM {_q(table.name)}", [_q(table.name), table.sequence])


def _stage_files(files: dict[str, bytes]) -> Path | None:
    """Write the images into a hidden folder inside uploads/ (same file system, so moving them is a rename)."""
    from app.services import pages

    if not files:
        return None
    folder = pages.uploads_dir()
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".import-"))
    for name, data in files.items():
        (staging / name).write_bytes(data)
    return staging


def _publish_files(staging: Path | None) -> int:
    if staging is None:
        return 0
    count = 0
    for path in sorted(staging.iterdir()):
        os.replace(path, staging.parent / path.name)
        count += 1
    shutil.rmtree(staging, ignore_errors=True)
    return count


async def import_document(document: dict[str, Any]) -> ImportReport:
    """Load an export into the open database, which must hold no Beacon rows. All or nothing: BackupError (and no
    change) when the document is bad or the database refuses a row."""
    from tortoise import connections
    from tortoise.transactions import in_transaction

    started = time.perf_counter()
    plan = _validate(document)
    names = [table.name for table, _, _ in plan.tables]
    if filled := await _filled_tables(connections.get("default"), names):
        raise _not_empty(filled)
    staging = await asyncio.to_thread(_stage_files, plan.files)
    try:
        async with in_transaction() as conn:
            if filled := await _filled_tables(conn, names):  # again, now that we hold the write lock
                raise _not_empty(filled)
            for table, columns, rows in plan.tables:
                await _insert(conn, table, columns, rows)
            await _follow_sequences(conn, plan)
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    plan.report.files = await asyncio.to_thread(_publish_files, staging)
    await _after_import()
    plan.report.seconds = time.perf_counter() - started
    return plan.report


async def _after_import() -> None:
    """Forget what this process cached about the (until now empty) database."""
    from app.snapshot import settled_cache

    settled_cache.clear()
