"""The mail outbox: rows written in the caller's transaction, delivered later by a worker.

Delivery guarantees. A worker first *claims* a due row with a conditional UPDATE that sets
``claimed_until`` (a lease); only the worker whose UPDATE matched sends it, so two workers
never send the same row at the same time. After a successful send the row gets
``sent_at`` and is never picked again. If the process dies between the SMTP acceptance and
the ``sent_at`` update, the lease expires and the message is sent again: delivery is
*at least once*, never lost. Each row has a ``Message-ID`` fixed at enqueue time, so such a
rare duplicate carries the same Message-ID and mail clients and servers can recognise it.
A failed send increments ``attempts``, records ``last_error`` and schedules the next try
with exponential backoff (capped); nothing is ever dropped.

Once a message is sent its bodies are blanked: an acknowledgement holds the citizen's private
tracking link, a bearer secret whose hash alone the database may keep (``requests.token_hash``).

Composed by the worker. A submission queues its acknowledgement as a *template* row
(`queue_template`: ``template`` "ack", ``request_id``, and the raw tracking token in
``secret``) in its own transaction, and the worker composes it from the stored request just
before sending it (`Composer`, given by the portal). If that send fails, the composed mail is
written into the row, ``template`` and ``secret`` cleared, so that the retries send the very
same message; a sent one keeps its envelope only, like any other. Composing (~0.1 ms of CPU)
thus leaves the citizen's submission; a composer that fails counts as a failed attempt,
retried with the same backoff, and loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
import sqlalchemy as sa

from storage.db import Database, Statement, UtcDateTime, as_utc, binds
from storage.files import write_atomically
from storage.tables import outbox

logger = logging.getLogger("guichet.outbox")

DEFAULT_SENDER = "Guichet <ne-pas-repondre@localhost>"
LEASE = dt.timedelta(minutes=5)
BACKOFF_BASE = dt.timedelta(seconds=30)
BACKOFF_CAP = dt.timedelta(hours=6)
# Every outbox mail is automatic (RFC 3834): auto-responders must not answer it.
AUTO_SUBMITTED = "auto-generated"
DT = UtcDateTime()


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str
    reply_to: str | None = None
    sender: str | None = None


class Sender(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


ACK = "ack"  # the template of an acknowledgement, composed from ``request_id``
# Composes a template row (``template``, ``request_id``, ``secret``, ``to_addr``...) into its
# mail; the worker calls it with its database.
Composer = Callable[[Database, dict[str, Any]], Awaitable[Mail]]


ENQUEUE = Statement(
    outbox.insert()
    .values(
        **binds(
            "created_at",
            "message_id",
            "to_addr",
            "sender",
            "reply_to",
            "subject",
            "text_body",
            "html_body",
            "next_attempt_at",
        ),
        attempts=0,
    )
    .returning(outbox.c.id)
)


async def enqueue(db: Database, mail: Mail, now: dt.datetime) -> int:
    """Queue ``mail`` with a fresh Message-ID; inside ``db.transaction()`` it commits or
    rolls back with the caller."""
    values = {
        "created_at": now,
        "message_id": make_msgid(domain="guichet.local"),
        **mail_columns(mail),
        "next_attempt_at": now,
    }
    return int(await db.fetch_val(ENQUEUE, values))


def mail_columns(mail: Mail) -> dict[str, Any]:
    """The outbox columns that hold ``mail`` itself."""
    return {
        "to_addr": mail.to,
        "sender": mail.sender,
        "reply_to": mail.reply_to,
        "subject": mail.subject,
        "text_body": mail.text,
        "html_body": mail.html,
    }


QUEUE_TEMPLATE = Statement(
    outbox.insert().values(
        **binds(
            "created_at",
            "message_id",
            "to_addr",
            "template",
            "request_id",
            "secret",
            "next_attempt_at",
        ),
        subject="",
        text_body="",
        html_body="",
        attempts=0,
    )
)


def template_values(
    template: str, request_id: int | None, to: str, secret: str, now: dt.datetime
) -> dict[str, Any]:
    """The outbox row of a mail the worker composes (``request_id`` None: set by the SQL)."""
    return {
        "created_at": now,
        "message_id": make_msgid(domain="guichet.local"),
        "to_addr": to,
        "template": template,
        "request_id": request_id,
        "secret": secret,
        "next_attempt_at": now,
    }


async def queue_template(
    db: Database, template: str, request_id: int, to: str, secret: str, now: dt.datetime
) -> None:
    """Queue a mail the worker composes (see the module docstring); transactional."""
    await db.execute(QUEUE_TEMPLATE, template_values(template, request_id, to, secret, now))


def build_message(row: dict[str, Any], default_sender: str) -> EmailMessage:
    """An RFC 5322 message, multipart/alternative (text then HTML), UTF-8."""
    message = EmailMessage()
    message["From"] = row["sender"] or default_sender
    message["To"] = row["to_addr"]
    if row["reply_to"]:
        message["Reply-To"] = row["reply_to"]
    message["Subject"] = row["subject"]
    message["Date"] = format_datetime(as_utc(row["created_at"]) or dt.datetime.now(dt.UTC))
    message["Message-ID"] = row["message_id"]
    message["Auto-Submitted"] = AUTO_SUBMITTED
    message.set_content(row["text_body"], charset="utf-8")
    message.add_alternative(row["html_body"], subtype="html", charset="utf-8")
    return message


def backoff(attempts: int) -> dt.timedelta:
    """Delay before the next try after ``attempts`` failures: 30 s, 1 min, 2 min... ≤ 6 h."""
    delay: dt.timedelta = BACKOFF_BASE * (2 ** max(attempts - 1, 0))
    return min(delay, BACKOFF_CAP)


class MaildirSender:
    """Writes each message as ``<folder>/<time>-<id>.eml`` (atomically) for developers."""

    def __init__(self, folder: Path, default_sender: str = DEFAULT_SENDER) -> None:
        self.folder = Path(folder)
        self.default_sender = default_sender

    async def send(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        data = message.as_bytes()
        token = str(message["Message-ID"]).strip("<>").split("@", 1)[0]
        name = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{token}.eml"
        await asyncio.to_thread(write_atomically, self.folder / name, data)


class SmtpSender:
    """SMTP delivery: ``smtp://[user:pass@]host[:port][?starttls=1]`` or ``smtps://`` (TLS)."""

    def __init__(self, url: str, default_sender: str = DEFAULT_SENDER, timeout: float = 30):
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError(
                f"SMTP URL {url!r} is not valid. Expected smtp://host:port or smtps://host."
            )
        query = parse_qs(parts.query)
        self.hostname = parts.hostname
        self.use_tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.use_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.start_tls = query.get("starttls", ["0"])[0].lower() in {"1", "true", "yes"}
        self.default_sender = default_sender
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self.hostname,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.use_tls,
            start_tls=self.start_tls,
            timeout=self.timeout,
        )


