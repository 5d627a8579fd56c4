"""The drafts this process last wrote or read, so that a wizard page need not read its
draft back from the database.

Every wizard page needs the session's draft. After a step POST (which writes the draft) the
browser follows the 303 to the next step, whose GET would read back what was just written:
one statement on SQLite, a round trip to PostgreSQL. Here each write (and each read from
the database) leaves the draft in a bounded in-process map, keyed by (browser session,
procedure) and tagged with the draft's revision (`storage.drafts`: a random tag, new at
every write).

The browser tells which revision it expects: every response that wrote or deleted a draft
sets the cookie ``guichet_brouillon`` to the new revision (empty when deleted), and an entry
is used only when its revision is the cookie's. So with several server processes, a
process whose entry is older than a write another process made (the cookie then names the
newer revision) reads the database. The cookie is not signed: it only chooses between
revisions of the drafts of the browser's own session, whose id comes from the signed
session cookie. What is left is a browser that missed a response which moved the revision
(a closed tab, a lost connection) and comes back to a process that still holds the older
entry: it is shown the older draft, and its next write names the older revision, which the
database refuses (`storage.drafts.DraftConflict`); the wizard then reads the stored draft
and goes on from it (a submitted draft is gone: nothing is brought back, nothing submitted
twice).

An entry holds the draft's JSON text, parsed on every use, so a handler that changes its
draft never changes the entry.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from storage.db import dump_json, load_json
from storage.drafts import Draft

COOKIE = "guichet_brouillon"
SIZE = 10_000  # entries: a draft is a few KB of JSON at most


class _Entry(NamedTuple):
    version: str
    text: str
    updated_at: dt.datetime
    rev: str


class DraftCache:
    def __init__(self, size: int = SIZE, secure: bool = False) -> None:
        self._size = size
        self._entries: dict[tuple[str, str], _Entry] = {}
        # Only the wizard's pages need the cookie.
        self._flags = "; path=/demarches/; httponly; samesite=lax" + ("; secure" if secure else "")

    def get(self, session_id: str, procedure_id: str, rev: str | None) -> Draft | None:
        """The cached draft if it is at revision ``rev`` (the browser's cookie)."""
        entry = self._entries.get((session_id, procedure_id))
        if entry is None or rev is None or entry.rev != rev:
            return None
        return Draft(entry.version, load_json(entry.text), entry.updated_at, entry.rev)

    def put(self, session_id: str, procedure_id: str, draft: Draft) -> None:
        key = (session_id, procedure_id)
        entries = self._entries
        if entries.pop(key, None) is None and len(entries) >= self._size:
            del entries[next(iter(entries))]  # the least recently written
        text = dump_json(draft.data)
        entries[key] = _Entry(draft.version, text, draft.updated_at, draft.rev)

    def forget(self, session_id: str, procedure_id: str) -> None:
        self._entries.pop((session_id, procedure_id), None)

    def set_cookie(self, rev: str | None) -> tuple[bytes, bytes]:
        """The Set-Cookie header telling the browser its draft's revision (None: no draft)."""
        if rev is None:
            return (b"set-cookie", f"{COOKIE}={self._flags}; Max-Age=0".encode())
        return (b"set-cookie", f"{COOKIE}={rev}{self._flags}".encode())
