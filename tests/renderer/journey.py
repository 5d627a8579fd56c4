"""Walking the wizard over HTTP: valid answers for any compiled field, and a full journey.

Used by the wizard, documents, mail and quota tests; works for any procedure of any pack, so
the tests follow the example pack rather than hard-coding its fields.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from engine import rules
from engine.model import Field, Procedure
from renderer import wizard_state as ws
from tests.renderer.conftest import csrf_token_of

TINY_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478"
    "da63f8cfc0f01f0005000201a3a8b5d40000000049454e44ae426082"
)
APPLICANT = {
    "civilite": "Madame",
    "nom": "Dupont",
    "prenom": "Marie",
    "naissance": "1985-04-12",
    "adresse-street": "3 rue de la Loire",
    "adresse-postal_code": "45000",
    "adresse-city": "Belval-sur-Loire",
    "courriel": "marie.dupont@example.org",
    "telephone": "06 12 34 56 78",
}


def _pattern_value(f: Field) -> str:
    samples = ["W123456789", "12345678901234", "AB12", "12345"]
    for sample in samples:
        if f.pattern and re.match(f.pattern, sample):
            return sample
    raise AssertionError(f"no sample value for the pattern of field {f.id!r}: {f.pattern}")


def _date_value(f: Field, today: dt.date) -> str:
    low = rules.resolve_date_bound(f.date_min, today) if f.date_min else None
    high = rules.resolve_date_bound(f.date_max, today) if f.date_max else None
    if low and high:
        return (low + (high - low) / 2).isoformat()
    return (low or high or today).isoformat()


def value_pairs(
    f: Field, today: dt.date, prefix: str = "", text: str = ""
) -> list[tuple[str, str]]:
    """Valid form pairs for one field (``text`` replaces free-text answers, e.g. XSS)."""
    name = prefix + f.id
    t = f.type
    if t in ("text", "textarea"):
        if f.pattern:
            return [(name, _pattern_value(f))]
        value = text or "Réponse"
        return [(name, value[: f.max_length] if f.max_length else value)]
    if t == "email":
        return [(name, "marie.dupont@example.org")]
    if t == "phone":
        return [(name, "06 12 34 56 78")]
    if t == "postal_code":
        return [(name, "45000")]
    if t == "number":
        low = f.min if f.min is not None else 1
        value = math.ceil(low) if f.integer or float(low).is_integer() else low
        return [(name, str(value))]
    if t == "date":
        return [(name, _date_value(f, today))]
    if t == "choice":
        return [(name, f.choices[0].value)]
    if t == "multichoice":
        count = max(int(f.min or 1), 1)
        return [(name, c.value) for c in f.choices[:count]]
    if t == "checkbox":
        return [(name, "1")]
    if t == "address":
        parts = {"street": text or "1 place de la Mairie", "postal_code": "45000", "city": "Belval"}
        return [(f"{name}-{p}", v) for p, v in parts.items()]
    if t == "group":
        rows = max(f.min_items, 1)
        out = [(f"{name}-rows", str(rows))]
        for n in range(rows):
            for s in f.fields:
                out += value_pairs(s, today, f"{name}-{n}-", text)
        return out
    return []


def step_pairs(
    proc: Procedure, step_id: str, today: dt.date, text: str = ""
) -> list[tuple[str, str]]:
    step = next(s for s in proc.steps if s.id == step_id)
    pairs: list[tuple[str, str]] = []
    for f in step.fields:
        pairs += value_pairs(f, today, text=text)
    return pairs


def post(client: Any, url: str, pairs: list[tuple[str, str]], files: Any = None) -> Any:
    token = csrf_token_of(client.get(url).text)
    data: dict[str, Any] = {}
    for key, value in [("csrf_token", token), *pairs]:
        data.setdefault(key, []).append(value)
    return client.post(url, data=data, files=files, follow_redirects=False)


def fill_draft(
    client: Any, proc: Procedure, today: dt.date, text: str = "", until: str = ws.SUMMARY
) -> str:
    """Walk every step up to ``until`` (default: the récapitulatif); returns its URL."""
    base = f"/demarches/{proc.id}/etapes/"
    url = base + ws.INTRO
    applicant = dict(APPLICANT)
    if text:
        applicant.update(nom=text, prenom=text, **{"adresse-street": text, "adresse-city": text})
    for _ in range(40):
        key = url.rsplit("/", 1)[1]
        if key in (until, ws.SUMMARY):
            return url
        if key == ws.APPLICANT:
            pairs = list(applicant.items())
        elif key.startswith(ws.REQUEST_PREFIX):
            pairs = step_pairs(proc, key.removeprefix(ws.REQUEST_PREFIX), today, text)
        elif key == ws.APPOINTMENT:
            pairs = [("souhaite-rendez-vous", "oui")]  # read only when it is optional
        elif key == ws.DOCUMENTS:
            response = upload_all(client, proc, url)
            assert response.status_code == 303, response.text
            pairs = []
        else:
            pairs = []
        response = post(client, url, pairs)
        assert response.status_code == 303, (
            f"{key}: {response.status_code}\n{errors_in(response.text)}"
        )
        url = response.headers["location"]
    raise AssertionError("the wizard never reached the récapitulatif")


def upload_all(client: Any, proc: Procedure, url: str) -> Any:
    """Attach one small PDF to every document type shown on the page."""
    page = client.get(url).text
    inputs = re.findall(
        r'type="file" id="[^"]+" name="(piece-[a-z0-9-]+)" multiple accept="([^"]*)"', page
    )
    files = [
        (name, (f"{name}.pdf", TINY_PDF, "application/pdf"))
        if "application/pdf" in accept
        else (name, (f"{name}.png", TINY_PNG, "image/png"))
        for name, accept in sorted(set(inputs))
    ]
    token = csrf_token_of(page)
    return client.post(
        url, data={"csrf_token": token, "_upload": "1"}, files=files, follow_redirects=False
    )


def submit(client: Any, proc: Procedure) -> Any:
    url = f"/demarches/{proc.id}/etapes/{ws.SUMMARY}"
    return post(client, url, [])


def errors_in(html: str) -> list[str]:
    return re.findall(r'class="error-message" id="e-([^"]+)">.*?</span>([^<]*)<', html)


async def _outbox_rows(db: Any, composer: Any) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from storage.outbox import compose_all
    from storage.tables import outbox

    await compose_all(db, composer)
    rows = await db.fetch_all(sa.select(outbox).order_by(outbox.c.id))
    return [dict(row) for row in rows]


def outbox_mails(client: Any) -> list[dict[str, Any]]:
    """Every queued mail (to_addr, subject, text_body, html_body...), oldest first; those
    the worker composes are composed first, as its next round would."""
    from tests.renderer.conftest import run_in_app

    state = client.app.state
    return run_in_app(client, _outbox_rows, state.db, state.compose_mail)  # type: ignore[no-any-return]


TRACKING_LINK = re.compile(r"https?://[^\s\"<>]+/suivi/([A-Za-z0-9_-]+)")


def tracking_token(mail_text: str) -> str:
    found = TRACKING_LINK.search(mail_text)
    assert found, "no tracking link in the mail"
    return found.group(1)


def submitted(client: Any, proc: Procedure, today: dt.date, text: str = "") -> str:
    """Fill and submit ``proc``; returns the tracking token of its acknowledgement."""
    fill_draft(client, proc, today, text)
    response = submit(client, proc)
    assert response.status_code == 303, errors_in(response.text) or response.text[:2000]
    client.get(response.headers["location"])
    return tracking_token(outbox_mails(client)[-1]["text_body"])
