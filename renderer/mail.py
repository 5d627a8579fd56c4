"""Emails to citizens: the acknowledgement of a request and state changes (French).

Each mail is plain text plus HTML, built from ``templates/mail/*``. The HTML templates are
autoescaped (citizen input may hold markup); the text templates are not, since plain text
has nothing to escape. The environment is module-level and never reloads: each template is
compiled once and then looked up without checking its file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from engine import rules
from engine.model import Portal, Procedure, State
from renderer import summary
from renderer.templating import PageCache
from storage.outbox import Mail

TEMPLATES = Path(__file__).resolve().parent / "templates"
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
    auto_reload=False,
)


def tracking_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/suivi/{token}"


def your_request(title: str) -> str:
    """ "Votre demande « Recensement citoyen »", but "Votre demande d'acte de naissance"
    for a title that already says "Demande ..." (no "votre demande « Demande ... »")."""
    if title.startswith("Demande"):
        return "Votre " + title[0].lower() + title[1:]
    return f"Votre demande « {title} »"


def _sender(portal: Portal, mail_from: str) -> str | None:
    if mail_from:
        return mail_from
    if portal.contact.email:
        return f"{portal.name} <{portal.contact.email}>"
    return None


def _render(name: str, context: Mapping[str, Any]) -> tuple[str, str]:
    """The text and HTML parts, each rendered once from the same context."""
    text = _env.get_template(f"mail/{name}.txt").render(context)
    html = _env.get_template(f"mail/{name}.html").render(context)
    return text, html


# The récapitulatif of an acknowledgement is a loop over every answer: written here rather
# than in the templates, where each row costs a loop context and an escape per value (about
# half of the whole mail), while the frame around it stays in ``templates/mail/ack.*``.
H3 = '<h3 style="font-size: 1em;">'


def recap_text(sections: list[summary.Section], documents: list[summary.Row]) -> str:
    """The sections and documents of the plain-text acknowledgement, one line per answer."""
    out: list[str] = []
    for section in sections:
        out.append(f"\n{section.title}\n")
        for row in section.rows:
            if not row.rows:
                out.append(f"- {summary.labelled(row.label, row.value)}\n")
                continue
            out.append(f"- {row.label} :\n")
            for n, sub in enumerate(row.rows, start=1):
                cells = " ; ".join(summary.labelled(cell.label, cell.value) for cell in sub)
                out.append(f"  {n}. {cells}\n")
    if documents:
        out.append("\nPièces justificatives\n")
        out += [f"- {summary.labelled(row.label, row.value)}\n" for row in documents]
    return "".join(out)


def _labelled_html(row: summary.Row) -> str:
    return str(escape(summary.labelled(row.label, row.value)))


def recap_html(sections: list[summary.Section], documents: list[summary.Row]) -> Markup:
    """The same as HTML; every label and value escaped."""
    out: list[str] = []
    for section in sections:
        out.append(f"{H3}{escape(section.title)}</h3>\n<ul>\n")
        for row in section.rows:
            if not row.rows:
                out.append(f"  <li>{_labelled_html(row)}</li>\n")
                continue
            subs = "".join(
                "<li>" + " ; ".join(_labelled_html(c) for c in sub) + "</li>" for sub in row.rows
            )
            out.append(f"  <li>{escape(row.label)} :\n    <ol>{subs}</ol>\n  </li>\n")
        out.append("</ul>\n")
    if documents:
        items = "".join(f"<li>{_labelled_html(r)}</li>" for r in documents)
        out.append(f"{H3}Pièces justificatives</h3>\n<ul>{items}</ul>\n")
    return Markup("".join(out))


# The acknowledgement's frame (everything but the citizen's names, the reference, the link,
# the appointment line and the récapitulatif) is the same for every request of a procedure
# version: rendered once from ``templates/mail/ack.*`` with a mark wherever those go (the
# reference and the link come twice in the HTML), then filled per mail, which is byte for
# byte what the template renders (a test compares both).
_ACK_FRAMES = PageCache(limit=512, repeats=True)


def _ack_parts(
    portal: Portal, proc: Procedure, holes: dict[str, str], text_recap: str, html_recap: Markup
) -> tuple[str, str]:
    """The text and HTML of an acknowledgement, from the frames of its procedure version."""
    has_line = bool(holes["appointment_line"])

    def context(values: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "portal": portal,
            "proc": proc,
            "your_request": your_request(proc.title),
            "reference": values["reference"],
            "applicant": {"prenom": values["prenom"], "nom": values["nom"]},
            "recap_text": values["recap"],
            "recap_html": values["recap"],
            "appointment_line": values["appointment_line"] if has_line else "",
            "link": values["link"],
        }

    def build(kind: str) -> Any:
        return lambda marks: _env.get_template(f"mail/ack.{kind}").render(context(marks))

    text_holes = {**holes, "recap": text_recap}
    html_holes = {name: str(escape(value)) for name, value in holes.items()}
    html_holes["recap"] = str(html_recap)
    if not has_line:  # the templates leave the line out: no mark for it
        del text_holes["appointment_line"], html_holes["appointment_line"]
    key = (id(portal), proc.id, proc.version, has_line)
    text = _ACK_FRAMES.fill((*key, "txt"), build("txt"), text_holes)
    html = _ACK_FRAMES.fill((*key, "html"), build("html"), html_holes)
    if text is None or html is None:  # a hole the templates do not show: render them whole
        values = {**holes, "recap": ""}
        whole = context(values) | {"recap_text": text_recap, "recap_html": html_recap}
        return _render("ack", whole)
    return text, html


def compose_ack(
    *,
    portal: Portal,
    proc: Procedure,
    applicant: Mapping[str, Any],
    shown: rules.Visibility,
    documents: list[dict[str, Any]],
    appointment: Mapping[str, Any] | None,
    reference: str,
    token: str,
    base_url: str,
    mail_from: str = "",
) -> Mail:
    """The acknowledgement: reference, the procedure's text, a summary, the tracking link.

    ``shown`` is the visibility of the submitted values (``engine.rules.visibility``).
    """
    sections = summary.sections(shown)
    rows = summary.document_rows(proc, documents)
    line = summary.appointment_line(appointment)
    holes = {
        "prenom": str(applicant.get("prenom", "")),
        "nom": str(applicant.get("nom", "")),
        "reference": reference,
        "link": tracking_url(base_url, token),
        "appointment_line": line,
    }
    text_recap, html_recap = recap_text(sections, rows), recap_html(sections, rows)
    text, html = _ack_parts(portal, proc, holes, text_recap, html_recap)
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
        "your_request": your_request(proc.title),
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
