"""The UP-compatible adapter under ``/up``: UP's HTTP API (https://github.com/erpuno/up) on Beacon's services.

A UP client keeps working against Beacon with its base URL changed from ``http://HOST:5010`` to
``http://HOST:PORT/up``: same paths, same ``Auth: <key>`` header, same JSON bodies, same response envelopes.
docs/up-api.md has the curl examples.

Routes (``{type}`` is ``accounts``, ``sites``, ``components``, ``incidents``, ``maintenance``, ``metrics`` or
``subscriptions``; UP's singular spellings ``account``, ``site``, ``component``, ``incident``, ``metric``,
``subscription`` are accepted too, and the answer's ``type`` repeats the spelling used):

- ``GET /up/`` — what the API offers (UP's ``resourceType`` document; no key needed).
- ``GET /up/{type}`` (or ``/up/{type}/``) → ``[{"result": [...], "spec": "lst", "type": ...}]``.
- ``GET /up/{type}/{id}`` → ``[{"result": [...], "spec": "get", "type": ...}]``. As in UP, ``{id}`` may be the
  caller's *account id* (then every object of that type in the account: ``GET /up/sites/maxim-0012`` lists the
  account's sites); otherwise it is the id of one object of the account and ``result`` holds just that one.
- ``PUT /up/accounts/`` (security admin key) → ``[{"id": ..., "key": ..., "spec": "put", "type": "accounts"}]``.
- ``PUT /up/{type}/{id}`` (account key). ``{id}`` = the account id (UP's form) or empty: create an object from the
  body; ``{id}`` = an object of the account: change it (for sites, a new slug creates that site) →
  ``[{"id": ..., "result": {...}, "spec": "put", "type": ...}]``.

Bodies are JSON objects whatever the Content-Type says (``curl -d @file.json`` sends form encoding); unknown fields
are ignored, as UP does.

Mapping onto Beacon
-------------------
- **Account** = a Beacon *team* named ``up:<account id>`` + a *service user* ``up-<account id>@accounts.invalid``
  (role MEMBER, the account's ``name`` as its name, a random password nobody is told) who is the team's only
  member + one *API key* of that user named ``UP account key``: the account's key, shown once, in the answer to
  the ``PUT`` that created it (Beacon keeps only a digest, so ``GET /up/accounts`` shows ``key: null`` and the
  key's ``key_prefix``). Account ids: 1-64 characters ``[a-z0-9._-]``, case-insensitive (UP's "maxim-0012");
  a body without ``id`` gets ``acct-<random>``. The user is a MEMBER and not an ADMIN on purpose: an ADMIN sees
  every page of the install (app/auth/scope.py), so its key would read and change other accounts' sites through
  ``/api/v1``; a MEMBER of the team sees its team's pages (and the install's team-less pages there, never other
  teams'). Creating and renaming a site needs ``page.create``/``page.update`` (ADMIN): the adapter does those two
  calls, and assigning the new page to the team, with the same actor raised to ADMIN, after it has checked the
  site belongs to the caller's account.
- **Site** = a *status page* of the account's team; the UP site id is the page *slug* (body ``id``, else the
  ``{id}`` of the path when it is not the account id, else one made from ``name``), ``name`` = title;
  ``status`` is UP's page status from the page snapshot: ``UP`` (indicator none), ``UNDER MAINTENANCE``
  (maintenance), ``HASISSUES`` (anything else).
- **Component** = a Beacon component on one or more of the account's pages (``site``/``sites`` in the body; with
  one site the body may omit it). Ids are Beacon's numeric ids as strings (UP too assigns the id of a new
  object itself; a client's ``id`` in a create body is ignored). Statuses: OPERATIONAL, UNDERMAINTENANCE,
  DEGRADEDPERFORMANCE, PARTIALOUTAGE, MAJOROUTAGE (Beacon's own spellings are accepted on input).
- **Incident** = a Beacon incident on a site: ``name``, ``status`` (INVESTIGATING, IDENTIFIED, MONITORING,
  RESOLVED), ``impact`` (MAJOR, PARTIAL, DEGRADED, MINOR), ``body`` (the first update; default: the name),
  ``components`` ({component id: STATUS}). A PUT on an incident posts an update (``status``, ``body``,
  ``components``) and/or renames it (``name``, ``impact``).
- **Maintenance** = a Beacon maintenance window: ``name``, ``body``, ``starts_at``, ``ends_at`` (ISO 8601),
  ``components`` ([ids]); status NOTSTARTEDYET, INPROGRESS, COMPLETED. A PUT on a window may set ``status``
  INPROGRESS (start now) or COMPLETED (end now), move ``ends_at``, or post a ``body`` as an update.
- **Metric** = a Beacon custom metric of a site (``name``, ``suffix``, ``description``), with optional data
  points in ``points`` (numbers or ``{value, at}``) or one ``value``.
- **Subscription** = a *webhook subscriber* of a site (UP's "subscription callbacks"): ``endpoint`` (or ``url``,
  ``callback``), optional ``components``; listing shows the webhook subscribers of the account's pages.

Authentication
--------------
``Auth: <key>`` (``Authorization: Bearer <key>`` works too). ``BEACON_SECURITY_ADMIN_KEY`` may list and create
accounts, and read any account; when it is unset, nobody can (the header value is then just an unknown key).
Every other route needs an account key, and sees only its own account's objects: someone else's answers 404,
exactly like something that does not exist. A Beacon API key that does not belong to a UP account answers 403.

Errors keep UP's envelope: ``[{"error": <kind>, "text": <message>, "type": <type>}]`` (``errors``: the
field-by-field messages of invalid input) with a fitting status: 400 a body that is not a JSON object, 401 a
missing or unknown key, 403 a key not allowed here, 404 unknown, 409 conflict, 422 invalid fields. (UP itself
answers every error with 400; Beacon uses the usual codes.)

Not supported
-------------
- ``DELETE``: UP answers every DELETE with "Resource not found" itself; removing things stays in Beacon's admin.
- Changing a subscription (``PUT`` on an existing subscription id): Beacon's subscribers change their choice
  through their own secret link; PUT a new one instead.
- Showing an account's key again, or choosing it: Beacon stores only its digest and makes keys itself (UP's
  ``key`` in account.json is ignored, as UP ignores it too). Re-PUT of an existing account answers 409 (UP: 400
  "Already exists").
- UP's WebSocket SPA and Instatus proxy: Beacon has its own status pages and webhooks (docs/notifications.md).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from app import config
from app.api.auth import client_of
from app.auth import Actor
from app.enums import ComponentStatus, MaintenanceState, Role
from app.services import apikeys, components, incidents, maintenance, metrics, pages, subscribers, teams, users
from app.services.errors import Invalid, ServiceError
from app.services.validation import slug_problem
from app.snapshot import store
from storage.models import (
    Component,
    Incident,
    IncidentUpdate,
    Maintenance,
    MaintenanceUpdate,
    Metric,
    MetricPoint,
    StatusPage,
    Subscriber,
    Team,
    User,
)

MAX_BODY = 64 * 1024
ACCOUNT_EMAIL_DOMAIN = "accounts.invalid"
TEAM_PREFIX = "up:"
KEY_NAME = "UP account key"
_ACCOUNT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")

# the canonical (README) type names, and UP's singular spellings of them
TYPES = {"accounts": "accounts", "account": "accounts", "sites": "sites", "site": "sites",
         "components": "components", "component": "components", "incidents": "incidents", "incident": "incidents",
         "maintenance": "maintenance", "maintenances": "maintenance", "metrics": "metrics", "metric": "metrics",
         "subscriptions": "subscriptions", "subscription": "subscriptions"}

PAGE_STATUS = {"none": "UP", "maintenance": "UNDER MAINTENANCE"}  # any other indicator: HASISSUES
COMPONENT_STATUS = {ComponentStatus.OPERATIONAL: "OPERATIONAL", ComponentStatus.MAINTENANCE: "UNDERMAINTENANCE",
                    ComponentStatus.DEGRADED: "DEGRADEDPERFORMANCE", ComponentStatus.PARTIAL_OUTAGE: "PARTIALOUTAGE",
                    ComponentStatus.MAJOR_OUTAGE: "MAJOROUTAGE"}
COMPONENT_STATUS_IN = {v: k for k, v in COMPONENT_STATUS.items()}
MAINTENANCE_STATUS = {MaintenanceState.SCHEDULED: "NOTSTARTEDYET", MaintenanceState.IN_PROGRESS: "INPROGRESS",
                      MaintenanceState.COMPLETED: "COMPLETED"}


# --- errors in UP's envelope --------------------------------------------------------------------------------------

class UpError(Exception):
    def __init__(self, status: int, error: str, text: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(text)
        self.status, self.error, self.text, self.errors = status, error, text, errors


_SERVICE_ERROR_KIND = {401: "Authorization", 403: "Authorization", 404: "Not found", 409: "Conflict",
                       422: "Invalid"}


def _error_response(exc: UpError, kind: str) -> JSONResponse:
    body: dict[str, Any] = {"error": exc.error, "text": exc.text, "type": kind}
    if exc.errors:
        body["errors"] = exc.errors
    headers = {"WWW-Authenticate": 'Auth realm="up"'} if exc.status == 401 else None
    return JSONResponse([body], status_code=exc.status, headers=headers)


class _UpRoute(APIRoute):
    """Answers UpError and the services' errors in UP's envelope, whatever the app's own handlers do."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            kind = request.path_params.get("kind", "")
            try:
                return await handler(request)
            except UpError as exc:
                return _error_response(exc, kind)
            except ServiceError as exc:
                errors = exc.errors if isinstance(exc, Invalid) else None
                return _error_response(UpError(exc.status_code, _SERVICE_ERROR_KIND.get(exc.status_code, exc.title),
                                               str(exc), errors), kind)

        return run


