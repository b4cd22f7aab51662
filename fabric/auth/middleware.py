"""Authentication: every request but health checks and tus discovery carries a valid bearer token.

With `--no-auth` (the default of `fabric serve` on a loopback address) every caller is one local user, an
admin of the organisation `local`.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from fabric.auth.tokens import InvalidToken, Principal, local_principal, verify_token
from fabric.problems import problem
from fabric.urns import DEFAULT_NAMESPACE

LOCAL_PRINCIPAL = local_principal()
PUBLIC_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/", "/v1/auth/exchange", "/v1/download"}
)
PUBLIC_PREFIXES = ("/portal/assets/",)  # the portal's page and files: signing in happens inside it
# `/v1/download` carries its own proof (a signed, short-lived download link): see fabric.download_links.


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class AuthMiddleware:
    def __init__(
        self, app: ASGIApp, *, secret: bytes | None, no_auth: bool, namespace: str = DEFAULT_NAMESPACE
    ) -> None:
        self.app = app
        self.secret = secret
        self.no_auth = no_auth
        self.namespace = namespace
        self.local = local_principal(namespace)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if self.no_auth:
            state["principal"] = self.local
        elif not is_public(scope["path"]) and scope["method"] != "OPTIONS":
            try:
                state["principal"] = self._authenticate(HTTPConnection(scope))
            except InvalidToken as exc:
                response = problem(
                    401, "Unauthorized", str(exc), headers={"WWW-Authenticate": 'Bearer realm="datafabric"'}
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _authenticate(self, connection: HTTPConnection) -> Principal:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken("send 'Authorization: Bearer <token>' (fabric token create mints one)")
        assert self.secret is not None
        return verify_token(self.secret, token.strip(), self.namespace)


def principal_of(connection: HTTPConnection) -> Principal:
    """The authenticated caller of a request (set by AuthMiddleware)."""
    principal = connection.scope.get("state", {}).get("principal")
    if not isinstance(principal, Principal):
        raise InvalidToken("this request is not authenticated")
    return principal
