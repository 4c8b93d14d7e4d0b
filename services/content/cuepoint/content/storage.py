"""Videos on Google Cloud Storage, through the real google-cloud-storage client.

Against the emulator (``STORAGE_EMULATOR_HOST``) the client is anonymous and signed URLs
are signed with a throwaway local key (the emulator does not check signatures); in
production the service account's credentials sign them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit
from datetime import timedelta
from typing import Any
from uuid import UUID

from google.api_core.exceptions import Conflict, NotFound
from google.auth.credentials import AnonymousCredentials
from google.auth.exceptions import DefaultCredentialsError
from google.cloud import storage

from cuepoint.runtime.errors import Unavailable

from .settings import ContentSettings


@dataclass(frozen=True)
class StoredObject:
    name: str
    size: int
    content_type: str | None
    crc32c: str | None
    md5: str | None


def object_name(tenant_id: UUID, video_id: UUID) -> str:
    """Chosen by the server, always under the tenant's prefix."""
    return f"tenants/{tenant_id}/videos/{video_id}/original"


def replacement_object_name(tenant_id: UUID, video_id: UUID, upload_id: UUID) -> str:
    """A new object for each replacement: published versions keep playing the file they name."""
    return f"tenants/{tenant_id}/videos/{video_id}/replacements/{upload_id}"


def thumbnail_object_name(tenant_id: UUID, file_name: str) -> str:
    """``file_name`` is the image's SHA-256 and extension: the same image is stored once."""
    return f"tenants/{tenant_id}/thumbnails/{file_name}"


def tenant_prefix(tenant_id: UUID) -> str:
    return f"tenants/{tenant_id}/"


class VideoStorage:
    def __init__(self, settings: ContentSettings) -> None:
        self.settings = settings
        self.emulated = bool(settings.storage_emulator_host)

    # Created on first use, not at start-up: the API answers health checks (and says what
    # is wrong) even where storage credentials are missing.
    @cached_property
    def client(self) -> storage.Client:
        if self.emulated:
            return storage.Client(project=self.settings.storage_project, credentials=AnonymousCredentials(),
                                  client_options={"api_endpoint": self.settings.storage_emulator_host})
        try:
            return storage.Client(project=self.settings.storage_project)
        except DefaultCredentialsError as error:
            raise Unavailable("object storage is not configured: set Google Cloud credentials, or "
                              "STORAGE_EMULATOR_HOST for the local emulator") from error

    @cached_property
    def _signer(self) -> Any:
        # Against the emulator a throwaway key signs; otherwise the service account does.
        return _local_signer() if self.emulated else None

    @cached_property
    def bucket(self) -> storage.Bucket:
        return self.client.bucket(self.settings.storage_bucket)

    @property
    def gs_prefix(self) -> str:
        return f"gs://{self.settings.storage_bucket}/"

    async def ensure_bucket(self) -> None:
        def create() -> None:
            try:
                self.client.create_bucket(self.settings.storage_bucket)
            except Conflict:
                pass
        await asyncio.to_thread(create)

    async def create_upload(self, name: str, *, content_type: str, size: int) -> str:
        """A resumable upload session bound to the content type and exact size."""
        blob = self.bucket.blob(name)
        url = await asyncio.to_thread(blob.create_resumable_upload_session, content_type=content_type, size=size)
        return self.public(url)

    async def stat(self, name: str) -> StoredObject | None:
        blob = await asyncio.to_thread(self.bucket.get_blob, name)
        if blob is None:
            return None
        return StoredObject(name=name, size=int(blob.size or 0), content_type=blob.content_type, crc32c=blob.crc32c,
                            md5=blob.md5_hash)

    async def download(self, name: str, destination: Path, *, max_bytes: int) -> None:
        """The object's first ``max_bytes`` bytes into a local file (never more, whatever it holds now)."""
        def fetch() -> None:
            with destination.open("wb") as file:
                self.bucket.blob(name).download_to_file(file, start=0, end=max_bytes - 1, checksum=None)
        await asyncio.to_thread(fetch)

    async def put(self, name: str, data: bytes, *, content_type: str) -> None:
        await asyncio.to_thread(self.bucket.blob(name).upload_from_string, data, content_type=content_type)

    async def read(self, name: str) -> bytes | None:
        def fetch() -> bytes | None:
            try:
                return self.bucket.blob(name).download_as_bytes()
            except NotFound:
                return None
        return await asyncio.to_thread(fetch)

    async def delete(self, name: str) -> None:
        def remove() -> None:
            try:
                self.bucket.blob(name).delete()
            except NotFound:
                pass
        await asyncio.to_thread(remove)

    async def read_url(self, name: str, minutes: int) -> str:
        blob = self.bucket.blob(name)
        options: dict[str, Any] = {"version": "v4", "expiration": timedelta(minutes=minutes), "method": "GET"}
        if self.emulated:
            options.update(credentials=self._signer, api_access_endpoint=self.settings.storage_emulator_host)
        return self.public(await asyncio.to_thread(blob.generate_signed_url, **options))

    def public(self, url: str) -> str:
        """The URL as a browser must use it: the emulator sends no CORS headers, so pages reach it
        through the gateway (same origin); real GCS URLs are left alone."""
        public, emulator = self.settings.storage_public_url, self.settings.storage_emulator_host
        if not public or not emulator:
            return url
        origin = urlsplit(emulator)
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != (origin.scheme, origin.netloc):
            return url
        return public.rstrip("/") + url[len(f"{parts.scheme}://{parts.netloc}"):]


def _local_signer() -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.oauth2 import service_account

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return service_account.Credentials.from_service_account_info({
        "type": "service_account", "client_email": "local-signer@cuepoint.local", "private_key": pem,
        "token_uri": "https://oauth2.googleapis.com/token", "project_id": "cuepoint-local"})
