"""Serve: the HTTP API and the web page, on FastAPI + uvicorn.

The model is loaded once at start-up (lifespan) and shared by every request.
Every error the server returns is a 4xx/5xx with a JSON body ``{"error": "..."}``,
built by one function (:func:`error_response`) — uvicorn's own 400 for a malformed
HTTP request included (:class:`JSONErrorHTTP`).  Request bodies are counted as they
arrive and cut at ``serve.max_upload_mb`` (:class:`BodyCap`: chunked and multipart
bodies too, before they are spooled); JSON is parsed by orjson (strict UTF-8, no lone
surrogates, nesting at most 1024 deep); uploads and pasted texts are read and segmented
off the event loop by :class:`~pipeline.parse_pool.ParsePool` (time and memory limits,
workers that die with the server) and tagged on a thread, so ``/health`` answers while
they run.  The server binds to loopback unless told otherwise.

Endpoints: ``POST /v1/sentences``, ``POST /v1/reports``, ``POST /v1/plan``, ``GET /health``,
``GET /ready``, ``GET /v1/model``, ``GET /v1/themes``, ``GET /`` (web page), ``/docs`` (OpenAPI).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import typing
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import orjson
import uvicorn
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from pipeline.config import Params, load_params
from pipeline.errors import UserError
from pipeline.ingest import SUPPORTED_SUFFIXES, Document, ingest_limits
from pipeline.parse_pool import Parsed, ParsePool, ParseRefused, ParseSettings
from pipeline.plan import PLAN_FORMATS, ActionRow, plan_dict, plan_from_records, render_plans
from pipeline.predict import MLFLOW_SCHEMES, champion_dir, load_model, read_card, tag_sentences, tag_units
from pipeline.schema import RECORD, THEME_NAMES
from pipeline.summary import Summary, summarise

STATIC = Path(__file__).resolve().parent / "static"
ENV_PARAMS = "OFSTED_TAGGER_PARAMS"
ENV_MODEL = "OFSTED_TAGGER_MODEL"
GIL_SWITCH_S = 0.001  # the server's GIL switch interval (Python's default is 0.005)
INLINE_SENTENCES = 64  # /v1/sentences tags up to this many on the event loop (~1 ms), more on a thread


class FastJSON(JSONResponse):
    """JSON rendered by orjson."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _printable(message: str) -> str:
    """A message that can always be sent: lone surrogates (from names in a request) replaced."""
    return message.encode("utf-8", "replace").decode("utf-8")


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> FastJSON:
    """The one shape of every error the server returns: ``{"error": "..."}`` with a 4xx/5xx status."""
    return FastJSON({"error": _printable(message)}, status_code=status, headers=headers)


def error_bytes(status: int, reason: str, message: str, extra: list[tuple[bytes, bytes]] = ()) -> bytes:
    """The same error as a raw HTTP/1.1 response, for the HTTP layer below the app (connection closed)."""
    body = orjson.dumps({"error": _printable(message)})
    head = [f"HTTP/1.1 {status} {reason}".encode("ascii"), *(n + b": " + v for n, v in extra),
            b"content-type: application/json", b"content-length: " + str(len(body)).encode("ascii"),
            b"connection: close"]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class JSONErrorHTTP(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP protocol, whose own 400 for a request it cannot parse (bad request line or
    headers, headers too large, bad chunked encoding) is our JSON error instead of text/plain."""

    def send_400_response(self, msg: str) -> None:
        self.transport.write(error_bytes(400, "Bad Request", f"malformed HTTP request ({msg.rstrip('.')}).",
                                         list(self.server_state.default_headers)))
        self.transport.close()


class BodyTooLarge(HTTPException):
    def __init__(self, limit_mb: float):
        # the rest of the body is never read: the connection is closed after the answer
        super().__init__(413, f"request body over {limit_mb:g} MB (serve.max_upload_mb in params.yaml); send less.",
                         headers={"connection": "close"})


class BodyCap:
    """Pure ASGI middleware: request bodies are capped at ``max_body`` bytes as they arrive.

    A Content-Length over the cap is refused before anything is read; every other body
    (chunked, multipart, a lying Content-Length) is counted chunk by chunk as the app
    reads it, and the read that passes the cap raises :class:`BodyTooLarge` (413), so
    nothing past the cap is buffered or spooled.
    """

    def __init__(self, app, max_body: int, limit_mb: float):
        self.app = app
        self.max_body = max_body
        self.limit_mb = limit_mb

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_body
                except ValueError:
                    return await error_response(400, "bad Content-Length header.")(scope, receive, send)
                if too_big:
                    exc = BodyTooLarge(self.limit_mb)
                    return await error_response(413, exc.detail, exc.headers)(scope, receive, send)
        received = 0
        started = False

        async def capped_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge(self.limit_mb)
            return message

        async def watched_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, watched_send)
        except BodyTooLarge as exc:  # read outside an endpoint (no exception handler saw it)
            if started:
                raise
            await error_response(413, exc.detail, exc.headers)(scope, receive, send)


class StrictJSONRequest(Request):
    """JSON bodies parsed by orjson: strict UTF-8 (no lone surrogates) and at most 1024 levels deep,
    so a hostile body is a JSONDecodeError (-> 400), never a RecursionError or a bad string."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """Every route of the app reads JSON through :class:`StrictJSONRequest`."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def strict_handler(request: Request):
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        self.status = status
        self.message = message
        self.headers = headers


class SentencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sentences: list[str] = Field(min_length=1, description="Sentences to tag, in order; none may be blank.")


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, description="A whole report or article as plain text.")
    report: str = Field(default="report", max_length=200, description="A name for the report in the output.")


