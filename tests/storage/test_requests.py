from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage import tables
from storage.db import Database, connect
from storage.drafts import DraftConflict, load_draft, save_draft
from storage.outbox import MaildirSender, compose_all, deliver_pending
from storage.requests import (
    DraftRef,
    Piece,
    QuotaClaim,
    QuotaReached,
    StoredFile,
    add_event,
    cancel,
    get_by_token,
    get_request,
    hash_token,
    quota_used,
    quota_used_many,
    submit,
)
from tests.storage.conftest import NOW
from tests.storage.factories import SNAPSHOT, a_piece, ack, ack_mail, new_request

pytestmark = pytest.mark.anyio

SHA = "a" * 64
WRITTEN_BY_SUBMIT = (
    tables.definition_versions,
    tables.requests,
    tables.request_events,
    tables.pieces,
    tables.piece_files,
    tables.quota_counters,
    tables.reference_counters,
    tables.outbox,
)


async def count(db: Database, table: sa.Table) -> int:
    return int(await db.fetch_val(sa.select(sa.func.count()).select_from(table)))


async def test_submit_stores_request_history_pieces_and_mail(db: Database) -> None:
    quota = QuotaClaim(period_key="2026", scope_key="", max=300)
    done = await submit(db, new_request(quota, [a_piece(SHA)]), NOW)

    assert done.reference == "DEM-2026-000001"
    tracked = await get_by_token(db, done.token)
    assert tracked is not None
    assert (tracked.id, tracked.reference, tracked.state) == (done.id, done.reference, "deposee")
    assert tracked.snapshot == SNAPSHOT
    assert tracked.applicant["nom"] == "Lefèvre"
    assert tracked.data == {"enfant": {"nom": "Léa", "regime": "végétarien"}}
    assert tracked.created_at == NOW and tracked.cancelled_at is None
    assert [(e.kind, e.actor_kind, e.at) for e in tracked.events] == [("submitted", "citizen", NOW)]
    assert [(p.document_type, [f.sha256 for f in p.files]) for p in tracked.pieces] == [
        ("justificatif-domicile", [SHA])
    ]
    assert await quota_used(db, "inscription-cantine", "2026", "") == 1
    # The acknowledgement is queued for the worker, with what it needs to compose it.
    queued = await db.fetch_one(sa.select(tables.outbox))
    assert queued is not None
    assert (queued["template"], queued["request_id"], queued["secret"]) == (
        "ack",
        done.id,
        done.token,
    )
    assert (queued["to_addr"], queued["sent_at"]) == ("zoe@example.org", None)
    assert await compose_all(db, ack) == 1
    mail = await db.fetch_one(sa.select(tables.outbox))
    assert mail is not None
    assert mail["subject"] == "Accusé de réception de votre demande DEM-2026-000001"
    assert f"/suivi/{done.token}" in mail["text_body"]
    assert (mail["template"], mail["secret"]) == (None, None)


async def test_failure_inside_the_transaction_leaves_no_row_anywhere(db: Database) -> None:
    # A file without its digest breaks the last insert of the submission (NOT NULL), after
    # the quota, the reference, the request, its event and its piece.
    no_digest = StoredFile(None, "a.pdf", "application/pdf", 1)  # type: ignore[arg-type]
    broken = Piece("justificatif-domicile", "Justificatif", [no_digest])
    quota = QuotaClaim(period_key="2026", scope_key="", max=300)
    with pytest.raises(Exception, match=r"(?i)null"):
        await submit(db, new_request(quota, [a_piece(SHA), broken]), NOW)

    assert {t.name: await count(db, t) for t in WRITTEN_BY_SUBMIT} == {
        t.name: 0 for t in WRITTEN_BY_SUBMIT
    }
    # The reference counter was rolled back too: the next request gets number 1.
    assert (await submit(db, new_request(), NOW)).reference == "DEM-2026-000001"


async def test_references_are_sequential_per_paris_year(db: Database) -> None:
    refs = [(await submit(db, new_request(), NOW)).reference for _ in range(3)]
    # 23:30 UTC on 31 December is already 2027 in Paris.
    new_year = dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)
    refs.append((await submit(db, new_request(), new_year)).reference)
    assert refs == ["DEM-2026-000001", "DEM-2026-000002", "DEM-2026-000003", "DEM-2027-000001"]


