"""Secrets outside the local stack: never the published development secret, never short.

`pipeline dev` marks its services with PIPELINE_ENV=local; everywhere else (the default) a
service refuses to start with a secret anyone could guess.
"""

from collections.abc import Iterable

from pydantic import SecretStr

# Published in the README and devtools/stack.py: never a secret outside `pipeline dev`.
PUBLISHED_DEV_SECRETS = frozenset({"dev-secret-change-me"})
MIN_SECRET_CHARS = 32
HOW_TO_GENERATE = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class WeakSecretError(ValueError):
    """A secret the service must not start with; the message names it and says what to do."""


def refuse_weak_secrets(local: bool, secrets: Iterable[tuple[str, SecretStr | None]]) -> None:
    """Raise WeakSecretError for the first weak secret, unless running in the local stack.

    `secrets` pairs each environment variable's name with its value (None: not set).
    """
    if local:
        return
    for name, secret in secrets:
        if secret is None:
            continue
        value = secret.get_secret_value()
        if value in PUBLISHED_DEV_SECRETS:
            raise WeakSecretError(
                f"{name} is the published development secret; outside the local stack "
                f"(PIPELINE_ENV=local, set by `pipeline dev`) use your own: {HOW_TO_GENERATE}"
            )
        if len(value) < MIN_SECRET_CHARS:
            raise WeakSecretError(
                f"{name} is {len(value)} characters; at least {MIN_SECRET_CHARS} are needed "
                f"outside the local stack: {HOW_TO_GENERATE}"
            )
