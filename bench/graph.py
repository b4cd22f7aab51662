"""Aspect-store benchmark on a synthetic provenance graph, on each backend.

The graph: `--artifacts` artifacts in `--depth + 1` layers and `--orders` orders in `--depth` layers; each
order uses `--fan-in` artifacts of the layer below and produces artifacts of its own layer, so every
top-layer artifact has a chain `--depth` orders deep above it. Prints aspect asserts/s (single and
batched), upstream lineage at depth 10 and 30 (p50/p99 ms), filtered listings (p50 ms), and for repositories
resolving `fabric://p/n:alias`, listing a repository of `--versions` versions and lineage through ten versions
(p50 ms), plus the ratio of each backend's figures to LadybugDB's, measured in the same run.

    python bench/graph.py                       # both backends, full size (100k artifacts, 30k orders)
    python bench/graph.py --backend ladybug --artifacts 10000 --orders 3000
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aspects.artifact_filter import ArtifactFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aspects import AspectStore, Reader, open_store
from aspects.lifecycle import Lifecycle

USER = "urn:fabric:user:bench@example.com"
PRODUCED = "artifact-produced-by-order.1"
USED = "artifact-used-by-order.1"
ORG = "urn:fabric:org:bench"
BATCH = 5_000


@contextmanager
def opened(backend: str, workdir: Path) -> Iterator[AspectStore]:
    if backend == "ladybug":
        store = open_store(None, workdir / "ladybug")
        try:
            yield store
        finally:
            store.close()
        return
    from tests.fixtures_neo4j import Neo4jServer

    with Neo4jServer(workdir / "neo4j", heap="2g") as server:
        store = open_store(server.url, workdir)
        try:
            yield store
        finally:
            store.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def build(
    store: AspectStore, artifacts: int, orders: int, fan_in: int, depth: int, rng: random.Random
) -> list[list[str]]:
    per_layer = artifacts // (depth + 1)
    orders_per_layer = max(1, orders // depth)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    layers = [[f"urn:fabric:artifact:l{layer:02d}-{i:06d}" for i in range(per_layer)] for layer in range(depth + 1)]
    items = [
        {
            "urn": urn,
            "name": f"l{layer:02d}-{i:06d}.csv",
            "uploader": USER,
            "created": t0 + timedelta(seconds=layer * per_layer + i),
        }
        for layer, urns in enumerate(layers)
        for i, urn in enumerate(urns)
    ]
    start = time.perf_counter()
    for chunk in range(0, len(items), BATCH):
        store.create_artifacts(items[chunk : chunk + BATCH])
    print(f"  {len(items)} artifacts created in {time.perf_counter() - start:.1f} s")
    aspects: list[tuple[str, str, dict[str, str]]] = []
    for layer in range(1, depth + 1):
        layer_orders = [f"urn:fabric:order:l{layer:02d}-{j:06d}" for j in range(orders_per_layer)]
        for order in layer_orders:
            for used in rng.sample(layers[layer - 1], fan_in):
                aspects.append((used, USED, {"order": order}))
        for i, artifact in enumerate(layers[layer]):
            aspects.append((artifact, PRODUCED, {"order": layer_orders[i % orders_per_layer]}))
    start = time.perf_counter()
    for chunk in range(0, len(aspects), BATCH):
        store.assert_aspects(aspects[chunk : chunk + BATCH], asserter=USER)
    elapsed = time.perf_counter() - start
    print(
        f"  {len(aspects)} link aspects asserted in batches of {BATCH} in {elapsed:.1f} s ({len(aspects) / elapsed:,.0f}/s)"
    )
    return layers


def measure(backend: str, args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    rng = random.Random(7)
    print(f"\n== {backend}")
    figures: dict[str, float] = {}
    with opened(backend, workdir) as store:
        layers = build(store, args.artifacts, args.orders, args.fan_in, args.depth, rng)
        targets = rng.sample(layers[-1], min(args.samples, len(layers[-1])))

        start = time.perf_counter()
        n_single = args.singles
        for i in range(n_single):
            store.assert_aspect(
                targets[i % len(targets)], "policy.1", {"policy": f"urn:fabric:policy:p{i % 10}"}, asserter=USER
            )
        figures["single asserts/s"] = n_single / (time.perf_counter() - start)

        batch = [(rng.choice(layers[0]), "policy.1", {"policy": "urn:fabric:policy:batched"}) for _ in range(1000)]
        start = time.perf_counter()
        for _ in range(5):
            store.assert_aspects(batch, asserter=USER)
        figures["batched asserts/s (1000 per batch)"] = 5000 / (time.perf_counter() - start)

        for depth in (10, 30):
            times, sizes, truncated = [], [], 0
            for urn in targets:
                lineage = None

                def run(urn: str = urn, depth: int = depth) -> None:
                    nonlocal lineage
                    lineage = store.lineage(urn, direction="upstream", depth=depth)

                times.append(timed(run))
                assert lineage is not None
                sizes.append(len(lineage.nodes))
                truncated += lineage.truncated
            figures[f"lineage depth {depth} p50 ms"] = percentile(times, 0.5)
            figures[f"lineage depth {depth} p99 ms"] = percentile(times, 0.99)
            print(
                f"  lineage depth {depth}: median {statistics.median(sizes):.0f} nodes, {truncated}/{len(targets)} truncated"
            )

        # The same walks as a user of another organisation granted the roots only: every other artifact is checked
        # by the access predicate and redacted; this is what every read costs with authentication on.
        stranger = Reader(user="urn:fabric:user:stranger@elsewhere.org", org="urn:fabric:org:elsewhere")
        store.assert_aspects(
            [(urn, "grant.1", {"grantee": stranger.user}) for urn in targets], asserter=USER
        )  # the roots only
        times = [
            timed(lambda urn=urn: store.lineage(urn, direction="upstream", depth=10, reader=stranger))
            for urn in targets
        ]
        figures["lineage depth 10 p50 ms, as a reader (redacted)"] = percentile(times, 0.5)
        listing = [
            timed(lambda: store.list_artifacts(ArtifactFilter(status="pending", reader=stranger), limit=100))
            for _ in range(20)
        ]
        figures["list (status) p50 ms, as a reader (nothing readable)"] = percentile(listing, 0.5)

        listing = []
        for _ in range(args.samples):
            prefix = f"l{rng.randrange(args.depth + 1):02d}-00{rng.randrange(10)}"
            listing.append(
                timed(
                    lambda prefix=prefix: store.list_artifacts(
                        ArtifactFilter(name_prefix=prefix, status="pending"), limit=100
                    )
                )
            )
        figures["list (name prefix + status) p50 ms"] = percentile(listing, 0.5)
        listing = [timed(lambda: store.list_artifacts(ArtifactFilter(schema="policy.1"), limit=100)) for _ in range(20)]
        figures["list (schema present) p50 ms"] = percentile(listing, 0.5)
        figures.update(measure_lifecycle(store, args))
    for name, value in figures.items():
        print(f"  {name:54s} {value:12,.1f}")
    return figures


def make_ready(store: AspectStore, urn: str) -> None:
    """Complete a batch-created (pending) artifact, as a finished upload would."""
    digest = hashlib.sha256(urn.encode()).hexdigest()
    content = {
        "name": urn.rsplit(":", 1)[-1],
        "mime_type": "application/octet-stream",
        "size": len(urn),
        "sha256": digest,
        "location": f"blob:sha256:{digest}",
        "created": "2026-02-01T00:00:00Z",
        "uploader": USER,
    }
    store.complete_artifact(urn, content, asserter=USER)


CLAIMS = (
    "UNWIND $rows AS r CREATE (v:VersionNumber {urn: r.urn, created: $now, number: r.number, artifact: r.artifact})"
)


def measure_lifecycle(store: AspectStore, args: argparse.Namespace) -> dict[str, float]:
    """Repositories: resolving `fabric://p/n:alias`, listing a repository of `--versions` versions (a page of
    100, newest first), and lineage through versions: version k was produced by an order that used version k-1."""
    lifecycle = Lifecycle(store)
    figures: dict[str, float] = {}
    t0 = datetime(2026, 2, 1, tzinfo=UTC)
    urns = [f"urn:fabric:artifact:v-{i:06d}" for i in range(args.versions)]
    for start in range(0, len(urns), BATCH):
        store.create_artifacts(
            [
                {"urn": urn, "name": f"v-{i:06d}.bin", "uploader": USER, "created": t0 + timedelta(seconds=i)}
                for i, urn in enumerate(urns[start : start + BATCH], start)
            ]
        )
    make_ready(store, urns[0])
    lifecycle.register_version("bench", "big", urns[0], asserter=USER, org=ORG)
    repo = lifecycle.repository_urn("bench", "big")
    for start in range(1, len(urns), BATCH):
        store.assert_aspects(
            [
                (repo, "version.1", {"artifact": urn, "number": i + 1, "description": "", "tags": []})
                for i, urn in enumerate(urns[start : start + BATCH], start)
            ],
            asserter=USER,
        )
    # what registration claims beside each version (`aspects.lifecycle.VERSION_NUMBER_LABEL`), in batches
    for start in range(1, len(urns), BATCH):
        claims = [
            {"urn": f"{repo}#{i + 1}", "number": i + 1, "artifact": urn}
            for i, urn in enumerate(urns[start : start + BATCH], start)
        ]
        store.backend.run(CLAIMS, {"rows": claims, "now": 0})
    lifecycle.set_alias("bench", "big", "champion", args.versions // 2, asserter=USER)
    assert lifecycle.resolve("fabric://bench/big:champion")["number"] == args.versions // 2
    assert lifecycle.resolve("fabric://bench/big")["number"] == args.versions
    times = [timed(lambda: lifecycle.resolve("fabric://bench/big:champion")) for _ in range(args.samples)]
    figures["resolve fabric://p/n:alias p50 ms"] = percentile(times, 0.5)
    times = [timed(lambda: lifecycle.resolve("fabric://bench/big")) for _ in range(args.samples)]
    figures["resolve fabric://p/n (latest) p50 ms"] = percentile(times, 0.5)
    times = [timed(lambda: lifecycle.versions("bench", "big", limit=100)) for _ in range(args.samples)]
    figures[f"list versions of {args.versions:,} (page of 100) p50 ms"] = percentile(times, 0.5)
    page = lifecycle.versions("bench", "big", limit=100)
    times = [
        timed(lambda: lifecycle.versions("bench", "big", limit=100, cursor=page.next_cursor))
        for _ in range(args.samples)
    ]
    figures[f"list versions of {args.versions:,} (second page) p50 ms"] = percentile(times, 0.5)

    chain = [f"urn:fabric:artifact:chain-{i:02d}" for i in range(12)]
    store.create_artifacts([{"urn": urn, "name": urn[-8:], "uploader": USER} for urn in chain])
    for i, urn in enumerate(chain):
        make_ready(store, urn)
        if i:
            order = f"urn:fabric:order:chain-{i:02d}"
            store.assert_aspect(chain[i - 1], USED, {"order": order}, asserter=USER)
            store.assert_aspect(urn, PRODUCED, {"order": order}, asserter=USER)
        lifecycle.register_version("bench", "chain", urn, asserter=USER, org=ORG)

    def through_versions() -> None:
        root = lifecycle.resolve("fabric://bench/chain")["artifact"]
        lineage = store.lineage(root, direction="upstream", depth=20)
        assert len([n for n in lineage.nodes if n["kind"] == "artifact"]) == 11, len(lineage.nodes)

    times = [timed(through_versions) for _ in range(args.samples)]
    figures["lineage through 10 versions (resolve + walk) p50 ms"] = percentile(times, 0.5)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["ladybug", "neo4j", "both"], default="both")
    parser.add_argument("--artifacts", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=30_000)
    parser.add_argument("--fan-in", type=int, default=3)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--singles", type=int, default=300)
    parser.add_argument("--versions", type=int, default=10_000, help="Versions in the big repository.")
    args = parser.parse_args()
    backends = ["ladybug", "neo4j"] if args.backend == "both" else [args.backend]
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-graph-") as tmp:
        for backend in backends:
            results[backend] = measure(backend, args, Path(tmp) / backend)
    if len(results) == 2:
        print("\n== neo4j / ladybug (same run)")
        for name in results["ladybug"]:
            print(f"  {name:40s} {results['neo4j'][name] / results['ladybug'][name]:8.2f}x")


if __name__ == "__main__":
    main()
