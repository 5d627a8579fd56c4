"""The wizard: `/demarches/{id}/etapes/{step}` (GET shows a step, POST saves it).

One handler per kind of step; the draft lives server-side (``storage.drafts``) keyed by the
browser session and the procedure. Any step whose previous steps are not done redirects
(303) to the first one that is not: a tampered order never stores anything.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from engine import rules
from engine.model import Procedure
from renderer import forms, stamps, submission, uploads
from renderer import wizard_state as ws
from renderer.draft_cache import COOKIE
from renderer.errors import NotFound
from renderer.routes.catalogue import availability
from renderer.security import csrf_input, has_session_tag, read_form, session_id, session_tag
from renderer.templating import page_cache, render, render_string
from storage import drafts
from storage import requests as requests_store
from storage.requests import DraftRef

MAX_FILES_CAP = 4
RESAVE_AFTER = dt.timedelta(minutes=10)
WANTS_APPOINTMENT = "souhaite-rendez-vous"
WANTS_CHOICES = (
    ("oui", "Oui, je souhaite prendre rendez-vous"),
    ("non", "Non, je ne souhaite pas de rendez-vous"),
)
WANTS_REQUIRED = "Indiquez si vous souhaitez un rendez-vous."
OPTIONAL_NOTE = (
    "La réservation d'un créneau en ligne sera bientôt disponible. Si vous souhaitez un "
    "rendez-vous, la mairie vous proposera un créneau."
)
APPOINTMENT_NOTE = (
    "La réservation d'un créneau en ligne sera bientôt disponible. Validez cette étape : "
    "le service vous contactera pour fixer le rendez-vous."
)


@dataclass
class Wizard:
    """Everything a step handler needs for one request."""

    request: Request
    proc: Procedure
    sid: str
    draft: dict[str, Any]
    now: dt.datetime
    seq: list[ws.WizardStep]
    current: ws.WizardStep
    shown: rules.Visibility  # of the draft's values, computed once per change of them
    saved_at: dt.datetime | None = None  # when the stored draft was last written
    rev: str | None = None  # the stored draft's revision (None: none stored)

    @property
    def today(self) -> dt.date:
        return submission.today_in_paris(self.now)

    def url(self, key: str) -> str:
        return f"/demarches/{self.proc.id}/etapes/{key}"

    @property
    def back_url(self) -> str | None:
        index = ws.find(self.seq, self.current.key)
        return self.url(self.seq[index - 1].key) if index else None

    @property
    def returning(self) -> bool:
        """Whether the step was opened by a "Modifier" link of the récapitulatif."""
        return query_param(self.request, "retour") == ws.SUMMARY

    @property
    def action(self) -> str:
        """This step's form action (keeps the way back to the récapitulatif)."""
        url = self.url(self.current.key)
        return url + f"?retour={ws.SUMMARY}" if self.returning else url

    def redirect(self, key: str) -> RedirectResponse:
        return RedirectResponse(self.url(key), status_code=303)

    async def save(self) -> None:
        """Write the draft (`drafts.DraftConflict` if the stored one changed meanwhile)."""
        self.rev = await _save_draft(
            self.request, self.proc, self.sid, self.draft, self.now, self.rev
        )
        self.saved_at = self.now

    def page(self, template: str, status_code: int = 200, **context: Any) -> Response:
        notice = self.request.session.pop("wizard_notice", None)
        base = {
            "proc": self.proc,
            "wizard": self,
            "progress": ws.progress_labels(self.seq, self.current.key),
            "step_title": self.current.title,
            "notice": notice,
            "errors": {},
            "back_url": self.back_url,
        }
        return render(self.request, template, {**base, **context}, status_code)

    def cached_page(
        self, template: str, context: dict[str, Any], fields_html: Markup, extra_key: str
    ) -> bytes | None:
        """``template`` without errors or notice, from the app's page cache.

        The key holds everything the page shows besides the CSRF token and the fields: the
        procedure version, the step, the progress (with the steps done) and ``extra_key``.
        """
        progress = ws.progress_labels(self.seq, self.current.key)
        done = self.draft["done"]
        key = (
            template,
            self.proc.id,
            self.proc.version,
            self.current.key,
            tuple(progress),
            tuple(k in done for _, k, _ in progress),
            self.back_url,
            self.returning,
            extra_key,
        )

        def build(marks: dict[str, Markup]) -> str:
            base = {
                "proc": self.proc,
                "wizard": self,
                "progress": progress,
                "step_title": self.current.title,
                "notice": None,
                "errors": {},
                "error_summary": [],
                "back_url": self.back_url,
                "csrf_input": lambda: marks["csrf"],
                "fields_html": marks["fields"],
            }
            return render_string(self.request, template, {**base, **context})

        holes = {"csrf": csrf_input(self.request), "fields": fields_html}
        return page_cache(self.request.app.state).fill_bytes(key, build, holes)

    async def done_then_next(self, changed: bool = True) -> RedirectResponse:
        """Mark the step done, save the draft, and go to the next step.

        ``changed=False``: the step stored what the draft already held. The write is then
        skipped if the step was already done and the draft was written less than
        ``RESAVE_AFTER`` ago (a citizen going through filled steps again), so the draft's
        age, which decides its expiry, lags by at most that.
        """
        already = self.current.key in self.draft["done"]
        ws.mark_done(self.draft, self.current.key)
        self.seq = ws.step_sequence(self.proc, self.shown)
        fresh = self.saved_at is not None and self.now - self.saved_at < RESAVE_AFTER
        if changed or not already or not fresh:
            await self.save()
        if self.returning:
            # Back to the récapitulatif, unless the answers showed a step not done yet.
            end = ws.find(self.seq, ws.SUMMARY)
            missing = ws.first_incomplete(self.seq, self.draft["done"], end or len(self.seq))
            return self.redirect(missing or ws.SUMMARY)
        return self.redirect(ws.next_key(self.seq, self.current.key))


