"""newsarchive's stages and the code beneath them.

The stages, in the order the flow runs them (flows/archive.py, STAGE_ORDER), each a Prefect task:

 1. `open-archive`: the archive as an earlier run left it (tasks/state.py)
 2. `discover-captures`: the raw folder listed, changed files hashed (tasks/discover.py)
 3. `decode-and-split-lines`: new captures decoded to numbered lines, in batches (tasks/decode.py)
 4. `load-related-stored-articles`: stored articles the new captures may extend (tasks/related.py)
 5. `group-captures-by-article`: the captures of one article found (tasks/group.py)
 6. `find-site-furniture`: lines the run's sites repeat on every page (tasks/articles/batch.py)
 7. `label-merge-and-link-articles`: roles, one article from its captures, quote links, in batches
    (tasks/articles/)
 8. `plan-table-changes`: the rows each table's buckets get (tasks/plan.py)
 9. `check-consistency`: what must hold before anything is published (tasks/checks.py)
10. `summarize-run`: the run's counts and its least confident captures (tasks/report.py)
11. `commit-archive`: the changed buckets of every table, then the run's row in `_runs` (tasks/write.py)
12. `compact-archive`: small files rewritten into few, when the run's parameters ask and it is due
    (tasks/write.py)

Beneath them, lowest first; a module imports only from its own level or below (tests/test_layout.py):

- core/: parameters, table schema, ids, text keys, lines and captures, the scratch shelf, folders
- runtime/: task runners and batches, the stage runner and its progress, a Dask cluster, the temporary server
- storage/: the store: Delta tables in buckets, the runs table that makes whole runs, the lock
- synth/: the synthetic corpus generator (beside core: it imports nothing else)
"""

import os

# polars' allocator (jemalloc) otherwise holds memory it freed for about ten seconds, and a stage's frames
# pile up on the next stage's: set before polars first loads in the process (every stage imports this first).
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")