async def test_concurrent_submits_get_unique_references(db_url: str, db: Database) -> None:
    others = [await connect(db_url + _small_pool(db_url)) for _ in range(10)]
    try:
        done = await asyncio.gather(*(submit(o, new_request(), NOW) for o in others))
    finally:
        for other in others:
            await other.disconnect()
    numbers = sorted(int(d.reference.rsplit("-", 1)[1]) for d in done)
    assert numbers == list(range(1, 11))


async def test_only_the_token_hash_is_stored(db: Database) -> None:
    done = await submit(db, replace(new_request(), ack_to=None), NOW)
    assert len(done.token) >= 43  # 32 random bytes, base64url
    row = await db.fetch_one(sa.select(tables.requests))
    assert row is not None and row["token_hash"] == hash_token(done.token)
    for table in tables.metadata.sorted_tables:
        for stored in await db.fetch_all(sa.select(table)):
            assert all(done.token not in str(value) for value in stored.values()), table.name
    assert await get_by_token(db, done.token[:-1] + "x") is None
    assert await count(db, tables.outbox) == 0


async def test_quota_refuses_once_full(db: Database) -> None:
    quota = QuotaClaim(period_key="2026", scope_key="", max=2)
    await submit(db, new_request(quota), NOW)
    await submit(db, new_request(quota), NOW)
    with pytest.raises(QuotaReached):
        await submit(db, new_request(quota), NOW)
    assert await quota_used(db, "inscription-cantine", "2026", "") == 2
    assert await count(db, tables.requests) == 2
    # Another period or scope has its own counter.
    await submit(db, new_request(QuotaClaim("2027", "", 2)), NOW)
    assert await quota_used(db, "inscription-cantine", "2027", "") == 1


async def test_quota_used_many_reads_several_counters_at_once(db: Database) -> None:
    await submit(db, new_request(QuotaClaim("2026", "", 5)), NOW)
    await submit(db, new_request(QuotaClaim("2026", "", 5)), NOW)
    await submit(db, new_request(QuotaClaim("2026-W11", "", 5)), NOW)
    await submit(db, new_request(QuotaClaim("2026", "account:7", 5)), NOW)
    wanted = [("inscription-cantine", "2026"), ("inscription-cantine", "2026-W11")]
    wanted += [("inscription-cantine", "2025"), ("autre", "2026")]
    used = await quota_used_many(db, wanted, "")
    assert used == {
        ("inscription-cantine", "2026"): 2,
        ("inscription-cantine", "2026-W11"): 1,
        ("inscription-cantine", "2025"): 0,  # never used
        ("autre", "2026"): 0,
    }
    assert await quota_used_many(db, wanted[:1], "account:7") == {wanted[0]: 1}
    assert await quota_used_many(db, [], "") == {}


def _small_pool(url: str) -> str:
    # One PostgreSQL connection per Database, so 50 of them stay under max_connections: the
    # submission runs outside a transaction, on a lane; the pool opens none (min_size=0).
    return "?min_size=0&max_size=1" if url.startswith("postgresql") else ""


async def test_quota_race_fifty_clients_one_place(db_url: str, db: Database) -> None:
    quota = QuotaClaim(period_key="2026", scope_key="", max=10)
    for _ in range(9):
        await submit(db, new_request(quota), NOW)
    clients = [await connect(db_url + _small_pool(db_url)) for _ in range(50)]
    try:
        results = await asyncio.gather(
            *(submit(c, new_request(quota), NOW) for c in clients),
            return_exceptions=True,
        )
    finally:
        for client in clients:
            await client.disconnect()
    kinds = sorted(type(r).__name__ for r in results)
    assert kinds == ["QuotaReached"] * 49 + ["Submitted"]
    assert await quota_used(db, "inscription-cantine", "2026", "") == 10
    assert await count(db, tables.requests) == 10
    assert await count(db, tables.outbox) == 10


