"""dbt-gemini-batch: Vertex AI Gemini batch prediction driven from dbt models on BigQuery."""

__version__ = "0.2.0"
