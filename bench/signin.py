"""Who has an account must not show in timing: the sign-in POST for members and for strangers,
measured against a real uvicorn server (the link is made and queued after the response).

50 requests each, alternating, 50 ms apart (as one attacker's probes would come; the work a
member's request queues is done by the next), every one for a different address (a member's
link is made every time, not refused by the 5-per-hour limit); the figure is each group's
median and their ratio, which should be within 20 %.

    python bench/signin.py [--requests 50]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from mailhub import config  # noqa: E402
from mailhub.db import migrate, unit_of_work  # noqa: E402
from mailhub.domain import directory  # noqa: E402
from mailhub.ingress.ratelimit import SenderRateLimiter  # noqa: E402
from mailhub.tasks import Runtime  # noqa: E402
from mailhub.web.app import create_app  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = config.load({"MAILHUB_DATA_DIR": str(Path(tmp) / "var")})
        settings.data_dir.mkdir(parents=True)
        migrate(settings.effective_database_url)
        rt = Runtime(settings)
        with unit_of_work(rt.sessions) as s:
            t = directory.add_tenant(s, "acme", "acme.example", "Acme")
            for i in range(args.requests):
                directory.add_user(s, t, f"member{i}@acme.example", f"Member {i}")
        app = create_app(
            rt.sessions,
            rt.files,
            notify=rt.enqueue_notifications,
            limiter=SenderRateLimiter(limit=10**6),
        )
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        times: dict[str, list[float]] = {"member": [], "stranger": []}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as web:
            form = web.get("/t/acme/signin").text
            match = re.search(r'name="csrf" value="([^"]+)"', form)
            assert match
            csrf = match.group(1)
            for i in range(args.requests):
                for who, email in (
                    ("member", f"member{i}@acme.example"),
                    ("stranger", f"stranger{i}@elsewhere.example"),
                ):
                    started = time.perf_counter()
                    answer = web.post("/t/acme/signin", data={"csrf": csrf, "email": email})
                    times[who].append(time.perf_counter() - started)
                    assert answer.status_code == 200
                    time.sleep(0.05)  # what a request queued after its answer is done by now
        server.should_exit = True
        thread.join()
        rt.close()
    member, stranger = (statistics.median(times[k]) * 1000 for k in ("member", "stranger"))
    print(f"sign-in POST median: member {member:.1f} ms, stranger {stranger:.1f} ms")
    print(f"ratio member/stranger: {member / stranger:.2f}")


if __name__ == "__main__":
    main()
