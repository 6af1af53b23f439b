"""What newsarchive is measured against: the I/O floor and two textbook ways to group near-duplicates."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rapidfuzz import fuzz, process
from scipy.sparse import coo_matrix  # type: ignore[import-untyped]
from scipy.sparse.csgraph import connected_components  # type: ignore[import-untyped]

from tasks.core.capture import Capture
from tasks.core.lines import decode_capture, split_lines

# The corpus's most frequent words say nothing of which article a text is; dropping them halves
# the all-pairs cost and lifted its best F1 from 0.985 to 0.995 on the 1,000-capture corpus.
STOP_WORDS = 100
ALLPAIRS_THRESHOLDS = (15, 20, 25, 30, 35, 40, 50, 60)
MINHASH_THRESHOLDS = (0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5)
MINHASH_PERMUTATIONS = 128
SHINGLE_WORDS = 4
_FLOOR_BATCH = 2_000  # captures per Parquet row group


@dataclass(frozen=True)
class Sweep:
    """Clusters (lists of capture indices) and seconds spent, for each threshold tried."""

    setup_seconds: float
    clusters: dict[float, list[list[int]]]
    seconds: dict[float, float]


def floor(paths: Sequence[str | Path], out_file: Path) -> int:
    """Read, hash, decode and write every line to Parquet: what any archiver must do. Returns lines written."""
    writer: pq.ParquetWriter | None = None
    sources: list[str] = []
    numbers: list[int] = []
    texts: list[str] = []
    written = 0
    for index, path in enumerate(paths):
        with open(path, "rb") as handle:  # noqa: PTH123 - the floor makes no Path per file
            data = handle.read()
        digest = hashlib.sha256(data).hexdigest()
        lines = split_lines(decode_capture(data)[0])
        sources += [digest] * len(lines)
        numbers += range(1, len(lines) + 1)
        texts += lines
        if (index + 1) % _FLOOR_BATCH == 0 or index == len(paths) - 1:
            table = pa.table({"sha256": sources, "line_no": numbers, "text": texts})
            writer = writer or pq.ParquetWriter(out_file, table.schema, compression="zstd")
            writer.write_table(table)
            written += len(texts)
            sources, numbers, texts = [], [], []
    if writer is not None:
        writer.close()
    return written


def components(n: int, a: np.ndarray, b: np.ndarray) -> list[list[int]]:
    """Connected components of the graph of pairs (a[i], b[i]) over n nodes."""
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels.tolist()):
        groups.setdefault(label, []).append(index)
    return list(groups.values())


def word_strings(captures: Sequence[Capture]) -> list[str]:
    """Each capture's normalized words minus the corpus's stop words, one character per distinct word."""
    counts = Counter(w for c in captures for w in c.tokens)
    code = {w: i for i, (w, _) in enumerate(counts.most_common())}
    return ["".join(chr(code[w] - STOP_WORDS + 1) for w in c.tokens if code[w] >= STOP_WORDS) for c in captures]


def all_pairs(captures: Sequence[Capture]) -> Sweep:
    """Every pair scored with rapidfuzz's Indel ratio over word sequences (one symmetric cdist)."""
    started = time.perf_counter()
    texts = word_strings(captures)
    scores = process.cdist(texts, texts, scorer=fuzz.ratio, processor=None, workers=-1, dtype=np.uint8)
    setup = time.perf_counter() - started
    clusters: dict[float, list[list[int]]] = {}
    seconds: dict[float, float] = {}
    for threshold in ALLPAIRS_THRESHOLDS:
        started = time.perf_counter()
        a, b = np.nonzero(np.triu(scores >= threshold, 1))
        clusters[threshold] = components(len(texts), a, b)
        seconds[threshold] = time.perf_counter() - started
    return Sweep(setup, clusters, seconds)


def shingle_ids(captures: Sequence[Capture]) -> list[np.ndarray]:
    """Word 4-shingles of each capture as integer ids (the same shingle has the same id corpus-wide)."""
    ids: dict[tuple[str, ...], int] = {}
    out = []
    for capture in captures:
        words = capture.tokens
        grams = {tuple(words[i : i + SHINGLE_WORDS]) for i in range(max(1, len(words) - SHINGLE_WORDS + 1))}
        out.append(np.fromiter((ids.setdefault(g, len(ids)) for g in grams), dtype=np.uint64, count=len(grams)))
    return out


def minhash_lsh(captures: Sequence[Capture], *, progress: Callable[[str], None] = print) -> Sweep:
    """datasketch MinHash signatures, then one MinHashLSH index per threshold; candidates checked on the signatures."""
    from datasketch import LeanMinHash, MinHash, MinHashLSH  # type: ignore[import-untyped]

    started = time.perf_counter()
    signatures: list[LeanMinHash] = []
    template = MinHash(num_perm=MINHASH_PERMUTATIONS)  # permutations made once, not per capture
    for shingles in shingle_ids(captures):
        minhash = MinHash(
            num_perm=MINHASH_PERMUTATIONS, hashfunc=int, permutations=template.permutations, scheme=template.scheme
        )
        minhash.update_batch(shingles.tolist())
        signatures.append(LeanMinHash(minhash))
    setup = time.perf_counter() - started
    progress(f"minhash signatures: {setup:.1f} s")
    values = np.stack([s.hashvalues for s in signatures])
    clusters: dict[float, list[list[int]]] = {}
    seconds: dict[float, float] = {}
    for threshold in MINHASH_THRESHOLDS:
        started = time.perf_counter()
        lsh = MinHashLSH(threshold=threshold, num_perm=MINHASH_PERMUTATIONS)
        with lsh.insertion_session() as session:
            for index, signature in enumerate(signatures):
                session.insert(index, signature, check_duplication=False)
        pairs = [(i, j) for i, s in enumerate(signatures) for j in lsh.query(s) if i < j]
        a = np.array([p[0] for p in pairs], dtype=np.int64)
        b = np.array([p[1] for p in pairs], dtype=np.int64)
        if len(pairs):
            keep = (values[a] == values[b]).mean(axis=1) >= threshold  # estimated Jaccard of the candidates
            a, b = a[keep], b[keep]
        clusters[threshold] = components(len(signatures), a, b)
        seconds[threshold] = time.perf_counter() - started
    return Sweep(setup, clusters, seconds)
