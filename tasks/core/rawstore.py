"""Where the raw captures lie: a local folder, or a prefix in object storage (`s3://bucket/prefix`) whose
objects are listed and read here through pyarrow's S3 filesystem (the local files: tasks/discover.py).

pyarrow's S3FileSystem reads the credentials from the usual AWS variables but not the endpoint
(AWS_ENDPOINT_URL): it went to amazonaws.com. So the filesystem is built here from the variables
deltalake reads for the archive, AWS_ALLOW_HTTP included, and a raw bucket is reached as the archive is.
"""

from __future__ import annotations

import errno
import hashlib
import os
from functools import lru_cache
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

from tasks.core.folders import RawFolderError, is_object_store

if TYPE_CHECKING:
    from pyarrow.fs import S3FileSystem

# Objects up to this size are read in one request; a larger one is hashed as a stream, not held.
_CHUNK_BYTES = 1 << 20
GONE = "the object disappeared between listing and reading"


class RawObject(NamedTuple):
    """An object found under the raw prefix: its URI, and the size and time the listing gives (no ETag there)."""

    uri: str  # scheme://bucket/key, as the raw folder was named (s3:// or s3a://)
    size_bytes: int
    mtime_ns: int


def object_path(uri: str) -> str:
    """`bucket/key` of `s3://bucket/key`: the path pyarrow's filesystem takes."""
    return uri.split("://", 1)[1].strip("/")


def s3_filesystem() -> S3FileSystem:
    """The S3 filesystem the AWS variables describe (one per process and setting)."""
    env = os.environ
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or ""
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""
    allow_http = env.get("AWS_ALLOW_HTTP", "").lower() in ("1", "true", "yes")
    return _filesystem(endpoint, region, allow_http)


@lru_cache(maxsize=4)
def _filesystem(endpoint: str, region: str, allow_http: bool) -> S3FileSystem:
    from pyarrow.fs import S3FileSystem

    if not endpoint:
        return S3FileSystem(region=region) if region else S3FileSystem()
    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    if parts.scheme == "http" and not allow_http:  # deltalake refuses it for the archive too
        raise RawFolderError(f"AWS_ENDPOINT_URL {endpoint!r} is plain http: set AWS_ALLOW_HTTP=true to use it")
    options = {"region": region} if region else {}
    return S3FileSystem(endpoint_override=parts.netloc, scheme=parts.scheme, **options)


def raw_folder_problem(raw_dir: str) -> str | None:
    """Why the raw folder cannot be listed at all, or None: then there is no run to make."""
    if is_object_store(raw_dir):
        return prefix_problem(raw_dir)
    try:
        with os.scandir(raw_dir):
            return None
    except FileNotFoundError:
        return f"raw directory {raw_dir!r} does not exist"
    except NotADirectoryError:
        return f"raw directory {raw_dir!r} is not a directory"
    except OSError as err:
        return f"raw directory {raw_dir!r} cannot be listed: {err.strerror or err}"


def prefix_problem(root: str) -> str | None:
    """Why the raw prefix cannot be listed (no bucket, nothing under the prefix, no access), or None."""
    bucket = object_path(root).split("/", 1)[0]
    try:
        fs = s3_filesystem()
        if not bucket or fs.get_file_info(bucket).type.name == "NotFound":
            return f"raw directory {root!r}: the bucket {bucket!r} does not exist"
        kind = fs.get_file_info(object_path(root)).type.name
    except OSError as err:
        return f"raw directory {root!r} cannot be listed: {_aws_error(err)}"
    if kind == "NotFound":  # object storage has no empty folders: a prefix is there when objects are
        return f"raw directory {root!r} does not exist: no object lies under the prefix"
    if kind == "File":
        return f"raw directory {root!r} is an object, not a prefix"
    return None


def list_objects(root: str) -> list[RawObject]:
    """Every object below the prefix `root`, sorted by URI; hidden names and folder markers skipped, as on disk.

    A prefix that cannot be listed ends the stage (RawFolderError), as a local raw folder does.
    """
    from pyarrow.fs import FileSelector, FileType

    scheme = root.split("://", 1)[0]
    base = object_path(root)
    try:
        infos = s3_filesystem().get_file_info(FileSelector(base, recursive=True))
    except OSError as err:
        problem = prefix_problem(root) or f"raw directory {root!r} cannot be listed: {_aws_error(err)}"
        raise RawFolderError(problem, OSError(_errno_of(err), problem)) from err
    found = [
        RawObject(f"{scheme}://{info.path}", info.size or 0, info.mtime_ns or 0)
        for info in infos
        if info.type == FileType.File and not _hidden(info.path[len(base) :])
    ]
    return sorted(found)


def _hidden(name: str) -> bool:
    return any(part.startswith(".") for part in PurePosixPath(name).parts)


def read_object(uri: str, *, max_bytes: int) -> tuple[bytes | None, str, int]:
    """An object's bytes (None when larger than `max_bytes`: hashed as a stream, not held), sha256 and size."""
    with s3_filesystem().open_input_stream(object_path(uri)) as stream:
        size = int(stream.metadata().get("Content-Length", b"0") or 0)
        if size <= max_bytes:
            data = stream.readall()
            return data, hashlib.sha256(data).hexdigest(), len(data)
        digest, size = hashlib.sha256(), 0
        while chunk := stream.read(_CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
        return None, digest.hexdigest(), size


def read_object_bytes(uri: str) -> bytes:
    """The bytes of one object."""
    with s3_filesystem().open_input_stream(object_path(uri)) as stream:
        data: bytes = stream.readall()
    return data


def read_problem(err: OSError) -> str:
    """Why one object could not be read, in the words of the local reader's reasons."""
    if isinstance(err, FileNotFoundError):
        return GONE
    text = str(err)
    if "ACCESS_DENIED" in text or "AccessDenied" in text:
        return "no permission to read the object"
    return f"cannot read the object: {_aws_error(err)}"


def bucket_problem(uri: str) -> str | None:
    """Why the bucket of `uri` cannot be reached from this machine, or None."""
    bucket = object_path(uri).split("/", 1)[0]
    try:
        found = s3_filesystem().get_file_info(bucket).type.name != "NotFound"
    except OSError as err:
        return f"the raw bucket {bucket!r} cannot be reached: {_aws_error(err)}"
    return None if found else f"the raw bucket {bucket!r} does not exist"


def _aws_error(err: OSError) -> str:
    """pyarrow's message without the request id (a different one every time)."""
    return str(err).split(" (Request ID", 1)[0]


def _errno_of(err: OSError) -> int | None:
    """ENOENT or EACCES for the errors a retry does not mend; None (retried) for the others."""
    text = str(err)
    if isinstance(err, FileNotFoundError) or "NO_SUCH_BUCKET" in text:
        return errno.ENOENT
    if "ACCESS_DENIED" in text or "AccessDenied" in text:
        return errno.EACCES
    return None
