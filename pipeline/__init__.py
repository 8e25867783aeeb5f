"""ofsted-tagger: tag sentences of Ofsted children's services inspection reports.

Stages, one module each, depending one way (see README "How it works"):
schema -> model -> train -> tracking; ingest -> segment -> predict -> summary ->
report / analyse / serve; :mod:`pipeline.cli` is the command line and
:mod:`pipeline.config` holds the validated ``params.yaml``.
"""

__version__ = "0.1.0"
