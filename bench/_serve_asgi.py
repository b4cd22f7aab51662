"""datafabric's app under a chosen ASGI server, for `upload_throughput.py --asgi` (a bench tool, not a product).

    python bench/_serve_asgi.py granian --port 20001 --data-dir /tmp/d [--md5]

`fabric serve` runs uvicorn (httptools, uvloop); this runs the same app (`fabric.app.create_app` with the
defaults of `fabric serve`) under uvicorn with the same options, under granian (its embedded server, in this
process, so the bench's CPU counter sees all of it) or under hypercorn, so the HTTP server is the only variable.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import uvloop

from fabric import logs
from fabric.app import create_app
from fabric.settings import Settings

SERVERS = ("uvicorn", "granian", "hypercorn")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("server", choices=SERVERS)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--md5", action="store_true")
    args = parser.parse_args()
    logs.configure("warning", "text")
    app = create_app(Settings(data_dir=args.data_dir, host=args.host, port=args.port, md5=args.md5))
    if args.server == "uvicorn":
        import uvicorn

        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            log_config=None,
            log_level="warning",
            http="httptools",
            loop="uvloop",
            access_log=False,
        )
    elif args.server == "granian":
        from granian.constants import Interfaces
        from granian.server.embed import Server

        server = Server(app, address=args.host, port=args.port, interface=Interfaces.ASGI, log_enabled=False)
        uvloop.run(server.serve())
    else:
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        config = Config()
        config.bind = [f"{args.host}:{args.port}"]
        config.loglevel = "WARNING"
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        asyncio.run(serve(app, config))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
