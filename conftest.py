# Fixtures for real PostgreSQL and Kafka, shared by every test folder.
import os

# Never let google-auth probe the GCE metadata server (a network address off this
# machine) while resolving default credentials: tests never run on GCE.
os.environ["NO_GCE_CHECK"] = "True"

pytest_plugins = ["tests.support.platform", "tests.support.accounts", "tests.support.mail"]
