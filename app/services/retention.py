"""How long Beacon keeps what piles up: heartbeats, the delivery log and (only when an owner says so) the audit trail.

The three numbers are one install setting (``InstallSetting`` "retention"), changed by owners on /admin/settings
(``settings.update``, audited with the old and new values). Until someone saves them: heartbeats keep
``BEACON_HEARTBEAT_RETENTION_DAYS`` (30), sent deliveries 30 days, and the audit trail is kept forever.

Pruning the audit trail keeps it verifiable: the first kept entry's seq and prev_hash are stored as the chain's
anchor (``InstallSetting`` "audit_anchor"), in the same transaction as the delete and the ``audit.prune`` entry
that records the same anchor; ``app.audit.verify_stored`` starts the chain there and checks the two agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app import audit, config
from app.auth import Actor
from app.enums import Severity
from app.services.errors import Invalid
from app.services.transaction import authorize, change
from storage.models import AuditEntryRow, AuditHead, InstallSetting

KEY = "retention"
ACTION = "settings.update"
DELIVERY_DAYS = 30
LIMITS = {"heartbeat_days": (1, 3650), "delivery_days": (1, 3650), "audit_days": (30, 3650)}
LABELS = {"heartbeat_days": "Heartbeats", "delivery_days": "The delivery log", "audit_days": "The audit trail"}
SYSTEM = Actor.system("retention")


@dataclass(frozen=True, slots=True)
class Retention:
    heartbeat_days: int
    delivery_days: int
    audit_days: int | None = None  # None: keep the audit trail forever


def defaults() -> Retention:
    return Retention(heartbeat_days=config.current().heartbeat_retention_days, delivery_days=DELIVERY_DAYS,
                     audit_days=None)


def _whole(value: Any) -> int | None:
    """``value`` as a whole number (an int, a float without a fraction, digits), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def days_problem(name: str, value: Any) -> str | None:
    """What is wrong with ``value`` for the field ``name`` (see LIMITS), or None. ``audit_days`` may be None."""
    if name == "audit_days" and value is None:
        return None
    low, high = LIMITS[name]
    days = _whole(value)
    if days is None:
        return "Enter a whole number of days."
    if days < low or days > high:
        if name == "audit_days" and days < low:
            return f"Keep the audit trail for at least {low} days (or keep it forever)."
        return f"Enter between {low} and {high} days."
    return None


def _from_value(value: Any) -> Retention:
    """The stored setting over the defaults; a stored value that no longer passes the rules is ignored."""
    found = defaults()
    if not isinstance(value, dict):
        return found
    fields = asdict(found)
    for name in LIMITS:
        if name in value and days_problem(name, value[name]) is None:
            fields[name] = None if value[name] is None else _whole(value[name])
    return Retention(**fields)


async def current() -> Retention:
    """The retention in force (the saved setting, or the defaults)."""
    setting = await InstallSetting.filter(key=KEY).first()
    return _from_value(None if setting is None else setting.value)


async def set_retention(actor: Actor, *, heartbeat_days: Any, delivery_days: Any, audit_days: Any) -> Retention:
    """Save the three retention periods (owners only); ``Invalid`` names each field at fault."""
    authorize(actor, ACTION)
    given = {"heartbeat_days": heartbeat_days, "delivery_days": delivery_days, "audit_days": audit_days}
    if problems := {name: p for name, value in given.items() if (p := days_problem(name, value)) is not None}:
        raise Invalid(problems)
    new = Retention(**{name: None if value is None else _whole(value) for name, value in given.items()})
    async with change(actor, ACTION) as ch:
        await ch.lock(f"setting:{KEY}")
        setting = await InstallSetting.filter(key=KEY).using_db(ch.conn).first()
        old = _from_value(None if setting is None else setting.value)
        if setting is None:
            await InstallSetting.create(using_db=ch.conn, key=KEY, value=asdict(new))
        else:
            await InstallSetting.filter(key=KEY).using_db(ch.conn).update(value=asdict(new))
        changed = {name: {"old": getattr(old, name), "new": getattr(new, name)}
                   for name in LIMITS if getattr(old, name) != getattr(new, name)}
        if changed:
            severity = Severity.WARNING if "audit_days" in changed and new.audit_days is not None else Severity.INFO
            await ch.audit("settings.update", "setting", KEY, {KEY: changed}, severity=severity)
    return new


async def audit_anchor() -> dict[str, Any] | None:
    """Where the audit chain starts after pruning: ``{"seq", "prev_hash", "pruned_at", "pruned_count"}``."""
    return await audit.stored_anchor()


async def prune_audit(now: datetime | None = None) -> int:
    """Delete the audit entries older than the audit retention (none when it is None: keep forever); returns how
    many. The first kept entry becomes the chain's anchor, stored and audited in the same transaction."""
    retention = await current()
    if retention.audit_days is None:
        return 0
    now = now or datetime.now(UTC)
    cutoff = audit._at_text(now - timedelta(days=retention.audit_days))
    async with change(SYSTEM, ACTION) as ch:
        if ch.conn.capabilities.dialect == "postgres":  # the chain's own lock (app/audit.py append): no writer between
            await ch.conn.execute_query(f"SELECT pg_advisory_xact_lock({audit._PG_LOCK_KEY})")
        head = await AuditHead.filter(id=1).using_db(ch.conn).first()
        if head is None:
            return 0
        first_kept = await AuditEntryRow.filter(at__gte=cutoff).using_db(ch.conn).order_by("seq").first()
        # nothing recent enough: the audit.prune entry written below becomes the first kept entry
        seq, prev_hash = (first_kept.seq, first_kept.prev_hash) if first_kept else (head.seq + 1, head.hash)
        count = await AuditEntryRow.filter(seq__lt=seq).using_db(ch.conn).delete()
        if not count:
            return 0
        anchor = {"seq": seq, "prev_hash": prev_hash, "pruned_at": audit._at_text(now), "pruned_count": count}
        if await InstallSetting.filter(key=audit.ANCHOR_KEY).using_db(ch.conn).exists():
            await InstallSetting.filter(key=audit.ANCHOR_KEY).using_db(ch.conn).update(value=anchor)
        else:
            await InstallSetting.create(using_db=ch.conn, key=audit.ANCHOR_KEY, value=anchor)
        await ch.audit(audit.PRUNE_ACTION, "audit", None, {
            "pruned_count": count, "older_than": cutoff, "retention_days": retention.audit_days,
            "anchor": {"seq": seq, "prev_hash": prev_hash}}, severity=Severity.WARNING)
    return count
