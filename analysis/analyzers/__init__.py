"""Analyzers: pure functions from a media file to plain, JSON-ready data.

Nothing in this package touches Django, Redis or the database, so it can be
tested, benchmarked and reused on its own. The local analyzer lives in
:mod:`analysis.analyzers.local`::

    from analysis.analyzers.local import AnalysisError, analyze
"""
