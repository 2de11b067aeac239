"""A local Vertex AI batchPredictionJobs service reading and writing BigQuery (bqemulator), for offline work.

    from gemini_batch.emulator import EmulatorConfig, VertexEmulator

    config = EmulatorConfig(queue_delay_seconds=0.1)
    emulator = VertexEmulator(config, "http://127.0.0.1:9050", "local-project")
    base_url = emulator.start()  # point aiplatform_v1.JobServiceClient(transport="rest") at it
    ...
    emulator.stop()

Command line (what LocalStack runs): see gemini_batch.emulator.__main__.
"""

from gemini_batch.emulator.config import EmulatorConfig, OpenAIConfig
from gemini_batch.emulator.server import VertexEmulator

__all__ = ["EmulatorConfig", "OpenAIConfig", "VertexEmulator"]
