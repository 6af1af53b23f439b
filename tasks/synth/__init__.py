"""Synthetic captures of news pages with gold labels, for scale tests and benchmarks.

`write_corpus` writes DIR/raw/<name>.txt and DIR/gold/ (roles of every line,
which article each capture holds, which comments quote what), modelled on the
two seed captures and the variations of ARCHIVE_SPEC.md.
"""

from tasks.synth.corpus import CorpusSummary, write_corpus
from tasks.synth.render import CAPTURES_PER_ARTICLE, ROLES

__all__ = ["CAPTURES_PER_ARTICLE", "ROLES", "CorpusSummary", "write_corpus"]
