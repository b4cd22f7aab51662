"""Read latency of the HTTP API over real HTTP against `fabric serve`, with 100,000 artifacts, on each backend.

The graph is filled through the aspect store before the server starts: `--artifacts` artifacts, each complete
(`artifact.1`, ready) as an upload leaves it, in one of 100 collections and produced by one of 1,000 orders (two
link aspects each), one in ten with a type and a label too; `--targets` of them are read by URN. Then
`python -m fabric serve` runs on 127.0.0.1 and one keep-alive client asks, round-robin so that a change in the
machine's load hits every route alike:

- `GET /healthz`, the in-run reference (no graph, no auth);
- `GET /v1/artifacts/{urn}`, cycling over `--targets` artifacts (record and all current aspects);
- `GET /v1/artifacts?limit=50` and `GET /v1/artifacts?limit=1` (the newest artifacts), and
  `GET /v1/artifacts?limit=50&count=true` (with the total, as the portal's artifact list asks), also with
  `type=dataset` (one artifact in ten) and `label=project:p3` (one in seventy);
- `GET /v1/schemas`;
- `GET /v1/aspects?entity={urn}` (every current aspect of one artifact, over every relationship type),
  `GET /v1/artifacts/{urn}/files`, `GET /v1/lineage/{urn}` and `GET /v1/collections/{urn}?limit=50` (a
  collection holds 1,000 artifacts).

It does so twice per backend: without authentication (the loopback default) and with a bearer token of the user
who created every artifact (each read then runs the access predicate). Prints p50 and p99 in ms per route, and
each p50 as a multiple of `/healthz`'s p50 in the same run.

    python bench/api_reads.py                                   # both backends, 100k artifacts (~10 min)
    python bench/api_reads.py --backend ladybug --artifacts 10000 --requests 200
    python bench/api_reads.py --keep /tmp/reads-100k                  # fill once, measure again later without refilling
    git worktree add /tmp/old a118963 && python bench/api_reads.py --keep /tmp/reads-100k --against /tmp/old
                                    # the same requests to this code and to another revision, alternating, in one run
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent))

from _servers import datafabric, running  # noqa: E402

from aspects import AspectStore, open_store  # noqa: E402
from fabric.auth.tokens import Principal, mint_token  # noqa: E402

EMAIL = "bench@example.com"
ORG = "bench"
USER = f"urn:fabric:user:{EMAIL}"
BATCH = 5_000
SHA = "0" * 64
FILL_VERSION = 2  # what `fill` puts in the graph; a kept graph of another version is not reused


@dataclass(frozen=True, slots=True)
class Filled:
    targets: list[str]  # the artifacts read by URN


def fill(store: AspectStore, artifacts: int, targets: int) -> Filled:
    """Every artifact complete, as in a store in use: its `artifact.1` (so reads meet 100,000 `HAS_ASPECT` edges,
    not a few), one collection, one producing order; one in ten with a type and a label too. Bulk import: the
    nodes and aspects go in batches of `BATCH` per transaction (completing 100,000 uploads one by one through
    `complete_artifact` would take far longer than the measurement)."""
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    urns = [f"urn:fabric:artifact:bench-{i:06d}" for i in range(artifacts)]
    start = time.perf_counter()
    for chunk in range(0, artifacts, BATCH):
        store.create_artifacts(
            [
                {
                    "urn": urn,
                    "name": f"bench-{chunk + i:06d}.csv",
                    "uploader": USER,
                    "org": f"urn:fabric:org:{ORG}",
                    "created": t0 + timedelta(seconds=chunk + i),
                }
                for i, urn in enumerate(urns[chunk : chunk + BATCH])
            ]
        )
    links: list[tuple[str, str, dict[str, str]]] = []
    for i, urn in enumerate(urns):
        links.append((urn, "collection-member.1", {"collection": f"urn:fabric:collection:c{i % 100}"}))
        links.append((urn, "artifact-produced-by-order.1", {"order": f"urn:fabric:order:o{i % 1000}"}))
        if i % 10 == 0:
            links.append((urn, "artifact-type.1", {"type": "dataset"}))
            links.append((urn, "artifact-label.1", {"key": "project", "value": f"p{i % 7}"}))
    for chunk in range(0, len(links), BATCH):
        store.assert_aspects(links[chunk : chunk + BATCH], asserter=USER)
    for chunk in range(0, artifacts, BATCH):
        complete(store, urns[chunk : chunk + BATCH], t0)
    chosen = random.Random(7).sample(urns, min(targets, artifacts))
    print(
        f"  {artifacts} artifacts complete, {len(links)} more aspects, filled in {time.perf_counter() - start:.0f} s",
        file=sys.stderr,
    )
    return Filled(chosen)


def complete(store: AspectStore, urns: list[str], t0: datetime) -> None:
    """What `complete_artifact` does for each of `urns` (its `artifact.1`, the node ready with its columns), in one
    transaction: the store's batch insert of aspects, which its public API keeps from `artifact.1`."""
    entry = store.registry.get("artifact.1")
    contents = {
        urn: {
            "name": urn.rsplit(":", 1)[1] + ".csv",
            "mime_type": "text/csv",
            "size": 1234,
            "sha256": SHA,
            "location": f"blobs/{SHA}",
            "created": t0.isoformat(),
            "uploader": USER,
        }
        for urn in urns
    }
    store.registry.validate(entry, contents[urns[0]])
    group = [(urn, content, store.registry.full_id(entry.name)) for urn, content in contents.items()]
    store._prepare_edge(entry, "Artifact")
    with store.backend.transaction() as tx:
        store._insert_group(tx, entry, "Artifact", group, "urn:fabric:system:ingest", store._now())
        tx.run(
            "UNWIND $urns AS u MATCH (a:Artifact {urn: u}) SET a.status = 'ready', a.mime_type = 'text/csv', "
            "a.size = 1234, a.sha256 = $sha, a.location = $location",
            {"urns": urns, "sha": SHA, "location": f"blobs/{SHA}"},
        )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


