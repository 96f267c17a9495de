"""`botbuilder admin grant|revoke EMAIL`: the platform admin role (marketplace review), which
no API can give, so only whoever runs the platform's command line hands it out."""

from __future__ import annotations

import asyncio
import sys

from sqlalchemy import update

from models.db import make_engine, make_session_factory
from models.tenancy_tables import User


async def set_platform_admin(database_url: str, email: str, admin: bool) -> bool:
    """Whether a user with this email exists (and now has the role as asked)."""
    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine).begin() as session:
            found = await session.scalar(
                update(User)
                .where(User.email == email.strip().lower())
                .values(platform_admin=admin)
                .returning(User.id)
            )
        return found is not None
    finally:
        await engine.dispose()


def run_admin(database_url: str, action: str, email: str) -> int:
    """The exit code: 0 when the role changed, 1 when no user has that email."""
    if not asyncio.run(set_platform_admin(database_url, email, action == "grant")):
        print(f"error: no user with the email {email!r}", file=sys.stderr)
        return 1
    verb = "is now" if action == "grant" else "is no longer"
    print(f"{email} {verb} a platform admin")
    return 0