async def test_cancel_is_conditional_on_the_current_state(db: Database) -> None:
    done = await submit(db, new_request(), NOW)
    later = NOW + dt.timedelta(hours=1)
    assert await cancel(db, done.id, from_state="deposee", to_state="annulee", now=later)
    assert not await cancel(db, done.id, from_state="deposee", to_state="annulee", now=later)

    tracked = await get_request(db, done.id)
    assert tracked is not None
    assert (tracked.state, tracked.cancelled_at, tracked.updated_at) == ("annulee", later, later)
    assert [(e.kind, e.data) for e in tracked.events] == [
        ("submitted", {}),
        ("cancelled", {"from": "deposee", "to": "annulee"}),
    ]


async def test_add_event_appends_to_history(db: Database) -> None:
    done = await submit(db, new_request(), NOW)
    later = NOW + dt.timedelta(minutes=5)
    await add_event(
        db, done.id, "status", now=later, actor_kind="agent", actor_id=7, data={"to": "x"}
    )
    tracked = await get_request(db, done.id)
    assert tracked is not None
    assert [(e.kind, e.actor_kind, e.actor_id, e.data) for e in tracked.events] == [
        ("submitted", "citizen", None, {}),
        ("status", "agent", 7, {"to": "x"}),
    ]
    without = await get_request(db, done.id, events=False)  # the mail worker's read
    assert without is not None and without.events == []
    assert (without.reference, without.applicant) == (tracked.reference, tracked.applicant)
    assert await get_request(db, done.id + 100) is None


async def test_several_pieces_and_files_keep_their_order_and_no_mail_means_no_outbox_row(
    db: Database,
) -> None:
    files = [StoredFile(c * 64, f"{c}.pdf", "application/pdf", n) for n, c in enumerate("bcd")]
    pieces = [
        Piece("livret-famille", "Livret de famille", files),
        Piece("photo", "Photo d'identité", []),
        a_piece(SHA),
    ]
    done = await submit(db, replace(new_request(pieces=pieces), ack_to=None), NOW)

    tracked = await get_request(db, done.id)
    assert tracked is not None
    assert [(p.document_type, p.label, p.files) for p in tracked.pieces] == [
        ("livret-famille", "Livret de famille", files),
        ("photo", "Photo d'identité", []),
        ("justificatif-domicile", "Justificatif de domicile", a_piece(SHA).files),
    ]
    assert await count(db, tables.outbox) == 0


async def test_a_refused_quota_takes_no_reference_number(db: Database) -> None:
    quota = QuotaClaim(period_key="2026", scope_key="", max=1)
    assert (await submit(db, new_request(quota), NOW)).reference == "DEM-2026-000001"
    with pytest.raises(QuotaReached):
        await submit(db, new_request(quota), NOW)
    assert (await submit(db, new_request(), NOW)).reference == "DEM-2026-000002"


async def test_snapshot_is_known_stored_only_once_the_outer_transaction_commits(
    db: Database,
) -> None:
    with pytest.raises(RuntimeError, match="after submit"):
        async with db.transaction():
            await submit(db, new_request(), NOW)
            assert db.known == set()
            raise RuntimeError("after submit")
    assert db.known == set()
    # Had the rolled back snapshot been memoised, this would skip it and break the foreign key.
    done = await submit(db, new_request(), NOW)
    tracked = await get_request(db, done.id)
    assert tracked is not None and tracked.snapshot == SNAPSHOT
    assert db.known == {("definition_version", "inscription-cantine", "0123456789abcdef")}


async def test_the_acknowledgement_is_composed_with_its_reference_and_token(
    db: Database,
) -> None:
    done = await submit(db, new_request(), NOW)
    assert await compose_all(db, ack) == 1
    assert await compose_all(db, ack) == 0  # composed once

    mail = await db.fetch_one(sa.select(tables.outbox))
    assert mail is not None
    expected = ack_mail("zoe@example.org", done.reference, done.token)
    assert (mail["subject"], mail["text_body"], mail["html_body"]) == (
        expected.subject,
        expected.text,
        expected.html,
    )


async def test_references_widen_past_six_digits(db: Database) -> None:
    await db.execute(tables.reference_counters.insert().values(year=2026, last=999_998))
    refs = [(await submit(db, new_request(), NOW)).reference for _ in range(2)]
    assert refs == ["DEM-2026-999999", "DEM-2026-1000000"]
    await compose_all(db, ack)
    mail = await db.fetch_all(sa.select(tables.outbox.c.subject).order_by(tables.outbox.c.id))
    assert [m["subject"].rsplit(" ", 1)[1] for m in mail] == refs


