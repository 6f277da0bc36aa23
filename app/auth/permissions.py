"""The one table of who may do what: each service action and the lowest role allowed to perform it.
docs/roles.md is generated from it (``python main.py docs roles``)."""

from __future__ import annotations

from app.enums import Role

PERMISSIONS: dict[str, Role] = {
    "page.view_private": Role.READ_ONLY,
    "page.create": Role.ADMIN,
    "page.update": Role.ADMIN,
    "page.delete": Role.ADMIN,
    "group.create": Role.MEMBER,
    "group.update": Role.MEMBER,
    "group.delete": Role.MEMBER,
    "group.move": Role.MEMBER,  # reorder a page's components and groups, and move them between groups
    "component.create": Role.MEMBER,
    "component.update": Role.MEMBER,
    "component.set_status": Role.MEMBER,
    "component.delete": Role.ADMIN,
    "component.place": Role.MEMBER,  # show an existing component on one more page, or no longer on one
    "incident.create": Role.MEMBER,
    "incident.update": Role.MEMBER,  # post an update, resolve, pin, rename, write the postmortem
    "incident.delete": Role.ADMIN,
    "template.manage": Role.MEMBER,  # incident templates
    "maintenance.create": Role.MEMBER,
    "maintenance.update": Role.MEMBER,  # post an update, start early, extend, complete early
    "maintenance.cancel": Role.MEMBER,
    "monitor.create": Role.MEMBER,  # also "Test now" on a monitor not yet saved
    "monitor.update": Role.MEMBER,  # edit, pause, resume, "check now"
    "monitor.delete": Role.ADMIN,
    "metric.manage": Role.MEMBER,  # define and edit a page's custom metrics
    "metric.post": Role.MEMBER,  # post data points (scripts, with an API key)
    "metric.delete": Role.ADMIN,  # delete a metric with its data
    "channel.manage": Role.ADMIN,  # notification channels; retrying failed deliveries
    "subscriber.manage": Role.ADMIN,  # see, export and remove public subscribers; the mail server they get mail from
    "user.create": Role.ADMIN,
    "user.create_owner": Role.OWNER,
    "user.invite": Role.ADMIN,
    "user.update": Role.ADMIN,  # role change, deactivate, reactivate, admin password reset
    "user.delete": Role.ADMIN,
    "user.accept_invite": Role.READ_ONLY,  # the invited person, acting as themselves
    "team.manage": Role.ADMIN,  # create, rename and delete teams, their members, and which team owns a page
    "apikey.create": Role.MEMBER,
    "apikey.revoke": Role.READ_ONLY,  # one's own keys; an admin may revoke anyone's (checked in the service)
    "account.update": Role.READ_ONLY,  # one's own password and two-factor sign-in
    "settings.update": Role.OWNER,  # install-wide settings, e.g. which roles must use two-factor sign-in
    "backup.export": Role.OWNER,  # download the full export (every page, user hashes, the audit chain)
    "audit.view": Role.ADMIN,
}


def required_role(action: str) -> Role:
    try:
        return PERMISSIONS[action]
    except KeyError:
        raise KeyError(f"no permission defined for action {action!r}") from None


def allowed(role: Role, action: str) -> bool:
    return role >= required_role(action)