def query_param(request: Request, name: str) -> str:
    """A query parameter, "" when absent (most wizard pages have no query string to parse)."""
    if not request.scope.get("query_string"):
        return ""
    return str(request.query_params.get(name, ""))


def _procedure(request: Request) -> Procedure:
    proc = request.app.state.pack.procedures.get(request.path_params["procedure_id"])
    if proc is None:
        raise NotFound()
    return proc


async def _refused(request: Request, proc: Procedure) -> Response | None:
    """The procedure page's refusal (padlock, window, quota) with the same message."""
    found = await availability(request, proc)
    if found.can_start:
        return None
    context = {"proc": proc, "message": found.message}
    return render(request, "wizard/refused.html", context, 403)


async def _load_draft(
    request: Request, proc: Procedure, sid: str, now: dt.datetime, cached: bool
) -> tuple[dict[str, Any], dt.datetime | None, str | None]:
    """The session's draft of ``proc``, when it was last written (None: a new draft) and its
    revision (None: none stored). ``cached``: from `renderer.draft_cache` if it holds the
    revision the browser names."""
    state = request.app.state
    cache = state.draft_cache
    row = cache.get(sid, proc.id, request.cookies.get(COOKIE)) if cached else None
    if row is None:
        row = await drafts.load_draft(state.db, sid, proc.id)
        if row is not None and request.method == "GET":  # a POST that saves puts its own
            cache.put(sid, proc.id, row)
    if row is None or ws.is_expired(row.updated_at, now, state.settings.draft_ttl_hours):
        if row is not None:
            await drafts.delete_draft(state.db, sid, proc.id, row.rev)
            cache.forget(sid, proc.id)
        return ws.empty_draft(), None, None
    draft = row.data
    if row.version != proc.version:
        ws.migrate_draft(draft, proc)
        request.session["wizard_notice"] = ws.VERSION_CHANGED
        return draft, now, await _save_draft(request, proc, sid, draft, now, row.rev)
    return draft, row.updated_at, row.rev


async def _save_draft(
    request: Request,
    proc: Procedure,
    sid: str,
    draft: dict[str, Any],
    now: dt.datetime,
    expected: str | None,
) -> str:
    """Write the draft made from revision ``expected``; its new revision."""
    state = request.app.state
    try:
        rev = await drafts.save_draft(state.db, sid, proc.id, proc.version, draft, now, expected)
    except drafts.DraftConflict:
        state.draft_cache.forget(sid, proc.id)
        raise
    state.draft_cache.put(sid, proc.id, drafts.Draft(proc.version, draft, now, rev))
    return rev