def _sender_address(sender: Sender) -> str:
    return str(getattr(sender, "default_sender", DEFAULT_SENDER))


_FREE = sa.or_(
    outbox.c.claimed_until.is_(None), outbox.c.claimed_until < sa.bindparam("now", type_=DT)
)
DUE = Statement(
    sa.select(outbox.c.id)
    .where(
        outbox.c.sent_at.is_(None),
        outbox.c.next_attempt_at <= sa.bindparam("now", type_=DT),
        _FREE,
    )
    .order_by(outbox.c.next_attempt_at, outbox.c.id)
    .limit(sa.bindparam("batch", type_=sa.Integer))
)
CLAIM = Statement(
    outbox.update()
    .where(outbox.c.id == sa.bindparam("row_id"), outbox.c.sent_at.is_(None), _FREE)
    .values(claimed_until=sa.bindparam("until", type_=DT))
    .returning(*outbox.c)
)
SENT = Statement(
    outbox.update()
    .where(outbox.c.id == sa.bindparam("row_id"))
    .values(
        sent_at=sa.bindparam("now", type_=DT),
        claimed_until=None,
        attempts=sa.bindparam("attempts", type_=sa.Integer),
        last_error=None,
        # The envelope is kept (composed, for a template row); the bodies and secret go.
        **binds("to_addr", "sender", "reply_to", "subject"),
        text_body="",
        html_body="",
        template=None,
        secret=None,
    )
)
FAILED = Statement(
    outbox.update()
    .where(outbox.c.id == sa.bindparam("row_id"))
    .values(
        attempts=sa.bindparam("attempts", type_=sa.Integer),
        next_attempt_at=sa.bindparam("next_at", type_=DT),
        last_error=sa.bindparam("error", type_=sa.Text),
        claimed_until=None,
    )
)


