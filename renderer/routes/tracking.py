"""Tracking a request from its private link: `/suivi/{token}`, cancellation, downloads.

A wrong token is a plain 404 (the same page as any unknown address: no hint that a request
exists). The request is shown with the procedure of its snapshot, the definition version it
was filed under, so later YAML changes never alter what it shows.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from engine import rules
from engine.model import Procedure, Workflow
from renderer import summary
from renderer.acks import snapshot_procedure
from renderer.errors import NotFound
from renderer.security import read_form
from renderer.templating import render
from storage import requests as store

PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
CANCELLED = "Votre demande a été annulée. Elle est archivée."
EVENT_LABELS = {
    "submitted": "Demande déposée",
    "cancelled": "Demande annulée par le demandeur",
    "state_changed": "Changement de statut",
    "piece_added": "Pièce jointe ajoutée",
    "message": "Échange",
}


async def _tracked(request: Request) -> tuple[store.TrackedRequest, Procedure, Workflow]:
    token = request.path_params["token"]
    tracked = None
    if 20 <= len(token) <= 100:
        tracked = await store.get_by_token(request.app.state.db, token)
    if tracked is None:
        raise NotFound()
    proc = snapshot_procedure(tracked)
    assert proc.workflow is not None
    return tracked, proc, proc.workflow


def _state_label(workflow: Workflow, state_id: str) -> str:
    try:
        return workflow.state(state_id).label
    except KeyError:
        return state_id


def _events(tracked: store.TrackedRequest, workflow: Workflow) -> list[dict[str, Any]]:
    out = []
    for event in tracked.events:
        label = EVENT_LABELS.get(event.kind, event.kind)
        target = event.data.get("to") if isinstance(event.data, dict) else None
        if target and event.kind != "cancelled":
            label = f"{label} : {_state_label(workflow, str(target))}"
        out.append({"at": event.at, "label": label})
    return out


def _page(request: Request, template: str, context: dict[str, Any]) -> Response:
    response = render(request, template, context)
    response.headers.update(PRIVATE_HEADERS)
    return response


async def tracking(request: Request) -> Response:
    tracked, proc, workflow = await _tracked(request)
    shown = rules.visibility(proc, tracked.data)
    token = request.path_params["token"]
    context = {
        "token": token,
        "tracked": tracked,
        "proc": proc,
        "status": _state_label(workflow, tracked.state),
        "archived": workflow.cancel_to is not None and tracked.state == workflow.cancel_to,
        "can_cancel": rules.can_cancel(workflow, tracked.state),
        "applicant_rows": summary.applicant_rows(tracked.applicant),
        "sections": summary.sections(shown),
        "appointment_line": summary.appointment_line(tracked.appointment),
        "pieces": tracked.pieces,
        "events": _events(tracked, workflow),
        "flash": request.session.pop("tracking_flash", None),
    }
    return _page(request, "tracking/request.html", context)


async def cancel(request: Request) -> Response:
    tracked, proc, workflow = await _tracked(request)
    token = request.path_params["token"]
    if not rules.can_cancel(workflow, tracked.state) or workflow.cancel_to is None:
        return RedirectResponse(f"/suivi/{token}", status_code=303, headers=PRIVATE_HEADERS)
    if request.method == "GET":
        context = {"token": token, "tracked": tracked, "proc": proc}
        return _page(request, "tracking/cancel.html", context)
    await read_form(request)
    done = await store.cancel(
        request.app.state.db,
        tracked.id,
        from_state=tracked.state,
        to_state=workflow.cancel_to,
        now=request.app.state.now(),
        actor="citizen",
    )
    if done:
        request.session["tracking_flash"] = CANCELLED
    return RedirectResponse(f"/suivi/{token}", status_code=303, headers=PRIVATE_HEADERS)


async def download(request: Request) -> Response:
    tracked, _, _ = await _tracked(request)
    sha = request.path_params["file_id"]
    for piece in tracked.pieces:
        for stored in piece.files:
            if stored.sha256 == sha:
                content = request.app.state.files.open(sha)
                name = stored.filename.replace('"', "")
                ascii_name = name.encode("ascii", "replace").decode().replace("?", "_")
                headers = {
                    **PRIVATE_HEADERS,
                    "Content-Disposition": f'attachment; filename="{ascii_name}"; '
                    f"filename*=UTF-8''{quote(name)}",
                }
                return Response(content, media_type=stored.content_type, headers=headers)
    raise NotFound()


routes: list[BaseRoute] = [
    Route("/suivi/{token}", tracking, name="tracking"),
    Route("/suivi/{token}/annuler", cancel, methods=["GET", "POST"], name="tracking_cancel"),
    Route("/suivi/{token}/pieces/{file_id}", download, name="tracking_download"),
]
