from tortoise import fields
from tortoise.models import Model

from app.enums import Role


class User(Model):
    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    name = fields.CharField(max_length=200, default="")
    password_hash = fields.CharField(max_length=500)
    role = fields.IntEnumField(Role, default=Role.MEMBER)
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_login_at = fields.DatetimeField(null=True)
    # migration 5: sessions, invitations, two-factor sign-in
    # bumped when the password changes or the account is deactivated: every session signed in before ends
    session_epoch = fields.IntField(default=0)
    password_changed_at = fields.DatetimeField(null=True)
    # an invited account has no usable password until the one-time link (only its SHA-256 is kept) is used
    invite_hash = fields.CharField(max_length=64, null=True)
    invite_expires_at = fields.DatetimeField(null=True)
    totp_secret = fields.CharField(max_length=64, null=True)  # set while enrolling; 2FA is on once confirmed
    totp_enabled_at = fields.DatetimeField(null=True)
    recovery_codes = fields.JSONField(default=list)  # SHA-256 digests of the unused recovery codes

    class Meta:
        table = "users"


class Team(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, unique=True)
    members: fields.ManyToManyRelation[User] = fields.ManyToManyField(
        "models.User", related_name="teams", through="team_members"
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "teams"


class ApiKey(Model):
    """Only a SHA-256 of the key is stored; ``prefix`` lets a person recognise a key in lists."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="api_keys", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200, default="")
    prefix = fields.CharField(max_length=16)
    key_hash = fields.CharField(max_length=64, unique=True)
    role = fields.IntEnumField(Role, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)  # migration 5

    class Meta:
        table = "api_keys"


class LoginThrottle(Model):
    """Failed sign-ins per IP address (``ip:…``) and per account (``email:…``): each failure beyond a few doubles
    the wait before the next attempt is considered; kept in the database so that every process agrees."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=300, unique=True)
    failures = fields.IntField(default=0)
    locked_until = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "login_throttle"


class InstallSetting(Model):
    """Install-wide settings changed in the dashboard (e.g. the lowest role that must use two-factor sign-in)."""

    key = fields.CharField(max_length=100, primary_key=True)
    value = fields.JSONField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "install_settings"
