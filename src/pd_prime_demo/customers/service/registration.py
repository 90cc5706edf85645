"""Self-registration: a policyholder signs up for a login and the customer record it owns.

Registration never tells whether an address already has an account (OWASP ASVS 5.0 V6.3,
account enumeration): both cases answer alike, do the same work, and send a message to the
address, so only its owner learns which case it was. For a taken address the same work is a
login and customer record for a throwaway address, made under a savepoint that then rolls back
(review S3: the new account's second password check, inserts and encryptions told the cases
apart by time). A new login stays closed until
the link in that message is followed; an address with an account gets a notice pointing at the
password reset instead.
"""

from __future__ import annotations

import uuid

from beartype import beartype
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock, locks
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.customers import repository
from pd_prime_demo.customers.enums import CustomerKind
from pd_prime_demo.customers.schemas import PersonCreate, RegistrationCreate
from pd_prime_demo.customers.service.write import create_customer
from pd_prime_demo.identity import service as identity


@beartype
async def register(
    session: AsyncSession, data: RegistrationCreate, *, rt: Runtime
) -> Result[None, DomainError]:
    """A customer login (unverified) and the person record it owns, in one transaction, or,
    for an address already taken, a notice to that address; Ok either way."""
    email = identity.normalise_email(str(data.email))
    full_name = f"{data.first_name} {data.last_name}"
    if problem := identity.weak_password(data.password, email=email, full_name=full_name):
        return Err(problem)
    # Two sign-ups with one e-mail: the second waits for the first, then finds the address taken.
    await locks.lock(session, f"user-email:{email}")
    if await identity.find_by_email(session, email) is not None:
        # The same cost as a new account (no timing tell), undone: nothing of it stays.
        # (an address of the same domain that nobody holds; its mail rolls back unsent)
        decoy = f"{uuid.uuid4().hex}@{email.rpartition('@')[2]}"
        savepoint = await session.begin_nested()
        try:
            await _create(session, data.model_copy(update={"email": decoy}), decoy, rt=rt)
        finally:
            await savepoint.rollback()
        await identity.send_already_registered(session, rt, email)
        return Ok(None)
    return await _create(session, data, email, rt=rt)


async def _create(
    session: AsyncSession, data: RegistrationCreate, email: str, *, rt: Runtime
) -> Result[None, DomainError]:
    """The unverified login, the person record it owns, and the verification mail."""
    registrar = Actor.system("registration")
    full_name = f"{data.first_name} {data.last_name}"
    match await identity.create_user(
        session,
        email=email,
        password=data.password,
        full_name=full_name,
        role=Role.CUSTOMER,
        passwords=rt.passwords,
        actor=registrar,
        email_verified=False,
    ):
        case Err() as err:
            return err
        case Ok(user):
            pass
    person = PersonCreate(
        kind=CustomerKind.PERSON,
        first_name=data.first_name,
        last_name=data.last_name,
        email=data.email,
        phone=data.phone,
        address=data.address,
        date_of_birth=data.date_of_birth,
    )
    match await create_customer(
        session, person, actor=registrar, cipher=rt.cipher, owner_user_id=user.id
    ):
        case Err() as err:
            return err
        case Ok(_):
            pass
    await identity.send_verification(session, rt, user)
    return Ok(None)


@beartype
async def confirm_email_change(
    session: AsyncSession, *, token: str, rt: Runtime
) -> Result[None, DomainError]:
    """Follow the link sent to a new address: the login moves to it, and so does the e-mail of
    the customer records the login owns (they always carry the login's address)."""
    match await identity.confirm_email_change(session, rt, token=token):
        case Err() as err:
            return err
        case Ok((user, _old)):
            pass
    for customer in await repository.owned_by(session, user.id):
        customer.email = user.email
        customer.updated_at = clock.now()
        await repository.save(session, customer)
        await audit.record(
            session,
            Actor.system("email-change"),
            "customer.updated",
            "customer",
            str(customer.id),
            {"fields": ["email"], "version": customer.version},
        )
    return Ok(None)
