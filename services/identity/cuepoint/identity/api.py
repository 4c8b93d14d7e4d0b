"""identity's HTTP API: routes parse the request into a command, call a use case or a view, and
answer a schema.

No `from __future__ import annotations` here: FastAPI resolves the routes' annotations, and some name
dependencies local to ``routers``."""

import uuid
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from cuepoint.runtime.api_models import MAX_OFFSET, Page
from cuepoint.runtime.auth import CurrentUser, Role, TokenVerifier, authentication, require_platform_admin, require_role
from cuepoint.runtime.errors import Invalid

from . import views
from .domain.preferences import Preferences
from .schemas import (
    AcceptedOut,
    ConfigIn,
    ConfigOut,
    DataExportOut,
    EmailChangeIn,
    InvitationIn,
    InvitationOut,
    JwksOut,
    LoginIn,
    PasswordChangeIn,
    PasswordResetConfirmIn,
    PasswordResetIn,
    ProfileIn,
    RefreshIn,
    RegisterIn,
    ResendIn,
    RoleIn,
    RoleName,
    SessionOut,
    TenantIn,
    TenantOut,
    TokenIn,
    TokenOut,
    UnsubscribedOut,
    UserExportOut,
    UserOut,
)
from .use_cases import accounts, configs, exports, passwords, preferences, sign_in, tenants, users
from .use_cases import sessions as auth_sessions
from .sensitive import SensitiveFields
from .use_cases.sessions import ClientInfo, TokenPair

if TYPE_CHECKING:
    from .bootstrap import Identity


def _tokens(pair: TokenPair) -> TokenOut:
    return TokenOut(access_token=pair.access_token, token_type=pair.token_type, expires_in=pair.expires_in,
                    refresh_token=pair.refresh_token, session_id=pair.session_id)


def _client(request: Request, device_id: str | None = None) -> ClientInfo:
    return ClientInfo(ip_address=request.client.host if request.client else None,
                      user_agent=request.headers.get("user-agent"), device_id=device_id)


def _user(user: Any) -> UserOut:
    return UserOut.model_validate(user)


