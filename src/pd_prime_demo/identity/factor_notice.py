"""The mail telling a user a second factor was added to their account.

A factor enrolled by someone else (a stolen session) is the start of an account takeover:
the owner hears of it at once, at the address of the account, and can act (reset the password,
ask an administrator for an MFA reset).
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity import mailbox
from pd_prime_demo.identity.models import User

_NAMES = {"totp": "an authenticator app", "webauthn": "a passkey"}


async def notify_factor_added(
    session: AsyncSession, rt: Runtime, user: User, method: Literal["totp", "webauthn"]
) -> None:
    # Within identity's per-recipient cap like every identity mail (a burst of enrolments
    # sends the first few notices, which is what the owner needs).
    await mailbox.queue_limited(
        session,
        rt,
        kind="factor_added",
        to=user.email,
        subject="A second factor was added to your PD Prime account",
        body=(
            f"Hello,\n\n{_NAMES[method]} was just added as a second factor of your PD Prime "
            "account. If it was not you, reset your password now and ask an administrator to "
            "reset your second factors: "
            f"{rt.settings.public_base_url.rstrip('/')}/account/reset-password\n"
        ),
    )
