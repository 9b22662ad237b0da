"""Users, their sessions and API tokens, and the access log.

Passwords are kept as argon2id hashes (argon2-cffi's defaults, rehashed on sign-in when
those defaults grow); sessions and API tokens are random (:mod:`secrets`) and only their
SHA-256 is stored, so that a copy of the database signs nobody in. :class:`UserBook` is the
part of :class:`~ledgerpilot.review.store.ProposalStore` that holds them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .database import Database, utcnow
from .errors import NotAllowed, StoreError, UnknownUser
from .models import AccessRecord, AccessRow, ApiTokenRow, SessionRow, User, UserRow
from .roles import PERMISSIONS, ROLES

MIN_PASSWORD_LENGTH = 10
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
"""A user name: letters, digits and ``._@-``. System actors in the decision log carry a
colon (``policy:auto-approve``), which keeps them apart from people."""
RESERVED_NAMES = frozenset({"worker", "system"})
"""Names the workers sign their log entries with; no person may have them."""
TOKEN_BYTES = 32
API_TOKEN_PREFIX = "lp_"
"""API tokens start with this, so that a leaked one is easy to recognise."""
TOKEN_TOUCH_INTERVAL = dt.timedelta(minutes=1)
"""How stale an API token's ``last_used_at`` may get before a use writes it again."""
LOG_TEXT_LENGTH = 2000
"""Longest path or detail kept in the access log."""

ACTION_WORDS = {
    "view": "looking at the queue",
    "edit": "editing lines",
    "decide": "approving or rejecting",
    "bulk_approve": "bulk approval",
    "audit": "reading the logs",
    "users": "managing users",
}


