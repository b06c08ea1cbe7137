"""One dispatcher pass in a process of its own, for tests/sending/test_crash.py.

Configured from the environment exactly as `messagecenter worker` is (MESSAGECENTER_DATABASE_URL,
MESSAGECENTER_CARRIER, TWILIO_*, MESSAGECENTER_TWILIO_API_URL, MESSAGECENTER_PUBLIC_URL): it
claims the due messages, hands them to the carrier, records the outcome, and prints
``{"handled": N}``. The test kills it (SIGKILL) while the carrier holds its answer back.

    .venv/bin/python -m tests.sending.crash_dispatcher
"""

from __future__ import annotations

import json
import logging
import sys

from messagecenter.config import Settings
from messagecenter.context import build_context


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    context = build_context(Settings())
    try:
        handled = context.dispatcher.run_once()
    finally:
        context.engine.dispose()
    print(json.dumps({"handled": handled}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
