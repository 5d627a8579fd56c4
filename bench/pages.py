"""Benchmark: serving pages, as a ratio to a bare Jinja2 page of the same size.

Usage: python bench/pages.py [--requests N] [--concurrency C] [--rounds R] [--no-write]
                             [--database sqlite|postgresql]

For each database (a temporary SQLite file; PostgreSQL too when GUICHET_TEST_PG_URL or
postgresql://postgres@127.0.0.1:5432/test is reachable) the script starts, in the same run:
- the portal: one uvicorn process (``renderer.app:app_from_env``) on a free loopback port,
  serving the example commune from a temporary var folder;
- a bare Starlette app (one uvicorn process, ``python bench/pages.py --bare``) rendering a
  static Jinja2 template whose output has the byte size of the form step page;
then measures requests/s over C keep-alive connections (a small asyncio HTTP/1.1 client, so
the client costs little next to the servers; loopback only; every figure after an untimed
warm-up of a fifth of its requests, with the same C; each figure bounded by a timeout) for:
- form step GET: "Ma demande" page of ``acte-naissance`` (11 fields), with its draft; the
  session's cookies are those a browser holds after the step POST that led there, so the
  draft comes from the process's draft cache (``renderer.draft_cache``), as in real use;
- step POST: the same step posted (two answer sets in turn, so that the draft changes every
  time), parsed and validated by WTForms, saved in the draft, 303; the client keeps sending
  its first cookies (it ignores Set-Cookie), so every POST reads its draft from the
  database: the figure is that of a cache miss;
- submission: the récapitulatif POST of complete drafts: steps validated again unless their
  validation stamp matches, then all or nothing (one transaction on SQLite, one statement
  on PostgreSQL): draft deleted, request, event, pieces, quota-free counter,
  acknowledgement queued in the outbox (composed later by the mail worker);
- tracking page: ``/suivi/<token>`` of submitted requests.
Each figure is measured side by side with the bare page, R rounds (default 3) of "bare
page, then the page"; the report gives the median rate and the median of the rounds'
ratios, so that a slow moment of this shared machine moves both sides of a ratio, and the
median ratio of the two servers' CPU time per request (from /proc), which other tenants of
the machine move less.
``docs/performance.md``'s "Serving pages" section is rewritten with them (unless
--no-write).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROC = "acte-naissance"
STEP = "acte"
PG_URL = os.environ.get("GUICHET_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TINY_PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
APPLICANT = {
    "civilite": "Madame",
    "nom": "Dupont",
    "prenom": "Marie",
    "adresse-street": "3 rue de la Loire",
    "adresse-postal_code": "45000",
    "adresse-city": "Belval-sur-Loire",
    "courriel": "marie.dupont@example.org",
}
SECTION_START = "## Serving pages"


# --- the bare page ----------------------------------------------------------------------


def bare_app(size: int) -> Any:
    """A Starlette app rendering a static Jinja2 template of ``size`` bytes per request."""
    import jinja2
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    filler = "x" * max(size - 120, 0)
    source = (
        '<!doctype html><html lang="fr"><head><title>{{ title }}</title></head>'
        "<body><main><p>{{ filler }}</p></main></body></html>"
    )
    template = jinja2.Environment(autoescape=True).from_string(source)

    async def page(request: Any) -> HTMLResponse:
        return HTMLResponse(template.render(title="Page", filler=filler))

    return Starlette(routes=[Route("/", page)])


# --- processes --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


UVICORN = ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]


def portal_env(db_url: str, var: Path) -> dict[str, str]:
    """The portal's settings for a benchmark: example commune, ``var`` folder, no SMTP."""
    return {
        "DATABASE_URL": db_url,
        "GUICHET_VAR_DIR": str(var),
        "GUICHET_DEFINITIONS": str(ROOT / "definitions"),
        "GUICHET_SECRET_KEY": "bench-" + "k" * 40,
        "GUICHET_SMTP_URL": "",
        # The mail worker sleeps through the run: its deliveries (~1.5 ms of CPU per mail)
        # would land in whichever figure is being measured. They are measured on their own.
        "GUICHET_OUTBOX_INTERVAL_SECONDS": "86400",
    }


def start_portal(db_url: str, var: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, **portal_env(db_url, var)}
    cmd = [sys.executable, "-m", "uvicorn", "renderer.app:app_from_env", "--factory"]
    proc = subprocess.Popen([*cmd, *UVICORN, "--port", str(port)], env=env, cwd=ROOT)
    wait_for(port, proc)
    return proc, port


