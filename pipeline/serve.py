"""Serve: the HTTP API and the web page, on FastAPI + uvicorn.

The model is loaded once at start-up (lifespan) and shared by every request.
Every problem with a request is a 4xx with a JSON body ``{"error": "..."}``;
uploads are size-capped before they are read, PDFs are parsed in a separate
process with a time limit, and the server binds to loopback unless told
otherwise.

Endpoints: ``POST /v1/sentences``, ``POST /v1/reports``, ``GET /health``,
``GET /ready``, ``GET /v1/model``, ``GET /v1/themes``, ``GET /`` (web page), ``/docs`` (OpenAPI).
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import os
import tempfile
import typing
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.config import Params, load_params
from pipeline.errors import InputError, UserError
from pipeline.ingest import SUPPORTED_SUFFIXES, Document, document_from_text, read_document
from pipeline.predict import MLFLOW_SCHEMES, champion_dir, load_model, read_card, tag_document, tag_sentences
from pipeline.schema import RECORD, THEME_NAMES
from pipeline.summary import Summary, summarise

STATIC = Path(__file__).resolve().parent / "static"
ENV_PARAMS = "OFSTED_TAGGER_PARAMS"
ENV_MODEL = "OFSTED_TAGGER_MODEL"


class FastJSON(JSONResponse):
    """JSON rendered by orjson."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class BodyCap:
    """Pure ASGI middleware: refuse bodies whose Content-Length is over the limit (413), before reading them."""

    def __init__(self, app, max_body: int, limit_mb: float):
        self.app = app
        self.max_body = max_body
        self.limit_mb = limit_mb

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            for name, value in scope.get("headers", ()):
                if name == b"content-length":
                    try:
                        too_big = int(value) > self.max_body
                    except ValueError:
                        return await FastJSON({"error": "bad Content-Length header."}, status_code=400)(scope, receive, send)
                    if too_big:
                        msg = f"request body over {self.limit_mb:g} MB (serve.max_upload_mb in params.yaml)."
                        return await FastJSON({"error": msg}, status_code=413)(scope, receive, send)
        await self.app(scope, receive, send)


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        self.status = status
        self.message = message


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


class ErrorOut(BaseModel):
    error: str


def _validation_message(errors: list) -> str:
    first = errors[0] if errors else {}
    where = ".".join(str(x) for x in first.get("loc", ()) if x != "body") or "body"
    return f"invalid request at '{where}': {first.get('msg', 'malformed')}."


def _read_upload(path: str, max_mb: float, name: str) -> tuple[str, str]:
    """Runs in the parsing process: file -> (report id, clean text)."""
    doc = read_document(path, max_mb, report_id=name)
    return doc.report_id, doc.text


