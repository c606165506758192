"""A resumable HTTP(S) download into a ``.part`` file, with a progress bar.

Running the same download again continues from the part with a Range request; a server that ignores Range
(or a file that changed) answers with the whole file, which replaces the part. Checking the result is the
caller's job.
"""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
from tqdm import tqdm

from addax import __version__

CHUNK = 1 << 20


class DownloadError(Exception):
    """A download that did not complete, naming the URL and saying what to do."""


async def download(url: str, part: Path) -> None:
    """Fetch ``url`` into ``part``, continuing what an earlier run left there.

    A part the server cannot continue (a range it does not grant, or a part longer than the file) is
    dropped and the download starts over, once.
    """
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=120)
    headers = {"User-Agent": f"addax/{__version__}", "Accept-Encoding": "identity"}
    async with aiohttp.ClientSession(timeout=timeout, headers=headers, auto_decompress=False) as session:
        for _ in range(2):
            if await _download_once(session, url, part):
                return
            part.unlink(missing_ok=True)
    raise DownloadError(f"{url}: the server answers with ranges it was not asked for")


async def _download_once(session: aiohttp.ClientSession, url: str, part: Path) -> bool:
    """True once ``part`` holds the whole file; False when the part cannot be continued."""
    have = part.stat().st_size if part.exists() else 0
    try:
        async with session.get(url, headers={"Range": f"bytes={have}-"} if have else {}) as response:
            if response.status == 416 and have:
                return _range_total(response) == have  # the part was complete already
            if response.status == 206 and have and _range_start(response) == have:
                start = have
            elif response.status == 200:
                start = 0  # no Range support (or a changed file): start over
            elif response.status == 206:
                return False
            else:
                raise DownloadError(f"{url}: HTTP {response.status} {response.reason}")
            total = start + response.content_length if response.content_length is not None else None
            await _save(response, part, start=start, total=total)
    except (aiohttp.ClientError, TimeoutError) as error:
        got = part.stat().st_size if part.exists() else 0
        reason = str(error) or type(error).__name__
        if not got:
            raise DownloadError(f"{url}: cannot download ({reason})") from None
        raise DownloadError(
            f"{url}: download stopped after {got} bytes ({reason}); run the same command again to continue from {part}"
        ) from None
    return True


async def _save(response: aiohttp.ClientResponse, part: Path, *, start: int, total: int | None) -> None:
    with (
        part.open("ab" if start else "wb") as out,
        tqdm(total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=part.name) as bar,
    ):
        async for chunk in response.content.iter_chunked(CHUNK):
            out.write(chunk)
            bar.update(len(chunk))


def _range_start(response: aiohttp.ClientResponse) -> int | None:
    match = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("Content-Range", "").strip())
    return int(match.group(1)) if match else None


def _range_total(response: aiohttp.ClientResponse) -> int | None:
    match = re.fullmatch(r"bytes \*/(\d+)", response.headers.get("Content-Range", "").strip())
    return int(match.group(1)) if match else None
