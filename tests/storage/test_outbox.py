from __future__ import annotations

import asyncio
import datetime as dt
import email
import socket
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from storage import tables
from storage.db import Database, as_utc
from storage.outbox import (
    ACK,
    Mail,
    MaildirSender,
    SmtpSender,
    backoff,
    deliver_pending,
    enqueue,
    pending_count,
    queue_template,
    run_outbox_worker,
)
from tests.storage.conftest import NOW

pytestmark = pytest.mark.anyio

MAIL = Mail(
    to="zoé@example.org",
    subject="Accusé de réception de votre demande DEM-2026-000001",
    text="Bonjour,\nVotre demande a bien été reçue.",
    html="<p>Bonjour,</p><p>Votre demande a bien été <strong>reçue</strong>.</p>",
    reply_to="mairie@example.org",
)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def smtp_server(inbox: Inbox, port: int) -> Controller:
    # SMTPUTF8: the recipient has an accented local part.
    controller = Controller(inbox, hostname="127.0.0.1", port=port, enable_SMTPUTF8=True)
    controller.start()
    return controller


def assert_french_alternative(message: EmailMessage) -> None:
    assert message["Subject"] == MAIL.subject
    assert message["To"] == MAIL.to
    assert message["Reply-To"] == MAIL.reply_to
    assert message["Message-ID"] and message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content_charset() == "utf-8"
    # SMTP carries CRLF line endings; the .eml keeps LF.
    assert text.get_content().replace("\r\n", "\n").strip() == MAIL.text
    assert html.get_content().replace("\r\n", "\n").strip() == MAIL.html


async def outbox_row(db: Database) -> dict[str, Any]:
    row = await db.fetch_one(sa.select(tables.outbox))
    assert row is not None
    return row


async def test_smtp_delivers_text_and_html_once(db: Database) -> None:
    inbox = Inbox()
    port = free_port()
    server = smtp_server(inbox, port)
    try:
        await enqueue(db, MAIL, NOW)
        sender = SmtpSender(f"smtp://127.0.0.1:{port}")
        assert await deliver_pending(db, sender, NOW) == 1
        assert await deliver_pending(db, sender, NOW + dt.timedelta(days=1)) == 0
    finally:
        server.stop()
    assert len(inbox.messages) == 1
    assert_french_alternative(inbox.messages[0])
    row = await outbox_row(db)
    assert inbox.messages[0]["Message-ID"] == row["message_id"]
    # RFC 3834: every outbox mail is automatic, so auto-responders must not answer it.
    assert inbox.messages[0]["Auto-Submitted"] == "auto-generated"
    assert as_utc(row["sent_at"]) == NOW and row["attempts"] == 1
    assert await pending_count(db) == 0


async def test_sent_message_bodies_are_blanked(db: Database, tmp_path: Path) -> None:
    # An acknowledgement carries the private tracking link: once sent, the database keeps
    # only the envelope of the message.
    await enqueue(db, MAIL, NOW)
    row = await outbox_row(db)
    assert row["text_body"] == MAIL.text and row["html_body"] == MAIL.html
    assert await deliver_pending(db, MaildirSender(tmp_path / "mail"), NOW) == 1
    row = await outbox_row(db)
    assert (row["text_body"], row["html_body"]) == ("", "")
    assert row["subject"] == MAIL.subject and row["to_addr"] == MAIL.to


async def test_server_down_then_back_retries_with_backoff(db: Database) -> None:
    inbox = Inbox()
    port = free_port()
    sender = SmtpSender(f"smtp://127.0.0.1:{port}", timeout=5)
    await enqueue(db, MAIL, NOW)

    assert await deliver_pending(db, sender, NOW) == 0
    row = await outbox_row(db)
    assert row["attempts"] == 1 and row["sent_at"] is None and row["claimed_until"] is None
    assert as_utc(row["next_attempt_at"]) == NOW + dt.timedelta(seconds=30)
    assert "SMTPConnect" in row["last_error"]

    second = NOW + dt.timedelta(seconds=31)
    assert await deliver_pending(db, sender, second) == 0
    row = await outbox_row(db)
    assert row["attempts"] == 2
    assert as_utc(row["next_attempt_at"]) == second + dt.timedelta(seconds=60)

    server = smtp_server(inbox, port)
    try:
        # Not due yet: the backoff is respected even though the server is back.
        assert await deliver_pending(db, sender, second + dt.timedelta(seconds=59)) == 0
        back = second + dt.timedelta(seconds=61)
        assert await deliver_pending(db, sender, back) == 1
        assert await deliver_pending(db, sender, back + dt.timedelta(hours=1)) == 0
    finally:
        server.stop()
    assert len(inbox.messages) == 1
    row = await outbox_row(db)
    assert (row["attempts"], row["last_error"], as_utc(row["sent_at"])) == (3, None, back)


def test_backoff_doubles_up_to_a_cap() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(30) == dt.timedelta(hours=6)


async def test_claimed_row_is_not_sent_by_another_worker(db: Database, tmp_path: Path) -> None:
    await enqueue(db, MAIL, NOW)
    # A worker claimed the row and is still sending (lease not expired).
    await db.execute(tables.outbox.update().values(claimed_until=NOW + dt.timedelta(minutes=5)))
    sender = MaildirSender(tmp_path / "mail")
    assert await deliver_pending(db, sender, NOW) == 0
    # That worker died: after the lease the row is delivered (at least once).
    assert await deliver_pending(db, sender, NOW + dt.timedelta(minutes=6)) == 1
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1


async def test_concurrent_workers_send_each_mail_once(db: Database, tmp_path: Path) -> None:
    for _ in range(5):
        await enqueue(db, MAIL, NOW)
    sender = MaildirSender(tmp_path / "mail")
    sent = await asyncio.gather(*(deliver_pending(db, sender, NOW) for _ in range(4)))
    assert sum(sent) == 5
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 5


