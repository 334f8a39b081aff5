"""Messenger settings: schema, validation, secret storage, and publication to the workers."""
