"""The demo's product media: tiny, valid PNG, JPEG and PDF files made in code and put in the local Cloud Storage.

The seed integration_tests/seeds/demo/shop_product_media.csv lists the objects (product_id, media_uri, mime_type); the
product_media_insights model sends one fileData part per row. `make demo` and tests/integration/test_demo_media.py
both call upload_media() before the build, so the files exist when the hook's pre-submission check and the Vertex
emulator look for them. Nothing is downloaded: each file is written byte by byte from its format's specification
(PNG: www.w3.org/TR/png-3, JPEG: ITU-T T.81 baseline, PDF: ISO 32000-1 7.5), and it differs per product (colour,
size, text), so each object has its own size and name and the emulator's answers differ with them.
"""

from __future__ import annotations

import csv
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from google.cloud import storage

MEDIA_SEED = Path("seeds") / "demo" / "shop_product_media.csv"


@dataclass(frozen=True)
class MediaObject:
    product_id: int
    uri: str
    mime_type: str

    @property
    def bucket(self) -> str:
        return self.uri.removeprefix("gs://").split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.uri.removeprefix("gs://").split("/", 1)[1]


def read_media_seed(dbt_dir: Path) -> list[MediaObject]:
    """The rows of the media seed of a dbt project directory (integration_tests/ or a copy of it)."""
    with (dbt_dir / MEDIA_SEED).open(newline="") as f:
        return [MediaObject(int(r["product_id"]), r["media_uri"], r["mime_type"]) for r in csv.DictReader(f)]


def png_bytes(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A one-colour 8-bit RGB PNG: signature, IHDR, one zlib IDAT (each row: filter byte 0 + pixels), IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # depth 8, colour type 2 (RGB), no interlace
    rows = (b"\x00" + bytes(rgb) * width) * height
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def jpeg_bytes(blocks_wide: int, blocks_high: int) -> bytes:
    """A one-grey baseline JPEG of 8x8 blocks: every block's DC difference is 0 and it has no AC coefficients.

    The Huffman tables hold one code each (DC category 0, AC end-of-block), both the 1-bit code `0`, so the scan is
    two 0 bits per block, padded with 1 bits (T.81 F.1.2.3). Mid-grey: a DC of 0 is sample value 128.
    """

    def segment(marker: int, data: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(data) + 2) + data

    dqt = segment(0xDB, b"\x00" + b"\x01" * 64)  # table 0, 8-bit, all ones
    sof0 = segment(0xC0, struct.pack(">BHHB", 8, 8 * blocks_high, 8 * blocks_wide, 1) + b"\x01\x11\x00")
    one_code = b"\x01" + b"\x00" * 15  # one code of length 1
    dht = segment(0xC4, b"\x00" + one_code + b"\x00" + b"\x10" + one_code + b"\x00")  # DC 0: cat 0; AC 0: EOB
    sos = segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    bits = "00" * (blocks_wide * blocks_high)
    bits += "1" * (-len(bits) % 8)
    scan = bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8))  # never 0xFF: no byte stuffing needed
    return b"\xff\xd8" + dqt + sof0 + dht + sos + scan + b"\xff\xd9"


def pdf_bytes(lines: list[str]) -> bytes:
    """A one-page PDF 1.4 showing `lines` in Helvetica, one under the other, with a correct cross-reference table."""
    shown = " T* ".join(
        "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") Tj" for line in lines
    )
    stream = f"BT /F1 14 Tf 18 TL 72 720 Td {shown} ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def media_bytes(item: MediaObject) -> bytes:
    """The file for one seed row; its look (colour, size, text) follows the product, so no two are alike."""
    n = item.product_id
    if item.mime_type == "image/png":
        return png_bytes(16 + 8 * n, 16 + 4 * n, ((n * 67) % 256, (n * 141) % 256, (n * 29) % 256))
    if item.mime_type == "image/jpeg":
        return jpeg_bytes(1 + n % 4, 1 + n % 3)
    if item.mime_type == "application/pdf":
        return pdf_bytes(
            [f"Product {n} specification sheet", *(f"Specification {k}: see the box" for k in range(1, n))]
        )
    raise ValueError(f"{item.uri}: the demo makes PNG, JPEG and PDF files only, not {item.mime_type}")


def upload_media(client: storage.Client, items: list[MediaObject]) -> list[str]:
    """Create the buckets the seed names (when missing) and upload every object; returns the URIs written."""
    buckets: dict[str, storage.Bucket] = {}
    for item in items:
        if item.bucket not in buckets:
            buckets[item.bucket] = client.lookup_bucket(item.bucket) or client.create_bucket(item.bucket)
        blob = buckets[item.bucket].blob(item.name)
        blob.upload_from_string(media_bytes(item), content_type=item.mime_type)
    return [item.uri for item in items]