# the response models, generated from the output record and the Summary
Record = create_model("Record", **{c.name: (c.type, Field(description=c.doc)) for c in RECORD})
SummaryOut = create_model("SummaryOut", **{name: (t, ...) for name, t in typing.get_type_hints(Summary).items()})


class SentencesOut(BaseModel):
    sentences: list[Record]


class ReportOut(BaseModel):
    report: str
    sentences: list[Record]
    summary: SummaryOut


PlanRowOut = create_model("PlanRow", **{name: (t, ...) for name, t in typing.get_type_hints(ActionRow).items()},
                          theme_names=(list[str], Field(description="the themes' display names")))


class PlanOut(BaseModel):
    report: str
    title: str
    council: str
    date: str
    grades: dict[str, str | None]
    judgements: list[str]
    source: str
    review_confidence: float
    rows: list[PlanRowOut]


PLAN_MEDIA = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
              "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
              "html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8"}


class ErrorOut(BaseModel):
    error: str


def _validation_message(errors: list) -> str:
    first = errors[0] if errors else {}
    where = ".".join(str(x) for x in first.get("loc", ()) if x != "body") or "body"
    return f"invalid request at '{where}': {first.get('msg', 'malformed')}."


def _json_error(errors: list) -> str | None:
    """The message for a body that is not JSON at all (a 400), else None."""
    first = errors[0] if errors else {}
    if first.get("type") != "json_invalid":
        return None
    why = (first.get("ctx") or {}).get("error") or "malformed"
    return f"the body is not valid JSON ({why}); send UTF-8 JSON."


def parse_settings(params: Params) -> ParseSettings:
    return ParseSettings(params.ingest.max_file_mb, ingest_limits(params.ingest), params.segment.max_sentence_chars,
                         params.segment.heading_max_words, params.serve.parse_memory_mb)


def parse_timeout(params: Params) -> float:
    """serve.parse_timeout_s, or an older params file's ingest.pdf_timeout_s."""
    older = params.ingest.pdf_timeout_s
    return older if older is not None and "parse_timeout_s" not in params.serve.model_fields_set else params.serve.parse_timeout_s


def _tagged_report(model: Any, parsed: Parsed) -> Response:
    """On a thread: a parsed report tagged, summarised and rendered as the response.

    Records are rendered one by one (orjson holds the GIL for a whole call: one call over
    10,000 records kept the event loop waiting for it)."""
    records = tag_units(model, parsed.units())
    summary = summarise(records)[0] if records else Summary(parsed.report_id, 0, {}, {}, None)
    body = b"".join((b'{"report":', orjson.dumps(parsed.report_id), b',"sentences":[',
                     b",".join(orjson.dumps(r) for r in records), b'],"summary":',
                     orjson.dumps(dataclasses.asdict(summary)), b"}"))
    return Response(body, media_type="application/json")