Times = dict[str, list[float]]  # route -> ms per request


def measure(
    base_urls: dict[str, str], filled: Filled, requests: int, warmup: int, token: str | None
) -> dict[str, Times]:
    """Each route asked of each server in turn (the servers' order alternating), `warmup + requests` times."""
    connections = {}
    for label, base_url in base_urls.items():
        host, port = base_url.removeprefix("http://").split(":")
        assert host == "127.0.0.1"
        connections[label] = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    routes = {
        "GET /healthz": lambda i: "/healthz",
        "GET /v1/artifacts/{urn}": lambda i: f"/v1/artifacts/{filled.targets[i % len(filled.targets)]}",
        "GET /v1/artifacts?limit=50": lambda i: "/v1/artifacts?limit=50",
        "GET /v1/artifacts?limit=1": lambda i: "/v1/artifacts?limit=1",
        "GET /v1/artifacts?limit=50&count=true": lambda i: "/v1/artifacts?limit=50&count=true",
        "GET /v1/artifacts?…&type=dataset": lambda i: "/v1/artifacts?limit=50&count=true&type=dataset",
        "GET /v1/artifacts?…&label=project:p3": lambda i: "/v1/artifacts?limit=50&count=true&label=project:p3",
        "GET /v1/schemas": lambda i: "/v1/schemas",
        "GET /v1/aspects?entity={urn}": lambda i: f"/v1/aspects?entity={filled.targets[i % len(filled.targets)]}",
        "GET /v1/artifacts/{urn}/files": lambda i: f"/v1/artifacts/{filled.targets[i % len(filled.targets)]}/files",
        "GET /v1/lineage/{urn}": lambda i: f"/v1/lineage/{filled.targets[i % len(filled.targets)]}",
        "GET /v1/collections/{urn}?limit=50": lambda i: f"/v1/collections/urn:fabric:collection:c{i % 100}?limit=50",
    }
    times: dict[str, Times] = {label: {name: [] for name in routes} for label in connections}
    labels = list(connections)
    for i in range(warmup + requests):
        for name, path in routes.items():
            for label in labels if i % 2 else labels[::-1]:
                start = time.perf_counter()
                connections[label].request("GET", path(i), headers=headers)
                response = connections[label].getresponse()
                body = response.read()
                elapsed = (time.perf_counter() - start) * 1000
                if response.status != 200:
                    raise RuntimeError(f"{label} {name}: {response.status} {body[:300]!r}")
                if i >= warmup:
                    times[label][name].append(elapsed)
    for connection in connections.values():
        connection.close()
    return times


@contextmanager
def graph(backend: str, workdir: Path) -> Iterator[str | None]:
    """The graph URL to serve (None: the embedded graph in the data dir)."""
    if backend == "ladybug":
        yield None
        return
    from tests.fixtures_neo4j import Neo4jServer

    with Neo4jServer(workdir / "neo4j", heap="2g") as server:
        yield server.url


