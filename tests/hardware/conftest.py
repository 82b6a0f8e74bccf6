"""Fixtures shared by the hardware tests."""

import pytest


@pytest.fixture
def no_aws(monkeypatch):
    """Any attempt to reach AWS fails the test: nothing may be created."""
    import boto3

    def forbidden(*args, **kwargs):
        raise AssertionError("an AWS client was created")

    monkeypatch.setattr(boto3, "client", forbidden)
    monkeypatch.setattr(boto3, "Session", forbidden)