def routers(identity: "Identity", verifier: TokenVerifier, jwks: Any) -> list[APIRouter]:
    units, db, mail, settings = identity.units, identity.sessions, identity.mail, identity.settings
    hashing, keys = identity.passwords, identity.keys
    fields = SensitiveFields(identity.keyring)  # what the views open stored emails and session clients with
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

    tenant_routes = APIRouter(prefix="/v1/tenants", tags=["tenants (platform admin)"])

    @tenant_routes.post("", status_code=201, response_model=TenantOut)
    async def create_tenant(body: TenantIn, actor: Annotated[CurrentUser, Depends(platform_admin)]) -> Any:
        command = tenants.CreateTenant(actor, body.slug, body.name, admin_email=body.admin_email)
        return await tenants.create_tenant(command, units, mail=mail, settings=settings)

    @tenant_routes.get("", response_model=Page[TenantOut])
    async def list_tenants(_: Annotated[CurrentUser, Depends(platform_admin)], limit: int = limit_q,
                           offset: int = offset_q) -> Any:
        items, total = await views.tenants(db, limit=limit, offset=offset)
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    @tenant_routes.post("/{tenant_id}/suspend", response_model=TenantOut)
    async def suspend(tenant_id: uuid.UUID, actor: Annotated[CurrentUser, Depends(platform_admin)]) -> Any:
        async with units(tenant_id) as uow:
            return await tenants.set_tenant_status(tenants.SetTenantStatus(actor, tenant_id, "SUSPENDED"), uow)

    @tenant_routes.post("/{tenant_id}/reactivate", response_model=TenantOut)
    async def reactivate_tenant(tenant_id: uuid.UUID, actor: Annotated[CurrentUser, Depends(platform_admin)]) -> Any:
        async with units(tenant_id) as uow:
            return await tenants.set_tenant_status(tenants.SetTenantStatus(actor, tenant_id, "ACTIVE"), uow)

    auth = APIRouter(prefix="/v1/auth", tags=["authentication"])

    @auth.post("/register", status_code=201, response_model=UserOut,
               summary="Create an account: with an invitation token, 201 and the account with the invited role; "
                       "without one, 202 whether or not the email has an account (the address gets the "
                       "verification link, or a note that it has an account already)",
               responses={202: {"model": AcceptedOut, "description": "Self-registration: check your email"}})
    async def register(body: RegisterIn, request: Request) -> Any:
        user = await accounts.register(
            accounts.Register(body.tenant, body.email, body.password, body.display_name, body.invitation_token),
            units, passwords=hashing, mail=mail, settings=settings)
        if body.invitation_token:
            return _user(user)
        return JSONResponse(AcceptedOut(status="accepted", detail="check your email to go on").model_dump(),
                            status_code=202)

    @auth.post("/verify-email", response_model=UserOut)
    async def verify_email(body: TokenIn) -> Any:
        return _user(await accounts.verify_email(accounts.VerifyEmail(body.token), units))

    @auth.post("/resend-verification", status_code=202, response_model=AcceptedOut,
               summary="Send a new verification email (if one is due)")
    async def resend(body: ResendIn) -> Any:
        await accounts.resend_verification(accounts.ResendVerification(body.tenant, body.email), units, mail=mail,
                                           settings=settings)
        return {"status": "accepted", "detail": "if an unverified account exists, an email is on its way"}

    @auth.post("/login", response_model=TokenOut)
    async def login(body: LoginIn, request: Request) -> Any:
        command = sign_in.SignIn(body.tenant, body.email, body.password, _client(request, body.device_id))
        return _tokens(await sign_in.sign_in(command, units, passwords=hashing, keys=keys, settings=settings))

    @auth.post("/refresh", response_model=TokenOut, summary="Rotate the refresh token; a reused one ends the session")
    async def refresh(body: RefreshIn) -> Any:
        command = auth_sessions.Refresh(body.refresh_token)
        return _tokens(await auth_sessions.refresh(command, units, keys=keys, settings=settings))

    @auth.post("/logout", status_code=204)
    async def logout(actor: User) -> Response:
        await auth_sessions.logout(auth_sessions.Logout(actor), units)
        return Response(status_code=204)

    @auth.get("/sessions", response_model=list[SessionOut])
    async def sessions(actor: User) -> Any:
        return await views.auth_sessions(db, actor, fields=fields)

    @auth.delete("/sessions/{session_id}", status_code=204)
    async def revoke(session_id: uuid.UUID, actor: User) -> Response:
        async with units(actor.tenant_id) as uow:
            await auth_sessions.revoke_session(auth_sessions.RevokeSession(actor, session_id), uow)
        return Response(status_code=204)

    @auth.post("/password", status_code=204, summary="Change my password; my other sessions end")
    async def change_password(body: PasswordChangeIn, actor: User) -> Response:
        await passwords.change_password(passwords.ChangePassword(actor, body.current_password, body.new_password),
                                        units, passwords=hashing)
        return Response(status_code=204)

    @auth.post("/password-reset", status_code=202, response_model=AcceptedOut,
               summary="Email a password-reset link (the same answer whether or not the account exists)")
    async def request_password_reset(body: PasswordResetIn) -> Any:
        await passwords.request_password_reset(passwords.RequestPasswordReset(body.tenant, body.email), units,
                                               mail=mail, settings=settings)
        return {"status": "accepted", "detail": "if an account with this email exists, a reset link is on its way"}

    @auth.post("/password-reset/confirm", status_code=204,
               summary="Choose a new password with the emailed link (single-use; every session ends)")
    async def reset_password(body: PasswordResetConfirmIn) -> Response:
        await passwords.reset_password(passwords.ResetPassword(body.token, body.new_password), units,
                                       passwords=hashing, mail=mail)
        return Response(status_code=204)

    @auth.post("/email-change/confirm", response_model=UserOut,
               summary="Confirm a new email address with the link sent to it")
    async def confirm_email_change(body: TokenIn) -> Any:
        return _user(await passwords.confirm_email_change(passwords.ConfirmEmailChange(body.token), units))

    user_routes = APIRouter(prefix="/v1/users", tags=["users"])

    @user_routes.get("/me", response_model=UserOut)
    async def me(actor: User) -> Any:
        return await views.user(db, actor, actor.id, fields=fields)

    @user_routes.patch("/me", response_model=UserOut)
    async def update_me(body: ProfileIn, actor: User) -> Any:
        async with units(actor.tenant_id) as uow:
            return _user(await users.update_profile(users.UpdateProfile(actor, body.display_name), uow))

    @user_routes.post("/me/email", status_code=202, response_model=AcceptedOut,
                summary="Change my email address: a confirmation link goes to the new one")
    async def change_email(body: EmailChangeIn, actor: User) -> Any:
        await passwords.request_email_change(passwords.RequestEmailChange(actor, body.new_email, body.current_password),
                                             units, passwords=hashing, mail=mail, settings=settings)
        return {"status": "accepted", "detail": "follow the link sent to the new address to finish the change"}

    @user_routes.get("/me/preferences", response_model=Preferences)
    async def get_preferences(actor: User) -> Any:
        return await views.preferences(db, actor)

    @user_routes.patch("/me/preferences", response_model=Preferences,
                       summary="Change some preferences (partial document)")
    async def patch_preferences(body: dict[str, Any], actor: User) -> Any:
        async with units(actor.tenant_id) as uow:
            return await preferences.update_preferences(preferences.UpdatePreferences(actor, body), uow)

    @user_routes.get("/me/export", response_model=UserExportOut, summary="Everything identity holds about me, as JSON")
    async def export_me(actor: User) -> Any:
        async with units(actor.tenant_id) as uow:
            return await users.export_user(users.ExportUser(actor, actor.id), uow)

    box = keys.box

    async def request_export(actor: CurrentUser, user_id: uuid.UUID) -> Any:
        async with units(actor.tenant_id) as uow:
            export = await exports.request_export(exports.RequestExport(actor, user_id), uow, box=box)
        return await views.data_export(db, actor, user_id, export.id)

    def archive_response(stored: str, export_id: uuid.UUID) -> Response:
        return Response(exports.open_archive(stored, export_id, box=box), media_type="application/zip", headers={
            "Content-Disposition": f'attachment; filename="cuepoint-export-{export_id}.zip"',
            "Cache-Control": "no-store"})

    archive_answer: dict[int | str, Any] = {200: {"description": "The archive", "content": {
        "application/zip": {"schema": {"type": "string", "format": "binary"}}}}}
    export_summary = ("Export everything every service keeps about {whom}: assembled from each service's part "
                      "into one archive; follow its status, then download it")

    @user_routes.post("/me/exports", status_code=202, response_model=DataExportOut,
                      summary=export_summary.format(whom="me"))
    async def request_my_export(actor: User) -> Any:
        return await request_export(actor, actor.id)

    @user_routes.get("/me/exports", response_model=Page[DataExportOut], summary="My data exports, newest first")
    async def my_exports(actor: User, limit: int = limit_q, offset: int = offset_q) -> Any:
        items, total = await views.data_exports(db, actor, actor.id, limit=limit, offset=offset)
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    @user_routes.get("/me/exports/{export_id}", response_model=DataExportOut, summary="One of my data exports")
    async def my_export(export_id: uuid.UUID, actor: User) -> Any:
        return await views.data_export(db, actor, actor.id, export_id)

    @user_routes.get("/me/exports/{export_id}/archive", response_class=Response,
                     summary="Download a ready export: a ZIP of one JSON file per service and a README "
                             "(409 while assembling, 410 once expired)",
                     responses=archive_answer)
    async def my_export_archive(export_id: uuid.UUID, actor: User) -> Response:
        return archive_response(await views.data_export_archive(db, actor, actor.id, export_id), export_id)

    @user_routes.post("/me/erase", status_code=204, summary="Erase my personal data (irreversible)")
    async def erase_me(actor: User) -> Response:
        async with units(actor.tenant_id) as uow:
            await users.erase_user(users.EraseUser(actor, actor.id), uow)
        return Response(status_code=204)

    @user_routes.get("", response_model=Page[UserOut], summary="List and search users (admin)")
    async def list_users(actor: Admin, q: str | None = Query(default=None, max_length=200),
                         role: RoleName | None = None,
                         status: Literal["ACTIVE", "DEACTIVATED", "ERASED"] | None = None,
                         limit: int = limit_q, offset: int = offset_q) -> Any:
        items, total = await views.users(db, actor, query=q, role=role, status=status, limit=limit, offset=offset,
                                         fields=fields)
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    @user_routes.get("/{user_id}", response_model=UserOut)
    async def get_user(user_id: uuid.UUID, actor: User) -> Any:
        return await views.user(db, actor, user_id, fields=fields)

    @user_routes.put("/{user_id}/role", response_model=UserOut)
    async def change_role(user_id: uuid.UUID, body: RoleIn, actor: Admin) -> Any:
        async with units(actor.tenant_id) as uow:
            return _user(await users.change_role(users.ChangeRole(actor, user_id, body.role), uow))

    @user_routes.post("/{user_id}/deactivate", response_model=UserOut)
    async def deactivate(user_id: uuid.UUID, actor: Admin) -> Any:
        async with units(actor.tenant_id) as uow:
            return _user(await users.set_user_status(users.SetUserStatus(actor, user_id, active=False), uow))

    @user_routes.post("/{user_id}/reactivate", response_model=UserOut)
    async def reactivate(user_id: uuid.UUID, actor: Admin) -> Any:
        async with units(actor.tenant_id) as uow:
            return _user(await users.set_user_status(users.SetUserStatus(actor, user_id, active=True), uow))

    @user_routes.get("/{user_id}/export", response_model=UserExportOut,
                     summary="Everything identity holds about a user (admin)")
    async def export_user(user_id: uuid.UUID, actor: Admin) -> Any:
        async with units(actor.tenant_id) as uow:
            return await users.export_user(users.ExportUser(actor, user_id), uow)

    @user_routes.post("/{user_id}/exports", status_code=202, response_model=DataExportOut,
                      summary=export_summary.format(whom="a user") + " (admin)")
    async def request_user_export(user_id: uuid.UUID, actor: Admin) -> Any:
        return await request_export(actor, user_id)

    @user_routes.get("/{user_id}/exports", response_model=Page[DataExportOut],
                     summary="A user's data exports, newest first (admin)")
    async def user_exports(user_id: uuid.UUID, actor: Admin, limit: int = limit_q, offset: int = offset_q) -> Any:
        items, total = await views.data_exports(db, actor, user_id, limit=limit, offset=offset)
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    @user_routes.get("/{user_id}/exports/{export_id}", response_model=DataExportOut,
                     summary="One of a user's data exports (admin)")
    async def user_export(user_id: uuid.UUID, export_id: uuid.UUID, actor: Admin) -> Any:
        return await views.data_export(db, actor, user_id, export_id)

    @user_routes.get("/{user_id}/exports/{export_id}/archive", response_class=Response,
                     summary="Download a user's ready export (admin)",
                     responses=archive_answer)
    async def user_export_archive(user_id: uuid.UUID, export_id: uuid.UUID, actor: Admin) -> Response:
        return archive_response(await views.data_export_archive(db, actor, user_id, export_id), export_id)

    @user_routes.post("/{user_id}/erase", status_code=204)
    async def erase_user(user_id: uuid.UUID, actor: Admin) -> Response:
        async with units(actor.tenant_id) as uow:
            await users.erase_user(users.EraseUser(actor, user_id), uow)
        return Response(status_code=204)

    invitations = APIRouter(prefix="/v1/invitations", tags=["users"])

    @invitations.post("", status_code=201, response_model=InvitationOut,
                      summary="Invite by email (admins: teachers and students; teachers: students)")
    async def invite(body: InvitationIn, actor: Annotated[CurrentUser, Depends(teacher)]) -> Any:
        return await accounts.invite(accounts.Invite(actor, body.email, body.role), units, mail=mail, settings=settings)

    notifications = APIRouter(prefix="/v1/notifications", tags=["users"])

    @notifications.post("/unsubscribe", response_model=UnsubscribedOut,
                        summary="Stop one kind of notification email, with the link from such an email (no sign-in)")
    async def unsubscribe(body: TokenIn) -> Any:
        notification = await preferences.unsubscribe(preferences.Unsubscribe(body.token), units,
                                                     key=identity.unsubscribe_key)
        return {"notification": notification, "subscribed": False}

    config_routes = APIRouter(prefix="/v1/system-configs", tags=["system configuration"])

    @config_routes.get("", response_model=list[ConfigOut], summary="Every config key, its effective value and source")
    async def list_configs(actor: Admin) -> Any:
        return await views.system_configs(db, actor)

    @config_routes.put("/{key}", response_model=list[ConfigOut], summary="Set this organisation's value")
    async def set_config(key: str, body: ConfigIn, actor: Admin) -> Any:
        if body.value is None:
            raise Invalid("value must not be null; DELETE the key to return to the default")
        async with units(actor.tenant_id) as uow:
            await configs.set_config(configs.SetConfig(actor, key, body.value), uow)
        return await views.system_configs(db, actor)

    @config_routes.delete("/{key}", response_model=list[ConfigOut], summary="Return to the platform value or default")
    async def reset_config(key: str, actor: Admin) -> Any:
        async with units(actor.tenant_id) as uow:
            await configs.set_config(configs.SetConfig(actor, key, None), uow)
        return await views.system_configs(db, actor)

    platform_configs = APIRouter(prefix="/v1/platform/system-configs", tags=["system configuration"])

    @platform_configs.put("/{key}", status_code=204, summary="Set the platform-wide value (platform admin)")
    async def set_platform_config(key: str, body: ConfigIn,
                                  actor: Annotated[CurrentUser, Depends(platform_admin)]) -> Response:
        async with units(actor.tenant_id) as uow:
            await configs.set_config(configs.SetConfig(actor, key, body.value, platform=True), uow)
        return Response(status_code=204)

    return [well_known, tenant_routes, auth, user_routes, invitations, notifications, config_routes, platform_configs]
