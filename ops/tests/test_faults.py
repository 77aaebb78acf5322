"""Faults against make run's processes under load: no job lost or done twice, no 500 (issue 11).

One run of testkit/faults.py for 80 s of load (bench/bench_faults.py runs it longer):
Daphne, two workers with their schedulers and a Valkey of its own, users
uploading and chatting through the real forms, while a worker is SIGKILLed
idle and another mid-job, Valkey is SIGKILLed and started again empty and, on
PostgreSQL (CI's second run), every database connection is cut and new ones
are refused for 10 s. The outcome is counted from the database.
"""

from __future__ import annotations

import pytest
from django.db import connection

from testkit import live
from testkit.faults import DATABASE_CUT, REDIS_KILLED, WORKER_IDLE, WORKER_MID_JOB, run_faults

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_it_loses_no_job_does_none_twice_and_answers_no_500_through_every_fault(tmp_path):
    result = run_faults(database_url=live.test_database_url(), workdir=tmp_path, seconds=80, users=3)

    report = "\n".join(result.problems) or "(no problems recorded)"
    assert result.drained, f"jobs still queued or running at the end:\n{report}"
    assert result.jobs_lost == 0, report
    assert result.duplicate_results == 0, report
    assert result.responses_500 == 0, report
    assert result.unexpected_exits == 0, f"{result.exits}; logs in {tmp_path}"
    kinds = [WORKER_IDLE, WORKER_MID_JOB, REDIS_KILLED]
    if connection.vendor == "postgresql":
        kinds.append(DATABASE_CUT)
    else:
        assert result.skipped == [f"{DATABASE_CUT}: SQLite is a file, there is no connection to cut"]
    happened = result.faults_by_kind()
    assert all(happened[kind] >= 1 for kind in kinds), (happened, result.skipped)
    # The load went on through them: the users were served, and did get 503s.
    assert result.videos >= 5
    assert result.messages >= 10
    assert result.responses_503 >= 1