router = APIRouter(prefix="/up", tags=["UP-compatible API"], route_class=_UpRoute)


def _envelope(kind: str, spec: str, **fields: Any) -> JSONResponse:
    return JSONResponse([{**fields, "spec": spec, "type": kind}])


def _type(kind: str) -> str:
    canonical = TYPES.get(kind)
    if canonical is None:
        raise UpError(404, "Method", f"Resource {kind} not found; use one of "
                                     f"{', '.join(sorted(set(TYPES.values())))}.")
    return canonical


# --- who is calling -----------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Caller:
    actor: Actor
    admin: bool = False  # the security admin key
    account_id: str | None = None
    team_id: int | None = None


def _key_of(request: Request) -> str:
    key = request.headers.get("auth", "").strip()
    if not key:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        key = credentials.strip() if scheme.lower() == "bearer" else ""
    return key


def account_email(account_id: str) -> str:
    return f"up-{account_id}@{ACCOUNT_EMAIL_DOMAIN}"


def _account_id_of(email: str) -> str | None:
    if email.startswith("up-") and email.endswith(f"@{ACCOUNT_EMAIL_DOMAIN}"):
        return email[3:-len(ACCOUNT_EMAIL_DOMAIN) - 1]
    return None


async def _caller(request: Request) -> Caller:
    key = _key_of(request)
    if not key:
        raise UpError(401, "Authorization", "Send a key: 'Auth: <key>'.")
    ip, agent = client_of(request)
    admin_key = config.current().security_admin_key
    if admin_key and secrets.compare_digest(key.encode(), admin_key.encode()):
        return Caller(Actor(kind="system", id=None, label="UP security admin key", role=Role.OWNER, ip=ip,
                            user_agent=agent), admin=True)
    actor = await apikeys.actor_for_api_key(key, ip=ip, user_agent=agent)
    if actor is None:
        raise UpError(401, "Authorization", "The key is not valid: it is unknown, revoked or expired.")
    user = await User.get_or_none(id=actor.user_id) if actor.user_id is not None else None
    account_id = _account_id_of(user.email) if user is not None else None
    team = await Team.filter(name=f"{TEAM_PREFIX}{account_id}", members__id=user.id).first() \
        if account_id and user is not None else None
    if team is None:
        raise UpError(403, "Authorization", "This key does not belong to a UP account; create one with "
                                            "PUT /up/accounts/ and the security admin key.")
    return Caller(actor, account_id=account_id, team_id=team.id)


