"""The local stack: bqemulator (BigQuery) and our Vertex AI batch emulator, both on loopback."""
