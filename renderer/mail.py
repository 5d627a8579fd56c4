"""Emails to citizens: the acknowledgement of a request and state changes (French).

Each mail is plain text plus HTML, built from ``templates/mail/*``. The HTML templates are
autoescaped (citizen input may hold markup); the text templates are not, since plain text
has nothing to escape. The environment is module-level: templates compile once.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from engine.model import Portal, Procedure, State
from renderer import summary
from storage.outbox import Mail

TEMPLATES = Path(__file__).resolve().parent / "templates"
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def tracking_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/suivi/{token}"


def _sender(portal: Portal, mail_from: str) -> str | None:
    if mail_from:
        return mail_from
    if portal.contact.email:
        return f"{portal.name} <{portal.contact.email}>"
    return None


def _render(name: str, context: Mapping[str, Any]) -> tuple[str, str]:
    text = _env.get_template(f"mail/{name}.txt").render(context)
    html = _env.get_template(f"mail/{name}.html").render(context)
    return text, html


def compose_ack(
    *,
    portal: Portal,
    proc: Procedure,
    applicant: Mapping[str, Any],
    values: Mapping[str, Any],
    documents: list[dict[str, Any]],
    appointment: Mapping[str, Any] | None,
    reference: str,
    token: str,
    base_url: str,
    mail_from: str = "",
) -> Mail:
    """The acknowledgement: reference, the procedure's text, a summary, the tracking link."""
    context = {
        "portal": portal,
        "proc": proc,
        "reference": reference,
        "applicant": applicant,
        "sections": summary.sections(proc, values),
        "applicant_rows": summary.applicant_rows(applicant),
        "documents": summary.document_rows(proc, documents),
        "appointment": appointment,
        "link": tracking_url(base_url, token),
    }
    text, html = _render("ack", context)
    return Mail(
        to=str(applicant.get("courriel", "")),
        subject=f"Accusé de réception de votre demande {reference}",
        text=text,
        html=html,
        reply_to=portal.contact.email or None,
        sender=_sender(portal, mail_from),
    )


def compose_state_change(
    *,
    portal: Portal,
    proc: Procedure,
    state: State,
    to: str,
    reference: str,
    token: str | None,
    base_url: str,
    mail_from: str = "",
) -> Mail | None:
    """The mail of a workflow state with ``notify``; None when the state notifies nobody.

    ``token`` is only known at submission (stored hashed); later mails may omit the link.
    """
    if state.notify is None or not to:
        return None
    context = {
        "portal": portal,
        "proc": proc,
        "state": state,
        "reference": reference,
        "body": state.notify.body,
        "link": tracking_url(base_url, token) if token else "",
    }
    text, html = _render("state", context)
    return Mail(
        to=to,
        subject=f"{state.notify.subject} ({reference})",
        text=text,
        html=html,
        reply_to=portal.contact.email or None,
        sender=_sender(portal, mail_from),
    )
