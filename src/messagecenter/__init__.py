"""Message Center: two-way SMS between small businesses and their clients."""

__version__ = "0.1.0"