async def wizard_step(request: Request) -> Response:
    proc = _procedure(request)
    now = request.app.state.now()
    refused = await _refused(request, proc)
    if refused is not None:
        return refused
    form = await read_form(request) if request.method == "POST" else None
    sid = session_id(request)
    try:
        wiz, response = await _step(request, proc, sid, now, form, cached=True)
    except drafts.DraftConflict:
        # Another request of this browser changed the draft since it was read (a second tab,
        # see `renderer.draft_cache`): the same step again, on the stored draft.
        if form is not None:
            for value in form.values():
                if isinstance(value, UploadFile):
                    await value.seek(0)
        try:
            wiz, response = await _step(request, proc, sid, now, form, cached=False)
        except drafts.DraftConflict:
            request.session["wizard_notice"] = ws.DRAFT_CHANGED
            return RedirectResponse(request.url.path, status_code=303)
    if wiz.rev != request.cookies.get(COOKIE):
        response.raw_headers.append(request.app.state.draft_cache.set_cookie(wiz.rev))
    return response


async def _step(
    request: Request,
    proc: Procedure,
    sid: str,
    now: dt.datetime,
    form: FormData | None,
    cached: bool,
) -> tuple[Wizard, Response]:
    draft, saved_at, rev = await _load_draft(request, proc, sid, now, cached)
    shown = rules.visibility(proc, draft["values"])
    seq = ws.step_sequence(proc, shown)
    index = ws.find(seq, request.path_params["step"])
    if index is None:
        raise NotFound()
    wiz = Wizard(request, proc, sid, draft, now, seq, seq[index], shown, saved_at, rev)
    missing = ws.first_incomplete(seq, draft["done"], index)
    if missing is not None:
        return wiz, wiz.redirect(missing)
    return wiz, await _handle(wiz, form)


async def _handle(wiz: Wizard, form: FormData | None) -> Response:
    key = wiz.current.key
    if key == ws.INTRO:
        return await intro(wiz, form)
    if key == ws.APPOINTMENT:
        return await appointment(wiz, form)
    if key == ws.DOCUMENTS:
        return await documents(wiz, form)
    if key == ws.SUMMARY:
        return await summary_step(wiz, form)
    return await form_step(wiz, form)


# --- La démarche, Mon rendez-vous ----------------------------------------------------------


async def intro(wiz: Wizard, form: FormData | None) -> Response:
    if form is None:
        return wiz.page("wizard/intro.html")
    return await wiz.done_then_next()


async def appointment(wiz: Wizard, form: FormData | None) -> Response:
    agenda = wiz.request.app.state.pack.agendas.get(wiz.proc.appointment.agenda or "")
    optional = wiz.proc.appointment.mode == "optional"
    stored = wiz.draft.get("appointment") or {}
    wanted = {True: "oui", False: "non"}.get(stored.get("wanted"), "")
    if form is not None and optional:
        wanted = str(form.get(WANTS_APPOINTMENT, ""))
    note = OPTIONAL_NOTE if optional else APPOINTMENT_NOTE
    context = {"agenda": agenda, "note": note, "optional": optional}
    context |= {"field": WANTS_APPOINTMENT, "choices": WANTS_CHOICES, "wanted": wanted}
    if form is None:
        return wiz.page("wizard/appointment.html", **context)
    if optional and wanted not in {"oui", "non"}:
        errors = {f"f-{WANTS_APPOINTMENT}": WANTS_REQUIRED}
        summary = [(f"f-{WANTS_APPOINTMENT}", "", WANTS_REQUIRED)]
        return wiz.page(
            "wizard/appointment.html", 200, errors=errors, error_summary=summary, **context
        )
    # Slots come with a later issue: the step records the agenda (and, when optional,
    # whether one is wanted); the service then fixes the rendez-vous (the note says so).
    record: dict[str, Any] = {"agenda": wiz.proc.appointment.agenda, "slot": None}
    if optional:
        record["wanted"] = wanted == "oui"
    wiz.draft["appointment"] = record
    return await wiz.done_then_next()


# --- Mes informations, Ma demande ----------------------------------------------------------


