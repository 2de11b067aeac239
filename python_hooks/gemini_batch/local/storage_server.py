"""Run gcp-storage-emulator so that it also serves objects other local services wrote straight into its folder.

On Google Cloud, BigQuery's `EXPORT DATA` writes Cloud Storage objects that every client then lists and reads. On the
local stack bqemulator writes an export as files under BQEMU_GCS_LOCAL_ROOT, which `local up` points at this
emulator's folder (`<data dir>/.cloudstorage/<bucket>/<name>`), but gcp-storage-emulator only knows the objects
uploaded through its API (it keeps their metadata in memory and in `.meta`). So a listing or a get first adopts the
files of the bucket's folder it has no metadata for: each becomes an object with its size and checksums, as if
uploaded. Nothing else changes; deleting an adopted object deletes its file.

Two more things Cloud Storage does that gcp-storage-emulator does not: a bucket keeps the location it was created in
(Google upper-cases it, e.g. `US-CENTRAL1`; without one a bucket is in the `US` multi-region), which BigQuery exports
and loads must match; and buckets.testIamPermissions answers from the stack's IAM file (gemini_batch.local.iam).

Usage: python -m gemini_batch.local.storage_server --data-dir DIR start --host 127.0.0.1 --port 9023 --quiet
(the arguments of `python -m gcp_storage_emulator`).
"""

from __future__ import annotations

import sys
import threading
from http import HTTPStatus
from pathlib import Path
from typing import Any

# Top-level folders of gcp-storage-emulator's store that are not buckets (storage.py RESUMABLE_DIR, SOFT_DELETE_DIR).
_NOT_BUCKETS = ("_resumable", "_softdelete")
_LOCK = threading.Lock()


def _bucket_folder(storage: Any, bucket_name: str) -> Path | None:
    from gcp_storage_emulator.settings import STORAGE_DIR

    if storage._use_memory_fs or bucket_name in _NOT_BUCKETS or bucket_name not in storage.buckets:
        return None
    return Path(storage._data_dir) / STORAGE_DIR / bucket_name


def adopt_files(storage: Any, bucket_name: str, base_url: str) -> list[str]:
    """Register the bucket folder's files that have no object metadata; returns their object names."""
    from gcp_storage_emulator.handlers.objects import _checksums, _make_object_resource

    folder = _bucket_folder(storage, bucket_name)
    if folder is None or not folder.is_dir():
        return []
    adopted = []
    with _LOCK:
        known = storage.objects.setdefault(bucket_name, {})
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = path.relative_to(folder).as_posix()
            if name in known:
                continue
            content = path.read_bytes()
            obj = _make_object_resource(base_url, bucket_name, name, "application/octet-stream", len(content))
            known[name] = _checksums(content, obj)
            adopted.append(name)
        if adopted:
            storage._write_config_to_file()
    return adopted


# Cloud Storage's multi-regions (cloud.google.com/storage/docs/locations); anything else named is a region here.
MULTI_REGIONS = {"US", "EU", "ASIA"}
DEFAULT_LOCATION = "US"


def _with_location(bucket: dict[str, Any], requested: Any) -> dict[str, Any]:
    location = str(requested or DEFAULT_LOCATION).upper()
    bucket["location"] = location
    bucket["locationType"] = "multi-region" if location in MULTI_REGIONS else "region"
    return bucket


def install_bucket_location_and_iam() -> None:
    """buckets.insert keeps the requested location; buckets.testIamPermissions answers from the stack's IAM file.

    The server's route table reads these module attributes when the server is created, so they are set before."""
    from gcp_storage_emulator.handlers import buckets

    from gemini_batch.local import iam

    insert = buckets.insert

    def insert_with_location(request: Any, response: Any, storage: Any, *args: Any, **kwargs: Any) -> Any:
        result = insert(request, response, storage, *args, **kwargs)
        data = request.data or {}
        bucket = storage.buckets.get(data.get("name") or "")
        if bucket is not None and response.status == HTTPStatus.OK:  # created now (an existing name is a 409)
            storage.create_bucket(data["name"], _with_location(bucket, data.get("location")))
            response.json(bucket)
        return result

    def test_iam_permissions(request: Any, response: Any, storage: Any, *args: Any, **kwargs: Any) -> None:
        name = request.params.get("bucket_name")
        if not name or name not in storage.buckets:
            response.status = HTTPStatus.NOT_FOUND
            return
        asked = request.query.get("permissions") or []
        response.json({"kind": "storage#testIamPermissionsResponse", "permissions": iam.granted(asked, name)})

    buckets.insert = insert_with_location
    buckets.test_iam_permissions = test_iam_permissions


def install(base_url: str) -> None:
    from gcp_storage_emulator.storage import Storage

    if getattr(Storage, "_gemini_batch_adopts_files", False):
        return
    install_bucket_location_and_iam()
    get_file_list = Storage.get_file_list
    get_file_obj = Storage.get_file_obj

    def get_file_list_adopting(self: Any, bucket_name: str, *args: Any, **kwargs: Any) -> Any:
        adopt_files(self, bucket_name, base_url)
        return get_file_list(self, bucket_name, *args, **kwargs)

    def get_file_obj_adopting(self: Any, bucket_name: str, file_name: str) -> Any:
        if file_name not in self.objects.get(bucket_name, {}):
            adopt_files(self, bucket_name, base_url)
        return get_file_obj(self, bucket_name, file_name)

    Storage.get_file_list = get_file_list_adopting
    Storage.get_file_obj = get_file_obj_adopting
    Storage._gemini_batch_adopts_files = True


def _option(argv: list[str], name: str, default: str) -> str:
    return argv[argv.index(name) + 1] if name in argv and argv.index(name) + 1 < len(argv) else default


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    install(f"http://{_option(argv, '--host', '127.0.0.1')}:{_option(argv, '--port', '9023')}")
    from gcp_storage_emulator.__main__ import main as emulator_main

    emulator_main(argv)


if __name__ == "__main__":
    main()
