"""Run gcp-storage-emulator so that it also serves objects other local services wrote straight into its folder.

On Google Cloud, BigQuery's `EXPORT DATA` writes Cloud Storage objects that every client then lists and reads. On the
local stack bqemulator writes an export as files under BQEMU_GCS_LOCAL_ROOT, which `local up` points at this
emulator's folder (`<data dir>/.cloudstorage/<bucket>/<name>`), but gcp-storage-emulator only knows the objects
uploaded through its API (it keeps their metadata in memory and in `.meta`). So a listing or a get first adopts the
files of the bucket's folder it has no metadata for: each becomes an object with its size and checksums, as if
uploaded. Nothing else changes; deleting an adopted object deletes its file.

Usage: python -m gemini_batch.local.storage_server --data-dir DIR start --host 127.0.0.1 --port 9023 --quiet
(the arguments of `python -m gcp_storage_emulator`).
"""

from __future__ import annotations

import sys
import threading
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


def install(base_url: str) -> None:
    from gcp_storage_emulator.storage import Storage

    if getattr(Storage, "_gemini_batch_adopts_files", False):
        return
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
