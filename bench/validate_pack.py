"""Benchmark: validating a pack of N procedures against a bare parse of the same files.

Usage: python bench/validate_pack.py [N ...]   (default: 100 1000 5000)

For each N, a child process builds a temporary pack (the example commune, its procedures
copied under new file names until there are N), then measures in the same run:
- the bare parse: yaml.load(CSafeLoader) of every file of the pack;
- the full validation: engine.validate.validate_layers (load + schema + cross-checks +
  compile), as `guichet validate` runs it;
and reports both times, their ratio, per-file costs and the peak memory (maxrss of the child).
Times are CPU times of the process (time.process_time: the machine may be busy with other
work), each the best of a few interleaved runs after one warm-up run.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "definitions"
RUNS = 5


def build_pack(target: Path, count: int) -> int:
    """Copy the example pack into ``target`` with ``count`` procedures; return the file count."""
    shutil.copytree(EXAMPLE, target)
    procedures = sorted((target / "procedures").glob("*.yaml"))
    originals = [(p.stem, p.read_text(encoding="utf-8")) for p in procedures]
    if count < len(originals):
        for path in procedures[count:]:
            path.unlink()
    for index in range(len(originals), count):
        stem, text = originals[index % len(originals)]
        name = f"{stem}-{index:05d}"
        if text.startswith("id:") or "\nid:" in text:
            text = "\n".join(
                f"id: {name}" if line.startswith("id:") else line for line in text.splitlines()
            )
        (target / "procedures" / f"{name}.yaml").write_text(text, encoding="utf-8")
    return sum(1 for p in target.rglob("*.yaml"))


def bare_parse(pack: Path) -> float:
    import yaml

    files = sorted(pack.rglob("*.yaml"))
    start = time.process_time()
    for path in files:
        yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
    return time.process_time() - start


def full_validate(pack: Path) -> float:
    from engine.validate import validate_layers

    start = time.process_time()
    result = validate_layers([pack])
    elapsed = time.process_time() - start
    if result.problems:
        raise SystemExit("the benchmark pack has problems:\n" + result.problems[0].format())
    return elapsed


def measure(count: int) -> dict[str, float]:
    """Run in a child process: one pack size, best of RUNS after a warm-up."""
    with tempfile.TemporaryDirectory() as tmp:
        pack = Path(tmp) / "pack"
        files = build_pack(pack, count)
        bare_parse(pack)
        full_validate(pack)  # warm-up: compiles the schema validators once
        # Interleaved, so that both see the same load of the machine; best of RUNS each.
        runs = [(bare_parse(pack), full_validate(pack)) for _ in range(RUNS)]
        parse = min(r[0] for r in runs)
        validate = min(r[1] for r in runs)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "procedures": count,
        "files": files,
        "parse": parse,
        "validate": validate,
        "peak_mib": peak_kib / 1024,
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        print(json.dumps(measure(int(argv[1]))))
        return 0
    sizes = [int(a) for a in argv] or [100, 1000, 5000]
    print(
        f"{'procedures':>10} {'files':>6} {'parse s':>8} {'validate s':>10} {'ratio':>6} "
        f"{'parse ms/file':>13} {'validate ms/file':>16} {'peak MiB':>9}"
    )
    for count in sizes:
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(count)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        r = json.loads(done.stdout)
        print(
            f"{r['procedures']:>10} {r['files']:>6} {r['parse']:>8.3f} {r['validate']:>10.3f} "
            f"{r['validate'] / r['parse']:>6.2f} {1000 * r['parse'] / r['files']:>13.3f} "
            f"{1000 * r['validate'] / r['files']:>16.3f} {r['peak_mib']:>9.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
