"""The notification tests' fixtures serve here too: a business with a number (`shop`) and the
app over a TestClient (`api`)."""

from tests.notifications.conftest import api, shop

__all__ = ["api", "shop"]