async def test_maildir_writes_parseable_eml(db: Database, tmp_path: Path) -> None:
    await enqueue(db, MAIL, NOW)
    assert await deliver_pending(db, MaildirSender(tmp_path / "mail"), NOW) == 1
    files = list((tmp_path / "mail").iterdir())
    assert [f.suffix for f in files] == [".eml"]
    message = email.message_from_bytes(files[0].read_bytes(), policy=default_policy)
    assert isinstance(message, EmailMessage)
    assert_french_alternative(message)
    assert message["From"] == "Guichet <ne-pas-repondre@localhost>"
    assert message["Auto-Submitted"] == "auto-generated"


async def test_worker_delivers_until_stopped(db: Database, tmp_path: Path) -> None:
    await enqueue(db, MAIL, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    stop = asyncio.Event()
    worker = asyncio.create_task(run_outbox_worker(db, MaildirSender(tmp_path), stop, 0.05))
    while await pending_count(db):
        await asyncio.sleep(0.05)
    stop.set()
    await worker
    assert len(list(tmp_path.glob("*.eml"))) == 1


class CountingSender:
    """Counts the messages it is given."""

    def __init__(self) -> None:
        self.sent = 0
        self.default_sender = "Guichet <mairie@example.org>"

    async def send(self, message: EmailMessage) -> None:
        await asyncio.sleep(0)
        self.sent += 1


async def test_a_burst_is_sent_in_one_round_not_fifty_per_interval(db: Database) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    async with db.transaction():
        for _ in range(120):
            await enqueue(db, MAIL, past)
    sender = CountingSender()
    stop = asyncio.Event()
    # An interval far longer than the test: every mail must go in the first round.
    worker = asyncio.create_task(run_outbox_worker(db, sender, stop, 3600))
    for _ in range(200):
        if sender.sent == 120:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await worker
    assert sender.sent == 120
    assert await pending_count(db) == 0


def test_smtp_url_is_parsed() -> None:
    sender = SmtpSender("smtp://ana%40mairie:s%C3%A9cret@mail.example.org:587?starttls=1")
    assert (sender.hostname, sender.port, sender.start_tls, sender.use_tls) == (
        "mail.example.org",
        587,
        True,
        False,
    )
    assert (sender.username, sender.password) == ("ana@mairie", "sécret")
    with pytest.raises(ValueError, match="SMTP URL 'http://x' is not valid"):
        SmtpSender("http://x")


async def test_a_template_mail_is_composed_once_and_a_failed_composition_is_retried(
    db: Database, tmp_path: Path
) -> None:
    # The acknowledgement is queued as a template; the worker composes it before sending.
    await queue_template(db, ACK, 41, "zoé@example.org", "jeton-secret", NOW)
    calls: list[dict[str, Any]] = []
    broken = True

    async def composer(db: Database, row: dict[str, Any]) -> Mail:
        calls.append(row)
        if broken:
            raise RuntimeError("template error")
        return MAIL

    sender = MaildirSender(tmp_path)
    assert await deliver_pending(db, sender, NOW, composer=composer) == 0
    row = await outbox_row(db)
    assert (row["attempts"], row["last_error"]) == (1, "RuntimeError: template error")
    assert (row["template"], row["secret"], row["sent_at"]) == (ACK, "jeton-secret", None)

    broken = False
    later = NOW + backoff(1)
    assert await deliver_pending(db, sender, later, composer=composer) == 1
    [path] = tmp_path.glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
    assert isinstance(message, EmailMessage)
    assert_french_alternative(message)
    assert [(c["request_id"], c["secret"], c["to_addr"]) for c in calls] == [
        (41, "jeton-secret", "zoé@example.org")
    ] * 2
    row = await outbox_row(db)
    assert (row["template"], row["secret"], row["subject"]) == (None, None, MAIL.subject)
    assert as_utc(row["sent_at"]) == later


async def test_a_template_mail_without_composer_stays_queued(db: Database) -> None:
    await queue_template(db, ACK, 41, "zoe@example.org", "jeton-secret", NOW)
    assert await deliver_pending(db, MaildirSender(Path("/nonexistent")), NOW) == 0
    row = await outbox_row(db)
    assert row["attempts"] == 1 and "no composer" in row["last_error"]
    assert row["template"] == ACK and row["sent_at"] is None


async def test_a_composed_mail_whose_send_failed_is_resent_as_composed(db: Database) -> None:
    await queue_template(db, ACK, 41, "zoé@example.org", "jeton-secret", NOW)
    calls = 0

    async def composer(db: Database, row: dict[str, Any]) -> Mail:
        nonlocal calls
        calls += 1
        return MAIL

    class Flaky:
        """Refuses the first message, accepts the next ones."""

        def __init__(self) -> None:
            self.tries = 0
            self.sent: list[EmailMessage] = []

        async def send(self, message: EmailMessage) -> None:
            self.tries += 1
            if self.tries == 1:
                raise ConnectionRefusedError("down")
            self.sent.append(message)

    sender = Flaky()
    assert await deliver_pending(db, sender, NOW, composer=composer) == 0
    row = await outbox_row(db)
    assert (row["template"], row["secret"], row["text_body"]) == (None, None, MAIL.text)
    assert await deliver_pending(db, sender, NOW + backoff(1), composer=composer) == 1
    assert calls == 1  # the retry sent what was composed, without composing again
    assert_french_alternative(sender.sent[0])
    row = await outbox_row(db)
    assert (row["subject"], row["to_addr"], row["text_body"]) == (MAIL.subject, MAIL.to, "")
