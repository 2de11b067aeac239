"""Cloud Storage side of a job: JSONL in (`gcsSource.uris`) and JSONL out (`gcsDestination.outputUriPrefix`).

What Google documents and this module follows (cloud.google.com/vertex-ai/generative-ai/docs/multimodal/
batch-prediction-from-cloud-storage and the BatchPredictionJob REST reference):
- each input line is `{"request": {GenerateContentRequest}, <other keys>}`; the other keys are echoed in the output;
- `GcsSource.uris` "may contain wildcards" (gsutil wildcard names: `*` within one folder level, `**` across levels,
  `?` one character, `[...]` a set);
- the output is `<outputUriPrefix>/prediction-model-<timestamp>/predictions.jsonl` with lines
  `{"status": "", "processed_time": ..., "request": ..., "response": ...}`; a failed line carries the error in `status`
  and has no `response` (the lines' form, order and echo: emulator/echo.py). The folder's timestamp is close to, not
  equal to, createTime (googleapis/python-genai#486, googleapis/java-genai#760 show
  `prediction-model-2025-12-26T20:29:02.829566Z`), so clients must read `outputInfo.gcsOutputDirectory` instead of
  rebuilding the name;
- an input file is at most 1 GB (Vertex batch quotas); `max_input_file_bytes` lowers it for tests. Google's
  sentence ("If you use Cloud Storage as input, the file size limit is also 1 GB") does not say whether the limit is
  per file or per job, so the emulator applies both: a job's files together are at most that much too.

Not in Google's reference, so the emulator takes the stricter reading and says so: a URI (or wildcard) that names no
object, an input file over the limit, or a line that is not a JSON object fails the whole job with code 3
"Failed to import data. ..." (the shape Vertex uses for unusable BigQuery input); a line without `request` is a
failed row.

The input files are copied to local temporary files at import (the import step counts the rows, as Vertex does before
it starts), so memory stays flat whatever the file size. The output is written to a temporary file and uploaded when
the job ends (also when it is cancelled: rows already answered are kept, as on Vertex).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from google.cloud import storage

from gemini_batch.emulator.bigquery_io import ImportFailure
from gemini_batch.emulator.validation import GCS_URI, GcsUri, parse_gcs_uri

ONE_GB = 1_000_000_000
OUTPUT_FILE = "predictions.jsonl"
_WILDCARD = re.compile(r"[*?\[]")


def wildcard_regex(pattern: str) -> re.Pattern[str]:
    """gsutil wildcard names as a regex over object names: `**` any characters, `*` none of `/`, `?` one."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            out.append("[" + pattern[i + 1 : end].replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def expand_sources(client: storage.Client, uris: list[str], max_file_bytes: int) -> list[storage.Blob]:
    """The objects the source URIs name, in URI order then name order; ImportFailure when one names nothing."""
    blobs: list[storage.Blob] = []
    for raw in uris:
        ref = parse_gcs_uri(raw, "input_config.gcs_source.uris")
        wildcard = _WILDCARD.search(ref.name)
        if wildcard is None:
            blob = client.bucket(ref.bucket).get_blob(ref.name) if ref.name else None
            if blob is None:
                raise ImportFailure(f"No such object: {ref.uri}. The input file does not exist.")
            found = [blob]
        else:
            prefix = ref.name[: wildcard.start()]
            matcher = wildcard_regex(ref.name)
            found = sorted(
                (b for b in client.list_blobs(ref.bucket, prefix=prefix) if matcher.match(b.name)),
                key=lambda b: b.name,
            )
            if not found:
                raise ImportFailure(f"No files matched {ref.uri}.")
        for blob in found:
            if int(blob.size or 0) > max_file_bytes:
                raise ImportFailure(
                    f"Input file gs://{blob.bucket.name}/{blob.name} is {blob.size} bytes; a batch prediction input "
                    f"file may be at most {max_file_bytes} bytes. Split it into several files."
                )
            blobs.append(blob)
    total = sum(int(b.size or 0) for b in blobs)
    if total > max_file_bytes:  # the stricter reading of Vertex's 1 GB: per job, not only per file
        raise ImportFailure(
            f"The job's {len(blobs)} input files add up to {total} bytes; a batch prediction job may read at most "
            f"{max_file_bytes} bytes of Cloud Storage input. Split the input into several jobs."
        )
    return blobs


@dataclass
class JsonlInput:
    """The job's input lines, copied to local temporary files and counted."""

    files: list[tuple[str, IO[bytes]]] = field(default_factory=list)  # (gs:// URI, local copy)
    num_rows: int = 0

    def iter_pages(self, page_rows: int) -> Iterator[list[dict[str, Any]]]:
        page: list[dict[str, Any]] = []
        for _uri, handle in self.files:
            handle.seek(0)
            for raw in handle:
                if not raw.strip():
                    continue
                page.append(json.loads(raw))
                if len(page) >= page_rows:
                    yield page
                    page = []
        if page:
            yield page

    def close(self) -> None:
        for _uri, handle in self.files:
            handle.close()


def import_jsonl(client: storage.Client, uris: list[str], max_rows: int, max_file_bytes: int) -> JsonlInput:
    """Vertex's import step for JSONL: every object exists, fits the limit, and each line is a JSON object."""
    result = JsonlInput()
    try:
        for blob in expand_sources(client, uris, max_file_bytes):
            uri = f"gs://{blob.bucket.name}/{blob.name}"
            handle = tempfile.TemporaryFile()  # noqa: SIM115 - kept open for the job, closed by JsonlInput.close
            result.files.append((uri, handle))
            blob.download_to_file(handle)
            handle.seek(0)
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    line = json.loads(raw)
                except ValueError as exc:
                    raise ImportFailure(f"{uri} line {number} is not valid JSON: {exc}.") from exc
                if not isinstance(line, dict):
                    raise ImportFailure(f'{uri} line {number} is not a JSON object like {{"request": {{...}}}}.')
                result.num_rows += 1
        if result.num_rows > max_rows:
            raise ImportFailure(f"The input has {result.num_rows} requests; a batch job takes at most {max_rows}.")
    except BaseException:
        result.close()
        raise
    return result


def prediction_directory(prefix: GcsUri, moment: datetime) -> GcsUri:
    """`<prefix>/prediction-model-<UTC timestamp with microseconds>Z`, the folder Vertex creates for one job."""
    stamp = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    name = "/".join(p for p in (prefix.name.rstrip("/"), f"prediction-model-{stamp}") if p)
    return GcsUri(prefix.bucket, name)


def processed_time(moment: datetime) -> str:
    """JSONL output's processed_time: `2024-11-01T18:13:16.826+00:00` (milliseconds, explicit UTC offset), the form in
    the output samples of Google's batch-prediction-from-cloud-storage page."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


class JsonlOutputWriter:
    """Collects output lines in a temporary file; `finish` uploads them as predictions.jsonl."""

    def __init__(self, client: storage.Client, directory: GcsUri) -> None:
        self.client = client
        self.directory = directory
        self._file = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115 - closed by finish
        self.rows_written = 0

    def check_bucket(self) -> None:
        if client_bucket_missing(self.client, self.directory.bucket):
            raise ImportFailure(f"Output bucket gs://{self.directory.bucket} does not exist.")

    def write(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self._file.write(json.dumps(row, ensure_ascii=False).encode() + b"\n")
        self.rows_written += len(rows)

    def finish(self) -> None:
        try:
            self._file.seek(0)
            blob = self.client.bucket(self.directory.bucket).blob(f"{self.directory.name}/{OUTPUT_FILE}")
            blob.upload_from_file(self._file, content_type="application/jsonl", rewind=True)
        finally:
            self._file.close()


def client_bucket_missing(client: storage.Client, bucket: str) -> bool:
    return client.lookup_bucket(bucket) is None


@dataclass(frozen=True)
class ObjectInfo:
    """What the local responder knows of a fileData object: enough to answer deterministically."""

    uri: str
    name: str
    content_type: str
    size: int

    def describe(self) -> str:
        return f"{self.content_type} file {self.name.rsplit('/', 1)[-1]} ({self.size} bytes)"


class ObjectLookup:
    """Metadata of the gs:// objects fileData parts name, fetched once per job."""

    def __init__(self, client: storage.Client) -> None:
        self.client = client
        self._seen: dict[str, ObjectInfo | None] = {}

    def get(self, uri: str) -> ObjectInfo | None:
        if uri not in self._seen:
            match = GCS_URI.match(uri)
            blob = None
            if match and match["name"]:
                blob = self.client.bucket(match["bucket"]).get_blob(match["name"])
            self._seen[uri] = (
                None
                if blob is None
                else ObjectInfo(uri, blob.name, blob.content_type or "application/octet-stream", int(blob.size or 0))
            )
        return self._seen[uri]