def _step_parts(wiz: Wizard) -> tuple[forms.StepForm, dict[str, Any], dict[str, Any]]:
    """(form, this step's stored values, the values of the other steps)."""
    if wiz.current.step is None:
        return forms.APPLICANT_FORM, wiz.draft["applicant"], {}
    sf = forms.step_form(wiz.proc, wiz.current.step)
    own = {f.id for f in wiz.current.step.fields}
    values = wiz.draft["values"]
    return sf, values, {k: v for k, v in values.items() if k not in own}


def _store(wiz: Wizard, parsed: forms.Parsed) -> bool:
    """Store a step that validated, with its validation stamp (``renderer.stamps``).

    Returns whether the draft changed.
    """
    key = wiz.current.key
    before = (
        wiz.draft["applicant"],
        wiz.draft["values"],
        wiz.draft.get(stamps.STAMPS, {}).get(key),
    )
    if wiz.current.step is None:
        wiz.draft["applicant"] = own = parsed.values
        step = forms.APPLICANT_STEP
    else:
        step = wiz.current.step
        # Saving a step drops every value its answers now hide (later steps included).
        # ``parsed.shown`` is the visibility of the other steps' values with this step's:
        # that of the merged values too, since hidden values read as empty in both.
        shown = parsed.shown
        assert shown is not None, "a procedure step is parsed with its visibility"
        wiz.draft["values"] = own = shown.values
        wiz.shown = shown
    value = stamps.stamp(wiz.proc, key, step, own, wiz.draft["values"], wiz.today)
    stamps.record(wiz.draft, key, value)
    return before != (wiz.draft["applicant"], wiz.draft["values"], value)


async def form_step(wiz: Wizard, form: FormData | None) -> Response:
    sf, stored, earlier = _step_parts(wiz)
    if form is None:
        errors: dict[str, str] = {}
        if query_param(wiz.request, "verifier"):
            formdata = forms.as_formdata(sf.step, stored)
            errors = forms.parse_step(wiz.proc, sf, formdata, earlier, wiz.today).errors
        return _form_page(wiz, sf, stored, errors)
    parsed = forms.parse_step(wiz.proc, sf, form, earlier, wiz.today)
    if parsed.action is not None:
        forms.apply_action(parsed.values, sf.step, parsed.action)
        return _form_page(wiz, sf, parsed.values, {})
    if parsed.errors:
        return _form_page(wiz, sf, parsed.values, parsed.errors)
    return await wiz.done_then_next(changed=_store(wiz, parsed))


def _form_page(
    wiz: Wizard,
    sf: forms.StepForm,
    values: dict[str, Any],
    errors: dict[str, str],
) -> Response:
    earlier = wiz.draft["values"]
    auto = forms.AUTOCOMPLETE if wiz.current.step is None else {}
    context_values = {k: earlier.get(k) for k in sf.external_refs}
    fields_html = _fields_html(wiz, sf, values, errors, auto)
    context: dict[str, Any] = {
        "sf": sf,
        "intro": wiz.current.step.intro if wiz.current.step else "",
        "context_values": context_values,
    }
    if not errors and "wizard_notice" not in wiz.request.session:
        # The page around the fields is the same for every citizen at this point of the
        # procedure: rendered once, then only the CSRF token and the fields go in.
        extra = json.dumps(context_values, sort_keys=True) if context_values else ""
        html = wiz.cached_page("wizard/form.html", context, fields_html, extra)
        if html is not None:
            return HTMLResponse(html)
    labels = _error_labels(sf)
    summary = [(anchor, labels.get(anchor, ""), message) for anchor, message in errors.items()]
    return wiz.page(
        "wizard/form.html",
        **context,
        values=values,
        errors=errors,
        error_summary=summary,
        fields_html=fields_html,
    )


# The blank form of a compiled step is the same for every citizen: render it once.
_BLANK: dict[int, tuple[forms.StepForm, Markup]] = {}


def _fields_html(
    wiz: Wizard,
    sf: forms.StepForm,
    values: dict[str, Any],
    errors: dict[str, str],
    auto: dict[str, str],
) -> Markup:
    blank = not errors and not any(v not in (None, "", [], {}) for v in values.values())
    cached = _BLANK.get(id(sf)) if blank else None
    if cached is not None and cached[0] is sf:
        return cached[1]
    env = wiz.request.app.state.templates
    context = {"sf": sf, "values": values, "errors": errors, "autocomplete": auto}
    html = Markup(env.get_template("wizard/_step_fields.html").render(context))
    if blank:
        if len(_BLANK) > 1000:
            _BLANK.clear()
        _BLANK[id(sf)] = (sf, html)
    return html


