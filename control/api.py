"""The admin REST API (FastAPI): status, replicas, failover, branches, point-in-time restore.

Every ``/v1`` route needs ``Authorization: Bearer <token>`` (the cluster dir's ``token``
file, or ``STRATA_ADMIN_TOKEN``). Every error is Problem JSON (RFC 9457) with content type
``application/problem+json``. The OpenAPI document is served at ``/openapi.json`` (UI at
``/docs``) and checked in as ``docs/openapi.json``; regenerate it with
``python3 -m strata control openapi > docs/openapi.json``.

(No ``from __future__ import annotations`` here: FastAPI reads the dependency annotations of
the closures below at run time.)
"""

import hmac
import json
from http import HTTPStatus
from typing import Annotated, Any, Literal, Protocol, Self

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from control.errors import ControlError, InvalidRequest
from control.reconciler import parse_lsn, parse_timestamp_us
from control.spec import MAX_REPLICAS

PROBLEM_JSON = "application/problem+json"
API_VERSION = "1"
NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class Controller(Protocol):
    """What the API drives: the reconciler in the daemon, a fake in tests."""

    def status(self) -> dict[str, Any]: ...

    def set_replicas(self, n: int) -> None: ...

    def failover(self, timeline: str | None = None) -> dict[str, Any]: ...

    def list_branches(self) -> list[dict[str, Any]]: ...

    def create_branch(self, name: str, lsn: int | None = None, timestamp_us: int | None = None,
                      timestamp_text: str = "", kind: str = "branch") -> dict[str, Any]: ...

    def delete_branch(self, name: str) -> None: ...

    def list_users(self) -> list[str]: ...

    def proxy_show(self, what: str) -> list[dict[str, Any]]: ...

    def create_user(self, name: str, password: str) -> None: ...

    def delete_user(self, name: str) -> None: ...


# -- models ----------------------------------------------------------------------------


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="For 422: each invalid field (loc, msg).")


class Component(BaseModel):
    kind: Literal["logstore", "pageserver", "compute", "proxy"]
    name: str
    role: Literal["primary", "replica", ""]
    pid: int
    address: str
    data_dir: str
    state: str = Field(description="pending | starting | running | backoff | failed | stopped")
    restarts: int
    detail: str
    timeline: str
    dsn: str | None = None
    term: int | None = None
    lsn: int | None = Field(default=None, description="Primary: durable LSN; replica: replay LSN.")
    lag_bytes: int | None = None
    node_state: str | None = Field(
        default=None, description="writable | read-only | fenced | no-quorum | promoting")


class Branch(BaseModel):
    name: str
    ancestor: str
    ancestor_lsn: int
    ancestor_lsn_text: str
    kind: Literal["branch", "restore"]
    created_at: str
    timestamp: str
    dsn: str
    state: str


class Status(BaseModel):
    phase: str
    detail: str
    dir: str
    tenant: str
    timeline: str
    replicas: int
    rest_address: str
    dsn: str = Field(description="The cluster's client endpoint: the proxy (with the first "
                                 "user's password when auth is scram).")
    local_dsn: str = Field("", description="The proxy through its Unix socket in the cluster's "
                                           "run/ directory (same machine: no TLS, the same "
                                           "password); empty when it has none.")
    primary_dsn: str = Field(description="The main timeline's primary compute, directly (no proxy).")
    components: list[Component]
    branches: list[Branch]


class ProxyPool(BaseModel):
    database: str
    user: str
    backend: str = Field(description="The compute's address.")
    role: str
    in_use: int = Field(description="Server connections lent to clients now.")
    idle: int
    waiting: int = Field(description="Clients queued for a server connection.")


class ProxyServer(BaseModel):
    address: str
    role: str
    healthy: bool
    replay_lsn: int
    outstanding: int = Field(description="Statements running on it through the proxy now.")


class User(BaseModel):
    name: str


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="1..63 characters of [A-Za-z0-9_]; `strata_` names are reserved.")
    password: str = Field(min_length=1, max_length=1024,
                          description="Kept only as a SCRAM-SHA-256 verifier.")


class Replicas(BaseModel):
    model_config = ConfigDict(extra="forbid")
    replicas: int = Field(ge=0, le=MAX_REPLICAS, description="Read replicas of the main timeline.")


class FailoverResult(BaseModel):
    primary: str
    previous: str
    dsn: str


class BranchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME_PATTERN)
    lsn: int | str | None = Field(
        default=None, description="Branch point: an integer or X/Y hex; default: latest commit.")
    timestamp: str | None = Field(default=None, description="Or: the last commit at this ISO 8601 time.")

    @model_validator(mode="after")
    def _one_point(self) -> Self:
        if self.lsn is not None and self.timestamp is not None:
            raise ValueError("give lsn or timestamp, not both")
        return self


class Restore(BranchCreate):
    @model_validator(mode="after")
    def _needs_point(self) -> Self:
        if self.lsn is None and self.timestamp is None:
            raise ValueError("a restore needs lsn or timestamp")
        return self


# -- errors ----------------------------------------------------------------------------


def _slug(title: str) -> str:
    return title.lower().replace(" ", "-")


