"""check_file_uris (batch/preflight.py): the query that picks the URIs, the existence test and the error message."""

from __future__ import annotations

import pytest

from gemini_batch.batch.preflight import FILE_URI_SAMPLE, file_uris_sql, missing_message, missing_objects

PENDING = "p.d.product_media_insights__batch_20261207120000_abcdef_pending"


def test_sample_reads_at_most_the_sample_size_and_all_reads_every_uri() -> None:
    sample, every = file_uris_sql(PENDING, "sample"), file_uris_sql(PENDING, "all")
    assert f"limit {FILE_URI_SAMPLE}" in sample
    assert "limit" not in every
    for sql in (sample, every):
        # the rows to send only (the submission's pending table, never m__requests or the cache), both spellings of
        # the field, gs:// URIs only
        assert f"`{PENDING}` as pending" in sql
        assert "__requests" not in sql and "__responses" not in sql
        assert "'$.fileData.fileUri'" in sql and "'$.file_data.file_uri'" in sql
        assert "starts_with(uri, 'gs://')" in sql


def test_missing_objects_are_the_uris_whose_object_is_not_there() -> None:
    present = {("media", "products/1/photo.png"), ("media", "products/2/spec.pdf")}
    asked: list[tuple[str, str]] = []

    def exists(bucket: str, name: str) -> bool:
        asked.append((bucket, name))
        return (bucket, name) in present

    uris = [
        "gs://media/products/1/photo.png",
        "gs://media/products/3/gone.png",
        "gs://other-bucket/products/2/spec.pdf",
        "gs://media/products/2/spec.pdf",
        "gs://media",  # a bucket is not an object
    ]
    assert missing_objects(uris, exists) == [
        "gs://media/products/3/gone.png",
        "gs://other-bucket/products/2/spec.pdf",
        "gs://media",
    ]
    assert ("media", "") not in asked


@pytest.mark.parametrize(("mode", "scope"), [("sample", "a sample of 40"), ("all", "all 40")])
def test_the_error_names_the_model_the_uris_and_the_setting(mode: str, scope: str) -> None:
    missing = [f"gs://media/products/{i}/photo.png" for i in range(12)]
    message = missing_message("product_media_insights", mode, 40, missing)
    assert message.startswith("product_media_insights: 12 Cloud Storage object(s) named by fileData parts")
    assert f"check_file_uris={mode} checked {scope} distinct gs:// URIs" in message
    assert "gs://media/products/0/photo.png" in message and "gs://media/products/9/photo.png" in message
    assert "gs://media/products/10/photo.png" not in message and "and 2 more" in message
    assert "check_file_uris: 'off' skips this check" in message