def _planned_report(model: Any, parsed: Parsed, params: Params, fmt: str) -> Response:
    """On a thread: a parsed report tagged and its plan rendered as the response (JSON rows or a download)."""
    records = tag_units(model, parsed.units())
    doc = Document(parsed.report_id, "", parsed.source, parsed.kind, parsed.title)
    result = plan_from_records(records, doc, params)
    if result is None:
        raise ApiError(422, f"{parsed.report_id}: no sentences to plan from.")
    if fmt == "json":
        return FastJSON(plan_dict(result))
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in parsed.report_id)[:80] or "report"
    return Response(render_plans([result], fmt), media_type=PLAN_MEDIA[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}-plan.{fmt}"'})


def create_app(params: Params | None = None, model_uri: str | None = None) -> FastAPI:
    params = params or load_params(os.environ.get(ENV_PARAMS) or None)
    model_uri = model_uri if model_uri is not None else (os.environ.get(ENV_MODEL) or None)
    max_body = int(params.serve.max_upload_mb * 1024 * 1024)
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state["model"] = load_model(model_uri, params)
        state["card"] = _model_info(model_uri, params)
        # Tagging holds the GIL most of the time: one tagging thread at a time leaves the event loop
        # a GIL to take every switch interval (with four, /health waited up to 300 ms); more would not
        # tag faster in one process anyway.
        state["tagging"] = anyio.CapacityLimiter(1)
        # and the loop waits for the GIL at most 1 ms (not 5) after each socket read or write it makes
        sys.setswitchinterval(GIL_SWITCH_S)
        pool = ParsePool(parse_settings(params), params.serve.parse_workers, parse_timeout(params))
        try:
            await pool.start()
            state["parser"] = pool
            yield
        finally:
            pool.close()

    app = FastAPI(
        title="ofsted-tagger",
        version="0.1.0",
        description="Tags sentences of Ofsted children's services inspection reports with a type and themes.",
        lifespan=lifespan,
    )
    app.router.route_class = StrictJSONRoute  # before any route is added

    app.add_middleware(BodyCap, max_body=max_body, limit_mb=params.serve.max_upload_mb)

    # every error goes out through error_response()
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError):
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError):
        not_json = _json_error(exc.errors())
        return error_response(400, not_json) if not_json else error_response(422, _validation_message(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException):
        return error_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception):  # a bug: logged by uvicorn, never a traceback to the client
        return error_response(500, f"internal error ({exc.__class__.__name__}); the request was not processed.")

    errors = {400: {"model": ErrorOut}, 413: {"model": ErrorOut}, 415: {"model": ErrorOut}, 422: {"model": ErrorOut}}
    reports_body = {"content": {
        "application/json": {"schema": ReportIn.model_json_schema()},
        "multipart/form-data": {"schema": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary"}}, "required": ["file"]}},
    }, "required": True}

    @app.get("/health", summary="The process is alive")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="The model is loaded", responses={503: {"model": ErrorOut}})
    def ready():
        if "model" not in state:
            return error_response(503, "model not loaded yet")
        return {"status": "ready"}

    @app.get("/v1/model", summary="Which model is serving")
    def model_info() -> dict[str, Any]:
        return state["card"]

    @app.get("/v1/themes", summary="Each theme's key and the name people read (the web page shows the names)")
    def themes() -> dict[str, str]:
        return dict(THEME_NAMES)

    @app.post("/v1/sentences", response_model=SentencesOut, responses=errors,
              summary="Tag pre-cut sentences (same records as predict --sentences)")
    async def sentences(body: SentencesIn):
        if len(body.sentences) > params.serve.max_sentences:
            raise ApiError(413, f"{len(body.sentences)} sentences is over the limit of {params.serve.max_sentences} "
                                "(serve.max_sentences); split the request.")
        if any(not s.strip() for s in body.sentences):
            raise ApiError(422, "a sentence is empty; send non-blank sentences.")
        if len(body.sentences) <= INLINE_SENTENCES:  # under a millisecond: no thread hop
            records = tag_sentences(state["model"], body.sentences, "request")
        else:
            records = await anyio.to_thread.run_sync(tag_sentences, state["model"], body.sentences, "request",
                                                     limiter=state["tagging"])
        # records are built by our own code to the declared schema: serialise them directly
        return FastJSON({"sentences": records})

    @app.post("/v1/reports", response_model=ReportOut, responses=errors,
              summary="Tag a whole report: JSON {text} or a multipart file upload (PDF, text, HTML, DOCX)",
              openapi_extra={"requestBody": reports_body})
    async def reports(request: Request):
        parsed = await _request_document(request)
        return await anyio.to_thread.run_sync(_tagged_report, state["model"], parsed, limiter=state["tagging"])

    @app.post("/v1/plan", response_model=PlanOut, responses={**errors, 200: {"content": {
                  "application/json": {}, **{m.split(";")[0]: {} for m in PLAN_MEDIA.values()}}}},
              summary="An improvement plan for a report (same inputs as /v1/reports): JSON rows, or a "
                      "docx/xlsx/html/md file with ?format=",
              openapi_extra={"requestBody": reports_body})
    async def plan(request: Request, fmt: str = Query("json", alias="format",
                                                      description="json, docx, xlsx, html or md")):
        if fmt not in PLAN_FORMATS:
            raise ApiError(422, f"unknown format '{fmt}'; use one of {', '.join(PLAN_FORMATS)}.")
        parsed = await _request_document(request)
        return await anyio.to_thread.run_sync(_planned_report, state["model"], parsed, params, fmt,
                                              limiter=state["tagging"])

    async def _request_document(request: Request) -> Parsed:
        """The report of a /v1/reports or /v1/plan request (a JSON {text} or a multipart file upload),
        read and segmented by the parse pool, within the sentence limit."""
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            parsed = await _parse_upload(request)
        elif ctype.startswith("application/json") or not ctype:
            try:
                raw = await request.json()
            except ValueError as exc:  # orjson: not JSON, not UTF-8, a lone surrogate, nested over 1024 deep
                raise ApiError(400, f"the body is not valid JSON ({getattr(exc, 'msg', exc)}); "
                                    "send {\"text\": \"...\"} as UTF-8 JSON.")
            if not isinstance(raw, dict):
                raise ApiError(422, "send a JSON object {\"text\": \"...\"}.")
            try:
                body = ReportIn(**raw)
            except ValidationError as exc:
                raise ApiError(422, _validation_message(exc.errors()))
            parsed = await _parse(state["parser"].parse_text(body.text, body.report))
        else:
            raise ApiError(415, f"unsupported content type '{ctype}'; send JSON or a multipart file upload.")
        rid = parsed.report_id
        if not len(parsed):
            raise ApiError(422, f"{rid}: no text to tag.")
        if len(parsed) > params.serve.max_sentences * 5:
            raise ApiError(413, f"{rid}: {len(parsed)} sentences is too long a report for one request "
                                f"(5 x serve.max_sentences); split it.")
        return parsed

    async def _parse(job) -> Parsed:
        try:
            return await job
        except ParseRefused as exc:
            raise ApiError(exc.status, exc.message, {"Retry-After": "5"} if exc.status == 503 else None)

    async def _parse_upload(request: Request) -> Parsed:
        form = await request.form(max_files=1, max_fields=5)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError(422, "multipart upload needs a 'file' field.")
        name = _printable(Path(upload.filename or "upload.txt").name)[-200:]
        suffix = Path(name).suffix.lower() or ".txt"
        if suffix not in SUPPORTED_SUFFIXES:
            raise ApiError(415, f"{name}: unsupported file type '{suffix}'; send PDF, text, HTML or DOCX.")
        data = await upload.read(max_body + 1)
        if len(data) > max_body:
            raise ApiError(413, f"{name}: over {params.serve.max_upload_mb:g} MB.")
        with tempfile.TemporaryDirectory(prefix="ofsted-tagger-upload-") as tmpd:
            path = Path(tmpd) / f"upload{suffix}"
            await run_in_threadpool(path.write_bytes, data)
            try:
                parsed = await _parse(state["parser"].parse_file(str(path), Path(name).stem))
            except ApiError as exc:
                exc.message = exc.message.replace(str(path), name)
                raise
        return dataclasses.replace(parsed, source=name)

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str):
        path = STATIC / Path(name).name
        if not path.is_file():
            raise ApiError(404, f"{name}: not found.")
        return FileResponse(path)

    return app


