"""Tools around the nightly pipeline: the landing-zone generator, importers of public logs,
the evaluation harness, benchmarks and the local-Airflow runner. The pipeline never imports them."""
