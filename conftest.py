# Fixtures for real PostgreSQL and Kafka, shared by every test folder.
pytest_plugins = ["tests.support.platform", "tests.support.accounts"]
