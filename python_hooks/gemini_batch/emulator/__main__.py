r"""Command line: run the emulator in the foreground until SIGTERM/SIGINT.

    python -m gemini_batch.emulator --host 127.0.0.1 --port 8085 --bigquery-endpoint http://127.0.0.1:9050 \
        [--storage-endpoint http://127.0.0.1:9023] \
        --project local-project --state-dir .gemini_batch_local/vertex [--config emulator.json] \
        [--extra-model gemini-x ...] [--tuned-model projects/P/locations/L/models/ID ...]

Without --config, $GEMINI_BATCH_EMULATOR_CONFIG may name the JSON config file; $GEMINI_BATCH_EMULATOR_EXTRA_MODELS
(comma-separated) adds publisher models in either case.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from types import FrameType

from gemini_batch.emulator.config import EmulatorConfig
from gemini_batch.emulator.models import EXTRA_MODELS_ENV
from gemini_batch.emulator.server import VertexEmulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gemini_batch.emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8085)
    parser.add_argument("--bigquery-endpoint", default="http://127.0.0.1:9050")
    parser.add_argument(
        "--storage-endpoint",
        default=os.environ.get("STORAGE_EMULATOR_HOST"),
        help="Cloud Storage for gcs_source/gcs_destination and fileData objects (default $STORAGE_EMULATOR_HOST)",
    )
    parser.add_argument("--project", default="local-project")
    parser.add_argument("--state-dir", default=None, help="keep job metadata here so a restart still knows the jobs")
    parser.add_argument("--config", default=None, help="JSON file of EmulatorConfig settings")
    parser.add_argument(
        "--extra-model",
        action="append",
        default=[],
        help="a publisher model id to serve besides models.json (repeatable; also $GEMINI_BATCH_EMULATOR_EXTRA_MODELS)",
    )
    parser.add_argument(
        "--tuned-model",
        action="append",
        default=[],
        help="a tuned model that exists, as projects/P/locations/L/models/ID (repeatable)",
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    config = (
        EmulatorConfig.from_env()
        if not args.config
        else EmulatorConfig.from_file(args.config).with_extra_models(os.environ.get(EXTRA_MODELS_ENV, "").split(","))
    )
    config = config.with_extra_models(args.extra_model)
    if args.tuned_model:
        config = config.merged({"tuned_models": config.tuned_models + args.tuned_model})
    emulator = VertexEmulator(config, args.bigquery_endpoint, args.project, args.state_dir, args.storage_endpoint)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # shutdown() blocks until serve_forever returns, so it must run outside the serving thread.
        threading.Thread(target=emulator.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    emulator.serve_forever(args.host, args.port)
    emulator.runner.stop()


if __name__ == "__main__":
    main()
