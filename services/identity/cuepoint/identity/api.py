"""identity's HTTP API: routes parse, call a use case, and answer."""


import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import EmailStr, Field

from cuepoint.runtime.api_models import MAX_OFFSET, Out, Page, Strict
from cuepoint.runtime.auth import CurrentUser, Role, TokenVerifier, authentication, require_platform_admin, require_role
from cuepoint.runtime.errors import Invalid

from .domain.preferences import Preferences
from .handlers import ClientInfo, Identity, TokenPair
from .schemas import (
    RoleName,
    Slug,
    Password,
    DisplayName,
    TenantIn,
    TenantOut,
    RegisterIn,
    UserOut,
    LoginIn,
    TokenOut,
    RefreshIn,
    TokenIn,
    ResendIn,
    SessionOut,
    PasswordChangeIn,
    PasswordResetIn,
    PasswordResetConfirmIn,
    EmailChangeIn,
    UnsubscribedOut,
    ProfileIn,
    InvitationIn,
    InvitationOut,
    RoleIn,
    ConfigOut,
    ConfigIn,
    Jwk,
    JwksOut,
    AcceptedOut,
    ExportedUser,
    ExportedSession,
    ExportedInvitation,
    UserExportOut,
)

def _tokens(pair: TokenPair) -> TokenOut:
    return TokenOut(access_token=pair.access_token, token_type=pair.token_type, expires_in=pair.expires_in,
                    refresh_token=pair.refresh_token, session_id=pair.session_id)


def _client(request: Request, device_id: str | None = None) -> ClientInfo:
    return ClientInfo(ip_address=request.client.host if request.client else None,
                      user_agent=request.headers.get("user-agent"), device_id=device_id)


def _user(row: Any) -> UserOut:
    return UserOut.model_validate(row._mapping, from_attributes=False)