def _error_labels(sf: forms.StepForm) -> dict[str, str]:
    labels: dict[str, str] = {}
    for f in sf.step.fields:
        labels[forms.html_id(f.id)] = f.label
        for part, label in forms.ADDRESS_LABELS.items():
            labels[forms.html_id(f"{f.id}-{part}")] = f"{f.label} : {label.lower()}"
        for n in range(f.max_items if f.type == "group" else 0):
            for s in f.fields:
                labels[forms.html_id(f"{f.id}-{n}-{s.id}")] = f"{f.label} — n° {n + 1} : {s.label}"
                for part, label in forms.ADDRESS_LABELS.items():
                    name = f"{f.id}-{n}-{s.id}-{part}"
                    labels[forms.html_id(name)] = f"{f.label} — n° {n + 1} : {label.lower()}"
        if f.type == "group":
            labels[forms.html_id(f"{f.id}-add")] = f.label
    return labels


# --- Pièces justificatives -------------------------------------------------------------


def _limits(wiz: Wizard, doc: Any) -> tuple[tuple[str, ...], int, int]:
    portal = wiz.request.app.state.pack.portal
    accepted = doc.type.accepted_types or portal.limits.accepted_types
    max_files = min(doc.type.max_files, portal.limits.files_per_piece, MAX_FILES_CAP)
    settings = wiz.request.app.state.settings
    return accepted, max_files, settings.max_file_bytes(portal.limits.max_file_size_mb)


async def _take_uploads(wiz: Wizard, form: FormData, doc: Any, errors: dict[str, str]) -> None:
    type_id = doc.type.id
    files = ws.pieces_of(wiz.draft, type_id)
    accepted, max_files, max_bytes = _limits(wiz, doc)
    sent = [u for u in form.getlist(f"piece-{type_id}") if isinstance(u, UploadFile) and u.filename]
    if not sent:
        return
    anchor = forms.html_id(f"piece-{type_id}")
    if len(files) + len(sent) > max_files:
        errors[anchor] = f"Une pièce peut contenir au maximum {max_files} fichiers."
        return
    for upload in sent:
        content = await upload.read()
        try:
            checked = uploads.check_file(upload.filename or "", content, accepted, max_bytes)
        except ValueError as exc:
            errors[anchor] = str(exc)
            continue
        sha = wiz.request.app.state.files.put(content)
        files.append(
            {
                "sha256": sha,
                "filename": checked.name,
                "content_type": checked.content_type,
                "size": len(content),
            }
        )


def _take_removals(wiz: Wizard, form: FormData, doc: Any) -> bool:
    files = ws.pieces_of(wiz.draft, doc.type.id)
    for n in range(len(files)):
        if f"_remove_{doc.type.id}_{n}" in form:
            files.pop(n)
            return True
    return False


async def documents(wiz: Wizard, form: FormData | None) -> Response:
    docs = wiz.shown.documents
    if form is None:
        return _documents_page(wiz, docs, {})
    errors: dict[str, str] = {}
    removed = False
    for doc in docs:
        removed = _take_removals(wiz, form, doc) or removed
        await _take_uploads(wiz, form, doc, errors)
    await wiz.save()
    if errors:
        return _documents_page(wiz, docs, errors)
    if removed or "_upload" in form:
        return RedirectResponse(wiz.action, status_code=303)
    for doc in docs:
        if doc.required and not ws.pieces_of(wiz.draft, doc.type.id):
            errors[forms.html_id(f"piece-{doc.type.id}")] = submission.PIECE_REQUIRED
    if errors:
        return _documents_page(wiz, docs, errors)
    return await wiz.done_then_next()


def _documents_page(wiz: Wizard, docs: Any, errors: dict[str, str]) -> Response:
    rows = []
    for doc in docs:
        accepted, max_files, max_bytes = _limits(wiz, doc)
        rows.append(
            {
                "doc": doc,
                "files": ws.pieces_of(wiz.draft, doc.type.id),
                "types": uploads.types_phrase(accepted),
                "max_files": max_files,
                "max_mb": max_bytes // (1024 * 1024),
                "accept": ",".join(uploads.CONTENT_TYPES[k] for k in accepted),
            }
        )
    labels = {forms.html_id(f"piece-{d.type.id}"): d.type.label for d in docs}
    summary = [(anchor, labels.get(anchor, ""), message) for anchor, message in errors.items()]
    return wiz.page("wizard/documents.html", rows=rows, errors=errors, error_summary=summary)