def _require_account(caller: Caller) -> None:
    if caller.account_id is None:
        raise UpError(403, "Authorization", "Use an account's key here; the security admin key manages accounts "
                                            "only.")


def _require_admin(caller: Caller) -> None:
    if not caller.admin:
        raise UpError(403, "Authorization", "Only the security admin key may list and create accounts.")


# --- bodies -------------------------------------------------------------------------------------------------------

async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise UpError(413, "Format", f"The body is too large (at most {MAX_BODY} bytes).")
    if not raw.strip():
        raise UpError(400, "Format", "Send a JSON object in the body.")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UpError(400, "Format", f"The body is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise UpError(400, "Format", "The body must be a JSON object, e.g. {\"name\": \"...\"}.")
    return data


def _text(data: dict[str, Any], name: str, default: str = "") -> str:
    value = data.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise Invalid({name: "Give this as text."})
    return str(value)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- accounts -----------------------------------------------------------------------------------------------------

async def _account_view(team: Team, user: User | None) -> dict[str, Any]:
    account_id = team.name.removeprefix(TEAM_PREFIX)
    slugs = await StatusPage.filter(team_id=team.id).order_by("id").values_list("slug", flat=True)
    keys = await apikeys.list_api_keys(user.id) if user is not None else []
    usable = [k for k in keys if apikeys.is_usable(k) and k.name == KEY_NAME]
    return {"id": account_id, "key": None, "key_prefix": usable[0].prefix if usable else None,
            "name": user.name if user is not None else "", "sites": list(slugs)}


async def _accounts(only: str | None = None) -> list[dict[str, Any]]:
    query = Team.filter(name__startswith=TEAM_PREFIX)
    if only is not None:
        query = query.filter(name=f"{TEAM_PREFIX}{only}")
    found = []
    for team in await query.order_by("id"):
        account_id = team.name.removeprefix(TEAM_PREFIX)
        user = await User.get_or_none(email=account_email(account_id))
        found.append(await _account_view(team, user))
    return found


async def _create_account(caller: Caller, data: dict[str, Any], kind: str) -> JSONResponse:
    _require_admin(caller)
    account_id = _text(data, "id").strip().lower() or f"acct-{secrets.token_hex(4)}"
    if not _ACCOUNT_ID.match(account_id):
        raise Invalid({"id": "Use 1-64 letters, digits, dots, hyphens and underscores, e.g. 'maxim-0012'."})
    name = _text(data, "name").strip()
    if len(name) > 200:
        raise Invalid({"name": "Keep the name to 200 characters."})
    email = account_email(account_id)
    if await Team.filter(name=f"{TEAM_PREFIX}{account_id}").exists() or await User.filter(email=email).exists():
        raise UpError(409, "Already exists", f"The account '{account_id}' already exists.")
    actor = caller.actor
    user = await users.create_user(actor, email=email, password=secrets.token_urlsafe(32), role=Role.MEMBER,
                                   name=name)
    team = await teams.create_team(actor, f"{TEAM_PREFIX}{account_id}")
    await teams.add_member(actor, team.id, user.id)
    _, key = await apikeys.create_api_key(actor, email=email, name=KEY_NAME)
    return _envelope(kind, "put", id=account_id, key=key, name=name, sites=[])


# --- sites --------------------------------------------------------------------------------------------------------

async def _account_pages(caller: Caller) -> list[StatusPage]:
    in_scope = await pages.list_pages(caller.actor)
    return [p for p in in_scope if p.team_id == caller.team_id]  # type: ignore[attr-defined]


async def _site(caller: Caller, ref: Any, field: str | None = None) -> StatusPage:
    """The account's page with this slug (or Beacon id); NotFound (or Invalid on ``field``) otherwise."""
    text = str(ref if ref is not None else "").strip()
    for page in await _account_pages(caller):
        if page.slug == text.lower() or str(page.id) == text:
            return page
    if field:
        raise Invalid({field: f"No site '{text}' in this account."})
    raise UpError(404, "Not found", f"No site '{text}'.")


async def _sites_of_body(caller: Caller, data: dict[str, Any]) -> list[StatusPage]:
    refs = data.get("sites")
    if refs is None and data.get("site") not in (None, ""):
        refs = [data["site"]]
    if refs is None:
        account_pages = await _account_pages(caller)
        if len(account_pages) == 1:
            return account_pages
        raise Invalid({"site": "Name the site (its id)." if account_pages else
                       "This account has no site yet: PUT /up/sites/<account id> first."})
    if not isinstance(refs, list) or not refs:
        raise Invalid({"sites": "Give a list of site ids."})
    return [await _site(caller, ref, "sites" if "sites" in data else "site") for ref in refs]


def _site_view(page: StatusPage) -> dict[str, Any]:
    snapshot = store.get(page.id)
    indicator = snapshot.indicator.indicator if snapshot is not None else "none"
    base = config.current().effective_base_url
    return {"id": page.slug, "name": page.title, "description": page.description,
            "status": PAGE_STATUS.get(indicator, "HASISSUES"),
            "url": snapshot.url if snapshot is not None else f"{base}/status/{page.slug}",
            "public": page.public, "created_at": _iso(page.created_at), "updated_at": _iso(page.updated_at)}


def _slug_from(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:64].strip("-")
    return slug or f"site-{secrets.token_hex(3)}"


async def _put_site(caller: Caller, ref: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    elevated = replace(caller.actor, role=Role.ADMIN)  # page.create/update need ADMIN; the scope is checked here
    slug = _text(data, "id").strip().lower() or (ref.lower() if ref and ref.lower() != caller.account_id else "")
    existing = next((p for p in await _account_pages(caller) if p.slug == slug), None) if slug else None
    if existing is not None:
        values = {}
        if "name" in data:
            values["title"] = _text(data, "name")
        if "description" in data:
            values["description"] = _text(data, "description")
        page = await pages.update_page(elevated, existing.id, **values) if values else existing
        return page.slug, _site_view(page)
    name = _text(data, "name").strip() or slug
    slug = slug or _slug_from(name)
    if problem := slug_problem(slug):
        raise Invalid({"id": problem})
    page = await pages.create_page(elevated, title=name, slug=slug, description=_text(data, "description"))
    try:
        await teams.assign_page(elevated, page.id, caller.team_id)
    except Exception:
        await pages.delete_page(Actor.system("UP adapter"), page.id)  # never leave it team-less, open to all
        raise
    page = await pages.get_page(page.id)
    return page.slug, _site_view(page)


# --- components ---------------------------------------------------------------------------------------------------

def _component_status(value: Any) -> ComponentStatus:
    text = str(value).strip().upper()
    if text in COMPONENT_STATUS_IN:
        return COMPONENT_STATUS_IN[text]
    try:
        return components.parse_status(value)
    except Invalid:
        raise Invalid({"status": f"Unknown status '{value}'; use one of {', '.join(COMPONENT_STATUS_IN)}."}) \
            from None


async def _component_view(component: Component, slugs: dict[int, str]) -> dict[str, Any]:
    page_ids = await components.page_ids_of(component.id)
    return {"id": str(component.id), "name": component.name, "description": component.description,
            "status": COMPONENT_STATUS[ComponentStatus(component.status)],
            "sites": sorted(slugs[p] for p in page_ids if p in slugs),
            "created_at": _iso(component.created_at), "updated_at": _iso(component.updated_at)}


async def _account_components(caller: Caller) -> tuple[list[Component], dict[int, str]]:
    slugs = {p.id: p.slug for p in await _account_pages(caller)}
    rows = await Component.filter(placements__page_id__in=list(slugs)).distinct().order_by("id") if slugs else []
    return list(rows), slugs


async def _component(caller: Caller, ref: Any, field: str | None = None) -> Component:
    rows, _ = await _account_components(caller)
    found = next((c for c in rows if str(c.id) == str(ref).strip()), None)
    if found is None:
        if field:
            raise Invalid({field: f"No component '{ref}' in this account."})
        raise UpError(404, "Not found", f"No component '{ref}'.")
    return found


async def _put_component(caller: Caller, ref: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if ref and ref != caller.account_id:
        component = await _component(caller, ref)
        values: dict[str, Any] = {}
        for name in ("name", "description"):
            if name in data:
                values[name] = _text(data, name)
        if "status" in data:
            values["status"] = _component_status(data["status"])
        if values:
            component = await components.update_component(caller.actor, component.id, **values)
    else:
        sites = await _sites_of_body(caller, data)
        status = _component_status(data["status"]) if data.get("status") not in (None, "") \
            else ComponentStatus.OPERATIONAL
        component = await components.create_component(
            caller.actor, name=_text(data, "name"), pages=[p.id for p in sites],
            description=_text(data, "description"), status=status)
    _, slugs = await _account_components(caller)
    return str(component.id), await _component_view(component, slugs)


async def _component_refs(caller: Caller, raw: Any, statuses: bool) -> Any:
    """UP's component ids → Beacon's, checked against the account: {id: STATUS} or [ids]."""
    if raw in (None, "", [], {}):
        return None
    if statuses:
        if not isinstance(raw, dict):
            raise Invalid({"components": "Give the components as {component id: STATUS}."})
        return {(await _component(caller, k, "components")).id: _component_status(v) for k, v in raw.items()}
    if not isinstance(raw, list):
        raise Invalid({"components": "Give the components as a list of component ids."})
    return [(await _component(caller, k, "components")).id for k in raw]


# --- incidents ----------------------------------------------------------------------------------------------------

async def _incident_view(incident: Incident, slugs: dict[int, str]) -> dict[str, Any]:
    updates = await IncidentUpdate.filter(incident_id=incident.id).order_by("-display_at", "-id")
    return {"id": str(incident.id), "site": slugs.get(incident.page_id),  # type: ignore[attr-defined]
            "name": incident.name, "status": str(incident.status), "impact": str(incident.impact),
            "backfilled": incident.backfilled, "created_at": _iso(incident.started_at),
            "updated_at": _iso(incident.updated_at), "resolved_at": _iso(incident.resolved_at),
            "incident_updates": [{"id": str(u.id), "incident_id": str(incident.id), "body": u.body,
                                  "status": str(u.status), "created_at": _iso(u.display_at),
                                  "updated_at": _iso(u.updated_at)} for u in updates]}


async def _account_rows(caller: Caller, listing: Callable[..., Awaitable[list[Any]]]
                        ) -> tuple[list[Any], dict[int, str]]:
    """The account's incidents or maintenance windows (those of its sites), and its sites' slugs by page id."""
    slugs = {p.id: p.slug for p in await _account_pages(caller)}
    return [r for r in await listing(actor=caller.actor) if r.page_id in slugs], slugs


async def _account_row(caller: Caller, listing: Callable[..., Awaitable[list[Any]]], ref: str, what: str) -> Any:
    rows, _ = await _account_rows(caller, listing)
    found = next((r for r in rows if str(r.id) == ref.strip()), None)
    if found is None:
        raise UpError(404, "Not found", f"No {what} '{ref}'.")
    return found


async def _account_incidents(caller: Caller) -> tuple[list[Incident], dict[int, str]]:
    return await _account_rows(caller, incidents.list_incidents)


async def _incident(caller: Caller, ref: str) -> Incident:
    return await _account_row(caller, incidents.list_incidents, ref, "incident")


async def _put_incident(caller: Caller, ref: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    statuses = await _component_refs(caller, data.get("components"), statuses=True)
    if ref and ref != caller.account_id:
        incident = await _incident(caller, ref)
        if "name" in data or "impact" in data:
            await incidents.edit_incident(caller.actor, incident.id,
                                          name=_text(data, "name") if "name" in data else None,
                                          impact=data.get("impact"))
        if any(k in data for k in ("status", "body", "message", "components")):
            status = data.get("status") or incident.status
            body = _text(data, "body") or _text(data, "message") or f"The status is now {str(status).upper()}."
            await incidents.post_update(caller.actor, incident.id, status=status, body=body, components=statuses)
        incident = await incidents.get_incident(incident.id)
    else:
        site = (await _sites_of_body(caller, data))[0]
        name = _text(data, "name")
        incident = await incidents.create_incident(
            caller.actor, page=site.id, name=name, impact=data.get("impact") or "MINOR",
            status=data.get("status") or "INVESTIGATING",
            body=_text(data, "body") or _text(data, "message") or name, components=statuses)
    _, slugs = await _account_incidents(caller)
    return str(incident.id), await _incident_view(incident, slugs)


# --- maintenance --------------------------------------------------------------------------------------------------

async def _maintenance_view(m: Maintenance, slugs: dict[int, str]) -> dict[str, Any]:
    updates = await MaintenanceUpdate.filter(maintenance_id=m.id).order_by("-display_at", "-id")
    minutes = int((m.scheduled_until - m.scheduled_for).total_seconds() // 60)
    return {"id": str(m.id), "site": slugs.get(m.page_id), "name": m.name,  # type: ignore[attr-defined]
            "body": m.body, "status": MAINTENANCE_STATUS[MaintenanceState(m.state)],
            "starts_at": _iso(m.scheduled_for), "ends_at": _iso(m.scheduled_until), "duration": str(minutes),
            "backfilled": m.backfilled, "created_at": _iso(m.created_at), "updated_at": _iso(m.updated_at),
            "resolved_at": _iso(m.completed_at),
            "maintenance_updates": [{"id": str(u.id), "maintenance_id": str(m.id), "body": u.body,
                                     "status": MAINTENANCE_STATUS[MaintenanceState(u.state)],
                                     "created_at": _iso(u.display_at), "updated_at": _iso(u.updated_at)}
                                    for u in updates]}


async def _account_maintenance(caller: Caller) -> tuple[list[Maintenance], dict[int, str]]:
    return await _account_rows(caller, maintenance.list_maintenances)


async def _maintenance(caller: Caller, ref: str) -> Maintenance:
    return await _account_row(caller, maintenance.list_maintenances, ref, "maintenance")


async def _put_maintenance(caller: Caller, ref: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if ref and ref != caller.account_id:
        m = await _maintenance(caller, ref)
        body = _text(data, "body")
        status = str(data.get("status") or "").strip().upper().replace(" ", "").replace("_", "")
        if status and status not in ("NOTSTARTEDYET", "INPROGRESS", "COMPLETED"):
            raise Invalid({"status": "Use NOTSTARTEDYET, INPROGRESS or COMPLETED."})
        current = MAINTENANCE_STATUS[MaintenanceState(m.state)]
        if data.get("ends_at") not in (None, ""):
            await maintenance.extend_maintenance(caller.actor, m.id, data["ends_at"], body)
            body = ""
        if status == "INPROGRESS" and current == "NOTSTARTEDYET":
            await maintenance.start_maintenance(caller.actor, m.id, body)
        elif status == "COMPLETED" and current != "COMPLETED":
            await maintenance.complete_maintenance(caller.actor, m.id, body)
        elif status and status != current:
            raise Invalid({"status": f"A {current} maintenance cannot become {status}."})
        elif body.strip():
            await maintenance.post_maintenance_update(caller.actor, m.id, body)
        m = await maintenance.get_maintenance(m.id)
    else:
        site = (await _sites_of_body(caller, data))[0]
        m = await maintenance.schedule_maintenance(
            caller.actor, page=site.id, name=_text(data, "name"), body=_text(data, "body"),
            starts_at=data.get("starts_at"), ends_at=data.get("ends_at"),
            components=await _component_refs(caller, data.get("components"), statuses=False))
    _, slugs = await _account_maintenance(caller)
    return str(m.id), await _maintenance_view(m, slugs)


# --- metrics ------------------------------------------------------------------------------------------------------

async def _metric_view(m: Metric, slugs: dict[int, str]) -> dict[str, Any]:
    last = await MetricPoint.filter(metric_id=m.id).order_by("-at", "-id").first()
    return {"id": str(m.id), "site": slugs.get(m.page_id), "name": m.name,  # type: ignore[attr-defined]
            "suffix": m.suffix, "description": m.description,
            "last": {"value": last.value, "at": _iso(last.at)} if last is not None else None,
            "created_at": _iso(m.created_at), "updated_at": _iso(m.updated_at)}


async def _account_metrics(caller: Caller) -> tuple[list[Metric], dict[int, str]]:
    slugs = {p.id: p.slug for p in await _account_pages(caller)}
    rows = [m for m in await metrics.list_metrics(caller.actor) if m.page_id in slugs]  # type: ignore[attr-defined]
    return rows, slugs


async def _metric(caller: Caller, ref: str) -> Metric:
    rows, _ = await _account_metrics(caller)
    found = next((m for m in rows if str(m.id) == ref.strip()), None)
    if found is None:
        raise UpError(404, "Not found", f"No metric '{ref}'.")
    return found


async def _put_metric(caller: Caller, ref: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    points = data.get("points")
    if points is None and data.get("value") is not None:
        points = [data["value"]]
    if ref and ref != caller.account_id:
        metric = await _metric(caller, ref)
        values = {name: _text(data, name) for name in ("name", "suffix", "description") if name in data}
        if values:
            metric = await metrics.update_metric(caller.actor, metric.id, **values)
    else:
        site = (await _sites_of_body(caller, data))[0]
        metric = await metrics.create_metric(caller.actor, page=site.id, name=_text(data, "name"),
                                             suffix=_text(data, "suffix"), description=_text(data, "description"))
    if points is not None:
        await metrics.add_points(caller.actor, metric.id, points)
    _, slugs = await _account_metrics(caller)
    return str(metric.id), await _metric_view(metric, slugs)


# --- subscriptions ------------------------------------------------------------------------------------------------

def _subscription_view(s: Subscriber, slugs: dict[int, str]) -> dict[str, Any]:
    return {"id": str(s.id), "site": slugs.get(s.page_id), "endpoint": s.address,  # type: ignore[attr-defined]
            "components": [str(c) for c in s.component_ids or []], "confirmed": s.confirmed_at is not None,
            "created_at": _iso(s.created_at)}


async def _account_subscriptions(caller: Caller) -> tuple[list[Subscriber], dict[int, str]]:
    slugs = {p.id: p.slug for p in await _account_pages(caller)}
    rows = await Subscriber.filter(page_id__in=list(slugs), kind="webhook").order_by("id") if slugs else []
    return list(rows), slugs


async def _put_subscription(caller: Caller, ref: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if ref and ref != caller.account_id:
        rows, _ = await _account_subscriptions(caller)
        if not any(str(s.id) == ref.strip() for s in rows):
            raise UpError(404, "Not found", f"No subscription '{ref}'.")
        raise UpError(409, "Conflict", "A subscription cannot be changed here; PUT a new one to "
                                       "/up/subscriptions/<account id>.")
    site = (await _sites_of_body(caller, data))[0]
    url = (_text(data, "endpoint") or _text(data, "url") or _text(data, "callback")).strip()
    if not url:
        raise Invalid({"endpoint": "Give the callback address, e.g. https://example.com/hooks/status."})
    wanted = await _component_refs(caller, data.get("components"), statuses=False) or []
    try:
        await subscribers.subscribe(site, kind="webhook", address=url, component_ids=wanted)
    except Invalid as exc:
        raise Invalid({"endpoint" if k == "url" else k: v for k, v in exc.errors.items()}) from None
    rows, slugs = await _account_subscriptions(caller)
    row = next(s for s in rows if s.page_id == site.id and s.address == url)  # type: ignore[attr-defined]
    return str(row.id), _subscription_view(row, slugs)


# --- listing and reading ------------------------------------------------------------------------------------------

async def _all(caller: Caller, kind: str) -> list[dict[str, Any]]:
    if kind == "sites":
        return [_site_view(p) for p in await _account_pages(caller)]
    if kind == "components":
        rows, slugs = await _account_components(caller)
        return [await _component_view(c, slugs) for c in rows]
    if kind == "incidents":
        rows, slugs = await _account_incidents(caller)
        return [await _incident_view(i, slugs) for i in rows]
    if kind == "maintenance":
        rows, slugs = await _account_maintenance(caller)
        return [await _maintenance_view(m, slugs) for m in rows]
    if kind == "metrics":
        rows, slugs = await _account_metrics(caller)
        return [await _metric_view(m, slugs) for m in rows]
    rows, slugs = await _account_subscriptions(caller)
    return [_subscription_view(s, slugs) for s in rows]


def _singular(kind: str) -> str:
    return {"maintenance": "maintenance", "sites": "site"}.get(kind, kind.removesuffix("s"))


# --- routes -------------------------------------------------------------------------------------------------------

@router.get("/", include_in_schema=True, summary="What the UP-compatible API offers")
async def meta(request: Request) -> JSONResponse:
    base = f"{config.current().effective_base_url}/up"
    return JSONResponse([{"resourceType": "UP", "version": "1.0", "uri": base, "methods": [
        "GET+PUT /accounts/ (security admin key)", "GET /accounts/:id",
        *(f"GET /{t}, GET+PUT /{t}/:id" for t in
          ("sites", "components", "incidents", "maintenance", "metrics", "subscriptions"))]}])


@router.get("/{kind}", summary="List (spec lst)")
@router.get("/{kind}/", include_in_schema=False)
async def list_objects(kind: str, request: Request) -> JSONResponse:
    canonical = _type(kind)
    caller = await _caller(request)
    if canonical == "accounts":
        if caller.admin:
            return _envelope(kind, "lst", result=await _accounts())
        _require_account(caller)
        return _envelope(kind, "lst", result=await _accounts(caller.account_id))
    _require_account(caller)
    return _envelope(kind, "lst", result=await _all(caller, canonical))


@router.get("/{kind}/{ref}", summary="Get (spec get): the account's objects, or one of them")
async def get_objects(kind: str, ref: str, request: Request) -> JSONResponse:
    canonical = _type(kind)
    caller = await _caller(request)
    ref = ref.strip()
    if canonical == "accounts":
        if not caller.admin and ref.lower() != caller.account_id:
            raise UpError(404, "Not found", f"No account '{ref}'.")
        found = await _accounts(ref.lower())
        if not found:
            raise UpError(404, "Not found", f"No account '{ref}'.")
        return _envelope(kind, "get", result=found)
    _require_account(caller)
    everything = await _all(caller, canonical)
    if ref.lower() == caller.account_id:
        return _envelope(kind, "get", result=everything)
    one = [o for o in everything if o["id"] == (ref.lower() if canonical == "sites" else ref)]
    if not one:
        raise UpError(404, "Not found", f"No {_singular(canonical)} '{ref}'.")
    return _envelope(kind, "get", result=one)


PUTTERS = {"sites": _put_site, "components": _put_component, "incidents": _put_incident,
           "maintenance": _put_maintenance, "metrics": _put_metric, "subscriptions": _put_subscription}


async def _put(kind: str, ref: str, request: Request) -> JSONResponse:
    canonical = _type(kind)
    caller = await _caller(request)
    data = await _body(request)
    if canonical == "accounts":
        if ref and ref.lower() != _text(data, "id").strip().lower():
            if not data.get("id"):
                data = {**data, "id": ref}
            else:
                raise Invalid({"id": "The id in the body and the one in the address differ."})
        return await _create_account(caller, data, kind)
    _require_account(caller)
    object_id, result = await PUTTERS[canonical](caller, ref.strip(), data)
    return _envelope(kind, "put", id=object_id, result=result)


@router.put("/{kind}", summary="Create (spec put)")
@router.put("/{kind}/", include_in_schema=False)
async def put_new(kind: str, request: Request) -> JSONResponse:
    return await _put(kind, "", request)


@router.put("/{kind}/{ref}", summary="Create in the account, or change one object (spec put)")
async def put_object(kind: str, ref: str, request: Request) -> JSONResponse:
    return await _put(kind, ref, request)
