"""The per-article stages, on batches of articles: each article needs only its own captures.

batch.py holds the two tasks (find-site-furniture, label-merge-and-link-articles) and runs the rest in order:
align.py aligns the captures of an article, cues.py reads what one line looks like, roles.py gives every
line a role by the rules, rolemodel/ the learned model that reads them with the alignment, assemble.py
merges the captures into one article, quotes.py links quoting comments, rows.py turns articles into rows.
"""