def problem(status: int, detail: str, title: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    title = title or HTTPStatus(status).phrase
    body: dict[str, Any] = {"type": f"urn:strata:problem:{_slug(title)}", "title": title,
                            "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


class Unauthorized(Exception):
    pass


def _problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"model": Problem, "description": HTTPStatus(c).phrase,
                "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            for c in codes}


# -- the app ---------------------------------------------------------------------------


def create_app(controller: Controller, token: str) -> FastAPI:
    if not token:
        raise ValueError("the admin API needs a token")
    app = FastAPI(
        title="Strata admin API",
        version=API_VERSION,
        description="Control plane of one Strata cluster. Bearer-token auth on every /v1 "
                    "route; errors are RFC 9457 Problem JSON.",
    )
    bearer = HTTPBearer(auto_error=False, description="The cluster dir's `token` file.")

    def authorize(
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        if creds is None or creds.scheme.lower() != "bearer":
            raise Unauthorized("missing bearer token")
        if not hmac.compare_digest(creds.credentials.encode(), token.encode()):
            raise Unauthorized("wrong bearer token")

    @app.exception_handler(Unauthorized)
    async def _unauthorized(request: Request, exc: Unauthorized) -> JSONResponse:
        return problem(401, str(exc), headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(ControlError)
    async def _control(request: Request, exc: ControlError) -> JSONResponse:
        return problem(exc.status, str(exc), exc.title)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail),
                       headers=dict(exc.headers) if exc.headers else None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
                  for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors) or "invalid body"
        return problem(422, detail, "Invalid request", errors=errors)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        return problem(500, f"{type(exc).__name__}: {exc}")

    auth = [Depends(authorize)]
    common = _problem_responses(401)

    @app.get("/v1/status", response_model=Status, dependencies=auth, responses=common,
             summary="Cluster status: components, roles, LSNs, branches")
    def get_status() -> dict[str, Any]:
        return controller.status()

    @app.put("/v1/replicas", response_model=Replicas, dependencies=auth,
             responses=_problem_responses(401, 422), summary="Scale read replicas")
    def put_replicas(body: Replicas) -> dict[str, Any]:
        controller.set_replicas(body.replicas)
        return {"replicas": body.replicas}

    @app.post("/v1/failover", response_model=FailoverResult, dependencies=auth,
              responses=_problem_responses(401, 409, 503),
              summary="Promote the most caught-up replica; the primary becomes a replica")
    def post_failover() -> dict[str, Any]:
        return controller.failover()

    @app.get("/v1/branches", response_model=list[Branch], dependencies=auth, responses=common,
             summary="List branches")
    def get_branches() -> list[dict[str, Any]]:
        return controller.list_branches()

    def _create(body: BranchCreate, kind: str) -> dict[str, Any]:
        lsn = parse_lsn(body.lsn) if body.lsn is not None else None
        ts = parse_timestamp_us(body.timestamp) if body.timestamp is not None else None
        return controller.create_branch(body.name, lsn=lsn, timestamp_us=ts,
                                        timestamp_text=body.timestamp or "", kind=kind)

    @app.post("/v1/branches", response_model=Branch, status_code=201, dependencies=auth,
              responses=_problem_responses(401, 409, 422, 503),
              summary="Create a branch of main (at an LSN, a time, or the latest commit)")
    def post_branch(body: BranchCreate) -> dict[str, Any]:
        return _create(body, "branch")

    @app.delete("/v1/branches/{name}", status_code=204, dependencies=auth,
                responses=_problem_responses(401, 404, 409), summary="Delete a branch",
                response_class=Response)
    def delete_branch(name: str) -> Response:
        controller.delete_branch(name)
        return Response(status_code=204)

    @app.get("/v1/proxy/pools", response_model=list[ProxyPool], dependencies=auth,
             responses=_problem_responses(401, 503),
             summary="The proxy's connection pools (SHOW strata.pools)")
    def get_proxy_pools() -> list[dict[str, Any]]:
        return controller.proxy_show("pools")

    @app.get("/v1/proxy/servers", response_model=list[ProxyServer], dependencies=auth,
             responses=_problem_responses(401, 503),
             summary="The computes as the proxy sees them (SHOW strata.servers)")
    def get_proxy_servers() -> list[dict[str, Any]]:
        return controller.proxy_show("servers")

    @app.get("/v1/users", response_model=list[User], dependencies=auth, responses=common,
             summary="List database users (SCRAM-SHA-256 logins through the proxy)")
    def get_users() -> list[dict[str, Any]]:
        return [{"name": n} for n in controller.list_users()]

    @app.post("/v1/users", response_model=User, status_code=201, dependencies=auth,
              responses=_problem_responses(401, 409, 422), summary="Create a database user")
    def post_user(body: UserCreate) -> dict[str, Any]:
        controller.create_user(body.name, body.password)
        return {"name": body.name}

    @app.delete("/v1/users/{name}", status_code=204, dependencies=auth,
                responses=_problem_responses(401, 404, 422), summary="Delete a database user",
                response_class=Response)
    def delete_user(name: str) -> Response:
        controller.delete_user(name)
        return Response(status_code=204)

    @app.post("/v1/restore", response_model=Branch, status_code=201, dependencies=auth,
              responses=_problem_responses(401, 409, 422, 503),
              summary="Point-in-time restore of main into a new branch")
    def post_restore(body: Restore) -> dict[str, Any]:
        return _create(body, "restore")

    return app


def openapi_text(app: FastAPI) -> str:
    """The OpenAPI document as checked in (stable key order as FastAPI builds it)."""
    return json.dumps(app.openapi(), indent=2) + "\n"


class _NoController:
    """For rendering the OpenAPI document without a cluster."""

    def __getattr__(self, name: str) -> Any:
        raise InvalidRequest("no cluster")


def document_app() -> FastAPI:
    return create_app(_NoController(), token="unused")  # type: ignore[arg-type]
