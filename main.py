"""Beacon: ``python main.py`` serves the admin dashboard, public pages and APIs; sub-commands: see --help.

The public routes live on an outer FastAPI app and NiceGUI is mounted into it, so that status pages,
JSON and health checks carry no session cookie and never build a NiceGUI client (docs/architecture.md).
"""

from __future__ import annotations

import signal
import sys
from contextlib import asynccontextmanager

from fastapi import FastAPI
from nicegui import helpers, ui

from app import config, runtime
from app.api import assets, custom_metrics, management, problems, public, up
from app.api import feeds as feeds_api
from app.api import metrics as prometheus_metrics
from app.api import monitors as monitors_api
from app.api import subscribe as subscribe_routes
from app.config import Settings
from app.observability import RequestIdMiddleware, configure_logging
from app.proxies import ForwardedHeadersMiddleware, parse_trusted

FAVICON = "📡"


def register_pages() -> None:
    """Import every module with a ``@ui.page``. Imported by name, not through an aggregator module: NiceGUI's
    test harness forgets the modules of page functions between tests and this must import them again."""
    import pages.admin.account  # noqa: F401
    import pages.admin.api_keys  # noqa: F401
    import pages.admin.audit  # noqa: F401
    import pages.admin.dashboard  # noqa: F401
    import pages.admin.incidents  # noqa: F401
    import pages.admin.maintenance  # noqa: F401
    import pages.admin.monitors  # noqa: F401
    import pages.admin.notifications  # noqa: F401
    import pages.admin.page_editor  # noqa: F401
    import pages.admin.settings  # noqa: F401
    import pages.admin.structure  # noqa: F401
    import pages.admin.subscribers  # noqa: F401
    import pages.admin.teams  # noqa: F401
    import pages.admin.templates  # noqa: F401
    import pages.admin.users  # noqa: F401
    import pages.auth  # noqa: F401


def _add_bench_raw_route(outer: FastAPI, size: int) -> None:
    """bench/public_flood.py's baseline: ``size`` fixed bytes from the same process, with nothing behind them."""
    from fastapi import Response

    body = (b"<!doctype html>" + b"x" * size)[:size]

    async def bench_raw(_request) -> Response:
        return Response(body, media_type="text/html; charset=utf-8")

    # a plain Starlette route, like the status page's fast path (app/api/public.py), so the two compare fairly
    outer.add_route("/bench/raw", bench_raw, methods=["GET"], include_in_schema=False)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI):
        await runtime.start(settings)
        yield
        await runtime.stop()

    outer = FastAPI(title="Beacon", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    problems.install(outer)
    outer.include_router(public.router)
    outer.include_router(feeds_api.router)
    outer.include_router(prometheus_metrics.router)
    outer.include_router(up.router)
    outer.include_router(assets.router)
    outer.include_router(subscribe_routes.router)
    outer.include_router(custom_metrics.public_router)
    outer.include_router(monitors_api.push_router)
    management.include(outer)
    if settings.bench_raw_bytes:
        _add_bench_raw_route(outer, settings.bench_raw_bytes)
    register_pages()

    ui.run_with(outer, mount_path="/", storage_secret=settings.secret, title="Beacon", favicon=FAVICON,
                show_welcome_message=False, reconnect_timeout=10)
    # added last, so outermost: the proxy's headers are read (or dropped) before anything else sees the request
    outer.add_middleware(RequestIdMiddleware)
    outer.add_middleware(ForwardedHeadersMiddleware, trusted=parse_trusted(settings.trusted_proxies))
    return outer


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def serve(settings: Settings) -> None:
    import uvicorn
    from nicegui import app as ui_app
    from nicegui.storage import Storage

    # NiceGUI keeps sign-in sessions in files; they belong in the data folder, not the working directory
    Storage.path = (settings.data_dir / "sessions").resolve()
    ui_app.storage = Storage()
    configure_logging(settings.log_format)
    outer = create_app(settings)
    # uvicorn re-raises SIGTERM after its clean shutdown; exit 0 then (systemd and Docker read it as a clean stop)
    signal.signal(signal.SIGTERM, _exit_cleanly)
    print(f"Beacon serving on http://{settings.host}:{settings.port}", flush=True)
    # proxy_headers off: X-Forwarded-* are read in one place, from trusted proxies only (app/proxies.py)
    uvicorn.run(outer, host=settings.host, port=settings.port, log_level="warning",
                timeout_graceful_shutdown=2, proxy_headers=False, log_config=None)


if __name__ == "__main__":
    if helpers.is_user_simulation():
        # NiceGUI's User fixture runs this file: register the pages on NiceGUI's own app; the test fixture
        # has already started the runtime (tests/conftest.py).
        register_pages()
        ui.run(storage_secret=config.current().secret, title="Beacon", favicon=FAVICON, show_welcome_message=False)
    else:
        sys.exit(__import__("app.cli", fromlist=["main"]).main(sys.argv[1:], serve))
