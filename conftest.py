# Fixtures for real PostgreSQL and Kafka, shared by every test folder.
import os

# Never let google-auth probe the GCE metadata server (a network address off this
# machine) while resolving default credentials: tests never run on GCE.
os.environ["NO_GCE_CHECK"] = "True"

pytest_plugins = ["tests.support.platform", "tests.support.accounts", "tests.support.mail"]

# The suites that disturb what a run shares run after every other test: they erase and deactivate
# accounts, put poison on the run's topics, kill processes and brokers. Run first, they made later
# services' tests fail on demo accounts they had changed and on records they had left (a full run:
# 18 failures, none alone). A stable sort: every other test keeps its order.
DISTURBING = ("e2e", "docker", "faults")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: any(item.get_closest_marker(name) for name in DISTURBING))
