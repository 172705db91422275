"""JWT bearer authentication and role checks (PyJWT).

Development tokens are HS256 with `LTC_JWT_SECRET`; production verifies RS256 tokens against the
keys at `LTC_JWT_JWKS_URL`. Roles come only from the verified token, never from a request body.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ltc.shared.errors import ProblemError
from ltc.shared.roles import Principal, Role
from ltc.shared.settings import DEFAULT_JWT_SECRET, ServiceSettings


class TokenVerifier:
    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url) if settings.jwt_jwks_url else None

    def verify(self, token: str) -> Principal:
        # Before any decoding: a signed token of megabytes would otherwise be decoded, parsed and
        # verified whole. A token travels in one header field, so the field's bound is its bound.
        if len(token) > self._settings.max_header_field_bytes:
            raise ProblemError(401, "invalid-token", "Unauthorized",
                               f"the bearer token is longer than {self._settings.max_header_field_bytes} characters")
        options = {"require": ["sub", "exp", "iss", "aud"]}
        try:
            if self._jwks is not None:
                key = self._jwks.get_signing_key_from_jwt(token).key
                claims = jwt.decode(
                    token, key, algorithms=["RS256"], audience=self._settings.jwt_audience,
                    issuer=self._settings.jwt_issuer, options=options,
                )
            else:
                claims = jwt.decode(
                    token, self._settings.jwt_secret, algorithms=["HS256"],
                    audience=self._settings.jwt_audience, issuer=self._settings.jwt_issuer, options=options,
                )
        except jwt.PyJWTError as exc:
            raise ProblemError(401, "invalid-token", "Unauthorized", f"invalid bearer token: {exc}") from None
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise ProblemError(401, "invalid-token", "Unauthorized", "the roles claim must be a list of strings")
        sub = str(claims["sub"])
        if not 0 < len(sub) <= 200:  # it is stored as owner, actor, created_by: VARCHAR(200)
            raise ProblemError(401, "invalid-token", "Unauthorized", "the sub claim must be 1 to 200 characters")
        return Principal(sub=sub, roles=frozenset(roles))


_bearer = HTTPBearer(auto_error=False)


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ProblemError(401, "missing-token", "Unauthorized", "an Authorization: Bearer token is required")
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier.verify(credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> Callable[..., Principal]:
    """Dependency: the caller must hold at least one of `roles`."""
    allowed = {r.value for r in roles}

    async def _check(principal: CurrentPrincipal) -> Principal:
        if not principal.roles.intersection(allowed):
            raise ProblemError(
                403, "forbidden-role", "Forbidden",
                f"this action needs one of the roles {sorted(allowed)}",
            )
        return principal

    _check.ltc_roles = tuple(sorted(allowed))  # type: ignore[attr-defined]  # read by ltc.shared.openapi
    return _check


def mint_token(
    sub: str, roles: list[str], *, secret: str = DEFAULT_JWT_SECRET, issuer: str = "ltc-dev",
    audience: str = "ltc", ttl_seconds: int = 8 * 3600,
) -> str:
    now = int(time.time())
    claims = {"sub": sub, "roles": roles, "iss": issuer, "aud": audience, "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, secret, algorithm="HS256")


def mint_token_cli() -> None:
    """`ltc-token --sub alice --roles ar,sr`: print a development token (HS256)."""
    settings = ServiceSettings()
    parser = argparse.ArgumentParser(description="Mint a development JWT for the LTC services")
    parser.add_argument("--sub", required=True, help="the user id")
    parser.add_argument("--roles", required=True, help="comma-separated roles: " + ",".join(r.value for r in Role))
    parser.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds")
    args = parser.parse_args()
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    unknown = sorted(set(roles) - {r.value for r in Role})
    if unknown:
        parser.error(f"unknown roles: {unknown}")
    print(mint_token(args.sub, roles, secret=settings.jwt_secret, issuer=settings.jwt_issuer,
                     audience=settings.jwt_audience, ttl_seconds=args.ttl))