async def test_the_draft_goes_with_its_request_and_stays_when_the_quota_refuses(
    db: Database,
) -> None:
    proc = new_request().procedure_id
    revs = {}
    for session in ("s1", "s2", "other"):
        revs[session] = await save_draft(db, session, proc, "v", {"step": session}, NOW)
    quota = QuotaClaim(period_key="2026", scope_key="", max=1)

    await submit(db, replace(new_request(quota), draft=DraftRef("s1", revs["s1"])), NOW)
    with pytest.raises(QuotaReached):
        await submit(db, replace(new_request(quota), draft=DraftRef("s2", revs["s2"])), NOW)

    assert await load_draft(db, "s1", proc) is None
    kept = await load_draft(db, "s2", proc)
    assert kept is not None and kept.data == {"step": "s2"}
    assert await load_draft(db, "other", proc) is not None


@pytest.mark.parametrize("at_once", [False, True], ids=["one-after-the-other", "at-once"])
async def test_a_draft_becomes_one_request_however_often_it_is_submitted(
    db_url: str, db: Database, at_once: bool
) -> None:
    """A double click on "Valider": the second submission of the same draft revision writes
    nothing (no request, no reference number, no quota place, no mail)."""
    proc = new_request().procedure_id
    rev = await save_draft(db, "s", proc, "v", {}, NOW)
    quota = QuotaClaim(period_key="2026", scope_key="", max=5)
    new = replace(new_request(quota), draft=DraftRef("s", rev))
    # Two connections, as two server processes would have (one connection runs one
    # statement at a time; on SQLite, one process's transactions share a COMMIT).
    other = await connect(db_url)
    try:
        if at_once:
            results = await asyncio.gather(
                submit(db, new, NOW), submit(other, new, NOW), return_exceptions=True
            )
        else:
            results = [await submit(db, new, NOW)]
            with pytest.raises(DraftConflict):
                await submit(other, new, NOW)
    finally:
        await other.disconnect()
    done = [r for r in results if not isinstance(r, BaseException)]
    assert len(done) == 1 and done[0].reference == "DEM-2026-000001"
    assert [type(r) for r in results if isinstance(r, BaseException)] == [DraftConflict] * (
        len(results) - 1
    )
    assert await count(db, tables.requests) == 1
    assert await count(db, tables.outbox) == 1
    assert await quota_used(db, proc, "2026", "") == 1
    assert await load_draft(db, "s", proc) is None
    # The reference counter did not move for the refused one.
    assert (await submit(db, new_request(), NOW)).reference == "DEM-2026-000002"


async def test_a_definition_snapshot_is_read_once_per_version(db_url: str, db: Database) -> None:
    first = await submit(db, new_request(), NOW)
    second = await submit(db, new_request(), NOW)
    tracked = await get_by_token(db, first.token)
    assert tracked is not None and tracked.snapshot == SNAPSHOT
    # Snapshot rows never change; were one changed behind the driver's back, the copy in
    # memory would still be served: proof that it is not read again.
    await db.execute(sa.update(tables.definition_versions).values(snapshot='{"other": 1}'))
    again = await get_request(db, second.id)
    assert again is not None and again.snapshot is tracked.snapshot
    elsewhere = await connect(db_url)  # another process, say: it reads the row
    try:
        fresh = await get_request(elsewhere, second.id)
        assert fresh is not None and fresh.snapshot == {"other": 1}
    finally:
        await elsewhere.disconnect()


async def test_once_the_acknowledgement_is_sent_the_token_is_stored_nowhere(
    db: Database, tmp_path: Path
) -> None:
    done = await submit(db, new_request(), NOW)
    assert await deliver_pending(db, MaildirSender(tmp_path), NOW, composer=ack) == 1
    [sent] = tmp_path.glob("*.eml")
    assert f"/suivi/{done.token}" in sent.read_text()
    for table in tables.metadata.sorted_tables:
        for stored in await db.fetch_all(sa.select(table)):
            assert all(done.token not in str(value) for value in stored.values()), table.name
