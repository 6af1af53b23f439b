from __future__ import annotations

import codecs
import hashlib
import pickle
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tasks.core.capture import FURNITURE_MAX_WORDS, Capture, keep_words_of, lines_of, make_capture
from tasks.core.config import ReadConfig
from tasks.core.folders import RawFolderError
from tasks.core.ids import source_id_of
from tasks.core.lines import CaptureError, collapse_white_space, decode_capture, numbered_lines, split_lines
from tasks.core.normalize import _FOLD as FOLD
from tasks.core.normalize import SHARED_WORDS_LINES, normalize_key, tokenize, tokenize_lines
from tasks.core.shelf import SCRATCH, pack, read_entries, scratch_folder, write_shelf
from tasks.decode import (
    DecodedBatch,
    check_raw_folders,
    decode_new,
    merge_decoded,
    reading_batches,
    settle_after_reading,
    shelve_decoded,
)
from tasks.discover import hash_capture, list_capture_paths, new_captures
from tasks.write import read_archive
from tests.helpers import SEED_NAMES, SEEDS, newsarchive

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


@pytest.mark.parametrize(("controls", "refused"), [(45, False), (55, True)])
def test_binary_means_more_than_one_character_in_twenty_is_a_control(controls: int, refused: bool) -> None:
    # Letters of two bytes in UTF-8: the share is of characters, not of bytes.
    text = "é" * (1000 - controls) + "\x01" * controls
    if refused:
        with pytest.raises(CaptureError, match=f"binary data, not text \\({controls} control characters\\)"):
            decode_capture(text.encode())
    else:
        assert decode_capture(text.encode()) == (text, "utf-8")


def test_lines_are_numbered_from_one_with_cr_and_crlf_as_breaks() -> None:
    lines, n = numbered_lines("a\r\n\r\nb  c\rd\n")
    assert [(line.line_no, line.text) for line in lines] == [(1, "a"), (3, "b c"), (4, "d")]
    assert n == 5


def test_white_space_only_is_an_error() -> None:
    with pytest.raises(CaptureError, match="empty"):
        numbered_lines(" \n\t\n")


def test_nul_bytes_are_dropped() -> None:
    assert split_lines("a\x00b") == ["ab"]


RUSSIAN = "Совет гавани проголосовал в понедельник за восстановление моста до зимы.\n"


@pytest.mark.parametrize(
    ("text", "codec"),
    [(TEXT, "utf-16-le"), (TEXT, "utf-16-be"), (RUSSIAN * 3, "utf-16-le"), (RUSSIAN * 3, "utf-16-be")],
)
def test_utf16_without_a_byte_order_mark_is_told_by_the_side_its_nul_bytes_fall_on(text: str, codec: str) -> None:
    # NULs on one side of 0.895 of TEXT's units, of 0.151 of the Russian text's (its spaces and full stop).
    assert decode_capture(text.encode(codec)) == (text, f"{codec} (no byte order mark)")


