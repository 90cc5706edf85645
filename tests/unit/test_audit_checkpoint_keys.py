"""The checkpoint key: generated once outside production, required and checked in production."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from pd_prime_demo.core.checkpoint_keys import (
    generate_pem,
    generated_key_file,
    key_id,
    load_checkpoint_keys,
    public_pem,
)
from pd_prime_demo.core.config import Environment, Settings
from pd_prime_demo.core.secret_policy import checkpoint_key_problems


def _settings(tmp_path: Path, env: Environment, **values: object) -> Settings:
    return Settings.model_validate({"env": env, "data_dir": tmp_path, **values})


def test_outside_production_a_key_is_generated_once_and_only_to_sign(tmp_path: Path) -> None:
    dev = _settings(tmp_path, Environment.DEVELOPMENT)
    assert load_checkpoint_keys(dev).signing is None, "reading keys generates none"
    assert not generated_key_file(dev).exists()
    first = load_checkpoint_keys(dev, for_signing=True)
    again = load_checkpoint_keys(dev, for_signing=True)
    assert first.signing_kid is not None
    assert first.signing_kid == again.signing_kid
    assert generated_key_file(dev).stat().st_mode & 0o077 == 0, "readable by the owner only"
    assert load_checkpoint_keys(dev).signing_kid == first.signing_kid


def test_production_requires_a_checkpoint_key_that_loads(tmp_path: Path) -> None:
    production = _settings(tmp_path, Environment.PRODUCTION)
    assert load_checkpoint_keys(production, for_signing=True).signing is None
    assert checkpoint_key_problems(production) == [
        "no audit checkpoint key: set PD_PRIME_AUDIT_CHECKPOINT_KEY (Ed25519 PEM) or "
        "PD_PRIME_AUDIT_CHECKPOINT_KEY_FILE"
    ]
    broken = production.model_copy(update={"audit_checkpoint_key": SecretStr("not a key")})
    assert checkpoint_key_problems(broken) == [
        "PD_PRIME_AUDIT_CHECKPOINT_KEY is not a PEM private key"
    ]
    missing = production.model_copy(update={"audit_checkpoint_key_file": tmp_path / "none.pem"})
    (problem,) = checkpoint_key_problems(missing)
    assert problem.startswith("PD_PRIME_AUDIT_CHECKPOINT_KEY_FILE")
    fresh = production.model_copy(update={"audit_checkpoint_key": SecretStr(generate_pem())})
    assert checkpoint_key_problems(fresh) == []


def test_production_refuses_the_key_demo_mode_generated(tmp_path: Path) -> None:
    demo = _settings(tmp_path, Environment.DEMO)
    load_checkpoint_keys(demo, for_signing=True)
    pem = generated_key_file(demo).read_text("ascii")
    production = _settings(tmp_path, Environment.PRODUCTION, audit_checkpoint_key=SecretStr(pem))
    assert checkpoint_key_problems(production) == [
        f"PD_PRIME_AUDIT_CHECKPOINT_KEY is demo key material (from {generated_key_file(demo)})"
    ]


def test_retired_public_keys_are_trusted_beside_the_signing_key(tmp_path: Path) -> None:
    old = load_checkpoint_keys(
        _settings(tmp_path, Environment.PRODUCTION, audit_checkpoint_key=SecretStr(generate_pem()))
    ).signing
    assert old is not None
    rotated = _settings(
        tmp_path,
        Environment.PRODUCTION,
        audit_checkpoint_key=SecretStr(generate_pem()),
        audit_checkpoint_public_keys=[public_pem(old)],
    )
    keys = load_checkpoint_keys(rotated)
    assert keys.signing_kid is not None
    assert set(keys.trusted) == {key_id(old.public_key()), keys.signing_kid}
