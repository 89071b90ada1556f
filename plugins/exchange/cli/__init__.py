"""The `exchange` command: main.py is the root group; one module per command group, all printing
through output.py. The development tools (demo, generate, bench) attach themselves from
exchange_tools through the `exchange.commands` entry points.

Modules that load psycopg (exchange.core.db and the intake, feed and access modules built on it),
pandas, pyarrow, Airflow or FastAPI are imported inside the commands that use them: psycopg alone
costs more start-up than the rest of `exchange --help`.
"""
