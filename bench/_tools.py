"""Installing the reference tus servers on the fly into a cache directory (nothing is vendored in the repo).

- tusd: `go install github.com/tus/tusd/v2/cmd/tusd@VERSION` through the Go module proxy. When the proxy
  refuses the "latest/deprecation" lookup that `go install pkg@version` makes (some mirrors answer 403 to
  `@v/list`), the same released module is fetched with `go mod download` and its `cmd/tusd` built with the
  module's own go.sum, which is what `go install` would have built.
- @tus/server + @tus/file-store: `npm install` of exact versions into the cache.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TUSD_MODULE = "github.com/tus/tusd/v2"
TUSD_VERSION = "v2.9.1"
TUS_NODE_VERSIONS = {"@tus/server": "2.4.5", "@tus/file-store": "2.1.1"}


def cache_dir() -> Path:
    root = (
        os.environ.get("DATAFABRIC_BENCH_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "datafabric-bench"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _say(message: str) -> None:
    print(f"[setup] {message}", file=sys.stderr, flush=True)


def _need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise SystemExit(
            f"{tool} is needed for the reference servers (see bench/README.md); use --only datafabric to skip them"
        )
    return found


def ensure_tusd(cache: Path) -> Path:
    """The path of a tusd binary of TUSD_VERSION, built into the cache the first time (a few minutes).

    Several benchmarks may share the cache at once: the build holds a lock, stages in a directory of its own
    and moves the binary into place only once it exists, so no run sees a half-built or missing binary.
    """
    binary = cache / "go" / "bin" / f"tusd-{TUSD_VERSION}"
    if binary.exists():
        return binary
    go = _need("go")
    binary.parent.mkdir(parents=True, exist_ok=True)
    with open(cache / "go" / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if binary.exists():  # built by another run while this one waited
            return binary
        staging = Path(tempfile.mkdtemp(prefix="staging-", dir=cache / "go"))
        try:
            built = _build_tusd(go, cache, staging)
            built.chmod(0o755)
            built.replace(binary)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return binary


def _build_tusd(go: str, cache: Path, staging: Path) -> Path:
    env = {
        **os.environ,
        "GOPATH": str(cache / "go" / "path"),
        "GOMODCACHE": str(cache / "go" / "mod"),
        "GOFLAGS": "-modcacherw",  # so that `rm -rf` of the cache works
        "GOTOOLCHAIN": "local",
    }
    env.pop("GOBIN", None)
    target = staging / "tusd"
    _say(f"go install {TUSD_MODULE}/cmd/tusd@{TUSD_VERSION} (first time only, takes a few minutes)")
    installed = subprocess.run(
        [go, "install", f"{TUSD_MODULE}/cmd/tusd@{TUSD_VERSION}"],
        env={**env, "GOBIN": str(staging)},
        cwd=staging,
        capture_output=True,
        text=True,
    )
    if installed.returncode == 0 and target.is_file():
        return target
    why = installed.stderr.strip().splitlines()[-1:] if installed.returncode else ["it exited 0 but left no binary"]
    _say(f"go install failed ({why}); building the same module from `go mod download`")
    downloaded = subprocess.run(
        [go, "mod", "download", "-json", f"{TUSD_MODULE}@{TUSD_VERSION}"],
        env=env,
        cwd=staging,
        capture_output=True,
        text=True,
        check=True,
    )
    module_dir = json.loads(downloaded.stdout)["Dir"]
    subprocess.run([go, "build", "-trimpath", "-o", str(target), "./cmd/tusd"], env=env, cwd=module_dir, check=True)
    if not target.is_file():
        raise SystemExit(f"go build of tusd {TUSD_VERSION} left no binary at {target}")
    return target


def ensure_tus_node(cache: Path) -> Path:
    """A directory whose node_modules holds @tus/server and @tus/file-store at the pinned versions."""
    root = cache / "node"
    wanted = {name: version for name, version in TUS_NODE_VERSIONS.items()}
    if all(_installed_version(root, name) == version for name, version in wanted.items()):
        return root
    _need("node")
    npm = _need("npm")
    root.mkdir(parents=True, exist_ok=True)
    (root / "package.json").write_text(
        json.dumps({"name": "datafabric-bench-tus-node", "private": True, "dependencies": wanted}, indent=1)
    )
    _say("npm install " + " ".join(f"{n}@{v}" for n, v in wanted.items()))
    subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=root, check=True)
    return root


def _installed_version(root: Path, name: str) -> str | None:
    try:
        return json.loads((root / "node_modules" / name / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
