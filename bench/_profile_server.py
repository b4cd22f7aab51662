"""`fabric serve` with timers around the upload path, to see where a PATCH spends its time.

Wraps (from outside, nothing in src/ changes) the receive loop, checkpoints, fdatasync, completion, and the
write / sha256 / md5 work of the two lanes. `kill -USR1 <pid>` prints the totals since the last report to
stderr and resets them. Internal names are patched, so this follows tus_server's code and may need updating.

    python bench/_profile_server.py --port 8765 --data-dir /tmp/prof-data --log-level warning
"""
import atexit, collections, functools, hashlib, os, sys, threading, time, types
from tus_server import receiver, server as tserver, hashing
T = collections.defaultdict(float); N = collections.Counter(); lock = threading.Lock()
def add(k, dt):
    with lock: T[k] += dt; N[k] += 1
def timed_async(cls, name, key):
    orig = getattr(cls, name)
    @functools.wraps(orig)
    async def w(*a, **k):
        t = time.perf_counter()
        try: return await orig(*a, **k)
        finally: add(key, time.perf_counter() - t)
    setattr(cls, name, w)
for cls, name, key in [(receiver.BodyWriter, "feed", "feed (incl. backpressure waits)"), (receiver.BodyWriter, "finish", "finish/drain lanes"),
                       (receiver.BodyWriter, "sync", "fdatasync (awaited)"), (tserver.TusServer, "_checkpoint", "checkpoint (sync+save)"),
                       (tserver.TusServer, "_finish", "_finish (digests+on_complete)"), (tserver.TusServer, "_receive", "_receive total"),
                       (tserver.TusServer, "_patch", "PATCH total")]:
    timed_async(cls, name, key)
real_write = os.write
def twrite(fd, b):
    t = time.perf_counter(); n = real_write(fd, b); add("lane: os.write", time.perf_counter() - t); return n
receiver.os = types.SimpleNamespace(**{k: getattr(os, k) for k in dir(os) if not k.startswith("__")}); receiver.os.write = twrite
class TH:
    def __init__(self, h, key): self.h, self.key = h, key
    def update(self, b):
        t = time.perf_counter(); self.h.update(b); add(self.key, time.perf_counter() - t)
    def __getattr__(self, n): return getattr(self.h, n)
    def copy(self): return TH(self.h.copy(), self.key)
orig_empty = hashing.UploadDigests.empty.__func__
hashing.UploadDigests.empty = classmethod(lambda cls: cls(0, TH(hashlib.sha256(), "lane: sha256"), TH(hashlib.md5(), "lane: md5")))
def report():
    for k in sorted(T): print(f"{k:34s} {T[k]:8.3f} s  x{N[k]}", file=sys.stderr, flush=True)
import signal
signal.signal(signal.SIGUSR1, lambda *a: (report(), T.clear(), N.clear()))
from fabric.cli import main
sys.argv = ["fabric", "serve", *sys.argv[1:]]
main()
