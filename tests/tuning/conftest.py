import os
import uuid

import pytest


@pytest.fixture
def pg_url():
    """A fresh database on the CI's PostgreSQL server (QML_OPS_TEST_PG_URL)."""
    admin = os.environ.get("QML_OPS_TEST_PG_URL")
    if not admin:
        if os.environ.get("CI"):
            pytest.fail("QML_OPS_TEST_PG_URL is not set: .ci/run must start PostgreSQL")
        pytest.skip("no PostgreSQL server (set QML_OPS_TEST_PG_URL; .ci/run starts one)")
    import sqlalchemy

    name = f"qmlops_{uuid.uuid4().hex[:10]}"
    engine = sqlalchemy.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    yield admin.rsplit("/", 1)[0] + "/" + name
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()
