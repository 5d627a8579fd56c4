"""Benchmark: instructions per request, counted by callgrind, the submission next to the bare
page.

Usage: python bench/instructions.py [--submissions N] [--concurrency C] [--warm-up W]

Requests/s on this shared machine move by +-20 % from one run to the next, more than most
changes to the submission path (a few per cent each) and more than bench/pages.py can
resolve. Instruction counts do not move: the same code on the same inputs gives the same
count to ~0.2 %, whatever else the machine does. So this script serves requests through
uvicorn's own HTTP/1.1 protocol (``H11Protocol``, the parsing and writing that the real
server does), in one process, fed through a transport that keeps the bytes in memory (no
sockets: the kernel's share is left out), and counts the instructions of the measured
requests only (``valgrind --tool=callgrind``, collection switched on and off around them
with ``callgrind_control``):

- bare page: bench/pages.py's bare Starlette app, ``GET /`` (a static Jinja2 page of the
  form step page's size, measured first by this script, as bench/pages.py does);
- submission: the récapitulatif POST of N complete drafts of ``acte-naissance`` on a
  temporary SQLite file, C connections at once (C submissions share a group commit).

Instructions are not time: SQLite's writes, cache misses and the system calls of a real
server weigh differently. Use the ratio to compare two versions of the code; bench/pages.py
gives the served figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import pages  # noqa: E402


class MemoryTransport(asyncio.Transport):
    """What uvicorn writes, kept; ``written`` is set at each write."""

    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()
        self.written = asyncio.Event()
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        peers = {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}
        return peers.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.data += data
        self.written.set()

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def serve(app: Any, requests: list[bytes], concurrency: int, status: int) -> None:
    """Feed ``requests`` to ``app`` through uvicorn's H11Protocol over ``concurrency``
    keep-alive connections, each request once the previous response is complete."""
    import uvicorn
    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.server import ServerState

    config = uvicorn.Config(app=app, log_level="warning", access_log=False, lifespan="off")
    config.load()
    state = ServerState()
    head = f"HTTP/1.1 {status} ".encode()

    async def connection(chunk: list[bytes]) -> None:
        transport = MemoryTransport()
        protocol = H11Protocol(config=config, server_state=state, app_state={})
        protocol.connection_made(transport)
        for raw in chunk:
            transport.data.clear()
            protocol.data_received(raw)
            while protocol.cycle is None or not protocol.cycle.response_complete:
                transport.written.clear()
                await transport.written.wait()
            assert transport.data.startswith(head), bytes(transport.data[:80])
        protocol.connection_lost(None)

    await asyncio.gather(*(connection(requests[i::concurrency]) for i in range(concurrency)))


def callgrind(on: bool) -> None:
    """Switch instruction counting on or off in this process (when run under callgrind)."""
    if os.environ.get("GUICHET_CALLGRIND"):
        switch = ["callgrind_control", "-i", "on" if on else "off", str(os.getpid())]
        subprocess.run(switch, check=True, stdout=subprocess.DEVNULL)


async def measure_bare(args: argparse.Namespace) -> None:
    app = pages.bare_app(args.size)
    request = pages.request_bytes(8000, "GET", "/")
    await serve(app, [request] * args.warm_up, args.concurrency, 200)
    callgrind(True)
    await serve(app, [request] * args.submissions, args.concurrency, 200)
    callgrind(False)


def portal(var: Path) -> tuple[Any, Any]:
    """(the portal's app on a new SQLite file in ``var``, the example commune's pack)."""
    from engine.validate import load_pack
    from renderer.app import app_from_env

    os.environ.update(pages.portal_env(f"sqlite:///{var / 'bench.sqlite3'}", var))
    return app_from_env(), load_pack([ROOT / "definitions"])


async def form_page_size() -> int:
    """The byte size of the form step page (with its draft), which the bare page copies."""
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        app, pack = portal(Path(tmp))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                await pages.fill_session(client, pack, complete=False)
                page = await client.get(f"/demarches/{pages.PROC}/etapes/demande-{pages.STEP}")
                assert page.status_code == 200, page.status_code
                return len(page.content)


async def measure_submission(args: argparse.Namespace, var: Path) -> None:
    import httpx

    app, pack = portal(var)
    summary = f"/demarches/{pages.PROC}/etapes/recapitulatif"
    async with app.router.lifespan_context(app):
        posts = []
        for _ in range(args.warm_up + args.submissions):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                cookie, token = await pages.fill_session(client, pack, complete=True)
            body = urllib.parse.urlencode([("csrf_token", token)]).encode()
            posts.append(pages.request_bytes(8000, "POST", summary, cookie, body))
        await serve(app, posts[: args.warm_up], args.concurrency, 303)
        callgrind(True)
        await serve(app, posts[args.warm_up :], args.concurrency, 303)
        callgrind(False)


def count(kind: str, args: argparse.Namespace) -> int:
    """Instructions of ``args.submissions`` requests of ``kind``, in a child under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        child = [sys.executable, __file__, "--child", kind, "--var", tmp]
        child += ["--submissions", str(args.submissions), "--concurrency", str(args.concurrency)]
        child += ["--warm-up", str(args.warm_up), "--size", str(args.size)]
        valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
        valgrind.append(f"--callgrind-out-file={out}")
        env = {**os.environ, "GUICHET_CALLGRIND": "1"}
        done = subprocess.run([*valgrind, *child], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{kind} under callgrind failed:\n{done.stderr[-3000:]}")
        found = re.search(r"^totals: (\d+)", out.read_text(), re.MULTILINE)
        if found is None:
            raise RuntimeError(f"no instruction total in {out}")
        return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--warm-up", type=int, default=40)
    parser.add_argument("--child", choices=("bare", "submission"), help=argparse.SUPPRESS)
    parser.add_argument("--var", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "bare":
        asyncio.run(measure_bare(args))
        return 0
    if args.child == "submission":
        asyncio.run(measure_submission(args, args.var))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    n = args.submissions
    args.size = asyncio.run(form_page_size())
    bare = count("bare", args) / n
    submission = count("submission", args) / n
    print(
        f"Instructions per request (callgrind; {n} requests, {args.concurrency} connections;"
        f" the bare page of {args.size} bytes, the form step page's size):"
    )
    print()
    print("| request | instructions | ratio of the bare page's |")
    print("| --- | ---: | ---: |")
    print(f"| bare page GET | {bare:,.0f} | 100% |")
    print(f"| submission (récapitulatif POST) | {submission:,.0f} | {bare / submission:.1%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