# --- Le récapitulatif and the submission --------------------------------------------------


def _summary_page(wiz: Wizard, alert: str = "", status_code: int = 200) -> Response:
    from renderer import summary

    agenda = None
    if wiz.draft.get("appointment"):
        agenda = wiz.request.app.state.pack.agendas.get(wiz.draft["appointment"]["agenda"])
    return wiz.page(
        "wizard/summary.html",
        status_code,
        applicant_rows=summary.applicant_rows(wiz.draft["applicant"]),
        sections=summary.sections(wiz.shown),
        documents=summary.document_rows(wiz.proc, wiz.draft["documents"], wiz.shown),
        has_documents=any(k.key == ws.DOCUMENTS for k in wiz.seq),
        agenda=agenda,
        appointment_line=summary.appointment_line(wiz.draft.get("appointment")),
        appointment_wanted=(wiz.draft.get("appointment") or {}).get("wanted"),
        alert=alert,
    )


async def summary_step(wiz: Wizard, form: FormData | None) -> Response:
    if form is None:
        return _summary_page(wiz)
    invalid = submission.invalid_step(wiz.proc, wiz.draft, wiz.shown, wiz.today)
    if invalid is not None:
        wiz.draft["done"] = [k for k in wiz.draft["done"] if k != invalid]
        await wiz.save()
        return RedirectResponse(wiz.url(invalid) + "?verifier=1", status_code=303)
    assert wiz.rev is not None, "a draft with its steps done is stored"
    ref = DraftRef(wiz.sid, wiz.rev)
    try:
        reference = await submission.submit(wiz.request, wiz.proc, wiz.draft, wiz.shown, ref)
    except drafts.DraftConflict:
        # Changed in another tab, or submitted already (a double click on "Valider"): the
        # récapitulatif again, from the stored draft (or the first step, if it is gone).
        wiz.request.app.state.draft_cache.forget(wiz.sid, wiz.proc.id)
        wiz.request.session["wizard_notice"] = ws.DRAFT_CHANGED
        return wiz.redirect(ws.SUMMARY)
    if reference is None:
        assert wiz.proc.quota is not None
        return _summary_page(wiz, alert=wiz.proc.quota.message, status_code=409)
    wiz.request.app.state.draft_cache.forget(wiz.sid, wiz.proc.id)
    wiz.rev = None
    return RedirectResponse(confirmation_url(wiz.request, wiz.proc, reference), 303)


def confirmation_url(request: Request, proc: Procedure, reference: str) -> str:
    """The confirmation page of a request just submitted: it names the reference, with a tag
    that only the browser session which submitted it can check (`security.session_tag`).
    So the page can be reloaded, and nothing about the request goes into the cookie."""
    tag = session_tag(request, proc.id, reference)  # base64url, as the reference needs no quoting
    return f"/demarches/{proc.id}/confirmation?ref={reference}&cle={tag}"


async def confirmation(request: Request) -> Response:
    """The confirmation of `confirmation_url`; elsewhere (another browser, a changed link),
    the procedure's page."""
    proc = _procedure(request)
    reference, tag = query_param(request, "ref"), query_param(request, "cle")
    found = None
    if reference and has_session_tag(request, tag, proc.id, reference):
        found = await requests_store.applicant_of(request.app.state.db, reference)
    if found is None or found.procedure_id != proc.id:
        return RedirectResponse(f"/demarches/{proc.id}", status_code=303)
    email = str(found.applicant.get("courriel", ""))
    context = {"proc": proc, "reference": reference, "email": email}
    return render(request, "wizard/confirmation.html", context)


routes: list[BaseRoute] = [
    Route(
        "/demarches/{procedure_id}/etapes/{step}",
        wizard_step,
        methods=["GET", "POST"],
        name="wizard_step",
    ),
    Route("/demarches/{procedure_id}/confirmation", confirmation, name="wizard_confirmation"),
]

__all__ = ["routes"]
