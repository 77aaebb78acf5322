"""The README's curl example, run as it is written: upload, wait for the analysis, ask, read the reply.

Against a live server and a real worker. The block's first two lines (the
API's address and the token) are the only ones changed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from accounts.tokens import token_create
from analysis.models import Video
from chat.models import Message
from testkit.live import rq_worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

README = Path(settings.BASE_DIR) / "README.md"


def readme_example() -> str:
    text = README.read_text()
    match = re.search(r"<!-- api-example -->\n```sh\n(.*?)```", text, re.S)
    assert match, "the README's API example is gone"
    return match.group(1)


def test_the_readme_example_uploads_waits_and_asks(live_server_url, owner, clips, tmp_path):
    token = token_create(user=owner, name="readme")[1]
    script = readme_example()
    script = re.sub(r"^API=.*$", f"API={live_server_url}/api/v1", script, count=1, flags=re.M)
    script = re.sub(r"^TOKEN=.*$", f"TOKEN={token}", script, count=1, flags=re.M)
    shutil.copy(clips["short"].path, tmp_path / "holiday.mp4")

    with rq_worker("high", "default", "low", TRANSCRIBE_SPEECH="false"):
        # The timeout only guards against a hang; the script itself waits for the analysis and the reply.
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 0, result.stderr
    video = Video.objects.get(owner=owner)
    assert (video.original_name, video.status) == ("holiday.mp4", "done")
    reply = Message.objects.get(role="assistant", conversation__owner=owner)
    assert reply.status == "complete"
    assert reply.text.strip() == result.stdout.strip()
    assert "00:04" in result.stdout  # the clip is 4 s long
