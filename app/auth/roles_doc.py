"""docs/roles.md, generated from the permission table (``python main.py docs roles``).

Each action in ``PERMISSIONS`` needs a sentence in ``DESCRIPTIONS``: generating the page refuses an action
without one, and tests/test_roles_doc.py fails while the committed page differs from what this produces.
"""

from __future__ import annotations

from pathlib import Path

from app.auth.permissions import PERMISSIONS
from app.enums import Role

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "roles.md"

ROLE_SUMMARY: dict[Role, str] = {
    Role.READ_ONLY: "sees the dashboard and private status pages; changes nothing",
    Role.MEMBER: "runs day-to-day operations: components, incidents, maintenance, own API keys",
    Role.ADMIN: "also manages status pages, accounts, deletions and reads the audit trail",
    Role.OWNER: "everything, including creating other owners",
}

# What each action allows, in the words of the person who is refused it. Actions that may be added to
# PERMISSIONS soon have their sentence here already; only the actions in PERMISSIONS are documented.
DESCRIPTIONS: dict[str, str] = {
    "page.view_private": "see private status pages and the dashboard",
    "page.create": "create a status page",
    "page.update": "change a status page's settings (title, address, look, time zone, visibility)",
    "page.delete": "delete a status page",
    "group.create": "add a group of components to a page",
    "group.update": "rename or change a group",
    "group.delete": "remove a group (its components stay)",
    "group.move": "reorder a page's components and groups, and move them between groups",
    "component.create": "add a component",
    "component.update": "rename or describe a component",
    "component.set_status": "set a component's status by hand",
    "component.delete": "delete a component from every page",
    "component.place": "show an existing component on one more page, or no longer on one",
    "incident.create": "open an incident",
    "incident.update": "post an incident update, resolve, pin, rename, write the postmortem",
    "incident.delete": "delete an incident",
    "template.manage": "create, change and delete incident templates",
    "monitor.create": "create a monitor; \"Test now\" on settings not yet saved",
    "monitor.update": "edit, pause and resume monitors; \"check now\"",
    "monitor.delete": "delete a monitor with its history",
    "metric.manage": "define and edit a page's custom metrics",
    "metric.post": "post data points to a custom metric",
    "metric.delete": "delete a custom metric with its data",
    "channel.manage": "create and delete notification channels; retry failed deliveries",
    "subscriber.manage": "see, export and remove public subscribers; set the mail server subscriber mail uses",
    "maintenance.create": "schedule maintenance",
    "maintenance.update": "post a maintenance update, start early, extend, complete early",
    "maintenance.cancel": "cancel scheduled maintenance",
    "user.create": "create accounts",
    "user.create_owner": "create an account with the owner role",
    "user.invite": "invite someone by e-mail to set up an account",
    "user.update": "change another account's role, deactivate or reactivate it, reset its password",
    "user.delete": "delete an account",
    "user.accept_invite": "accept an invitation and choose a password",
    "team.manage": "create teams and change who is in them",
    "apikey.create": "create API keys for one's own account (an admin: for any account); a key never carries a "
                     "higher role than its account",
    "apikey.revoke": "revoke one's own API keys (an admin: anyone's)",
    "account.update": "change one's own password and two-factor sign-in",
    "backup.export": "download a full backup of the install (pages, users' password hashes, the audit chain)",
    "settings.update": "change install-wide settings, e.g. which roles must use two-factor sign-in",
    "audit.view": "read, filter, export and verify the audit trail",
}


def render() -> str:
    """The whole page as Markdown."""
    missing = [action for action in PERMISSIONS if action not in DESCRIPTIONS]
    if missing:
        raise KeyError(f"describe these actions in app/auth/roles_doc.py DESCRIPTIONS: {', '.join(missing)}")
    lines = [
        "# Roles and permissions",
        "",
        "<!-- Generated from app/auth/permissions.py by `python main.py docs roles`; do not edit by hand. -->",
        "",
        "Every account has one role. Each role may do everything the roles below it may do. An API key acts with "
        "its account's role, or with a lower one chosen when the key is created.",
        "",
        "| role | in short |",
        "|---|---|",
        *(f"| {role.name} | {ROLE_SUMMARY[role]} |" for role in sorted(Role)),
        "",
        "## Actions",
        "",
        "Each action and the lowest role allowed to perform it.",
        "",
        "| action | lowest role | what it allows |",
        "|---|---|---|",
        *(f"| `{action}` | {role.name} | {DESCRIPTIONS[action]} |" for action, role in PERMISSIONS.items()),
        "",
    ]
    return "\n".join(lines)


def write(path: Path = DOC_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(), encoding="utf-8")
    return path
