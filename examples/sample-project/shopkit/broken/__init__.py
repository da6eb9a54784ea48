"""Files the translator must report as failed units without stopping the job.

- syntax_error.py: invalid Python (a `<file>` unit, reason syntax-error)
- legacy_io.py: valid Python using try/except and a generator (units fail as unsupported)
- latin1_notes.py: Latin-1 bytes, not UTF-8 (a `<file>` unit, reason non-utf8)
- junk.py: binary data with a .py name (a `<file>` unit, reason binary)
"""