def token_hash(token: str) -> str:
    """The SHA-256 (hex) under which a session or API token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@cache
def _decoy_hash() -> str:
    """A hash to verify against for unknown users, so that they take as long as known ones."""
    return PasswordHasher().hash(secrets.token_urlsafe(TOKEN_BYTES))


class UserBook(Database):
    """Users, sessions, API tokens and the access log in the store's database."""

    password_hasher: PasswordHasher = PasswordHasher()
    """argon2id with argon2-cffi's current defaults; a store may be given another."""

    # ------------------------------------------------------------ users

    def add_user(self, name: str, role: str, password: str) -> User:
        """Create an active user; the password is kept as an argon2id hash."""
        _check_name(name)
        _check_role(role)
        _check_password(password)
        row = UserRow(
            name=name,
            role=role,
            password_hash=self.password_hasher.hash(password),
            active=True,
            created_at=utcnow(),
        )
        try:
            with self._writing() as session:
                session.add(row)
                session.flush()
        except IntegrityError:
            raise StoreError(f"there is a user {name!r} already") from None
        return User.of(row)

    def get_user(self, name: str) -> User | None:
        """The user of this name, or ``None``."""
        with Session(self.engine) as session:
            row = session.get(UserRow, name)
            return None if row is None else User.of(row)

    def list_users(self) -> list[User]:
        """Every user, by name."""
        with Session(self.engine) as session:
            return [User.of(row) for row in session.scalars(select(UserRow).order_by(UserRow.name))]

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if the password is theirs and they are active, else ``None``.

        A hash made with weaker parameters than the hasher's current ones is replaced.
        """
        with Session(self.engine) as session:
            row = session.get(UserRow, name)
            stored = None if row is None else row.password_hash
        if row is None or stored is None:
            _verify(self.password_hasher, _decoy_hash(), password)
            return None
        if not _verify(self.password_hasher, stored, password) or not row.active:
            return None
        if self.password_hasher.check_needs_rehash(stored):
            fresh = self.password_hasher.hash(password)
            with self._writing() as session:
                session.execute(
                    update(UserRow)
                    .where(UserRow.name == name, UserRow.password_hash == stored)
                    .values(password_hash=fresh)
                )
        return User.of(row)

    def set_password(self, name: str, password: str) -> None:
        """Give the user a new password; their sessions end."""
        _check_password(password)
        hashed = self.password_hasher.hash(password)
        with self._writing() as session:
            row = _user(session, name)
            row.password_hash = hashed
            session.execute(delete(SessionRow).where(SessionRow.user_name == name))

    def set_role(self, name: str, role: str) -> User:
        """Give the user another role."""
        _check_role(role)
        with self._writing() as session:
            row = _user(session, name)
            row.role = role
            return User.of(row)

    def deactivate(self, name: str) -> None:
        """Stop the user signing in or deciding anything; their sessions end. The log keeps
        their name."""
        with self._writing() as session:
            _user(session, name).active = False
            session.execute(delete(SessionRow).where(SessionRow.user_name == name))

    def activate(self, name: str) -> None:
        """Let a deactivated user sign in again."""
        with self._writing() as session:
            _user(session, name).active = True

    def authorize(self, name: str, action: str) -> User:
        """The user, if they exist, are active and their role may do ``action``;
        :class:`NotAllowed` otherwise."""
        with Session(self.engine) as session:
            return User.of(authorized(session, name, action))

    # ------------------------------------------------------------ sessions

    def create_session(self, user_name: str, ttl: dt.timedelta) -> tuple[str, str]:
        """Sign the user in for ``ttl``: ``(session token, CSRF token)``.

        Only the session token's SHA-256 is stored; expired sessions are cleared out.
        """
        if ttl <= dt.timedelta(0):
            raise StoreError(f"a session lasts a positive time, not {ttl}")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        csrf = secrets.token_urlsafe(TOKEN_BYTES)
        now = utcnow()
        with self._writing() as session:
            if not _user(session, user_name).active:
                raise NotAllowed(f"user {user_name!r} is deactivated")
            session.execute(delete(SessionRow).where(SessionRow.expires_at <= now))
            session.add(
                SessionRow(
                    token_hash=token_hash(token),
                    user_name=user_name,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
        return token, csrf

    def session(self, token: str) -> tuple[User, str] | None:
        """The signed-in user and the session's CSRF token; ``None`` when the session is
        unknown, ended or expired, or its user deactivated."""
        query = (
            select(SessionRow, UserRow)
            .join(UserRow, UserRow.name == SessionRow.user_name)
            .where(SessionRow.token_hash == token_hash(token))
        )
        with Session(self.engine) as session:
            found = session.execute(query).first()
            if found is None:
                return None
            signed_in, user = found
            if signed_in.expires_at <= utcnow() or not user.active:
                return None
            return User.of(user), signed_in.csrf_token

    def end_session(self, token: str) -> None:
        """Sign out: the session is gone (an unknown one is no error)."""
        with self._writing() as session:
            session.execute(delete(SessionRow).where(SessionRow.token_hash == token_hash(token)))

    # ------------------------------------------------------------ API tokens

    def create_api_token(self, user_name: str, label: str) -> str:
        """A new API token for the user (shown once: only its SHA-256 is stored)."""
        token = API_TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
        with self._writing() as session:
            if not _user(session, user_name).active:
                raise NotAllowed(f"user {user_name!r} is deactivated")
            session.add(
                ApiTokenRow(
                    token_hash=token_hash(token),
                    user_name=user_name,
                    label=label,
                    created_at=utcnow(),
                    last_used_at=None,
                )
            )
        return token

    def token_user(self, token: str) -> User | None:
        """The active user an API token belongs to, or ``None``; notes when it was used."""
        key = token_hash(token)
        query = (
            select(ApiTokenRow, UserRow)
            .join(UserRow, UserRow.name == ApiTokenRow.user_name)
            .where(ApiTokenRow.token_hash == key)
        )
        with Session(self.engine) as session:
            found = session.execute(query).first()
            if found is None:
                return None
            api_token, user = found
            if not user.active:
                return None
            record, last_used = User.of(user), api_token.last_used_at
        now = utcnow()
        if last_used is None or now - last_used >= TOKEN_TOUCH_INTERVAL:
            with self._writing() as session:
                session.execute(
                    update(ApiTokenRow)
                    .where(ApiTokenRow.token_hash == key)
                    .values(last_used_at=now)
                )
        return record

    # ------------------------------------------------------------ the access log

    def log_access(
        self, user: str | None, method: str, path: str, status_code: int, detail: str = ""
    ) -> None:
        """Append a request to the access log (who, what, the answer's status)."""
        row = AccessRow(
            at=utcnow(),
            user_name=user,
            method=method.upper()[:16],
            path=path[:LOG_TEXT_LENGTH],
            status_code=status_code,
            detail=detail[:LOG_TEXT_LENGTH],
        )
        with self._writing() as session:
            session.add(row)

    def access_log(self, limit: int = 100, offset: int = 0) -> list[AccessRecord]:
        """The access log, newest first, a page at a time."""
        query = select(AccessRow).order_by(AccessRow.id.desc()).limit(limit).offset(offset)
        with Session(self.engine) as session:
            return [AccessRecord.of(row) for row in session.scalars(query)]


def authorized(session: Session, name: str, action: str) -> UserRow:
    """The user's row if they exist, are active and their role may do ``action``."""
    roles = PERMISSIONS[action]
    row = session.get(UserRow, name)
    if row is None:
        raise NotAllowed(f"there is no user {name[:80]!r}")
    if not row.active:
        raise NotAllowed(f"user {name!r} is deactivated")
    if row.role not in roles:
        needed = " or ".join(r for r in ROLES if r in roles)
        raise NotAllowed(
            f"{name!r} has the role {row.role}; {ACTION_WORDS[action]} needs the role {needed}"
        )
    return row


def _user(session: Session, name: str) -> UserRow:
    row = session.get(UserRow, name)
    if row is None:
        raise UnknownUser(f"there is no user {name[:80]!r}")
    return row


def _verify(hasher: PasswordHasher, stored: str, password: str) -> bool:
    try:
        return hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _check_name(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise StoreError(
            f"a user name is 1 to 64 letters, digits and . _ @ - (starting with a letter or "
            f"digit), not {name[:80]!r}"
        )
    if name.lower() in RESERVED_NAMES:
        raise StoreError(f"{name!r} is reserved for the workers' own log entries")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise StoreError(f"role must be one of {', '.join(ROLES)}, not {role!r}")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StoreError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