def start_bare(size: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    cmd = [sys.executable, str(Path(__file__)), "--bare", str(size), "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT)
    wait_for(port, proc)
    return proc, port


# --- setting up sessions (not timed) --------------------------------------------------------


def _pairs_for_step(pack: Any, today: dt.date, step_id: str = STEP) -> list[tuple[str, str]]:
    """Valid answers for a step of the procedure, from the compiled model."""
    from engine import rules

    step = next(s for s in pack.procedures[PROC].steps if s.id == step_id)
    pairs: list[tuple[str, str]] = []
    for f in step.fields:
        if f.type in ("text", "textarea"):
            pairs.append((f.id, "Réponse"))
        elif f.type == "choice":
            pairs.append((f.id, f.choices[0].value))
        elif f.type == "number":
            pairs.append((f.id, str(int(f.min or 1))))
        elif f.type == "date":
            bound = f.date_max or f.date_min
            day = rules.resolve_date_bound(bound, today) if bound else today
            pairs.append((f.id, day.isoformat()))
        elif f.type == "address":
            pairs += [(f"{f.id}-street", "1 rue"), (f"{f.id}-postal_code", "45000")]
            pairs.append((f"{f.id}-city", "Belval"))
        elif f.type in ("email", "phone", "postal_code"):
            sample = {"email": "a@example.org", "phone": "0612345678", "postal_code": "45000"}
            pairs.append((f.id, sample[f.type]))
    return pairs


def _other_answers(pack: Any, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The same answers with the first number one more (still within its bounds)."""
    step = next(s for s in pack.procedures[PROC].steps if s.id == STEP)
    number = next(f for f in step.fields if f.type == "number")
    assert number.max is None or number.max >= float(dict(pairs)[number.id]) + 1
    return [(k, str(int(v) + 1) if k == number.id else v) for k, v in pairs]


async def _post(
    client: httpx.AsyncClient, path: str, pairs: list[tuple[str, str]], **kw: Any
) -> Any:
    token = CSRF.search((await client.get(path)).text)
    assert token, f"no form at {path}"
    data = [("csrf_token", token.group(1)), *pairs]
    encoded = urllib.parse.urlencode(data)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if "files" in kw:
        return await client.post(path, data=dict(data), files=kw["files"])
    return await client.post(path, content=encoded, headers=headers)


async def fill_session(client: httpx.AsyncClient, pack: Any, complete: bool) -> tuple[str, str]:
    """Through ``client`` (a browser session of the portal): the steps before the form done
    (and all of them when ``complete``). Returns (cookie header, csrf token)."""
    base = f"/demarches/{PROC}/etapes"
    stop = "recapitulatif" if complete else f"demande-{STEP}"
    path = f"{base}/demarche"
    while not path.endswith(stop):
        key = path.rsplit("/", 1)[1]
        kw: dict[str, Any] = {}
        if key == "informations":
            pairs = list(APPLICANT.items())
        elif key.startswith("demande-"):
            pairs = _pairs_for_step(pack, dt.date.today(), key.removeprefix("demande-"))
        elif key == "pieces":
            page = (await client.get(path)).text
            names = re.findall(r'type="file" id="[^"]+" name="(piece-[a-z0-9-]+)"', page)
            pairs, kw["files"] = (
                [],
                [(n, ("p.pdf", TINY_PDF, "application/pdf")) for n in names],
            )
        else:
            pairs = []
        response = await _post(client, path, pairs, **kw)
        assert response.status_code == 303, (path, response.status_code)
        path = response.headers["location"]
    token = CSRF.search((await client.get(f"{base}/demarche")).text)
    assert token
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    return cookie, token.group(1)


def new_session(port: int, pack: Any, complete: bool) -> tuple[str, str]:
    """`fill_session` against the portal on ``port``."""

    async def fill() -> tuple[str, str]:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            return await fill_session(client, pack, complete)

    return asyncio.run(fill())


# --- the load generator -------------------------------------------------------------------


def request_bytes(port: int, method: str, path: str, cookie: str = "", body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    if method == "POST":
        lines.append("Content-Type: application/x-www-form-urlencoded")
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    match = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if match:
        await reader.readexactly(int(match.group(1)))
    return status


async def _worker(port: int, requests: list[bytes], expected: int, bad: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for raw in requests:
            writer.write(raw)
            status = await _read_response(reader)
            if status != expected:
                bad.append(status)
    finally:
        writer.close()


MEASURE_TIMEOUT = 600.0  # seconds: a stuck server fails the run instead of hanging it


def measure(port: int, requests: list[bytes], concurrency: int, expected: int) -> float:
    """Requests/s of ``requests`` spread over ``concurrency`` keep-alive connections."""
    chunks = [requests[i::concurrency] for i in range(concurrency)]
    bad: list[int] = []

    async def run() -> None:
        jobs = asyncio.gather(*(_worker(port, c, expected, bad) for c in chunks if c))
        await asyncio.wait_for(jobs, MEASURE_TIMEOUT)

    start = time.perf_counter()
    asyncio.run(run())
    elapsed = time.perf_counter() - start
    if bad:
        raise RuntimeError(f"{len(bad)} unexpected statuses, e.g. {bad[:5]}")
    return len(requests) / elapsed


# --- one database -------------------------------------------------------------------------


async def _deliver_all(db_url: str, folder: Path) -> tuple[int, float, float]:
    """Compose and deliver every pending mail as .eml files, as the portal's mail worker
    does: (mails, seconds, CPU seconds)."""
    from engine.validate import load_pack
    from renderer.acks import composer
    from renderer.settings import Settings
    from storage.db import connect
    from storage.outbox import MaildirSender, deliver_pending

    compose = composer(load_pack([ROOT / "definitions"]), Settings().base_url)
    db = await connect(db_url)
    try:
        sender = MaildirSender(folder)
        sent, start, cpu = 0, time.perf_counter(), time.process_time()
        now = dt.datetime.now(dt.UTC)
        while found := await deliver_pending(db, sender, now, composer=compose):
            sent += found
        return sent, time.perf_counter() - start, time.process_time() - cpu
    finally:
        await db.disconnect()


async def _tokens(db_url: str) -> list[str]:
    import sqlalchemy as sa

    from storage.db import connect
    from storage.tables import outbox

    db = await connect(db_url)
    try:
        # The acknowledgements are not composed yet: their tracking tokens are in the rows.
        rows = await db.fetch_all(sa.select(outbox.c.secret).where(outbox.c.secret.is_not(None)))
        return [r["secret"] for r in rows]
    finally:
        await db.disconnect()


def server_cpu(pid: int) -> float | None:
    """CPU seconds used so far by the threads of process ``pid`` (Linux: the nanoseconds of
    /proc/<pid>/task/*/schedstat; /proc/<pid>/stat counts in 10 ms ticks)."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError):  # a thread that just ended
                total += int((task / "schedstat").read_text().split()[0])
    except OSError:
        return None
    return total / 1e9


def measure_cpu(
    pid: int, port: int, requests: list[bytes], concurrency: int, expected: int
) -> tuple[float, float | None]:
    """(requests/s, the server's CPU seconds per request, None where /proc is missing)."""
    before = server_cpu(pid)
    rate = measure(port, requests, concurrency, expected)
    after = server_cpu(pid)
    if before is None or after is None:
        return rate, None
    return rate, (after - before) / len(requests)


def side_by_side(
    bare: tuple[int, int, list[bytes]],
    page: tuple[int, int, list[list[bytes]]],
    concurrency: int,
    expected: int,
) -> tuple[float, float, float, float | None]:
    """(bare rate, page rate, ratio, CPU ratio): each round measures the bare page, then the
    page (its own request list per round); the medians over the rounds, so that a slow
    moment of this shared machine moves both sides of a ratio instead of one. The CPU ratio
    is the bare page's server CPU per request over the page's: what the throughput ratio
    would be were both servers CPU-bound alone on their core, which moves less when other
    work shares the machine (None without /proc)."""
    bare_pid, bare_port, bare_requests = bare
    pid, port, rounds = page
    bare_rates, page_rates, ratios, cpu_ratios = [], [], [], []
    for requests in rounds:
        rate, bare_cpu = measure_cpu(bare_pid, bare_port, bare_requests, concurrency, 200)
        bare_rates.append(rate)
        rate, page_cpu = measure_cpu(pid, port, requests, concurrency, expected)
        page_rates.append(rate)
        ratios.append(page_rates[-1] / bare_rates[-1])
        if bare_cpu and page_cpu:
            cpu_ratios.append(bare_cpu / page_cpu)
    cpu_ratio = statistics.median(cpu_ratios) if len(cpu_ratios) == len(rounds) else None
    return (
        statistics.median(bare_rates),
        statistics.median(page_rates),
        statistics.median(ratios),
        cpu_ratio,
    )


def bench_database(label: str, db_url: str, args: argparse.Namespace) -> dict[str, Any]:
    from engine.validate import load_pack

    pack = load_pack([ROOT / "definitions"])
    pairs = _pairs_for_step(pack, dt.date.today())
    n, c, rounds = args.requests, args.concurrency, args.rounds
    rows: list[tuple[str, float, float, float | None, float | None]] = []
    bare_rates: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        portal, port = start_portal(db_url, Path(tmp))
        bare: subprocess.Popen[bytes] | None = None
        try:
            form_path = f"/demarches/{PROC}/etapes/demande-{STEP}"
            sessions = [new_session(port, pack, complete=False) for _ in range(c)]
            cookie0 = sessions[0][0]
            with httpx.Client() as client:
                size = len(
                    client.get(
                        f"http://127.0.0.1:{port}{form_path}", headers={"Cookie": cookie0}
                    ).content
                )
            bare, bare_port = start_bare(size)
            bare_req = [request_bytes(bare_port, "GET", "/")] * n
            measure(bare_port, bare_req[: n // 5], c, 200)  # warm-up

            def figure(
                name: str, requests: list[list[bytes]], expected: int, target: float | None
            ) -> None:
                """Warm up with a fifth of the first list, then measure side by side."""
                measure(port, requests[0][: max(len(requests[0]) // 5, c)], c, expected)
                b, rate, ratio, cpu = side_by_side(
                    (bare.pid, bare_port, bare_req), (portal.pid, port, requests), c, expected
                )
                bare_rates.append(b)
                rows.append((name, rate, ratio, cpu, target))

            page_path = f"/demarches/{PROC}"
            plain = [request_bytes(port, "GET", page_path, sessions[i % c][0]) for i in range(n)]
            figure("(reference) procedure page GET, no database", [plain] * rounds, 200, None)
            gets = [request_bytes(port, "GET", form_path, sessions[i % c][0]) for i in range(n)]
            figure("form step GET", [gets] * rounds, 200, 0.60)
            # Each connection posts for one session, alternating two valid answer sets so
            # that every POST changes the draft and writes it (an unchanged step is not
            # written again).
            variants = (pairs, _other_answers(pack, pairs))
            posts = []
            for i in range(n):
                cookie, token = sessions[i % c]
                answers = variants[(i // c) % 2]
                body = urllib.parse.urlencode([("csrf_token", token), *answers]).encode()
                posts.append(request_bytes(port, "POST", form_path, cookie, body))
            figure("step POST (validated, draft saved)", [posts] * rounds, 303, None)
            # Each submission consumes a complete draft: one session per request, for every
            # round and the warm-up (submitted first, not timed).
            count = max(n // 4, c)
            warm = max(count // 5, c)
            full = [new_session(port, pack, complete=True) for _ in range(warm + count * rounds)]
            summary = f"/demarches/{PROC}/etapes/recapitulatif"
            submits = [
                request_bytes(
                    port,
                    "POST",
                    summary,
                    cookie,
                    urllib.parse.urlencode([("csrf_token", token)]).encode(),
                )
                for cookie, token in full
            ]
            measure(port, submits[:warm], c, 303)
            per_round = [submits[warm + k * count : warm + (k + 1) * count] for k in range(rounds)]
            b, rate, ratio, cpu = side_by_side(
                (bare.pid, bare_port, bare_req), (portal.pid, port, per_round), c, 303
            )
            bare_rates.append(b)
            rows.append(("submission (récapitulatif POST)", rate, ratio, cpu, 0.25))
            tokens = asyncio.run(_tokens(db_url))
            tracks = [
                request_bytes(port, "GET", f"/suivi/{tokens[i % len(tokens)]}") for i in range(n)
            ]
            figure("tracking page GET", [tracks] * rounds, 200, None)
        finally:
            if bare is not None:
                bare.terminate()
                bare.wait()
            portal.terminate()
            portal.wait()
        mails, seconds, cpu = asyncio.run(_deliver_all(db_url, Path(tmp) / "delivered"))
    return {
        "label": label,
        "size": size,
        "bare": statistics.median(bare_rates),
        "rows": rows,
        "submissions": count,
        "delivery": (mails, seconds, cpu),
    }


def pg_database() -> str | None:
    """A fresh PostgreSQL database for the run, or None when the server is unreachable."""
    try:
        import asyncpg
    except ImportError:
        return None
    name = f"guichet_bench_{os.getpid()}"

    async def create() -> None:
        conn = await asyncpg.connect(PG_URL, timeout=3)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    try:
        asyncio.run(create())
    except Exception:
        return None
    return PG_URL.rsplit("/", 1)[0] + "/" + name


# What the figures mean: written after each round of work on the pages (the tables above
# are regenerated by every run; these paragraphs are not).
NOTES = """
Before the second (submission) round (the code of commit 93267e2, on that round's slower
machine, whose bare page gave 2,000-4,000 req/s): SQLite bare 2052 req/s, procedure page
56 %, form step GET 77 %, step POST 37 %, submission 228 req/s (11 %), tracking 25 %;
PostgreSQL bare 2586 req/s, 62 %, 38 %, 21 %, submission 119 req/s (5 %), 14 %. The
figures move by +-30 % between runs on this shared 2-vCPU machine (the bare page itself
moves by as much): compare ratios from the same run.

What the submission round did (profiled in-process: cProfile and per-call timers over a loop
of ASGI calls, SQLite and PostgreSQL; the in-process cost of one submission on SQLite went
from ~3.4 ms to ~1.5-2 ms):

- **Validation stamps** (`renderer/stamps.py`). A step POST that validates records in the
  draft a digest of what the validation read: the validating code, the procedure version,
  the day (date bounds such as "today - 18 years"), the step's own stored values and the
  stored values of the fields of other steps its conditions depend on, directly or through
  other conditions (`engine.rules.step_dependencies`, computed once per procedure). The
  submission parses again only the steps whose stamp differs or is missing; it used to
  parse every step with WTForms (a third of the renderer's time). The draft is server-side
  and written only by validated step POSTs, a version migration (which drops the stamps)
  and the submission, so a matching stamp means these very values were validated under the
  same conditions (the argument is in the module docstring; tests cover a changed earlier
  answer that shows a required field, another day, another version).
- **One visibility evaluation per request** (`engine.rules.visibility` -> values, steps,
  documents). The fields are visited once in an order where each comes after the fields its
  conditions read (built once per procedure), which is the fixed point in one pass (a
  property test checks it against repeated filtering); the wizard, the step sequence, the
  récapitulatif, the submission, the acknowledgement and tracking share the result. It was
  computed about ten times per submission and six per step POST, each a fixed point of at
  least two passes.
- **The procedure carries its snapshot** (`Procedure.snapshot`, set by `engine.snapshot`):
  the submission no longer rebuilds it from the dataclasses.
- **The acknowledgement**: its récapitulatif (one line per answer, text and HTML) is built
  in Python, byte for byte what the templates produced, and the frame stays in
  `templates/mail/ack.*` (compiled once, never reloaded); a Jinja loop paid a loop context
  and an escape per value, about half of the mail's cost. Composing it went from ~0.21 ms
  to ~0.13 ms.
- **Small forms**: an `application/x-www-form-urlencoded` body is split in one call, with
  Starlette's decoding and limits (a test compares both), instead of python-multipart's
  streaming callbacks (~0.1 ms in the app for a few fields).
- **One commit per submission**: the draft is deleted in the submission's transaction
  (`storage.requests.submit` runs as a savepoint in it), so a refused or failed submission
  keeps its draft and a stored request never leaves one behind.
- A step posted again with unchanged answers is not written again if the draft was written
  less than ten minutes ago (a citizen going back through filled steps); the bench's step
  POSTs alternate two answer sets so that this figure still includes the write.

What the third round did (2026-11-29; in-process figures are ASGI calls without uvicorn,
best of 5 rounds). At its start, on the same (faster) machine as the tables above: SQLite
bare 9,749 req/s, procedure page 52 %, form step GET 54 %, step POST 26 %, submission
12 %, tracking 24 %; PostgreSQL bare 9,681 req/s, 53 %, 40 %, 20 %, 9 %, 16 %. Five runs
after its changes, each figure then measured once after one bare-page figure (the machine
grew noisier: the bare page ran at 6,500 to 9,500 req/s): SQLite form step GET 52-61 %
(56 % typical), submission 16-19 %; PostgreSQL form step GET 32-59 % (44 % typical),
submission 8-12 % (9 % typical). Hence the last change of the round: each figure is now
measured side by side with the bare page, three rounds, medians (the tables above).

- **Group commit on SQLite** (`storage.sqlite`, figures in the "Storage" section): the
  submissions that are ready at the same loop turn share one COMMIT. In-process, 8
  concurrent submissions: ~620 us -> ~400 us each; through uvicorn the submission went
  from 12 % to 16-19 % of the bare page (1,188 -> 1,500-1,800 req/s).
- **PostgreSQL statements skip `databases`' per-statement connection lookup**
  (`storage.postgres`): inside a transaction they go to the connection it holds, outside
  one to asyncpg's pool. In-process with 8 clients: form step GET 196 -> 141 us, submission
  1,155 -> 999 us; through uvicorn the form step GET went from 40 % to 44 %.
- **The outbox worker's statements are compiled once** (they were compiled per mail,
  ~0.7 ms of CPU each time it ran during a measurement) and a burst of mail is sent in one
  round instead of 50 mails every 5 s.
- **An indexed router** (`renderer.routing.IndexedRouter`): a path is matched only against
  the routes of its shape (first segment, number of segments) instead of all 18 regexes;
  the form step GET went from ~73 to ~66 us in-process.
- **The form step GET's own work**, each measured in-process: no query-string parse on
  pages without one (-4 us), the cached page's constant parts kept in UTF-8 so that only
  the holes are encoded (-2.5 us), the step sequence built once per procedure version and
  set of shown steps (-3 us), the opening window's text and a verified flat session
  payload parsed once (-1 to -1.5 us each): ~66 -> ~55 us in the app, and the ratio went
  from 54-57 % to 58-63 % over the runs that followed.
- **The acknowledgement's frame** is rendered once per procedure version and filled per
  mail (a test compares it with the template's render, byte for byte): in-process
  submission under 8 clients ~397 -> ~354 us.
- **"Complet" badges** cost one query per catalogue page (`quota_used_many`).

What limited each rate at the end of the third round (on its faster machine). Through
uvicorn (h11, its default here: `httptools` is not installed) a request costs ~87 us before
the app runs. Served by our app, an 8 KB constant page costs what the bare page costs (107
us a request, our security headers included) without a cookie, and ~12 us more with the
session cookie (~190 characters; 2.6 us of it in the app, the rest h11 parsing the header).
A cookie of one secret (the CSRF token derived from the session id with keyed BLAKE2b, 123
characters) was tried: no difference above the noise, so it was not kept. The form step GET
is now ~55 us in the app (the bare page: ~16 us; Starlette and our middleware around a
constant page: ~10 us): the draft SELECT and its JSON (~11 us, of which ~4 us in SQLite),
visibility (~4 us), the page cache key and fill, availability and the CSRF field (~2 us
each); it reaches the 60 % target by a point or two, within the noise of this machine. On
PostgreSQL the same SELECT costs ~35 us of client CPU (asyncpg's pool acquire, bind and
execute, release) and a round trip, hence 42-49 % (see the fourth round below for what
changed since). The SQLite submission is ~354 us in the app under concurrency (the
acknowledgement ~45 us now, most of it the récapitulatif's rows, the stamps check and draft
load ~55 us, the SQLite statements ~110 us with the shared COMMIT, form parsing, session and
redirect) plus uvicorn's POST handling: through uvicorn a trivial POST with the CSRF check
answering 303 costs 136 us, and 166 us when it also writes the session (the confirmation's
flash: a re-signed cookie, ~250 characters of Set-Cookie for h11). 25 % of the bare page
would need ~440 us in all, i.e. ~270 us for the submission's own work where it takes ~375.
The PostgreSQL submission was then bound by the year's reference counter row lock, held
until each COMMIT had flushed the WAL (the fourth round shortened it to one statement).
Delivering a mail costs ~1.5-2 ms of CPU (about 1 ms building the MIME message with the
`email` package), more than the submission that queued it. Until this round the worker woke
every 5 s during the figures, so a measurement window might or might not hold one of its
rounds: the portal now runs with `GUICHET_OUTBOX_INTERVAL_SECONDS` at a day, and the
deliveries are measured afterwards, on their own line under each table.

What the fourth round did (2026-11-29, a later session, on a slower machine: the bare page
ran at 6,500-7,000 req/s). At its start (one run of this script): SQLite bare 6,626 req/s,
procedure page 51 %, form step GET 55 %, step POST 30 %, submission 17 %, tracking 23 %;
PostgreSQL bare 6,605 req/s, 62 %, 40 %, 22 %, 9 %, 14 %. The tables above are its end.

- **The PostgreSQL submission is one statement outside any transaction** (details in
  "Storage"): one round trip instead of seven, no `databases` transaction, the reference
  counter locked for the rest of one statement. Submission 9 % -> 13 % (606 -> 878 req/s),
  then 15-16 % with the next item. It is now bound by the app's CPU like SQLite's (the
  uvicorn process at 95-100 %; ~0.85 ms of CPU per submission at 8 clients, read from
  /proc, against ~0.8-1.0 ms on SQLite on this machine, where SQLite's own work runs on
  the event loop's thread while PostgreSQL's runs in the server's process).
- **Statements outside transactions on the driver's own connections** (`_Lanes`), not
  asyncpg's `Pool.fetch`: ~35 us of CPU less per statement in the app. Form step GET 40 %
  -> 46-48 %, step POST 22 % -> 25 %.
- **Definition snapshots read once per version**: tracking 23 % -> 31 % on SQLite, 14 % ->
  21 % on PostgreSQL.

On this machine the procedure page, which reads no database, itself ran at 51-62 % of the
bare page over the round's runs: the form step GET's 60 % target is at or above what the
app's fixed cost per page (session cookie, security headers, middleware) leaves here, on
either database.

What the fifth round did (2026-11-29, a later session; the bare page at 7,000-7,100 req/s).
At its start (one run of this script): SQLite procedure page 53 %, form step GET 54 %,
step POST 30 %, submission 17 % (1,230 req/s), tracking 27 %; PostgreSQL 53 %, 50 %, 26 %,
18 % (1,170 req/s), 21 %; deliveries 2.54 ms (SQLite) and 2.99 ms (PostgreSQL) of CPU per
mail. At its end: form step GET 51-58 % (SQLite) and 44-50 % (PostgreSQL), submission
17-21 % and 19-23 %, over its runs.

- **The acknowledgement is composed by the mail worker** (`renderer/acks.py`,
  `storage.outbox`), from the stored request, just before it is sent: the submission queues
  a template row (the request's id and its tracking token) in its transaction or statement.
  In-process, alternating batches of 100 submissions in one process: 628 -> 512 us per
  submission on SQLite. Through uvicorn, the server's CPU per submission read from /proc
  (500 submissions, 8 clients, the code before and after run in turn, twice): SQLite
  720-800 -> 620-660 us, PostgreSQL 680-840 -> 540-600 us. Over this round's five runs of
  this script after the change the submission read 17 %, 19 %, 21 %, 19 % and 18 % on
  SQLite and 23 %, 19 %, 22 % and 20 % on PostgreSQL: the machine's noise is as large as
  the gain, hence the /proc figures. The cost moved to the worker (its line under each
  table: 2.9-4.2 ms of CPU per mail over the runs after the change, 2.5-3.0 before; a
  profile of 300 deliveries puts the composing, with the reads of the request, its pieces
  and history, at about a seventh of a delivery, the `email` package's message building
  at about half); a mail that is sent is not written twice (the composed mail is stored
  only when its send fails, for the retries).
- **The tables give each ratio twice**: by throughput, as before, and by the servers' CPU
  time per request (nanoseconds of /proc/<pid>/task/*/schedstat, both servers, the same
  rounds). Both servers run CPU-bound, so the two agree (within 2 points in the tables
  above). The CPU ratio was meant to move less between runs (a server waiting for a core
  costs it no CPU time), but it does not: a second run (`--no-write`) gave form step GET
  56 % by CPU (58 % by throughput) on SQLite and 43 % (44 %) on PostgreSQL, submission
  18 % (18 %) and 21 % (20 %). The noise is in what a request costs on this shared
  machine (caches, clock, the neighbour on the other hyperthread), not only in how the
  cores are shared. The column stays as a check that both servers run CPU-bound.

What limited the figures at the end of the fifth round. Through uvicorn the app's own work
costs about twice what the same ASGI calls cost in a tight in-process loop (py-spy over
the server: the draft SELECT ~26 us against ~11 us in-process), so a microsecond saved in
the app is worth about two. The form step GET is ~69 us in-process (the bare page ~21 us);
our security headers cost h11 ~9 us per response to validate and the session cookie ~3.5
us to parse; what is left is spread thin (draft load ~11 us, no other item above ~5 us).
The SQLite submission is ~510 us in-process: SQLite's own statements ~140 us (eight
statements and the shared COMMIT, on the event loop's thread), the rest spread over form
parsing, the draft load, the stamps check, visibility, the session's re-signing for the
confirmation and the response. Running SQLite's work in a writer thread (sqlite3 releases
the GIL inside SQLite) looks like it would take most of those ~140 us off the loop, but it
would not: the thread needs the GIL back between statements (binding, rows), and a busy
event loop gives it up only at its next system call or after the 5 ms switch interval.
Measured with a thread running a transaction of 8 inserts while the main thread runs
Python: 65 us alone, 400 us when the main thread makes a system call every ~5 us of work,
107 ms when every ~50 us. The writer lock would be held that long, so the transactions,
which are serialised, would go slower, not faster. Not done, for that reason.

With `httptools` and `uvloop` installed (uvicorn's "standard" extras; measured at the
start of this round, before its changes; not shipped), every page gets faster (form step
GET 5,225 -> 8,433 req/s, submission 1,188 -> 1,346 on SQLite) but the bare page gains far
more (9,749 -> 24,699 req/s), so every ratio falls (form step GET 34 %, submission 5 %):
the ratio targets measure the app against the server's fixed cost, and a faster server
leaves the app's own cost more visible.

What the sixth round did (2026-11-30, a later session, on a slower machine: the bare page
at 2,800-3,500 req/s, the in-process form step GET ~190 us where the fifth round's machine
took ~69 us; ratios still compare, rates do not). At its start (one run of this script):
SQLite procedure page 61 %, form step GET 56 %, step POST 33 %, submission 25 %, tracking
29 %; PostgreSQL 62 %, 46 %, 27 %, 22 %, 21 %. The tables above are its end.

- **Draft revisions, and the drafts kept in the process** (`storage.drafts`,
  `renderer/draft_cache.py`). Every wizard page read its draft, so the GET that follows a
  step POST read back what that POST had just written: on SQLite a statement and its JSON
  (py-spy: ~15 % of the GET in-process), on PostgreSQL a round trip, and the database
  server's own CPU on this 2-core machine. Each write now gives the draft a random
  revision; the process keeps the drafts it last wrote or read, and uses one only when the
  browser's `guichet_brouillon` cookie (set by every response that wrote the draft) names
  its revision, so another process's later write, which moved the cookie, sends it to the
  database. A write names the revision it was made from and the database refuses it when
  that is no longer stored (a browser that missed a response, a second tab): the step is
  applied again on the stored draft. The submission deletes that very revision first, or
  nothing is written, which also closes a hole older than the cache: a double click on
  "Valider" (two POSTs in flight) made two requests. Measured with a first cache that had
  none of the checks: form step GET 56 -> 65 % (SQLite), 46 -> 58 % (PostgreSQL); with
  this one, the first run after it: 74 % and 69 %. What it costs: a step POST sets the
  cookie and serialises the draft once more for the cache, and this script's step POSTs
  keep their first cookie, so each one misses the cache and reads the database as before:
  33 -> 27 % (SQLite), 27 -> 24 % (PostgreSQL). The submission takes no extra statement
  (SQLite: its draft DELETE moved first and returns the row; PostgreSQL: a `FOR UPDATE`
  CTE on the draft gates the quota and the reference number) but sets one more cookie.

Three runs of this script after the change (the second is the tables above): form step
GET 74 %, 70 % and 65 % on SQLite, 69 %, 63 % and 71 % on PostgreSQL; submission 23 %,
27 % and 24 % on SQLite, 28 %, 28 % and 25 % on PostgreSQL.

What limits the SQLite submission now (at the 25 % target, below or above it from one run
to the next): no single item. In-process on this machine, one submission at a time
(cProfile, 400 submissions), its SQLite statements take ~380 us, of which the COMMIT
~220 us (strace: ~51 pwrite calls per COMMIT, two per WAL frame): the WAL frames
of the pages a submission dirties (the draft, the reference counter, the request, its
event, piece and file, the outbox row, and each table's indexes), written by the event
loop's thread. Group commit shares one COMMIT among the submissions ready at the same
turn of the loop: under this script's 8 clients a COMMIT served ~3 submissions on average
(counted with a driver patched for the purpose), so ~75 us of COMMIT per submission, the
rest of the ~860 us spread thin over Python (form parsing, the stamps check, visibility,
the request's JSON, the session's re-signing for the confirmation, the response). On
PostgreSQL the same work is one statement whose COMMIT runs in the database server's
process. The statements themselves, in-process, one submission at a time (timers around
the driver's `run`, 600 submissions): INSERT into requests ~95 us, pieces ~52 us, the
draft's DELETE ~50 us, request_events ~46 us, outbox ~44 us, the reference counter ~30 us,
piece_files ~18 us. The same INSERT into request_events repeated alone in a tight loop
takes ~11 us (and its COMMIT ~36 us): in the app, between two statements, Python work
has pushed SQLite's pages and b-tree code out of the CPU's caches. Fewer b-trees on the
submission's path looked like the next lever, but a quick try without the indexes of the
two nullable `account_id` columns (requests, pieces; an anonymous request has none to
index) showed no gain above the noise of two alternated runs (917-1237 us per submission
either way), so the schema stays.

What the seventh round tried (2026-11-30, a faster machine than the sixth's: the bare page
at ~5,500 req/s; in-process, 8 concurrent submissions ~505 us each, one at a time ~610 us).
At its start (one run of this script): SQLite form step GET 64 %, submission 25 %. Kept:

- **Timestamps bound in one C call on SQLite** (`storage.db.UtcDateTime`): the SQLite
  dialect's %-formatting after the type's own conversion cost ~3.5 us per timestamp, and a
  submission binds seven; now `datetime.isoformat`, the same stored text (a test pins it).
  The parameters of a submission's statements: ~36 -> ~25 us in all. One JSON encoder for
  every `dump_json` (``json.dumps`` with options builds a new one each call), and the
  session compares a changed session with the cookie's payload in one parse instead of
  two. Instructions per in-process submission (callgrind, 200 submissions, 8 tasks):
  2.01-2.11 M -> 1.99 M, i.e. 1-6 %, below what this script can resolve.

Measured and not kept, each against the code before it in alternated runs through
uvicorn (600-800 submissions, server CPU per request from /proc): the COMMIT run in a
worker thread (sqlite3 releases the GIL in it, so the loop serves meanwhile): 731-936 us
either way, the other core being the load generator's; the COMMIT delayed by 1 ms so
that more submissions share it: 4 -> 7-8 submissions per COMMIT, CPU per request within
the noise (731-880 us against 743-808; again with 0.7 ms, nine alternated runs each:
median 842 us against 831); a 32 MB page cache and memory-mapped reads: no change
in-process. In-process with 8 tasks the group commit already serves ~10
submissions per COMMIT (~25-35 us of COMMIT each); through uvicorn ~4. The driver's own
overhead per statement (parameters, rows as dicts, the awaits), measured in a tight
loop against `sqlite3` called directly, is 1.5-2.7 us, so a hand-written SQLite
submission (as `storage.pg_submit` is for PostgreSQL) would save ~15 us of ~730: not
written. What remains is spread out: through uvicorn (cProfile in the server) the
request's parsing and the response's sending by h11 take about a third of the
submission's time, and the app's own work ~500 us in-process, of which SQLite's
statements and COMMIT ~40 %.

Runs of this script after the change, before the one whose tables are above: submission
24 %, 23 % and 24 % on SQLite (form step GET 64 %, 60 % and 63 %), 24 % on PostgreSQL
(26 % by CPU; form step GET 64 %). On this machine the submission sits at the 25 %
target, on both databases, not reliably above it.

Tried last, and dropped: the whole SQLite submission as one statement (an INSERT into
a temporary view whose `INSTEAD OF` trigger ran the writes back to back inside SQLite, the
pieces passed as JSON and expanded with `json_each`, the id and reference read back by
token hash), on the guess that the statements were slow because the Python between them
pushed SQLite out of the CPU's caches (this round's timers: ~150 us of statements in the
app, parameters included, where the same INSERT into request_events takes ~8 us repeated
in a tight loop). A micro-benchmark with Python work between submissions gave 413 -> 369
us, but in the app the trigger's one INSERT alone took ~139 us, plus ~13 us to read the
id back: 496-499 us per submission before, 501-507 after (8 tasks, in-process). SQLite's
own work for a submission is ~130 us however it is sent. PostgreSQL's submission, already
one statement, shares the machine's two cores with the database server and the load
generator.

What the eighth round did (2026-11-30, the same kind of machine, the bare page at 5,800 to
7,000 req/s). At its start, one run of this script: SQLite form step GET 64 %, submission
22 %; PostgreSQL 65 % and 26 %. The served figures move by more than one change is worth
(alternated runs of the same two versions differed by +-100 us per submission), so this
round counted instructions instead: `bench/instructions.py` serves the submission and the
bare page through uvicorn's own HTTP protocol in one process under callgrind, the same
count for the same code within ~0.2 %. At the round's start: bare page 752 k instructions
per request, submission 2,823 k (the bare page's is 26.7 % of it). Kept, each measured
that way:

- **Redirects carry only the security header that applies to them** (`Referrer-Policy`,
  which governs the request the redirect leads to; the CSP, `X-Frame-Options`, `nosniff`
  and `Permissions-Policy` concern content a browser renders, and the page the redirect
  leads to carries them), `Vary: Cookie` only on a response a cache may store (pages are
  `no-store`), and the session signer calls `hashlib.sha1` itself (itsdangerous' default is
  a Python function around it, which sends `hmac` down its pure-Python path): -105 k. h11
  validates every header with a regular expression, ~90 instructions per character.
- **`app.state` with plain attributes** (`renderer.app.PortalState`): Starlette's `State`
  answers from `__getattr__`, after an ordinary lookup that fails by building and
  formatting an `AttributeError`, ~5 k instructions a read, about ten reads a submission:
  -50 k.
- **The SQLite timestamp binder remembers the last datetime it formatted**: a submission's
  six timestamps are the same `now`, and each conversion to UTC text cost ~15 k: -95 k.
- **Schema 4**: `account_id` indexed only where set (requests, pieces: an anonymous request
  wrote two index entries nobody reads), `drafts.updated_at` no longer indexed (only the
  hourly purge reads it, every step saved wrote it): -15 to -30 k per submission, and one
  index write less per step POST.
- **A changed session is compared with the cookie's payload as parsed already** (flat
  payloads are cached) instead of parsed again: -16 k. **JSON encoders without
  circular-reference bookkeeping** (what is stored is never circular): -13 k.

After them: submission 2,516 k instructions (the bare page's is 29.9 % of it), -11 %.
Measured and dropped: the CSRF token derived from the session id by HMAC instead of kept in
the cookie (64 characters less in every request's cookie, but the HMAC costs more than h11
saves: +15 k); stamps without sorted keys and with the day's text cached (-8 k, not worth
the code); a page size of 2 or 1 KB (-34 k, -49 k; a larger draft would overflow its page);
every secondary index dropped (-78 k) or the foreign keys off (-16 k), as bounds only. The
group commit's size hardly moves instructions (2, 4 and 8 connections: 2.62, 2.56 and 2.57
M per submission): through uvicorn, what a COMMIT costs beyond them is the kernel's (on
SQLite ~600 us of user and ~50 us of system CPU per submission, from /proc). What is left,
by instructions: SQLite's statements ~450 k (17 %), JSON ~260 k (10 %: the draft read from
the cache, the stamps, the request's documents, the session cookie; 50 to 120 instructions
a character), h11 and uvicorn about a fifth, the rest spread thin. Instructions are not
time: the served ratio stays below the instruction ratio (~23 % against ~30 %), and so does
the ratio of user CPU time (bare page ~110 us, submission ~540 us, in-process or served):
the submission runs fewer instructions per cycle. Callgrind's cache simulation, per
request, submission against bare page: 3.4 times the instructions, 4.6 times the
instruction-cache misses (32 k: SQLite, JSON, h11, the app, one after the other), 3.6
times the first-level data misses, 20 times the last-level ones (~250: the cached draft's
text, cold since its step was saved, and SQLite's pages). The cyclic garbage collector is
not it: `gc.freeze()` after start-up and a first-generation threshold of 10,000 took 1 %
of the instructions and hardly any misses (dropped).

One run of this script after the round, before the one whose tables are above: SQLite form
step GET 69 %, submission 24 % (24 % by CPU); PostgreSQL 68 % and 25 % (27 % by CPU). The
submission is at the 25 % target on PostgreSQL and just below it on SQLite; still not
reliably above it.

What the ninth round did (2026-11-30, a later session, the same kind of machine, the bare
page at 6,500-7,500 req/s). At its start `bench/instructions.py` gave 2,528 k instructions
per submission (the bare page's 751 k is 29.7 % of it), and alternated served runs of the
submission alone (600 per round, SQLite) 23-26 % of the bare page's rate. A sampling
profile (perf) of the served submission put SQLite at 9 % of the server's CPU, the kernel
at 9 %, Python's interpreter at 69 %: what remained was Python work, the statements' and
the app's. Kept, each counted with callgrind:

- **JSON through orjson** (`storage.db.dump_json`/`load_json`: the stored documents, the
  draft cache, the validation stamps). The same text as before (compact, keys sorted,
  UTF-8 as is; a test compares it with the stdlib's); the stdlib still writes what orjson
  refuses (an integer beyond 64 bits, a key that is not a string). Encoding a stamp's
  document: 3.1 -> 0.26 us; parsing a draft: 5.7 -> 2.1 us: -224 k.
- **The confirmation page by a link only the submitting browser can follow** (`?ref=` and
  `cle=`, an HMAC of the procedure and reference keyed by the session id,
  `renderer.security.session_tag`) instead of a flash in the session cookie: the submission
  no longer re-signs a longer cookie (nor does h11 validate it, ~90 instructions a
  character), and the applicant's email no longer rides in every later request's cookie.
  The page reads the request by its reference: -89 k on the submission.
- **No RETURNING on SQLite's hot writes** (`Database.execute_count`, `insert_id`,
  `returning_id`): SQLite 3.40 gathers RETURNING rows in a temporary table at every run.
  Alone in a loop, on the real schema: INSERT into requests 124 -> 79 k instructions, the
  draft's DELETE 54 -> 29 k, the reference counter's upsert 49 k -> an UPDATE of 10 k and
  a SELECT. Ids come from the cursor, counters are bumped by UPDATE (the upsert remains for
  a year's or a period's first claim), draft writes are checked by their row count: -123 k.
- **Schema 5: the events' `actor_kind` CHECK written with ORs**: SQLite checks an IN list
  of more than two values by filling a temporary table at every row written (an INSERT
  into request_events: 43 k instructions with it, 12 k with the ORs): -27 k.
- `engine.conditions` builds its isinstance() tuples once (`A | B` makes a union object
  at every call): -14 k.

After them: 2,039 k instructions per submission (the bare page's is 36.8 % of it), -19 %.
Measured and dropped: an sqlite3 adapter for None (every NULL parameter goes through the
module's adaptation, whose failed attribute lookups build an exception message, ~2 k
instructions each; an adapter is global to the process, for ~8 k a submission);
positional parameters instead of named ones (no gain). What is left: SQLite's ten
statements (a savepoint, the draft, the reference counter twice, the request, its event,
piece, file, the outbox row, the release) ~350 k, of which the `sqlite3` module's own
share (binding, the statement cache, the GIL released and taken again around each call
into SQLite) is about half of a simple INSERT's; the storage layer's Python around them
~300 k; the re-validation check (stamps) ~150 k; h11, uvicorn, Starlette and the
middleware, the rest.

Alternated served runs of the submission alone (600 per round, four rounds, SQLite):
23-26 % at the round's start, 25.5-28 % after the JSON, link and conditions changes,
26-29 % after the storage ones.

Three runs of this script after the round (the second is the tables above; the third on a
slower moment of the machine, the bare page at ~5,500 req/s): SQLite form step GET 68 %,
68 % and 66 %, submission 28 %, 28 % and 28 % (28 %, 27 % and 28 % by CPU); PostgreSQL
69 %, 71 % and 70 %, submission 26 %, 27 % and 29 % (30 %, 32 % and 31 % by CPU). Both
targets are met on both databases in every run, the submission with 1-4 points to spare.
PostgreSQL's margin is the thinner: its server shares the two cores, and its CPU per
submission (~320-380 us, from /proc, besides the portal's ~500 us) includes the WAL flush
of each commit, ~100 us of it (with `synchronous_commit = off` it falls to ~270 us and the
ratio rises to 30-35 %; not done: an acknowledged request must survive a crash).
"""


def drop_pg_database(url: str) -> None:
    """Drop the run's database (made by ``pg_database``)."""
    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(PG_URL, timeout=3)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}"')
        finally:
            await conn.close()

    asyncio.run(drop())


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        SECTION_START,
        "",
        f"Measured by `python bench/pages.py` ({args.requests} requests per figure and round, "
        f"a quarter of that for submissions; {args.rounds} rounds; {args.concurrency} "
        "keep-alive connections, loopback, one uvicorn process each; "
        f"{time.strftime('%Y-%m-%d')}). The bare page is a Starlette app rendering a static "
        "Jinja2 template of the same byte size as the form step page. Each round measures the "
        "bare page, then the page; a figure is the median rate and the median of the rounds' "
        "ratios. The ratio by server CPU divides the bare server's CPU time per request (read "
        "from /proc, all its threads) by the portal's, each round, median: the same ratio were "
        "both servers CPU-bound alone on a core, and steadier when other work shares the "
        "machine.",
        "",
    ]
    for r in results:
        lines += [
            f"### {r['label']}",
            "",
            f"Bare page ({r['size']} bytes): {r['bare']:.0f} req/s (median).",
            "",
            "| page | req/s | ratio to bare | ratio by server CPU | target |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for name, rate, ratio, cpu, target in r["rows"]:
            goal = f">= {target:.0%}" if target else ""
            by_cpu = f"{cpu:.0%}" if cpu is not None else "n/a"
            lines.append(f"| {name} | {rate:.0f} | {ratio:.0%} | {by_cpu} | {goal} |")
        mails, seconds, cpu = r["delivery"]
        lines += [
            "",
            f"The acknowledgements of these submissions, delivered afterwards by the mail "
            f"worker's code as .eml files (not a page; the worker sleeps during the figures): "
            f"{mails} mails, {mails / seconds:.0f} mails/s, {cpu / mails * 1000:.2f} ms of "
            "CPU per mail.",
            "",
        ]
    lines += [*NOTES.strip("\n").split("\n"), ""]
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace (or append) the "Serving pages" section, leaving the other sections alone."""
    path = ROOT / "docs" / "performance.md"
    current = path.read_text(encoding="utf-8") if path.exists() else "# Performance\n\n"
    start = current.find(SECTION_START)
    if start == -1:
        updated = current.rstrip("\n") + "\n\n" + text
    else:
        following = current.find("\n## ", start + len(SECTION_START))
        rest = current[following + 1 :] if following != -1 else ""
        updated = current[:start] + text + ("\n" + rest if rest else "")
    path.write_text(updated, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        help="measure one database only (implies --no-write)",
    )
    parser.add_argument("--bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare is not None:
        import uvicorn

        uvicorn.run(
            bare_app(args.bare),
            host="127.0.0.1",
            port=args.port,
            log_level="warning",
            access_log=False,
        )
        return 0
    results = []
    if args.database in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(bench_database("SQLite", f"sqlite:///{tmp}/bench.sqlite3", args))
    pg = pg_database() if args.database in (None, "postgresql") else None
    if pg is not None:
        try:
            results.append(bench_database("PostgreSQL", pg, args))
        finally:
            drop_pg_database(pg)
    text = report(results, args)
    print(text)
    if not args.no_write and args.database is None:
        write_section(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