def _model_info(model_uri: str | None, params: Params) -> dict[str, Any]:
    """Name, version, alias, run id, metrics and training date of the serving model."""
    card: dict[str, Any] = {}
    if model_uri is None:
        card = read_card(champion_dir(params))
    elif not model_uri.startswith(MLFLOW_SCHEMES):
        p = Path(model_uri)
        card = read_card(p if p.is_dir() else p.parent)
    metrics = card.get("metrics") if isinstance(card.get("metrics"), dict) else {}
    keep = ("type_macro_f1", "type_accuracy", "theme_micro_f1", "theme_macro_f1", "type_ece")
    return {
        "name": card.get("name", params.tracking.registered_model),
        "version": card.get("version"),
        "alias": card.get("alias") if model_uri is None else None,
        "uri": model_uri or str(champion_dir(params)),
        "run_id": card.get("run_id"),
        "trained_at": card.get("trained_at"),
        "metrics": {split: {k: v for k, v in m.items() if k in keep}
                    for split, m in metrics.items() if isinstance(m, dict)},
    }


def app_factory() -> FastAPI:
    """For ``uvicorn --factory``: configuration from OFSTED_TAGGER_PARAMS / OFSTED_TAGGER_MODEL."""
    try:
        return create_app()
    except UserError as exc:
        raise SystemExit(f"error: {exc}")


def run_server(params: Params, model_uri: str | None, host: str | None = None, port: int | None = None,
               workers: int = 1) -> None:
    """Serve until stopped (host and port default to serve.host and serve.port); workers read the same params file."""
    # check the model loads before binding, so a bad --model is one clear line, not a traceback
    load_model(model_uri, params)
    os.environ[ENV_PARAMS] = str(params.source)
    if model_uri:
        os.environ[ENV_MODEL] = model_uri
    uvicorn.run("pipeline.serve:app_factory", factory=True, host=host or params.serve.host,
                port=port or params.serve.port, workers=workers, http=JSONErrorHTTP, ws="none",
                log_level="info", access_log=False)
