"""Spend control and run reporting: the plan before paying (estimate), guards before any job is created (guards),
the error-ratio check after collection (guards) and the end-of-run table and JSON artifact (report)."""