def filled_graph(url: str | None, data_dir: Path, workdir: Path, args: argparse.Namespace) -> Filled:
    """The graph filled as asked; with `--keep`, a graph this bench filled earlier in `workdir` with the same
    figures is measured again as it is (its `filled.json` names the artifacts read by URN)."""
    marker = workdir / "filled.json"
    wanted = {"fill": FILL_VERSION, "artifacts": args.artifacts, "targets": args.targets}
    if marker.exists():
        recorded = json.loads(marker.read_text())
        if {key: recorded.get(key) for key in wanted} == wanted:
            print(f"  reusing the graph filled in {workdir}", file=sys.stderr)
            return Filled(recorded["urns"])
        raise SystemExit(f"{workdir} holds a graph of other figures ({recorded}); choose another --keep directory")
    store = open_store(url, data_dir)
    try:
        filled = fill(store, args.artifacts, args.targets)
    finally:
        store.close()
    marker.write_text(json.dumps({**wanted, "urns": filled.targets}))
    return filled


def run_backend(backend: str, args: argparse.Namespace, workdir: Path) -> dict[str, dict[str, Times]]:
    print(f"== {backend}: filling the graph", file=sys.stderr)
    data_dir = workdir / "data"
    results = {}
    with graph(backend, workdir) as url:
        filled = filled_graph(url, data_dir, workdir, args)
        key = secrets.token_hex(32)
        token = mint_token(key.encode(), Principal(EMAIL, ORG))
        graph_args = ("--graph-url", url) if url else ()
        for mode, extra, bearer in (("no auth", ("--no-auth",), None), ("auth", ("--auth", "--token-key", key), token)):
            print(f"  serving ({mode}) and measuring", file=sys.stderr)
            spec = datafabric(*graph_args, *extra, "--no-access-log")
            log = mode.replace(" ", "-")
            with ExitStack() as servers:
                base_urls = {
                    "this": servers.enter_context(running(spec, data_dir, workdir / f"server-{log}.log")).base_url
                }
                if args.against is not None:
                    # The other checkout's `python -m fabric` (run from its directory) on a copy of the embedded
                    # graph, or on the same Neo4j graph with a data dir of its own.
                    other_dir = workdir / "data-against"
                    shutil.rmtree(other_dir, ignore_errors=True)
                    if url is None:
                        shutil.copytree(data_dir, other_dir, ignore=shutil.ignore_patterns("server.lock"))
                    other = replace(spec, name=f"{spec.name} [{args.against}]", cwd=args.against)
                    log_path = workdir / f"server-{log}-against.log"
                    base_urls["against"] = servers.enter_context(running(other, other_dir, log_path)).base_url
                results[mode] = measure(base_urls, filled, args.requests, args.warmup, bearer)
    return results


def report(backend: str, results: dict[str, dict[str, Times]]) -> None:
    for mode, by_server in results.items():
        times = by_server["this"]
        reference = percentile(times["GET /healthz"], 0.5)
        print(f"\n{backend}, {mode}")
        if "against" not in by_server:
            print(f"  {'route':40s} {'p50 ms':>8s} {'p99 ms':>8s} {'p50 / healthz':>14s}")
            for name, values in times.items():
                p50 = percentile(values, 0.5)
                print(f"  {name:40s} {p50:8.2f} {percentile(values, 0.99):8.2f} {p50 / reference:13.1f}x")
            continue
        other = by_server["against"]
        print(f"  {'route':40s} {'p50 ms':>8s} {'against':>8s} {'p99 ms':>8s} {'against':>8s} {'p50 / against':>14s}")
        for name, values in times.items():
            p50, p50_other = percentile(values, 0.5), percentile(other[name], 0.5)
            p99, p99_other = percentile(values, 0.99), percentile(other[name], 0.99)
            print(f"  {name:40s} {p50:8.2f} {p50_other:8.2f} {p99:8.2f} {p99_other:8.2f} {p50 / p50_other:13.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["ladybug", "neo4j", "both"], default="both")
    parser.add_argument("--artifacts", type=int, default=100_000)
    parser.add_argument("--targets", type=int, default=200, help="artifacts read by URN")
    parser.add_argument("--requests", type=int, default=500, help="requests per route, after the warm-up")
    parser.add_argument(
        "--warmup", type=int, default=300, help="requests per route not measured (Neo4j compiles its plans at first)"
    )
    parser.add_argument("--work-dir", type=Path, default=None, help="default: a new directory under /tmp, removed")
    parser.add_argument("--keep", type=Path, default=None, help="fill the graphs here and keep them for later runs")
    parser.add_argument(
        "--against",
        type=Path,
        default=None,
        help="another checkout (git worktree add DIR REV) served beside this one; requests alternate between them",
    )
    args = parser.parse_args()
    backends = ["ladybug", "neo4j"] if args.backend == "both" else [args.backend]
    if args.keep is not None:
        for backend in backends:
            report(backend, run_backend(backend, args, args.keep / backend))
        return
    with tempfile.TemporaryDirectory(prefix="bench-api-reads-", dir=args.work_dir) as tmp:
        for backend in backends:
            report(backend, run_backend(backend, args, Path(tmp) / backend))


if __name__ == "__main__":
    main()