COMPOSED = Statement(
    outbox.update()
    # Never a row already sent (its bodies are blanked) or composed by someone else.
    .where(
        outbox.c.id == sa.bindparam("row_id"),
        outbox.c.sent_at.is_(None),
        outbox.c.template.is_not(None),
    )
    .values(
        **binds("to_addr", "sender", "reply_to", "subject", "text_body", "html_body"),
        template=None,
        secret=None,
    )
)
TEMPLATED = Statement(
    sa.select(outbox)
    .where(outbox.c.sent_at.is_(None), outbox.c.template.is_not(None))
    .order_by(outbox.c.id)
)


async def _claim(db: Database, row_id: int, now: dt.datetime) -> dict[str, Any] | None:
    return await db.fetch_one(CLAIM, {"row_id": row_id, "now": now, "until": now + LEASE})


async def _composed(db: Database, row: dict[str, Any], composer: Composer | None) -> dict[str, Any]:
    """The composed columns of a template row."""
    if composer is None:
        raise LookupError(f"no composer for the {row['template']!r} mail {row['id']}")
    return mail_columns(await composer(db, row))


async def compose_all(db: Database, composer: Composer) -> int:
    """Compose and store every unsent template row now, without sending; returns how many
    (for tests and tools that read queued mail: the worker composes as it sends)."""
    rows = await db.fetch_all(TEMPLATED)
    for row in rows:
        await db.execute(COMPOSED, {"row_id": row["id"], **await _composed(db, row, composer)})
    return len(rows)


async def _deliver_one(
    db: Database, sender: Sender, row: dict[str, Any], now: dt.datetime, composer: Composer | None
) -> bool:
    """Compose (a template row), send, record. The composed mail is written only when the
    send fails, so that the retries send the same message; a sent one keeps its envelope."""
    attempts = row["attempts"] + 1
    composed = None
    try:
        if row["template"] is not None:
            composed = await _composed(db, row, composer)
            row = {**row, **composed}
        await sender.send(build_message(row, _sender_address(sender)))
    except Exception as exc:  # any failure is recorded and retried later
        logger.warning(
            "Mail %s to %s failed (attempt %d): %s", row["id"], row["to_addr"], attempts, exc
        )
        error = f"{type(exc).__name__}: {exc}"[:2000]
        values = {"row_id": row["id"], "attempts": attempts, "error": error}
        async with db.transaction():
            if composed is not None:
                await db.execute(COMPOSED, {"row_id": row["id"], **composed})
            await db.execute(FAILED, {**values, "next_at": now + backoff(attempts)})
        return False
    envelope = {k: row[k] for k in ("to_addr", "sender", "reply_to", "subject")}
    await db.execute(SENT, {"row_id": row["id"], "now": now, "attempts": attempts, **envelope})
    return True


async def deliver_pending(
    db: Database,
    sender: Sender,
    now: dt.datetime,
    *,
    batch: int = 50,
    composer: Composer | None = None,
) -> int:
    """Send the due messages (at most ``batch``), composing template rows with ``composer``
    first; return how many were sent."""
    sent = 0
    for candidate in await db.fetch_all(DUE, {"now": now, "batch": batch}):
        row = await _claim(db, candidate["id"], now)
        if row is not None and await _deliver_one(db, sender, row, now, composer):
            sent += 1
    return sent


async def run_outbox_worker(
    db: Database,
    sender: Sender,
    stop_event: asyncio.Event,
    interval: float = 5.0,
    composer: Composer | None = None,
) -> None:
    """Deliver pending mail every ``interval`` seconds until ``stop_event`` is set.

    A round sends batch after batch while batches come back full, so a burst (a quota
    opening at 8:00) is sent at the sender's pace, not 50 mails per interval.
    """
    batch = 50
    while not stop_event.is_set():
        try:
            while (
                await deliver_pending(
                    db, sender, dt.datetime.now(dt.UTC), batch=batch, composer=composer
                )
                == batch
            ):
                if stop_event.is_set():
                    break
        except Exception:  # the database may be briefly unavailable: keep the worker alive
            logger.exception("Outbox delivery round failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), timeout=interval)


async def pending_count(db: Database) -> int:
    query = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
    return int(await db.fetch_val(query))
