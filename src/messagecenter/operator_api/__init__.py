"""The operator API: what the service's operator (not a business) changes over HTTP."""
