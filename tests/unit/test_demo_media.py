"""gemini_batch.demo_media: the demo's files are valid by their formats' own structure, and differ per product."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

from gemini_batch.demo_media import MediaObject, jpeg_bytes, media_bytes, pdf_bytes, png_bytes, read_media_seed

REPO = Path(__file__).resolve().parents[2]


def test_png_chunks_carry_the_size_and_correct_crcs_and_the_pixels_decompress() -> None:
    data = png_bytes(5, 3, (10, 20, 30))
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks[kind] = body
        pos += 12 + length
    assert list(chunks) == [b"IHDR", b"IDAT", b"IEND"]
    assert struct.unpack(">II", chunks[b"IHDR"][:8]) == (5, 3)
    assert zlib.decompress(chunks[b"IDAT"]) == (b"\x00" + bytes((10, 20, 30)) * 5) * 3


def test_jpeg_has_its_markers_and_frame_size() -> None:
    data = jpeg_bytes(3, 2)
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    sof = data.index(b"\xff\xc0")
    assert struct.unpack(">HH", data[sof + 5 : sof + 9]) == (16, 24)  # height, width
    assert b"\xff\xda" in data


def test_pdf_cross_reference_offsets_point_at_the_objects() -> None:
    data = pdf_bytes(["Product 3 (spec)", "line two"])
    assert data.startswith(b"%PDF-1.4\n") and data.endswith(b"%%EOF\n")
    startxref = int(re.search(rb"startxref\n(\d+)\n", data)[1])  # type: ignore[index]
    assert data[startxref:].startswith(b"xref\n0 6\n")
    offsets = [int(o) for o in re.findall(rb"(\d{10}) 00000 n ", data)]
    assert [data[o:].split(b"\n", 1)[0] for o in offsets] == [b"%d 0 obj" % n for n in range(1, 6)]
    assert b"(Product 3 \\(spec\\)) Tj T* (line two) Tj" in data


def test_every_seed_row_gets_a_file_of_its_own() -> None:
    items = read_media_seed(REPO / "integration_tests")
    files = [media_bytes(item) for item in items]
    assert len(items) >= 6 and len({len(f) for f in files}) == len(files)
    kinds = {item.mime_type: f[:4] for item, f in zip(items, files, strict=True)}
    assert kinds == {"image/png": b"\x89PNG", "image/jpeg": b"\xff\xd8\xff\xdb", "application/pdf": b"%PDF"}
    assert MediaObject(1, "gs://b/products/1/x.png", "image/png").name == "products/1/x.png"
