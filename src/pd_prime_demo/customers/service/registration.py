"""Self-registration: a policyholder signs up for a login and the customer record it owns."""

from __future__ import annotations

from beartype import beartype
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.crypto import FieldCipher, PasswordHashing
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result
from pd_prime_demo.customers.enums import CustomerKind
from pd_prime_demo.customers.models import Customer
from pd_prime_demo.customers.schemas import PersonCreate, RegistrationCreate
from pd_prime_demo.customers.service.write import create_customer
from pd_prime_demo.identity import service as identity


@beartype
async def register(
    session: AsyncSession,
    data: RegistrationCreate,
    *,
    passwords: PasswordHashing,
    cipher: FieldCipher,
) -> Result[tuple[Actor, Customer], DomainError]:
    """Self-registration: a customer login and the person record it owns, in one transaction."""
    registrar = Actor.system("registration")
    match await identity.create_user(
        session,
        email=str(data.email),
        password=data.password,
        full_name=f"{data.first_name} {data.last_name}",
        role=Role.CUSTOMER,
        passwords=passwords,
        actor=registrar,
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
        session, person, actor=registrar, cipher=cipher, owner_user_id=user.id
    ):
        case Err() as err:
            return err
        case Ok(customer):
            return Ok((identity.actor_for_user(user), customer))
    raise AssertionError("unreachable")  # pragma: no cover