def routers(identity: Identity, verifier: TokenVerifier, jwks: Any) -> list[APIRouter]:
    authenticated = authentication(lambda request: verifier)
    admin = require_role(authenticated, Role.ADMIN)
    teacher = require_role(authenticated, Role.TEACHER)
    platform_admin = require_platform_admin(authenticated)
    User = Annotated[CurrentUser, Depends(authenticated)]
    Admin = Annotated[CurrentUser, Depends(admin)]
    limit_q = Query(default=50, ge=1, le=200)
    offset_q = Query(default=0, ge=0, le=MAX_OFFSET)

    well_known = APIRouter(tags=["keys"])

    @well_known.get("/.well-known/jwks.json", response_model=JwksOut, summary="Public keys that verify access tokens")
    async def jwks_document(response: Response) -> Any:
        response.headers["Cache-Control"] = "public, max-age=300"
        return await jwks()

    tenants = APIRouter(prefix="/v1/tenants", tags=["tenants (platform admin)"])

    @tenants.post("", status_code=201, response_model=TenantOut)
    async def create_tenant(body: TenantIn, actor: Annotated[CurrentUser, Depends(platform_admin)]) -> Any:
        return (await identity.create_tenant(actor, slug=body.slug, name=body.name, admin_email=body.admin_email))._mapping

    @tenants.get("", response_model=Page[TenantOut])
    async def list_tenants(_: Annotated[CurrentUser, Depends(platform_admin)], limit: int = limit_q,
                           offset: int = offset_q) -> Any:
        rows, total = await identity.list_tenants(limit=limit, offset=offset)
        return {"items": [r._mapping for r in rows], "total": total, "limit": limit, "offset": offset}

    @tenants.post("/{tenant_id}/suspend", response_model=TenantOut)
    async def suspend(tenant_id: uuid.UUID, actor: Annotated[CurrentUser, Depends(platform_admin)]) -> Any:
        return (await identity.set_tenant_status(actor, tenant_id, "SUSPENDED"))._mapping

    @tenants.post("/{tenant_id}/reactivate", response_model=TenantOut)
    async def reactivate_tenant(tenant_id: uuid.UUID, actor: Annotated[CurrentUser, Depends(platform_admin)]) -> Any:
        return (await identity.set_tenant_status(actor, tenant_id, "ACTIVE"))._mapping

    auth = APIRouter(prefix="/v1/auth", tags=["authentication"])

    @auth.post("/register", status_code=201, response_model=UserOut,
               summary="Create an account: with an invitation token, 201 and the account with the invited role; "
                       "without one, 202 whether or not the email has an account (the address gets the "
                       "verification link, or a note that it has an account already)",
               responses={202: {"model": AcceptedOut, "description": "Self-registration: check your email"}})
    async def register(body: RegisterIn, request: Request) -> Any:
        user = await identity.register(tenant_slug=body.tenant, email=body.email, password=body.password,
                                       display_name=body.display_name, invitation_token=body.invitation_token,
                                       client=_client(request))
        if body.invitation_token:
            return _user(user)
        return JSONResponse(AcceptedOut(status="accepted", detail="check your email to go on").model_dump(),
                            status_code=202)

    @auth.post("/verify-email", response_model=UserOut)
    async def verify_email(body: TokenIn) -> Any:
        return _user(await identity.verify_email(body.token))

    @auth.post("/resend-verification", status_code=202, response_model=AcceptedOut,
               summary="Send a new verification email (if one is due)")
    async def resend(body: ResendIn) -> Any:
        await identity.resend_verification(tenant_slug=body.tenant, email=body.email)
        return {"status": "accepted", "detail": "if an unverified account exists, an email is on its way"}

    @auth.post("/login", response_model=TokenOut)
    async def login(body: LoginIn, request: Request) -> Any:
        return _tokens(await identity.login(tenant_slug=body.tenant, email=body.email, password=body.password,
                                            client=_client(request, body.device_id)))

    @auth.post("/refresh", response_model=TokenOut, summary="Rotate the refresh token; a reused one ends the session")
    async def refresh(body: RefreshIn) -> Any:
        return _tokens(await identity.refresh(body.refresh_token))

    @auth.post("/logout", status_code=204)
    async def logout(actor: User) -> Response:
        await identity.logout(actor)
        return Response(status_code=204)

    @auth.get("/sessions", response_model=list[SessionOut])
    async def sessions(actor: User) -> Any:
        return [SessionOut(**row._mapping, current=row.id == actor.session_id)
                for row in await identity.list_sessions(actor)]

    @auth.delete("/sessions/{session_id}", status_code=204)
    async def revoke(session_id: uuid.UUID, actor: User) -> Response:
        await identity.revoke_session(actor, session_id)
        return Response(status_code=204)

    @auth.post("/password", status_code=204, summary="Change my password; my other sessions end")
    async def change_password(body: PasswordChangeIn, actor: User) -> Response:
        await identity.change_password(actor, current_password=body.current_password, new_password=body.new_password)
        return Response(status_code=204)

    @auth.post("/password-reset", status_code=202, response_model=AcceptedOut,
               summary="Email a password-reset link (the same answer whether or not the account exists)")
    async def request_password_reset(body: PasswordResetIn) -> Any:
        await identity.request_password_reset(tenant_slug=body.tenant, email=body.email)
        return {"status": "accepted", "detail": "if an account with this email exists, a reset link is on its way"}

    @auth.post("/password-reset/confirm", status_code=204,
               summary="Choose a new password with the emailed link (single-use; every session ends)")
    async def reset_password(body: PasswordResetConfirmIn) -> Response:
        await identity.reset_password(body.token, body.new_password)
        return Response(status_code=204)

    @auth.post("/email-change/confirm", response_model=UserOut,
               summary="Confirm a new email address with the link sent to it")
    async def confirm_email_change(body: TokenIn) -> Any:
        return _user(await identity.confirm_email_change(body.token))

    users = APIRouter(prefix="/v1/users", tags=["users"])

    @users.get("/me", response_model=UserOut)
    async def me(actor: User) -> Any:
        return _user(await identity.get_user(actor, actor.id))

    @users.patch("/me", response_model=UserOut)
    async def update_me(body: ProfileIn, actor: User) -> Any:
        return _user(await identity.update_profile(actor, display_name=body.display_name))

    @users.post("/me/email", status_code=202, response_model=AcceptedOut,
                summary="Change my email address: a confirmation link goes to the new one")
    async def change_email(body: EmailChangeIn, actor: User) -> Any:
        await identity.request_email_change(actor, new_email=body.new_email, current_password=body.current_password)
        return {"status": "accepted", "detail": "follow the link sent to the new address to finish the change"}

    @users.get("/me/preferences", response_model=Preferences)
    async def get_preferences(actor: User) -> Any:
        return await identity.preferences(actor)

    @users.patch("/me/preferences", response_model=Preferences, summary="Change some preferences (partial document)")
    async def patch_preferences(body: dict[str, Any], actor: User) -> Any:
        return await identity.update_preferences(actor, body)

    @users.get("/me/export", response_model=UserExportOut, summary="Everything identity holds about me, as JSON")
    async def export_me(actor: User) -> Any:
        return await identity.export(actor, actor.id)

    @users.post("/me/erase", status_code=204, summary="Erase my personal data (irreversible)")
    async def erase_me(actor: User) -> Response:
        await identity.erase(actor, actor.id)
        return Response(status_code=204)

    @users.get("", response_model=Page[UserOut], summary="List and search users (admin)")
    async def list_users(actor: Admin, q: str | None = Query(default=None, max_length=200),
                         role: RoleName | None = None,
                         status: Literal["ACTIVE", "DEACTIVATED", "ERASED"] | None = None,
                         limit: int = limit_q, offset: int = offset_q) -> Any:
        rows, total = await identity.list_users(actor, query=q, role=role, status=status, limit=limit, offset=offset)
        return {"items": [_user(r) for r in rows], "total": total, "limit": limit, "offset": offset}

    @users.get("/{user_id}", response_model=UserOut)
    async def get_user(user_id: uuid.UUID, actor: User) -> Any:
        return _user(await identity.get_user(actor, user_id))

    @users.put("/{user_id}/role", response_model=UserOut)
    async def change_role(user_id: uuid.UUID, body: RoleIn, actor: Admin) -> Any:
        return _user(await identity.change_role(actor, user_id, body.role))

    @users.post("/{user_id}/deactivate", response_model=UserOut)
    async def deactivate(user_id: uuid.UUID, actor: Admin) -> Any:
        return _user(await identity.set_user_status(actor, user_id, active=False))

    @users.post("/{user_id}/reactivate", response_model=UserOut)
    async def reactivate(user_id: uuid.UUID, actor: Admin) -> Any:
        return _user(await identity.set_user_status(actor, user_id, active=True))

    @users.get("/{user_id}/export", response_model=UserExportOut, summary="Everything identity holds about a user "
                                                                          "(admin)")
    async def export_user(user_id: uuid.UUID, actor: Admin) -> Any:
        return await identity.export(actor, user_id)

    @users.post("/{user_id}/erase", status_code=204)
    async def erase_user(user_id: uuid.UUID, actor: Admin) -> Response:
        await identity.erase(actor, user_id)
        return Response(status_code=204)

    invitations = APIRouter(prefix="/v1/invitations", tags=["users"])

    @invitations.post("", status_code=201, response_model=InvitationOut,
                      summary="Invite by email (admins: teachers and students; teachers: students)")
    async def invite(body: InvitationIn, actor: Annotated[CurrentUser, Depends(teacher)]) -> Any:
        return (await identity.invite(actor, email=body.email, role=body.role))._mapping

    notifications = APIRouter(prefix="/v1/notifications", tags=["users"])

    @notifications.post("/unsubscribe", response_model=UnsubscribedOut,
                        summary="Stop one kind of notification email, with the link from such an email (no sign-in)")
    async def unsubscribe(body: TokenIn) -> Any:
        return {"notification": await identity.unsubscribe(body.token), "subscribed": False}

    configs = APIRouter(prefix="/v1/system-configs", tags=["system configuration"])

    @configs.get("", response_model=list[ConfigOut], summary="Every config key, its effective value and source")
    async def list_configs(actor: Admin) -> Any:
        return await identity.list_configs(actor)

    @configs.put("/{key}", response_model=list[ConfigOut], summary="Set this organisation's value")
    async def set_config(key: str, body: ConfigIn, actor: Admin) -> Any:
        if body.value is None:
            raise Invalid("value must not be null; DELETE the key to return to the default")
        await identity.set_config(actor, key, body.value)
        return await identity.list_configs(actor)

    @configs.delete("/{key}", response_model=list[ConfigOut], summary="Return to the platform value or default")
    async def reset_config(key: str, actor: Admin) -> Any:
        await identity.set_config(actor, key, None)
        return await identity.list_configs(actor)

    platform_configs = APIRouter(prefix="/v1/platform/system-configs", tags=["system configuration"])

    @platform_configs.put("/{key}", status_code=204, summary="Set the platform-wide value (platform admin)")
    async def set_platform_config(key: str, body: ConfigIn,
                                  actor: Annotated[CurrentUser, Depends(platform_admin)]) -> Response:
        await identity.set_config(actor, key, body.value, platform=True)
        return Response(status_code=204)

    return [well_known, tenants, auth, users, invitations, notifications, configs, platform_configs]
