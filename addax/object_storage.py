"""The object store a config asks for: a directory or a bucket, with a cold tier behind it when one is set."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from addax.config import Config
from addax.store.object_fs import FilesystemObjectStore
from addax.store.objects import ObjectStore

if TYPE_CHECKING:
    from addax.store.object_s3 import S3Location

PROBE_KEY = "addax-probe"  # never written: asking for it checks the store answers


async def ping(store: ObjectStore) -> None:
    await store.exists(PROBE_KEY)


def objects_dir(config: Config) -> Path:
    """The filesystem backend's directory (``storage.backend = "fs"``)."""
    return config.data_path / "objects"


def s3_location(config: Config, url: str = "") -> S3Location:
    """``[storage.s3]``'s bucket, or the bucket and prefix of an ``s3://bucket/prefix`` URL on the same endpoint."""
    from addax.store.object_s3 import S3Location  # aioboto3 loads only for a bucket

    s3 = config.storage.s3
    bucket, prefix = s3.bucket, ""
    if url:
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
    return S3Location(
        endpoint_url=s3.endpoint_url,
        bucket=bucket,
        prefix=prefix.strip("/"),
        access_key=s3.access_key,
        secret_key=s3.secret_key,
        region=s3.region,
    )


@asynccontextmanager
async def open_location(config: Config, where: str) -> AsyncIterator[ObjectStore]:
    """``fs`` (the data dir's objects/), ``s3`` (the configured bucket), ``s3://bucket/prefix`` or a directory."""
    if where == "fs":
        yield FilesystemObjectStore(objects_dir(config))
    elif where == "s3" or where.startswith("s3://"):
        from addax.store.object_s3 import open_s3_store

        location = s3_location(config, "" if where == "s3" else where)
        async with open_s3_store(location, multipart_threshold=config.storage.s3.multipart_mb * 2**20) as bucket:
            yield bucket
    else:
        yield FilesystemObjectStore(Path(where).expanduser())


@asynccontextmanager
async def open_objects(config: Config) -> AsyncIterator[ObjectStore]:
    """The service's object store: ``storage.backend``, and ``storage.cold`` as its cold tier when set."""
    async with AsyncExitStack() as stack:
        hot = await stack.enter_async_context(open_location(config, config.storage.backend))
        if not config.storage.cold:
            yield hot
            return
        cold = await stack.enter_async_context(open_location(config, config.storage.cold))
        from addax.store.object_tiers import TieredObjectStore

        yield TieredObjectStore(hot=hot, cold=cold)
