from __future__ import annotations

import codecs

import pytest

from tasks.decode import CaptureError, decode_capture, numbered_lines, split_lines
from tasks.normalize import normalize_key, tokenize

TEXT = "“Quote” – it’s here\r\nsecond line\rthird"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8"),
        (TEXT.encode("utf-16"), "utf-16-le"),
        (TEXT.encode("cp1252"), "cp1252"),
    ],
)
def test_decode_reads_every_supported_encoding(data: bytes, encoding: str) -> None:
    assert decode_capture(data) == (TEXT, encoding)


def test_undefined_cp1252_bytes_fall_back_to_latin1() -> None:
    assert decode_capture(b"caf\xe9 \x81")[0] == "café \x81"


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\x00\x00", bytes(range(32)) * 10])
def test_binary_data_is_refused(data: bytes) -> None:
    with pytest.raises(CaptureError, match="binary"):
        decode_capture(data)


def test_lines_are_numbered_from_one_with_cr_and_crlf_as_breaks() -> None:
    lines, n = numbered_lines("a\r\n\r\nb  c\rd\n")
    assert [(line.line_no, line.text) for line in lines] == [(1, "a"), (3, "b c"), (4, "d")]
    assert n == 5


def test_white_space_only_is_an_error() -> None:
    with pytest.raises(CaptureError, match="empty"):
        numbered_lines(" \n\t\n")


def test_nul_bytes_are_dropped() -> None:
    assert split_lines("a\x00b") == ["ab"]


def test_key_folds_quotes_dashes_case_and_space() -> None:
    assert normalize_key("“It’s”  —  OK\u00a0") == normalize_key('"it\'s" - ok')
    assert tokenize(normalize_key("It’s a test, isn't it?")) == ["it", "s", "a", "test", "isn", "t", "it"]
