"""ofsted-tagger: tag sentences of Ofsted children's services inspection reports.

Stages, one module each: ingest -> segment -> label -> train -> predict -> serve,
with :mod:`pipeline.cli` as the command line and :mod:`pipeline.config` holding
the validated ``params.yaml``.
"""

__version__ = "0.1.0"
