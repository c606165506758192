"""The object store in an S3-compatible bucket (AWS, MinIO, Garage, moto), through aioboto3.

Keys are the filesystem backend's, under ``prefix/`` when the location has one. Every upload carries a SHA-256
checksum the server verifies (per part for multipart uploads) and is confirmed by its size afterwards; a put is
atomic on S3, so a reader never sees half an object, and a refused or failed multipart upload is aborted.

Transient failures (connection errors, 5xx, throttling) are retried by botocore's "standard" retry mode with
backoff; permanent ones (access denied, no such bucket) raise ``ObjectStoreError`` on the first answer.

An upload interrupted by a killed process leaves its parts in the bucket, billed and invisible;
``abort_stale_uploads`` removes those, and opening the store does it for uploads older than a day.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import hashlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import aioboto3
import aiohttp
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from addax.store.objects import CHUNK, ObjectMissing, ObjectStoreError, StoredObject, check_key

log = logging.getLogger("addax.store.s3")

MIB = 1 << 20
MIN_PART = 5 * MIB  # S3's smallest part (but the last)
MAX_PARTS = 10_000
MAX_COPY = 5 * 1024 * MIB  # the largest object one CopyObject copies
PARTS_IN_FLIGHT = 4  # parts uploaded at once: memory is bounded by this many parts
# An upload older than this belongs to no live writer, even a slow video upload from another machine.
STALE_UPLOAD_AGE = timedelta(days=1)

ATTEMPTS = 5  # botocore's standard retry mode: up to ~15 s of backoff in all, with jitter


def _client_config(attempts: int) -> BotoConfig:
    return BotoConfig(
        connect_timeout=10,
        read_timeout=60,
        retries={"mode": "standard", "max_attempts": attempts},
        s3={"addressing_style": "path"},  # MinIO, Garage and moto serve buckets under the endpoint's path
        signature_version="s3v4",  # also for signed links: SigV2 is refused by newer regions and servers
    )


Part = dict[str, Any]  # a completed part, as complete_multipart_upload takes it

MISSING_CODES = {"404", "NoSuchKey", "NotFound"}
DENIED_CODES = {"403", "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch"}


@dataclass(frozen=True, slots=True)
class S3Location:
    endpoint_url: str  # "" for AWS itself
    bucket: str
    prefix: str
    access_key: str  # "" for botocore's own credential chain (environment, instance role)
    secret_key: str
    region: str

    def __repr__(self) -> str:  # never the keys in a log or a traceback
        return f"S3Location({self.url!r} at {self.endpoint_url or 'AWS'!r})"

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"


def _b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "")) or str(
        error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
    )


class S3ObjectStore:
    """An ``ObjectStore`` on one bucket and prefix; made by ``open_s3_store``, which owns the client."""

    def __init__(self, client: Any, location: S3Location, *, multipart_threshold: int = 16 * MIB) -> None:
        if multipart_threshold < MIN_PART:
            raise ValueError(f"multipart_threshold must be at least {MIN_PART} bytes (S3's smallest part)")
        self._client = client
        self._bucket = location.bucket
        self._root = f"{location.prefix.strip('/')}/" if location.prefix.strip("/") else ""
        self._endpoint = location.endpoint_url or "AWS S3"
        self.multipart_threshold = multipart_threshold
        self.location = location.url

    def _key(self, key: str) -> str:
        return self._root + check_key(key)

    def _failure(self, error: Exception, what: str, key: str = "") -> ObjectStoreError | ObjectMissing:
        """The one-line error for a failed call; ``ObjectMissing`` for an absent ``key``."""
        if isinstance(error, ClientError):
            code = _code(error)
            if key and code in MISSING_CODES:
                return ObjectMissing(key)
            if code == "NoSuchBucket":
                return ObjectStoreError(f"bucket {self._bucket} at {self._endpoint}: does not exist")
            if code in DENIED_CODES:
                return ObjectStoreError(
                    f"{self.location}: {what} {key}: access denied ({code}): see storage.s3's keys, the bucket policy"
                )
            message = error.response.get("Error", {}).get("Message", "")
            return ObjectStoreError(f"{self.location}: {what} {key}: {code} {message}".rstrip())
        return ObjectStoreError(
            f"{self.location}: {what} {key}: {self._endpoint} unreachable ({error}); a retry may help"
        )

    async def check_bucket(self) -> None:
        """Raise a clear ``ObjectStoreError`` unless the bucket answers to our keys."""
        try:
            await self._client.head_bucket(Bucket=self._bucket)
        except ClientError as error:
            code = _code(error)
            why = {"404": "does not exist", "NoSuchBucket": "does not exist", "301": "is in another region"}.get(
                code, "access denied" if code in DENIED_CODES else f"refused ({code})"
            )
            raise ObjectStoreError(f"bucket {self._bucket} at {self._endpoint}: {why}") from None
        except NoCredentialsError:
            raise ObjectStoreError(
                f"bucket {self._bucket} at {self._endpoint}: no credentials (storage.s3.access_key, secret_key)"
            ) from None
        except BotoCoreError as error:
            raise ObjectStoreError(
                f"bucket {self._bucket} at {self._endpoint}: unreachable ({error}); a retry may help"
            ) from None

    async def presigned_url(self, key: str, expires_s: int) -> str:
        """A link that fetches the object without our keys until it expires (S3 signs for at most 7 days)."""
        try:
            url: str = await self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": self._key(key)}, ExpiresIn=expires_s
            )
        except (ClientError, BotoCoreError) as error:
            raise self._failure(error, "sign", key) from error
        return url

    async def _call(self, what: str, key: str, operation: str, **params: Any) -> Any:
        try:
            return await getattr(self._client, operation)(Bucket=self._bucket, **params)
        except (ClientError, BotoCoreError) as error:
            raise self._failure(error, what, key) from error

    async def exists(self, key: str) -> bool:
        try:
            await self.size(key)
        except ObjectMissing:
            return False
        return True

    async def size(self, key: str) -> int:
        head = await self._call("size of", key, "head_object", Key=self._key(key))
        return int(head["ContentLength"])

    async def stored_sha256(self, key: str) -> str | None:
        """The whole-object SHA-256 the server verified at upload (hex), when it kept one: single-part uploads.

        A multipart object's ETag ends in "-N" and its checksum, if any, is one of its parts' checksums.
        """
        head = await self._call("checksum of", key, "head_object", Key=self._key(key), ChecksumMode="ENABLED")
        checksum = head.get("ChecksumSHA256")
        if not checksum or "-" in head.get("ETag", "-") or head.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT":
            return None
        return base64.b64decode(checksum).hex()

    async def put_bytes(self, key: str, data: bytes) -> None:
        await self._put_object(key, data)
        await self._confirm(key, len(data))

    async def _put_object(self, key: str, data: bytes) -> None:
        """One PUT; the server refuses it unless the bytes it got have our SHA-256 (and then keeps that hash)."""
        await self._call(
            "put",
            key,
            "put_object",
            Key=self._key(key),
            Body=data,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=_b64_sha256(data),
        )

    async def put_file(self, key: str, source: Path) -> None:
        self._key(key)  # a bad key is refused before the file is read
        try:
            size = (await asyncio.to_thread(source.stat)).st_size
            if size <= self.multipart_threshold:
                data = await asyncio.to_thread(source.read_bytes)
                size = len(data)  # what was sent, should the file change under us
                await self._put_object(key, data)
            else:
                await self._put_multipart(key, source, size)
        except (ObjectStoreError, ObjectMissing):
            raise  # (ObjectMissing is an OSError too: not the source's)
        except OSError as error:
            raise ObjectStoreError(f"{key}: cannot read {source}: {error.strerror or error}") from error
        await self._confirm(key, size)

    async def _confirm(self, key: str, size: int) -> None:
        if (stored := await self.size(key)) != size:
            raise ObjectStoreError(f"{self.location}: {key} holds {stored} bytes after the upload of {size}")

    async def _put_multipart(self, key: str, source: Path, size: int) -> None:
        part_size = max(self.multipart_threshold, -(-size // MAX_PARTS))
        upload = await self._call(
            "start upload of", key, "create_multipart_upload", Key=self._key(key), ChecksumAlgorithm="SHA256"
        )
        upload_id = upload["UploadId"]
        try:
            parts = await self._upload_parts(key, source, upload_id, part_size)
            await self._call(
                "complete upload of",
                key,
                "complete_multipart_upload",
                Key=self._key(key),
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            # Shielded: a cancelled upload must still not leave its parts behind.
            try:
                await asyncio.shield(self._abort(key, upload_id))
            except (ObjectStoreError, asyncio.CancelledError):
                log.warning("could not abort the upload of %s; abort_stale_uploads will", key)
            raise

    async def _upload_parts(self, key: str, source: Path, upload_id: str, part_size: int) -> builtins.list[Part]:
        """Read and send parts, at most PARTS_IN_FLIGHT in memory at once."""
        parts: builtins.list[Part] = []
        slots = asyncio.Semaphore(PARTS_IN_FLIGHT)

        async def send(number: int, data: bytes) -> None:
            try:
                checksum = _b64_sha256(data)
                answer = await self._call(
                    f"part {number} of",
                    key,
                    "upload_part",
                    Key=self._key(key),
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=data,
                    ChecksumSHA256=checksum,
                )
                parts.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": checksum})
            finally:
                slots.release()

        with source.open("rb") as reader:
            try:
                async with asyncio.TaskGroup() as group:
                    for number in range(1, MAX_PARTS + 1):
                        await slots.acquire()
                        data = await asyncio.to_thread(_read_part, reader, part_size)
                        if not data:
                            slots.release()
                            break
                        group.create_task(send(number, data))
            except* (ObjectStoreError, OSError) as failed:
                raise _first(failed) from None
        return sorted(parts, key=lambda part: int(part["PartNumber"]))

    async def _abort(self, key: str, upload_id: str) -> None:
        await self._call("abort upload of", key, "abort_multipart_upload", Key=self._key(key), UploadId=upload_id)

    async def abort_stale_uploads(self, older_than: timedelta) -> int:
        """Abort the unfinished multipart uploads under our prefix started before ``older_than`` ago."""
        cutoff = datetime.now(UTC) - older_than
        aborted = 0
        try:
            async for page in self._client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self._bucket, Prefix=self._root
            ):
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] <= cutoff:
                        aborted += await self._abort_found(upload["Key"], upload["UploadId"])
        except (ClientError, BotoCoreError) as error:
            raise self._failure(error, "list uploads in") from error
        if aborted:
            log.info("aborted %d unfinished multipart upload(s) in %s", aborted, self.location)
        return aborted

    async def _abort_found(self, bucket_key: str, upload_id: str) -> int:
        try:
            await self._client.abort_multipart_upload(Bucket=self._bucket, Key=bucket_key, UploadId=upload_id)
        except ClientError as error:
            if _code(error) == "NoSuchUpload":  # completed or aborted meanwhile, by another process
                return 0
            raise
        return 1

    async def read(self, key: str) -> bytes:
        return b"".join([chunk async for chunk in self.stream(key)])

    async def stream(
        self, key: str, chunk_size: int = CHUNK, *, on_size: Callable[[int], None] | None = None
    ) -> AsyncGenerator[bytes, None]:
        answer = await self._call("read", key, "get_object", Key=self._key(key))
        body = answer["Body"]
        try:
            if on_size is not None:
                on_size(int(answer["ContentLength"]))
            # At most chunk_size bytes at a time; the body checks it got Content-Length bytes in all.
            while chunk := await body.read(chunk_size):
                yield chunk
        # aiobotocore maps a timeout or a dropped connection to BotoCoreError, but not a body cut short
        # (aiohttp's ClientPayloadError: fewer bytes than Content-Length before the server hung up).
        except (BotoCoreError, aiohttp.ClientError) as error:
            raise ObjectStoreError(f"{self.location}: read {key}: cut off ({error}); a retry may help") from error
        finally:
            body.close()  # a reader that stops early must not leave the connection half read

    async def delete(self, key: str) -> None:
        await self._call("delete", key, "delete_object", Key=self._key(key))  # S3 answers 204 for an absent key

    async def move(self, old_key: str, new_key: str) -> None:
        size = await self.size(old_key)
        if old_key == new_key:
            return
        if size > MAX_COPY:
            raise ObjectStoreError(
                f"{self.location}: cannot move {old_key}: {size} bytes is above S3's 5 GB copy limit"
            )
        await self._call(
            "move",
            old_key,
            "copy_object",
            Key=self._key(new_key),
            CopySource={"Bucket": self._bucket, "Key": self._key(old_key)},
        )
        await self.delete(old_key)

    async def list(self, prefix: str = "") -> AsyncGenerator[StoredObject, None]:
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=self._root + prefix)
        try:
            async for page in pages:
                for item in page.get("Contents", []):
                    yield StoredObject(item["Key"][len(self._root) :], int(item["Size"]))
        except (ClientError, BotoCoreError) as error:
            raise self._failure(error, "list", prefix) from error


def _first(group: BaseExceptionGroup[Exception]) -> Exception:
    """The first failure of a task group, which is what the caller's one-line message is about."""
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first


def _read_part(reader: BinaryIO, size: int) -> bytes:
    return reader.read(size)


@asynccontextmanager
async def open_s3_store(
    location: S3Location,
    *,
    multipart_threshold: int = 16 * MIB,
    stale_upload_age: timedelta = STALE_UPLOAD_AGE,
    attempts: int = ATTEMPTS,
) -> AsyncIterator[S3ObjectStore]:
    """The bucket as an object store, for the life of the block: one client, its bucket checked reachable."""
    session = aioboto3.Session(
        aws_access_key_id=location.access_key or None,
        aws_secret_access_key=location.secret_key or None,
        region_name=location.region or None,
    )
    endpoint = location.endpoint_url or None
    async with session.client("s3", endpoint_url=endpoint, config=_client_config(attempts)) as client:
        store = S3ObjectStore(client, location, multipart_threshold=multipart_threshold)
        await store.check_bucket()
        try:
            await store.abort_stale_uploads(stale_upload_age)
        except ObjectStoreError as error:  # housekeeping: a key that may not list uploads can still store objects
            log.warning("could not look for unfinished uploads: %s", error)
        yield store