def test_a_block_of_nul_bytes_in_a_utf8_capture_is_dropped_however_long() -> None:
    seed = (SEEDS / f"{SEED_NAMES[0]}.txt").read_text(encoding="utf-8")
    middle = seed.index("\n", len(seed) // 2) + 1
    for block in (1, 4096, 40_960):
        data = (seed[:middle] + "\x00" * block + seed[middle:]).encode()
        text, encoding = decode_capture(data)
        assert encoding == "utf-8"
        assert numbered_lines(text) == numbered_lines(seed)


def test_nul_bytes_alone_are_no_text() -> None:
    text, _ = decode_capture(b"\x00" * 4096)
    with pytest.raises(CaptureError, match="empty"):
        numbered_lines(text)


@pytest.mark.slow
def test_utf16_without_a_byte_order_mark_and_a_block_of_nul_bytes_are_archived_by_the_command(tmp_path: Path) -> None:
    """The seeds, and again as UTF-16 of each byte order without a BOM and as UTF-8 with 4 KB of NULs:
    each read as the text it is, so grouped with its seed (on main the first two were quarantined as binary,
    the third too)."""
    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    texts = {name: (SEEDS / f"{name}.txt").read_text(encoding="utf-8") for name in SEED_NAMES}
    for name, text in texts.items():
        (raw / f"{name}.txt").write_text(text, encoding="utf-8")
    first, second = SEED_NAMES
    middle = texts[first].index("\n", len(texts[first]) // 2) + 1
    copies = {
        "le.txt": (first, texts[first].encode("utf-16-le"), "utf-16-le (no byte order mark)"),
        "be.txt": (second, texts[second].encode("utf-16-be"), "utf-16-be (no byte order mark)"),
        "nul.txt": (first, (texts[first][:middle] + "\x00" * 4096 + texts[first][middle:]).encode(), "utf-8"),
    }
    for uri, (_, data, _) in copies.items():
        (raw / uri).write_bytes(data)
    done = newsarchive("run", "--raw-dir", str(raw), "--out-dir", str(out), home=tmp_path / "home")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "quarantined: 0" in done.stdout
    tables = read_archive(out)
    rows = {row["uri"]: row for row in tables["sources"].iter_rows(named=True)}
    assert tables["articles"].height == 1
    for uri, (seed, _, encoding) in copies.items():
        row, original = rows[uri], rows[f"{seed}.txt"]
        assert (row["status"], row["error"], row["encoding"]) == ("archived", None, encoding)
        assert (row["article_id"], row["n_lines"]) == (original["article_id"], original["n_lines"])


def test_key_folds_quotes_dashes_case_and_space() -> None:
    assert normalize_key("“It’s”  —  OK\u00a0") == normalize_key('"it\'s" - ok')
    assert tokenize(normalize_key("It’s a test, isn't it?")) == ["it", "s", "a", "test", "isn", "t", "it"]


@given(st.lists(st.text(alphabet=st.characters(max_codepoint=0x17F, exclude_characters="\n"), max_size=40)))
def test_tokenizing_lines_at_once_gives_the_words_of_each(keys: list[str]) -> None:
    assert tokenize_lines(keys) == [tuple(tokenize(key)) for key in keys]
    ascii_keys = [key.encode("ascii", "replace").decode() for key in keys]  # the byte-table path
    assert tokenize_lines(ascii_keys) == [tuple(tokenize(key)) for key in ascii_keys]


def test_a_long_capture_is_tokenized_slice_by_slice_with_one_string_per_word() -> None:
    keys = [f"line {i} of a long thread, the same words été again" for i in range(SHARED_WORDS_LINES + 5_000)]
    words = tokenize_lines(keys)
    assert words == [tuple(tokenize(key)) for key in keys]
    # One string per word across slices, not only within one.
    assert words[0][0] is words[-1][0]
    assert words[1][-1] is words[-2][-1]


@given(st.lists(st.text(alphabet=st.characters(max_codepoint=0x3000, exclude_characters="\n"), max_size=30)))
def test_numbered_lines_are_each_line_collapsed_and_keyed_as_normalize_key_does(raw: list[str]) -> None:
    for ascii_only in (False, True):  # the path for captures all ASCII, and the other
        text = "\n".join(line.encode("ascii", "replace").decode() if ascii_only else line for line in raw)
        every = split_lines(text)
        expected = [(n, " ".join(line.split()), normalize_key(line)) for n, line in enumerate(every, 1) if line.strip()]
        if not expected:
            with pytest.raises(CaptureError, match="no text"):
                numbered_lines(text)
            continue
        lines, count = numbered_lines(text)
        assert [tuple(line) for line in lines] == expected
        assert count == len(every)


@given(st.lists(st.text(alphabet=st.sampled_from([*"ab \t\x0b\x0c\x1c\x85\u00a0\u2003\u2028\u3000"]), min_size=1)))
def test_white_space_is_collapsed_as_split_and_join_do(lines: list[str]) -> None:
    """Also when the whole text is tested at once and found to have nothing to collapse."""
    assert collapse_white_space(lines) == [" ".join(line.split()) for line in lines]


@given(st.lists(st.text(alphabet=st.sampled_from([*"aZ `'-.\t\u212a\u0130\u00e9\u0301\u00a0", *map(chr, FOLD)]))))
def test_lines_of_ascii_and_folded_quotes_are_keyed_as_normalize_key_does(raw: list[str]) -> None:
    """The whole-capture path for lines that are ASCII once their quotes and dashes are folded."""
    text = "\n".join(raw)
    expected = [normalize_key(line) for line in split_lines(text) if line.strip()]
    if expected:
        assert [line.key for line in numbered_lines(text)[0]] == expected


def fields(capture: Capture) -> tuple[object, ...]:
    return capture.source_id, capture.uri, capture.sha256, capture.n_lines, list(capture.line_numbers), capture.lines


def test_a_capture_travels_to_another_process_whole_and_without_its_words() -> None:
    lines, n = numbered_lines("Title here\n\nIt’s the first paragraph, with “quotes”.\nA comment.")
    capture = make_capture("s1", "a.txt", "ab" * 32, lines, n)
    capture.keep_words()
    copy = pickle.loads(pickle.dumps(capture))
    assert fields(copy) == fields(capture)
    assert list(copy.line_numbers) == [1, 3, 4]
    assert copy._words is None  # derived again where needed, never shipped
    assert copy.tokens == capture.tokens == tuple(w for line in lines for w in tokenize(line.key))
    assert copy.line_tokens() == [tuple(tokenize(line.key)) for line in lines]


def test_a_shelved_capture_travels_light_and_reads_its_lines_back(tmp_path: Path) -> None:
    odd = "Zürich\u2028 caf\u00e9 \udce9 “x” — end"  # a line separator, a lone surrogate from damaged bytes
    texts = [f"Line {i} of a long capture, with some words in it and {odd}." for i in range(200)]
    held = []
    for number in (1, 5):
        lines, n = numbered_lines("\n\n".join(texts[:number]) + f"\n\nTail {number}.")
        held.append(make_capture(f"s{number}", f"c{number}.txt", "ab" * 32, lines, n))
    batch = shelve_decoded(DecodedBatch(held, {}, {}, {"c1.txt": "utf-8", "c5.txt": "utf-8"}), str(tmp_path))
    assert len(list(tmp_path.iterdir())) == 1  # one shelf file for the batch
    for before, shelved in zip(held, batch.captures, strict=True):
        travelled = pickle.loads(pickle.dumps(shelved))
        assert len(pickle.dumps(shelved)) < 600  # no text travels with it
        assert fields(travelled) == fields(before)
        assert travelled.short_keys() == before.short_keys()
        assert travelled.blank_separated() == before.blank_separated()
    assert lines_of([*reversed(batch.captures), held[0]]) == [held[1].lines, held[0].lines, held[0].lines]
    keep_words_of(batch.captures)
    assert batch.captures[1].tokens == held[1].tokens
    for path in tmp_path.iterdir():
        path.unlink()
    assert batch.captures[1].lines == held[1].lines  # pinned: its batch reads the shelf once


@given(
    st.lists(st.integers(min_value=0, max_value=40_000), min_size=1, max_size=40),
    st.lists(st.integers(min_value=0, max_value=39), max_size=60),
)
@example(sizes=[0], picks=[0])  # one entry with no key bytes, asked alone
def test_shelf_entries_read_back_whatever_their_order_and_distance(sizes: list[int], picks: list[int]) -> None:
    """Entries far apart are read apart, near ones together; each one comes back whole, in the order asked."""
    # A capture whose one line is a zero-width space has an empty key: an entry with no key bytes.
    keys = ["" if size == 0 else f"text {i} " + "y" * (size // 2) for i, size in enumerate(sizes)]
    entries = [pack([f"Text {i} " + "x" * size], [key]) for i, (size, key) in enumerate(zip(sizes, keys, strict=True))]
    with tempfile.TemporaryDirectory() as folder:
        refs = write_shelf(folder, entries)
        asked = [refs[i % len(refs)] for i in picks]
        for keys_only in (False, True):
            found = read_entries(asked, keys_only=keys_only)
            for ref, data in zip(asked, found, strict=True):
                entry, keys_length = entries[refs.index(ref)]
                assert data == (entry[:keys_length] if keys_only else entry)


def test_identical_hashed_files_in_different_batches_are_stored_once(tmp_path: Path) -> None:
    """Files hashed at listing (known names that changed) are settled like the others once read."""
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text("the same capture\n" if name != "b.txt" else "another capture\n")
    raw = [hash_capture(uri, path, problem) for uri, path, problem in list_capture_paths(tmp_path)]
    batches, settled = reading_batches(raw, {}, size=1)
    assert settled.duplicate_of == {}
    decoded = merge_decoded([settled, *(decode_new(b.captures, ReadConfig()) for b in batches)])
    assert decoded.read == {}  # nothing read twice to be hashed
    records, merged = settle_after_reading(raw, decoded)
    assert records == raw
    assert [c.uri for c in merged.captures] == ["a.txt", "b.txt"]
    assert merged.duplicate_of == {"c.txt": source_id_of("a.txt", raw[0].sha256 or "")}


def test_identical_new_files_in_different_batches_are_settled_once_read(tmp_path: Path) -> None:
    """Files listed unread are hashed by decoding: the first in listing order is the capture."""
    for name, text in (
        ("a.txt", "the same capture\n"),
        ("b.txt", "another capture\n"),
        ("c.txt", "the same capture\n"),
    ):
        (tmp_path / name).write_text(text)
    (tmp_path / "d.txt").write_text("archived before\n")
    archived = {hashlib.sha256(b"archived before\n").hexdigest(): "earlier-source"}
    listed, _ = new_captures(tmp_path, {})
    batches, settled = reading_batches(listed, archived, size=1)
    assert [[c.uri for c in b.captures] for b in batches] == [["a.txt"], ["b.txt"], ["c.txt"], ["d.txt"]]
    decoded = merge_decoded([settled, *(decode_new(b.captures, ReadConfig()) for b in batches)])
    raw, batch = settle_after_reading(listed, decoded, archived)
    a_sha = hashlib.sha256(b"the same capture\n").hexdigest()
    assert [(r.uri, r.sha256 == a_sha) for r in raw] == [
        ("a.txt", True),
        ("b.txt", False),
        ("c.txt", True),
        ("d.txt", False),
    ]
    assert [c.uri for c in batch.captures] == ["a.txt", "b.txt"]
    assert batch.duplicate_of == {"c.txt": source_id_of("a.txt", a_sha), "d.txt": "earlier-source"}
    assert sorted(batch.encodings) == ["a.txt", "b.txt"]


def test_decoding_where_the_raw_folder_cannot_be_seen_fails_instead_of_quarantining_every_capture(
    tmp_path: Path,
) -> None:
    """As a worker on a machine without the raw folder's mount sees it (on main: every capture quarantined as
    `the file disappeared between listing and reading`, and the run exited 0)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("a.txt", "b.txt"):
        (raw / name).write_text(f"A capture named {name}.\n")
    listed, _ = new_captures(raw, {})
    (raw / "a.txt").unlink()
    assert decode_new(listed, ReadConfig()).quarantined == {"a.txt": "the file disappeared between listing and reading"}
    raw.rename(tmp_path / "elsewhere")
    with pytest.raises(RawFolderError, match=f"raw directory '{raw}' cannot be reached on "):
        decode_new(listed, ReadConfig())


def test_the_scratch_folder_starts_empty_and_is_removed_after_the_run(tmp_path: Path) -> None:
    leftover = tmp_path / SCRATCH / "killed-run" / "lines-0.shelf"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"lines of a run that was killed")
    with scratch_folder(str(tmp_path)) as folder:
        assert not leftover.exists()
        assert list(Path(folder.path).iterdir()) == []
        write_shelf(folder.path, [pack(["A line."], ["a line."])])
    assert not (tmp_path / SCRATCH).exists()


def test_a_scratch_folder_released_early_is_gone_by_the_end_of_the_run(tmp_path: Path) -> None:
    with scratch_folder(str(tmp_path)) as folder:
        write_shelf(folder.path, [pack(["A line."], ["a line."])])
        folder.release()
        folder.release()  # once is enough; a second call changes nothing
        folder.wait()
        assert not Path(folder.path).exists()
    assert not (tmp_path / SCRATCH).exists()


def test_the_scratch_folder_of_a_relative_archive_path_is_named_absolutely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its files are named to workers, and a Dask worker started elsewhere has another working folder."""
    monkeypatch.chdir(tmp_path)
    with scratch_folder("archive") as folder:
        assert Path(folder.path).is_absolute()
        assert Path(folder.path).parent == tmp_path / "archive" / SCRATCH


def test_a_worker_that_does_not_see_the_raw_folder_fails_rather_than_quarantine_everything(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("a.txt", "b.txt"):
        (raw / name).write_text(f"{name}\n")
    listed, _ = new_captures(raw, {})
    check_raw_folders(listed)
    (raw / "a.txt").unlink()  # one capture gone: quarantined when read, the run goes on
    check_raw_folders(listed)
    (raw / "b.txt").unlink()  # the folder empty, as an unmounted one is
    with pytest.raises(FileNotFoundError, match=f"does not see the raw folder {raw}: missing or empty"):
        check_raw_folders(listed)
    raw.rmdir()
    with pytest.raises(FileNotFoundError, match=f"does not see the raw folder {raw}"):
        check_raw_folders(listed)


def reference_key(text: str) -> str:
    """The key as the README defines it, written the plain way."""
    return " ".join(unicodedata.normalize("NFKC", text).translate(FOLD).casefold().split())


ALPHABET = [*"aZ `'-.\t\u00e9\u0130\u00df\ufb01\uff21\u2028", '"', *map(chr, FOLD)]


@given(st.text(alphabet=st.sampled_from(ALPHABET)))
def test_the_fast_key_is_the_key_the_readme_defines(text: str) -> None:
    assert normalize_key(text) == reference_key(text)
    assert normalize_key(text + "\u00e9") == reference_key(text + "\u00e9")  # the non-ASCII path too


@given(st.lists(st.text(alphabet=st.sampled_from([*"ab_1 .-'\u00e9\u2028", '"']), max_size=40), min_size=1))
def test_short_lines_are_those_of_at_most_furniture_max_words(texts: list[str]) -> None:
    texts = [t for t in texts if t.strip()] or ["x"]
    lines, n = numbered_lines("\n".join(texts))
    capture = make_capture("s", "s.txt", "ab" * 32, lines, n)
    assert capture.short_keys() == {line.key for line in lines if len(tokenize(line.key)) <= FURNITURE_MAX_WORDS}