class _Parser:
    """A one-process pool for PDF/DOCX/HTML parsing, replaced when a parse overruns its time limit."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.pool = cf.ProcessPoolExecutor(max_workers=1)

    def parse(self, path: str, max_mb: float, name: str) -> tuple[str, str]:
        future = self.pool.submit(_read_upload, path, max_mb, name)
        try:
            return future.result(timeout=self.timeout)
        except cf.TimeoutError:
            self._restart()
            raise ApiError(422, f"{name}: parsing took longer than {self.timeout:g} s; send a smaller file or plain text.")
        except cf.process.BrokenProcessPool:
            self._restart()
            raise ApiError(422, f"{name}: the file crashed the parser; check that it is a valid document.")

    def _restart(self) -> None:
        for p in list(getattr(self.pool, "_processes", {}).values()):
            p.kill()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = cf.ProcessPoolExecutor(max_workers=1)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def create_app(params: Params | None = None, model_uri: str | None = None) -> FastAPI:
    params = params or load_params(os.environ.get(ENV_PARAMS) or None)
    model_uri = model_uri if model_uri is not None else (os.environ.get(ENV_MODEL) or None)
    max_body = int(params.serve.max_upload_mb * 1024 * 1024)
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state["model"] = load_model(model_uri, params)
        state["card"] = _model_info(model_uri, params)
        state["parser"] = _Parser(params.ingest.pdf_timeout_s)
        yield
        state["parser"].close()

    app = FastAPI(
        title="ofsted-tagger",
        version="0.1.0",
        description="Tags sentences of Ofsted children's services inspection reports with a type and themes.",
        lifespan=lifespan,
    )

    app.add_middleware(BodyCap, max_body=max_body, limit_mb=params.serve.max_upload_mb)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError):
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError):
        return JSONResponse({"error": _validation_message(exc.errors())}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    errors = {413: {"model": ErrorOut}, 415: {"model": ErrorOut}, 422: {"model": ErrorOut}}

    @app.get("/health", summary="The process is alive")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="The model is loaded", responses={503: {"model": ErrorOut}})
    def ready():
        if "model" not in state:
            return JSONResponse({"error": "model not loaded yet"}, status_code=503)
        return {"status": "ready"}

    @app.get("/v1/model", summary="Which model is serving")
    def model_info() -> dict[str, Any]:
        return state["card"]

    @app.get("/v1/themes", summary="Each theme's key and the name people read (the web page shows the names)")
    def themes() -> dict[str, str]:
        return dict(THEME_NAMES)

    @app.post("/v1/sentences", response_model=SentencesOut, responses=errors,
              summary="Tag pre-cut sentences (same records as predict --sentences)")
    async def sentences(body: SentencesIn):  # CPU-light (under 1 ms): run on the event loop, no thread hop
        if len(body.sentences) > params.serve.max_sentences:
            raise ApiError(413, f"{len(body.sentences)} sentences is over the limit of {params.serve.max_sentences} "
                                "(serve.max_sentences); split the request.")
        if any(not s.strip() for s in body.sentences):
            raise ApiError(422, "a sentence is empty; send non-blank sentences.")
        # records are built by our own code to the declared schema: serialise them directly
        return FastJSON({"sentences": tag_sentences(state["model"], body.sentences, "request")})

    @app.post("/v1/reports", response_model=ReportOut, responses=errors,
              summary="Tag a whole report: JSON {text} or a multipart file upload (PDF, text, HTML, DOCX)",
              openapi_extra={"requestBody": {"content": {
                  "application/json": {"schema": ReportIn.model_json_schema()},
                  "multipart/form-data": {"schema": {"type": "object", "properties": {
                      "file": {"type": "string", "format": "binary"}}, "required": ["file"]}},
              }, "required": True}})
    async def reports(request: Request):
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            doc = await _document_from_upload(request)
        elif ctype.startswith("application/json") or not ctype:
            try:
                raw = await request.json()
            except ValueError:
                raise ApiError(422, "the body is not valid JSON; send {\"text\": \"...\"}.")
            if not isinstance(raw, dict):
                raise ApiError(422, "send a JSON object {\"text\": \"...\"}.")
            try:
                body = ReportIn(**raw)
            except ValidationError as exc:
                raise ApiError(422, _validation_message(exc.errors()))
            doc = document_from_text(body.text, body.report)
        else:
            raise ApiError(415, f"unsupported content type '{ctype}'; send JSON or a multipart file upload.")
        if not doc.text.strip():
            raise ApiError(422, f"{doc.report_id}: no text to tag.")
        records = tag_document(state["model"], doc, params)
        if len(records) > params.serve.max_sentences * 5:
            raise ApiError(413, f"{doc.report_id}: {len(records)} sentences is too long a report for one request.")
        summary = summarise(records)[0] if records else Summary(doc.report_id, 0, {}, {}, None)
        return FastJSON({"report": doc.report_id, "sentences": records, "summary": dataclasses.asdict(summary)})

    async def _document_from_upload(request: Request):
        form = await request.form(max_files=1, max_fields=5)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError(422, "multipart upload needs a 'file' field.")
        name = Path(upload.filename or "upload.txt").name
        suffix = Path(name).suffix.lower() or ".txt"
        if suffix not in SUPPORTED_SUFFIXES:
            raise ApiError(415, f"{name}: unsupported file type '{suffix}'; send PDF, text, HTML or DOCX.")
        data = await upload.read(max_body + 1)
        if len(data) > max_body:
            raise ApiError(413, f"{name}: over {params.serve.max_upload_mb:g} MB.")
        with tempfile.TemporaryDirectory() as tmpd:
            path = Path(tmpd) / f"upload{suffix}"
            path.write_bytes(data)
            try:
                rid, text = state["parser"].parse(str(path), params.ingest.max_file_mb, Path(name).stem)
            except InputError as exc:
                raise ApiError(422, str(exc).replace(str(path), name))
        return Document(rid, text, name, suffix.lstrip("."))

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
    metrics = card.get("metrics", {})
    return {
        "name": card.get("name", params.tracking.registered_model),
        "version": card.get("version"),
        "alias": card.get("alias") if model_uri is None else None,
        "uri": model_uri or str(champion_dir(params)),
        "run_id": card.get("run_id"),
        "trained_at": card.get("trained_at"),
        "metrics": {split: {k: v for k, v in m.items() if k in ("type_macro_f1", "type_accuracy", "theme_micro_f1",
                                                               "theme_macro_f1", "type_ece")}
                    for split, m in metrics.items()},
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
                port=port or params.serve.port, workers=workers,
                log_level="info", access_log=False)
